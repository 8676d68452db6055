package cc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/distmesh/distmesh/internal/renameio"
)

// Wrap runs one compiler invocation for the user: name is the compiler as
// given (cc, /usr/bin/gcc-12, x86_64-linux-gnu-gcc) and args everything
// after it, untouched. A distributable compile goes to the agent of home;
// anything else, or any failure on the way, becomes the local compile
// (this process is replaced by the compiler), so the build sees exactly
// what the local compiler would have done. Wrap returns only to report an
// exit status.
func Wrap(home, name string, args []string) int {
	w := &wrapper{home: home, name: name, args: args, fallback: os.Getenv("DISTMESH_FALLBACK") != "0"}
	w.debug = os.Getenv("DISTMESH_LOG") == "debug"
	real, masq, err := RealCompiler(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "distmesh: %v\n", err)
		return 127
	}
	w.real = real
	if len(masq) > 0 {
		// The real compiler must not meet distmesh again in PATH: GCC
		// looks itself up there to find cc1, and would find the link.
		os.Setenv("PATH", strings.Join(slices.DeleteFunc(filepath.SplitList(os.Getenv("PATH")), func(d string) bool {
			return slices.Contains(masq, d)
		}), string(os.PathListSeparator)))
	}
	return w.run()
}

type wrapper struct {
	home, name, real string
	args             []string
	fallback, debug  bool
	conn             *LocalConn
	held             int // input descriptors passed to the agent and left open
}

// maxHeld bounds the input descriptors the wrapper leaves open after
// passing them.
const maxHeld = 512

func (w *wrapper) logf(format string, args ...any) {
	if w.debug {
		fmt.Fprintf(os.Stderr, "distmesh: "+format+"\n", args...)
	}
}

// local replaces this process with the local compiler. The agent
// connection, when open, is inherited: it holds the local slot the agent
// granted until the compiler exits.
func (w *wrapper) local(why string) int {
	w.logf("compiling %s locally: %s", w.name, why)
	argv0 := w.name
	if w.conn != nil {
		if raw, err := w.conn.c.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETFD, 0) })
		}
	}
	err := syscall.Exec(w.real, append([]string{argv0}, w.args...), os.Environ())
	fmt.Fprintf(os.Stderr, "distmesh: run %s: %v\n", w.real, err)
	return 127
}

func (w *wrapper) run() int {
	family := GuessFamily(w.name)
	args, err := ExpandResponseFiles(family, w.args, os.ReadFile)
	if err != nil {
		return w.local(err.Error())
	}
	a := Analyze(family, args, os.Environ())
	if a.Local != "" {
		return w.local(a.Local)
	}
	// The argument policy is checked by the agent, which knows the
	// compiler's real family and keeps the policy compiled.
	env, why := CompileEnv(os.Environ())
	if why != "" {
		return w.local(why)
	}
	for _, o := range a.Outputs {
		if strings.HasPrefix(o.Path, "/dev/") || strings.HasPrefix(o.Path, "/proc/") {
			return w.local("output to " + o.Path)
		}
	}
	fi, err := os.Stat(w.real)
	if err != nil {
		return w.local(err.Error())
	}
	c, err := net.DialTimeout("unix", SocketPath(w.home), time.Second)
	if err != nil {
		if !w.fallback {
			fmt.Fprintf(os.Stderr, "distmesh: no agent at %s (%v): start `distmesh join`, or unset DISTMESH_FALLBACK=0\n", SocketPath(w.home), err)
			return 1
		}
		return w.local("no agent: " + err.Error())
	}
	w.conn = NewLocalConn(c.(*net.UnixConn))
	defer w.conn.Close()

	dir, err := syscall.Getwd() // physical, unlike os.Getwd
	if err != nil {
		return w.local(err.Error())
	}
	hello := Hello{
		Compiler: w.real, Stamp: StampOf(fi), Name: filepath.Base(w.name),
		Args: a.Args, Env: env, Native: a.Native, Fallback: w.fallback,
		Source: a.Source, Lang: a.Lang, Dir: dir, PWD: os.Getenv("PWD"),
		Dirs: includeDirs(a.Args), Includes: ForcedIncludes(a.Args), Color: colorWanted(a.Args),
	}
	for _, o := range a.Outputs {
		hello.Dirs = append(hello.Dirs, DirOf(o.Path))
	}
	if err := w.conn.SendJSON("hello", hello); err != nil {
		return w.local("agent: " + err.Error())
	}
	for {
		typ, payload, files, err := w.conn.Recv()
		CloseFiles(files)
		switch {
		case err != nil:
			return w.local("agent: " + err.Error())
		case typ == "open":
			if err := w.openMore(payload); err != nil {
				return w.local("agent: " + err.Error())
			}
		case typ == "scan":
			deps, err := w.scan(a)
			if err != nil {
				// The local compile reports what is wrong (a missing header)
				// exactly as the compiler does.
				return w.local(err.Error())
			}
			if err := w.conn.SendJSON("deps", Deps{Paths: deps}); err != nil {
				return w.local("agent: " + err.Error())
			}
		case typ == "local":
			return w.local(reasonOf(payload))
		case typ == "error":
			return w.strictFailure(string(payload))
		case typ == "result":
			return w.finish(a, payload)
		default:
			return w.local("agent protocol: " + typ)
		}
	}
}

