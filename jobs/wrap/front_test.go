package wrap_test

// Tests of the compiler wrapper (cmd/distmesh/distmesh.c), built with the
// machine's C compiler and run as a user runs it, against a scripted
// agent on a real Unix socket and fake compilers (shell scripts) in PATH.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
	"github.com/distmesh/distmesh/jobs/wrap"
)

var (
	front    string // the wrapper, built by TestMain
	frontErr error  // why it could not be built
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "distmesh-front-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	front = filepath.Join(dir, "distmesh")
	// Built as `make build` builds it: with musl when musl-gcc is there.
	cc, flags := "musl-gcc", []string{"-static"}
	if _, err := exec.LookPath(cc); err != nil {
		cc, flags = "cc", nil
	}
	if _, err := exec.LookPath(cc); err != nil {
		front = ""
	} else if out, err := exec.Command(cc, append(flags, "-O2", "-Wall", "-Wextra", "-Werror", "-o", front, filepath.Join("..", "..", "cmd", "distmesh", "distmesh.c"))...).CombinedOutput(); err != nil {
		frontErr = fmt.Errorf("%s: %v\n%s", cc, err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeCompiler is a shell script that stands for a compiler: run locally,
// it prints "local NAME ARGS" and, with FAKE_FDS set, the sockets it
// inherited; with -M first it prints a dependency list.
const fakeCompiler = `#!/bin/sh
if [ "$1" = -M ]; then echo "x.o: x.c \\"; echo " /inc/a.h"; exit 0; fi
echo "local ${0##*/} $*"
if [ -n "$FAKE_FDS" ]; then ls -l /proc/$$/fd | grep -c socket; fi
if [ -n "$FAKE_PATH" ]; then echo "PATH=$PATH"; fi
`

type frontEnv struct {
	t    *testing.T
	dir  string // the working directory
	home string // DISTMESH_HOME
	bin  string // fake compilers
	env  []string
}

func newFront(t *testing.T) *frontEnv {
	t.Helper()
	if front == "" {
		t.Skip("no C compiler (cc) to build the wrapper with")
	}
	if frontErr != nil {
		t.Fatalf("building the wrapper: %v", frontErr)
	}
	root := t.TempDir()
	root, _ = filepath.EvalSymlinks(root)
	f := &frontEnv{t: t, dir: filepath.Join(root, "work"), home: filepath.Join(root, "home"), bin: filepath.Join(root, "bin")}
	for _, d := range []string{f.dir, f.home, f.bin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.compiler("gcc")
	f.env = []string{"PATH=" + f.bin + ":/usr/bin:/bin", "DISTMESH_HOME=" + f.home, "HOME=" + root}
	return f
}

func (f *frontEnv) compiler(name string) string {
	p := filepath.Join(f.bin, name)
	if err := os.WriteFile(p, []byte(fakeCompiler), 0o755); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// listen starts the scripted agent's socket.
func (f *frontEnv) listen() *net.UnixListener {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: wrap.SocketPath(f.home), Net: "unix"})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { ln.Close() })
	return ln
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the wrapper with args; agent, when not nil, plays the agent's
// side of the one connection the wrapper makes.
func (f *frontEnv) run(ln *net.UnixListener, agent func(lc *cc.LocalConn), args ...string) result {
	f.t.Helper()
	cmd := exec.Command(front, args...)
	cmd.Dir, cmd.Env = f.dir, f.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		if ln == nil {
			return
		}
		ln.SetDeadline(time.Now().Add(30 * time.Second))
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		lc := cc.NewLocalConn(c)
		defer lc.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		agent(lc)
	}()
	err := cmd.Wait()
	<-agentDone
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		f.t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// recvJob reads the job message.
func recvJob(t *testing.T, lc *cc.LocalConn) *wrap.Job {
	payload, fds, err := lc.RecvType("job")
	cc.CloseFDs(fds)
	if err != nil {
		t.Error(err)
		return nil
	}
	j, err := wrap.DecodeJob(payload)
	if err != nil {
		t.Error(err)
	}
	return j
}

// TestFrontJob: the wrapper sends the command line untouched (whatever its
// bytes), the physical working directory, the compiler it found with its
// stamp, and of the environment exactly the variables of wrap.Env; told
// to compile locally, it runs the real compiler with the same arguments,
// holding the agent connection until the compiler exits.
func TestFrontJob(t *testing.T) {
	f := newFront(t)
	ln := f.listen()
	path := f.env[0] // PATH: the wrapper finds the compiler through it
	for i, k := range wrap.Env {
		if k != "PATH" {
			f.env = append(f.env, fmt.Sprintf("%s=v%d", k, i))
		}
	}
	f.env = append(f.env, "SECRET_TOKEN=hunter2", "FAKE_FDS=1", "DISTMESH_LOG=") // set, empty: passed
	args := []string{"-c", "a b.c", "", "-DX=\"1\n2\"", "\xfe\xff", "-o", "x.o"}
	var job *wrap.Job
	res := f.run(ln, func(lc *cc.LocalConn) {
		job = recvJob(t, lc)
		lc.Send("local", []byte("because"))
		lc.Recv() // until the compiler exits
	}, append([]string{"gcc"}, args...)...)
	if job == nil {
		t.Fatalf("no job; wrapper: %+v", res)
	}
	st, err := os.Stat(filepath.Join(f.bin, "gcc"))
	if err != nil {
		t.Fatal(err)
	}
	if job.Compiler != filepath.Join(f.bin, "gcc") || job.Name != "gcc" || job.Dir != f.dir || job.Stamp != cc.StampOf(st) || job.Terminal {
		t.Errorf("job %+v", job)
	}
	if !slices.Equal(job.Args, args) {
		t.Errorf("args %q, want %q", job.Args, args)
	}
	var want []string
	for i, k := range wrap.Env {
		switch k {
		case "DISTMESH_LOG":
			want = append(want, k+"=")
		case "PATH":
			want = append(want, path)
		default:
			want = append(want, fmt.Sprintf("%s=v%d", k, i))
		}
	}
	if !slices.Equal(job.Env, want) {
		t.Errorf("env %q, want %q", job.Env, want)
	}
	wantOut := "local gcc " + strings.Join(args, " ") + "\n1\n" // one socket: the agent connection
	if res.code != 0 || res.stdout != wantOut {
		t.Errorf("local compile: %+v, want stdout %q", res, wantOut)
	}
}

// TestFrontOpensAndWrites: the wrapper opens the names the agent lists
// (in chunks of at most wrap.MaxFDs descriptors, '0' for what does not
// open), then writes the outputs the agent returns: atomically, with the
// mode a local compile gives them, appending where told, writing in place
// what is not a regular file; then the compiler's messages, and exits
// with its status.
func TestFrontOpensAndWrites(t *testing.T) {
	f := newFront(t)
	ln := f.listen()
	var names []string
	for i := range 450 {
		p := filepath.Join(f.dir, fmt.Sprintf("h%03d.h", i))
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, p)
		if i%100 == 7 {
			names = append(names, filepath.Join(f.dir, "missing.h"))
		}
	}
	names = append(names, "h001.h") // relative to the working directory
	if err := os.WriteFile(filepath.Join(f.dir, "x.d"), []byte("old: dep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "x.o"), []byte("old object"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(f.dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(filepath.Join(f.dir, "fifo"), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	old := syscall.Umask(0o007)
	res := f.run(ln, func(lc *cc.LocalConn) {
		recvJob(t, lc)
		lc.Send("open", wrap.AppendList(nil, names...))
		i := 0
		for i < len(names) {
			ok, fds, err := lc.RecvType("opened")
			if err != nil {
				t.Error(err)
				return
			}
			if len(fds) > wrap.MaxFDs {
				t.Errorf("%d descriptors in one message", len(fds))
			}
			for _, c := range ok {
				name := names[i]
				if c == '0' {
					if !strings.Contains(name, "missing") {
						t.Errorf("%s did not open", name)
					}
				} else {
					var got []byte = make([]byte, 200)
					n, _ := syscall.Pread(fds[0], got, 0)
					if want := filepath.Join(f.dir, filepath.Base(name)); string(got[:n]) != want {
						t.Errorf("descriptor for %s reads %q", name, got[:n])
					}
					syscall.Close(fds[0])
					fds = fds[1:]
				}
				i++
			}
			if len(fds) != 0 {
				t.Errorf("%d descriptors left over", len(fds))
			}
		}
		lc.Send("out", append(wrap.AppendList(nil, "x.o", "w"), "new\x00object"...))
		lc.Send("out", append(wrap.AppendList(nil, "x.d", "a"), "x.o: x.c\n"...))
		lc.Send("out", append(wrap.AppendList(nil, filepath.Join(f.dir, "fifo"), "w"), "piped"...))
		lc.Send("stdout", []byte("to stdout"))
		lc.Send("stderr", []byte("x.c:1: warning: remote\n"))
		lc.Send("exit", []byte("3"))
	}, "gcc", "-c", "x.c")
	syscall.Umask(old)
	if res.code != 3 || res.stdout != "to stdout" || res.stderr != "x.c:1: warning: remote\n" {
		t.Errorf("wrapper: %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "x.o")); string(b) != "new\x00object" {
		t.Errorf("x.o = %q", b)
	}
	if fi, err := os.Stat(filepath.Join(f.dir, "x.o")); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("x.o: %v, mode %v, want 0660 (0666 minus the umask 007)", err, fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "x.d")); string(b) != "old: dep\nx.o: x.c\n" {
		t.Errorf("x.d = %q", b)
	}
	buf := make([]byte, 16)
	if n, _ := r.Read(buf); string(buf[:n]) != "piped" {
		t.Errorf("the FIFO got %q", buf[:n])
	}
	if fi, err := os.Lstat(filepath.Join(f.dir, "fifo")); err != nil || fi.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("the FIFO was replaced: %v", err)
	}
	if ents, _ := filepath.Glob(filepath.Join(f.dir, ".*tmp*")); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// TestFrontScan: asked for the compiler's dependency scan, the wrapper
// runs the real compiler with the arguments given and returns its stdout.
func TestFrontScan(t *testing.T) {
	f := newFront(t)
	ln := f.listen()
	var deps string
	res := f.run(ln, func(lc *cc.LocalConn) {
		recvJob(t, lc)
		lc.Send("scan", wrap.AppendList(nil, "-M", "x.c"))
		out, fds, err := lc.RecvType("deps")
		cc.CloseFDs(fds)
		if err != nil {
			t.Error(err)
		}
		deps = string(out)
		lc.Send("stdout", nil)
		lc.Send("stderr", nil)
		lc.Send("exit", []byte("0"))
	}, "gcc", "-c", "x.c")
	if want := "x.o: x.c \\\n /inc/a.h\n"; res.code != 0 || deps != want {
		t.Errorf("deps %q, want %q; wrapper %+v", deps, want, res)
	}
}

// TestFrontStats: the wrapper stats the names the agent lists, following
// symlinks as open does, without opening them (a FIFO does not hang it),
// and answers each with the stamp Go's stat gives, or not found.
func TestFrontStats(t *testing.T) {
	f := newFront(t)
	ln := f.listen()
	for _, n := range []string{"a.h", "b.h"} {
		if err := os.WriteFile(filepath.Join(f.dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("b.h", filepath.Join(f.dir, "link.h")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(f.dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	names := []string{"a.h", filepath.Join(f.dir, "b.h"), "missing.h", "link.h", "fifo"}
	var stamps []wrap.Stamp
	var found []bool
	var raw []byte
	res := f.run(ln, func(lc *cc.LocalConn) {
		recvJob(t, lc)
		lc.Send("stat", wrap.AppendList(nil, names...))
		b, fds, err := lc.RecvType("stated")
		raw = b
		if len(fds) != 0 {
			t.Errorf("%d descriptors passed with stated", len(fds))
		}
		cc.CloseFDs(fds)
		if err == nil {
			stamps, found, err = wrap.ParseStated(b, len(names))
		}
		if err != nil {
			t.Error(err)
		}
		lc.Send("stdout", nil)
		lc.Send("stderr", nil)
		lc.Send("exit", []byte("0"))
	}, "gcc", "-c", "x.c")
	if res.code != 0 || len(stamps) != len(names) {
		t.Fatalf("wrapper %+v, %d stamps", res, len(stamps))
	}
	var want []byte // what wrap.AppendStated makes of Go's stat
	for i, n := range names {
		var st syscall.Stat_t
		err := syscall.Stat(filepath.Join(f.dir, n), &st)
		if filepath.IsAbs(n) {
			err = syscall.Stat(n, &st)
		}
		if err != nil {
			want = wrap.AppendStated(want, nil)
		} else {
			s := wrap.StampOf(&st)
			want = wrap.AppendStated(want, &s)
		}
		if want := err == nil; found[i] != want {
			t.Errorf("%s: found %v, want %v", n, found[i], want)
			continue
		}
		if err == nil && stamps[i] != wrap.StampOf(&st) {
			t.Errorf("%s: stamp %+v, want %+v", n, stamps[i], wrap.StampOf(&st))
		}
	}
	if !bytes.Equal(raw, want) {
		t.Error("the wrapper's stated message differs from wrap.AppendStated's")
	}
	if _, _, err := wrap.ParseStated(make([]byte, wrap.StatRecord+1), 1); err == nil {
		t.Error("a stated message of the wrong length was accepted")
	}
	if _, _, err := wrap.ParseStated(bytes.Repeat([]byte{'x'}, wrap.StatRecord), 1); err == nil {
		t.Error("a stated record without '1' or '0' was accepted")
	}
}

// TestFrontFallsBack: whatever goes wrong before the result is complete
// becomes the local compile, arguments untouched, with nothing written;
// with DISTMESH_FALLBACK=0 a missing agent and an agent's error fail the
// compile instead.
func TestFrontFallsBack(t *testing.T) {
	f := newFront(t)
	local := "local gcc -c x.c -o x.o\n"
	if res := f.run(nil, nil, "gcc", "-c", "x.c", "-o", "x.o"); res.code != 0 || res.stdout != local {
		t.Errorf("no agent: %+v", res)
	}
	f.env = append(f.env, "DISTMESH_FALLBACK=0")
	if res := f.run(nil, nil, "gcc", "-c", "x.c", "-o", "x.o"); res.code != 1 || res.stdout != "" || !strings.Contains(res.stderr, "no agent at "+wrap.SocketPath(f.home)) {
		t.Errorf("no agent, DISTMESH_FALLBACK=0: %+v", res)
	}
	ln := f.listen()
	if res := f.run(ln, func(lc *cc.LocalConn) {
		recvJob(t, lc)
		lc.Send("error", []byte("no peer with this compiler is up"))
	}, "gcc", "-c", "x.c", "-o", "x.o"); res.code != 1 || res.stdout != "" || !strings.Contains(res.stderr, "distmesh: no peer with this compiler is up (DISTMESH_FALLBACK=0: not compiling locally)") {
		t.Errorf("error from the agent: %+v", res)
	}
	f.env = f.env[:len(f.env)-1]
	for name, agent := range map[string]func(lc *cc.LocalConn){
		"connection closed": func(lc *cc.LocalConn) { recvJob(t, lc) },
		"closed mid-result": func(lc *cc.LocalConn) { recvJob(t, lc); lc.Send("out", wrap.AppendList(nil, "x.o", "w")) },
		"bad header":        func(lc *cc.LocalConn) { recvJob(t, lc); lc.UnixConn().Write([]byte("exit x 0\n")) },
		"descriptors sent":  func(lc *cc.LocalConn) { recvJob(t, lc); lc.UnixConn().Write([]byte("exit 1 1\n0")) },
		"unknown message":   func(lc *cc.LocalConn) { recvJob(t, lc); lc.Send("frobnicate", nil) },
		"bad output":        func(lc *cc.LocalConn) { recvJob(t, lc); lc.Send("out", []byte("x.o")) },
		"bad exit status":   func(lc *cc.LocalConn) { recvJob(t, lc); lc.Send("exit", []byte("3x")) },
		"unterminated open": func(lc *cc.LocalConn) { recvJob(t, lc); lc.Send("open", []byte("x.h")) },
		"unwritable output": func(lc *cc.LocalConn) {
			recvJob(t, lc)
			lc.Send("out", append(wrap.AppendList(nil, "x.o", "w"), "obj"...))
			lc.Send("out", append(wrap.AppendList(nil, "missing/y.o", "w"), "obj"...))
			lc.Send("exit", []byte("0"))
		},
	} {
		os.Remove(filepath.Join(f.dir, "x.o"))
		res := f.run(ln, agent, "gcc", "-c", "x.c", "-o", "x.o")
		if res.code != 0 || res.stdout != local {
			t.Errorf("%s: %+v, want the local compile", name, res)
		}
		if name != "unwritable output" {
			if _, err := os.Stat(filepath.Join(f.dir, "x.o")); err == nil {
				t.Errorf("%s: x.o was written", name)
			}
		}
	}
}

// TestFrontDispatch: under a compiler's name (a masquerade link) or with a
// first argument that is not a distmesh command, the wrapper compiles,
// with the masquerade directory gone from the compiler's PATH; anything
// else goes to distmesh-node beside it.
func TestFrontDispatch(t *testing.T) {
	f := newFront(t)
	root := filepath.Dir(f.dir)
	bin := filepath.Join(root, "distmesh-bin")
	masq := filepath.Join(root, "masq")
	for _, d := range []string{bin, masq} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(front)
	if err != nil {
		t.Fatal(err)
	}
	me := filepath.Join(bin, "distmesh")
	if err := os.WriteFile(me, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "distmesh-node"), []byte("#!/bin/sh\necho \"node $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"gcc", "cc", "clang++-14", "x86_64-linux-gnu-gcc-12", "c89-gcc", "gcc-ar", "join"}
	for _, n := range names {
		f.compiler(n)
		if err := os.Symlink(me, filepath.Join(masq, n)); err != nil {
			t.Fatal(err)
		}
	}
	f.env = append(f.env, "PATH="+masq+":"+f.bin+":/usr/bin:/bin:"+masq, "FAKE_PATH=1")
	run := func(argv0 string, args ...string) string {
		cmd := exec.Command(argv0, args...)
		cmd.Dir, cmd.Env = f.dir, f.env
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	wantPATH := "PATH=" + f.bin + ":/usr/bin:/bin\n"
	for _, n := range []string{"gcc", "cc", "clang++-14", "x86_64-linux-gnu-gcc-12"} {
		if got, want := run(filepath.Join(masq, n), "-c", "x.c"), "local "+n+" -c x.c\n"+wantPATH; got != want {
			t.Errorf("masquerade %s: %q, want %q", n, got, want)
		}
	}
	for _, n := range []string{"c89-gcc", "gcc-ar", "join"} {
		if got, want := run(filepath.Join(masq, n), "-c", "x.c"), "node -c x.c\n"; got != want {
			t.Errorf("masquerade %s (not a compiler name): %q, want %q", n, got, want)
		}
	}
	for args, want := range map[string]string{
		"gcc -c x.c":                           "local gcc -c x.c\n" + wantPATH,
		"-- join -c x.c":                       "local join -c x.c\n" + wantPATH,
		"join --home h":                        "node join --home h\n",
		"keys add":                             "node keys add\n",
		"--bogus":                              "node --bogus\n",
		"":                                     "node \n",
		"frobnicate -c x.c":                    "distmesh: compiler \"frobnicate\" not found in PATH (distmesh's own masquerade entries are skipped)\n",
		filepath.Join(masq, "gcc") + " -c x.c": "distmesh: " + filepath.Join(masq, "gcc") + " is distmesh itself: name the real compiler\n",
	} {
		var argv []string
		if args != "" {
			argv = strings.Split(args, " ")
		}
		if got := run(me, argv...); got != want {
			t.Errorf("distmesh %s: %q, want %q", args, got, want)
		}
	}
}