func (w *wrapper) strictFailure(msg string) int {
	fmt.Fprintf(os.Stderr, "distmesh: %s (DISTMESH_FALLBACK=0: not compiling locally)\n", msg)
	return 1
}

func reasonOf(payload []byte) string {
	var l Local
	if err := jsonUnmarshal(payload, &l); err != nil {
		return "agent said so"
	}
	return l.Reason
}

// scan asks the compiler which files the compile reads.
func (w *wrapper) scan(a Analysis) ([]string, error) {
	cmd := exec.Command(w.real, a.ScanArgs...)
	cmd.Args[0] = w.name
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dependency scan: %v", err)
	}
	return ParseDeps(out.Bytes())
}

func (w *wrapper) openMore(payload []byte) error {
	var req Open
	if err := jsonUnmarshal(payload, &req); err != nil {
		return err
	}
	var ok Opened
	var fds []int
	send := func() error {
		b, err := json.Marshal(ok)
		if err != nil {
			return err
		}
		err = w.conn.SendFDs("opened", b, fds)
		// The descriptors are the agent's now; exit closes this process's
		// copies at a fraction of a close call each (and they are
		// close-on-exec for a local compile). A unit with thousands of
		// inputs closes them as it goes.
		if w.held += len(fds); w.held > maxHeld {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
		ok.OK, fds = ok.OK[:0], fds[:0]
		return err
	}
	for _, p := range req.Paths {
		// Non-blocking: a FIFO named as a header must not hang the wrapper
		// (the agent refuses anything but a regular file).
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		ok.OK = append(ok.OK, err == nil)
		if err == nil {
			fds = append(fds, fd)
		}
		if len(fds) == MaxFDsPerMessage {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if len(ok.OK) > 0 || len(req.Paths) == 0 {
		return send()
	}
	return nil
}

// finish writes the outputs the wrapper itself expects, atomically, then
// the compiler's messages, and returns its exit status.
func (w *wrapper) finish(a Analysis, payload []byte) int {
	var res Result
	if err := jsonUnmarshal(payload, &res); err != nil {
		return w.local("agent: " + err.Error())
	}
	expected := map[string]OutputKind{}
	for _, o := range a.Outputs {
		expected[o.Path] = o.Kind
	}
	type output struct {
		path string
		kind OutputKind
		data []byte
	}
	var outs []output
	for _, o := range res.Outputs {
		typ, data, files, err := w.conn.Recv()
		CloseFiles(files)
		if err != nil || typ != "out" {
			return w.local("agent: lost the outputs")
		}
		kind, ok := expected[o.Path]
		if !ok {
			w.logf("ignoring unexpected output %s from %s", o.Path, res.Node)
			continue
		}
		outs = append(outs, output{o.Path, kind, data})
	}
	umask := syscall.Umask(0)
	syscall.Umask(umask)
	for _, o := range outs {
		write := writeOutput
		if o.kind == KindDepsAppend {
			write = appendOutput
		}
		if err := write(o.path, o.data, os.FileMode(0o666&^umask)); err != nil {
			// Nothing half-written is left; the local compile tries again.
			return w.local(err.Error())
		}
	}
	os.Stdout.Write(res.Stdout)
	os.Stderr.Write(res.Stderr)
	w.logf("compiled %s on %s", a.Source, res.Node)
	return res.Exit
}

// writeOutput replaces path atomically with data, unless path exists and
// is not a regular file (a device, a FIFO), which is written in place as
// the compiler would.
func writeOutput(p string, data []byte, perm os.FileMode) error {
	if fi, err := os.Stat(p); err == nil && !fi.Mode().IsRegular() {
		return writeTo(p, os.O_WRONLY, 0, data)
	}
	return renameio.WriteFileUnsynced(p, data, perm)
}

// appendOutput appends data to path, as GCC appends to the file named by
// DEPENDENCIES_OUTPUT; the node started from an empty one.
func appendOutput(p string, data []byte, perm os.FileMode) error {
	return writeTo(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, perm, data)
}

// writeTo opens p with flag and writes data to it.
func writeTo(p string, flag int, perm os.FileMode, data []byte) error {
	f, err := os.OpenFile(p, flag, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ForcedIncludes lists the files of -include and -imacros.
func ForcedIncludes(args []string) []string {
	var files []string
	for i := 0; i < len(args); i++ {
		for _, opt := range []string{"-include", "-imacros"} {
			if args[i] == opt && i+1 < len(args) {
				files = append(files, args[i+1])
				i++
				break
			}
		}
	}
	return files
}

// includeDirs lists the include directories named in args.
func includeDirs(args []string) []string {
	var dirs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		for _, opt := range []string{"-I", "-iquote", "-isystem", "-idirafter"} {
			if a == opt && i+1 < len(args) {
				dirs = append(dirs, args[i+1])
				i++
				break
			}
			if strings.HasPrefix(a, opt) && len(a) > len(opt) && (opt != "-I" || !strings.HasPrefix(a, "-I-")) {
				dirs = append(dirs, a[len(opt):])
				break
			}
		}
	}
	return dirs
}

// colorWanted reports whether a local compile would colour its messages
// (stderr is a terminal, no explicit choice in args) — then the remote one
// must be told to.
func colorWanted(args []string) bool {
	if os.Getenv("TERM") == "dumb" || !isTerminal(os.Stderr) {
		return false
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-fdiagnostics-color") || strings.HasPrefix(a, "-fno-diagnostics-color") ||
			strings.HasPrefix(a, "-fcolor-diagnostics") || strings.HasPrefix(a, "-fno-color-diagnostics") {
			return false
		}
	}
	return true
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// GuessFamily guesses a compiler's family from its name, for deciding
// locally whether a command line is a distributable compile; the agent
// knows the real family.
func GuessFamily(name string) Family {
	if strings.Contains(filepath.Base(name), "clang") {
		return FamilyClang
	}
	return FamilyGCC
}

// RealCompiler finds the compiler a name stands for: a path is taken as
// is; a bare name is looked up in PATH, skipping every entry that is this
// program (a masquerade directory), so the wrapper never calls itself. It
// also returns the PATH directories it skipped.
func RealCompiler(name string) (real string, masquerade []string, err error) {
	isSelf := SelfChecker()
	if strings.Contains(name, "/") {
		if isSelf(name) {
			return "", nil, fmt.Errorf("%s is distmesh itself: name the real compiler", name)
		}
		if _, err := os.Stat(name); err != nil {
			return "", nil, fmt.Errorf("compiler %s: %w", name, err)
		}
		return name, nil, nil
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		if isSelf(p) {
			masquerade = append(masquerade, dir)
			continue
		}
		return p, masquerade, nil
	}
	return "", nil, fmt.Errorf("compiler %q not found in PATH (distmesh's own masquerade entries are skipped)", name)
}

// The two binaries distmesh installs side by side: the lean wrapper and
// front door every compile starts (FrontName), and the node with
// everything else (NodeName).
const (
	FrontName = "distmesh"
	NodeName  = "distmesh-node"
)

// self is this program's executable, symlinks resolved.
func self() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}

// Beside is the binary name installed in the same directory as this
// program ("" and an error saying what to install when it is not there).
func Beside(name string) (string, error) {
	me, err := self()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(me), name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is not installed beside %s: install both binaries (make build puts them in bin/)", name, me)
	}
	return p, nil
}

// SelfChecker returns a function reporting whether a path is distmesh: this
// program, or either of the binaries installed beside it (a masquerade link
// points at the wrapper even when the node looks for compilers).
func SelfChecker() func(string) bool {
	me, err := self()
	return func(p string) bool {
		r, rerr := filepath.EvalSymlinks(p)
		if err != nil || rerr != nil {
			return false
		}
		if r == me {
			return true
		}
		base := filepath.Base(r)
		return filepath.Dir(r) == filepath.Dir(me) && (base == FrontName || base == NodeName)
	}
}

// DefaultHome is /var/lib/distmesh for root, else $XDG_DATA_HOME/distmesh
// (~/.local/share/distmesh).
func DefaultHome() string {
	if os.Geteuid() == 0 {
		return "/var/lib/distmesh"
	}
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "distmesh")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "distmesh")
	}
	if u, err := user.Current(); err == nil {
		return filepath.Join(u.HomeDir, ".local", "share", "distmesh")
	}
	return "distmesh"
}

// CompilerHome is the home whose agent a compiler wrapper talks to:
// DISTMESH_HOME, else this user's default home if its agent runs, else the
// system-wide one.
func CompilerHome() string {
	if h := os.Getenv("DISTMESH_HOME"); h != "" {
		return h
	}
	for _, h := range []string{DefaultHome(), "/var/lib/distmesh"} {
		if _, err := os.Stat(SocketPath(h)); err == nil {
			return h
		}
	}
	return DefaultHome()
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
