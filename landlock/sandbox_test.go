package landlock_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distmesh/distmesh/landlock"
)

// TestEscapes runs the stand-in compiler once per escape; every attempt
// must fail with exactly the error of the layer that stops it.
func TestEscapes(t *testing.T) {
	needSandbox(t)
	// What the stand-in must never reach: a file outside the root
	// (standing for the node's private key), a TCP listener, a UDP socket,
	// a pathname and an abstract Unix socket, all in the test's (the
	// daemon's) namespaces.
	key := filepath.Join(t.TempDir(), "node_key")
	writeFile(t, key, "secret")
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	sockPath := filepath.Join(t.TempDir(), "daemon.sock")
	unixSock, err := net.Listen("unix", sockPath)
	if err != nil {
		t.Fatal(err)
	}
	defer unixSock.Close()
	abstract := fmt.Sprintf("@distmesh-test-%d", os.Getpid())
	abstractSock, err := net.Listen("unix", abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer abstractSock.Close()
	port := func(a net.Addr) string { _, p, _ := net.SplitHostPort(a.String()); return p }

	for _, tc := range []struct {
		name   string
		args   []string
		want   []string // stdout, line by line
		signal string
	}{
		{"read shadow", []string{"read", "/etc/shadow"}, []string{"read: ENOENT"}, ""},
		{"read node key", []string{"read", key}, []string{"read: ENOENT"}, ""},
		{"read own input", []string{"read", workDir + "/x.c"}, []string{"read: ok"}, ""},
		{"write output", []string{"write", outDir + "/x.o"}, []string{"write: ok"}, ""},
		{"write tmp", []string{"write", "/tmp/x.s"}, []string{"write: ok"}, ""},
		{"write working dir", []string{"write", workDir + "/x.o"}, []string{"write: EROFS"}, ""},
		{"overwrite input", []string{"write", workDir + "/x.c"}, []string{"write: EROFS"}, ""},
		{"write compiler", []string{"write", binDir + "/escape"}, []string{"write: EROFS"}, ""},
		{"write outside root", []string{"write", "/etc/passwd"}, []string{"write: ENOENT"}, ""},
		{"write dev", []string{"write", "/dev/sda"}, []string{"write: EROFS"}, ""},
		{"exec written file", []string{"exec-written", outDir}, []string{"create: ok", "chmod: ok", "exec: EACCES", "mmap-exec: EPERM"}, ""},
		{"exec memfd", []string{"exec-memfd"}, []string{"memfd: EPERM", "memfd noexec: ok", "chmod: EPERM", "fexecve: EACCES"}, ""},
		{"make special files", []string{"mknod", outDir}, []string{"symlink: EACCES", "mkfifo: EACCES", "bind unix: EACCES"}, ""},
		{"tcp", []string{"tcp", port(tcp.Addr())}, []string{"socket inet stream: EPERM", "connect: EBADF", "bind: EBADF", "socket inet6 mptcp: EPERM"}, ""},
		{"udp", []string{"udp", port(udp.LocalAddr())}, []string{"socket inet dgram: EPERM", "sendto: EBADF", "socket netlink: EPERM"}, ""},
		{"unix socket outside", []string{"unix", sockPath}, []string{"socket unix: ok", "connect: ENOENT"}, ""},
		{"abstract socket", []string{"unix", abstract}, []string{"socket unix: ok", "connect: ECONNREFUSED"}, ""},
		{"signal daemon", []string{"kill", strconv.Itoa(os.Getpid())}, []string{"kill: ESRCH"}, ""},
		{"refused syscalls", []string{"syscalls"}, []string{
			"unshare: EPERM", "clone newuser: EPERM", "clone3: ENOSYS", "mount: EPERM", "io_uring_setup: EPERM",
			"bpf: EPERM", "ptrace: EPERM", "keyctl: EPERM", "pdeathsig: EPERM",
		}, ""},
		{"credentials", []string{"status"}, []string{
			"Uid:\t0\t0\t0\t0", "CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
			"CapBnd:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2", "pid: 1",
		}, ""},
		{"x32 syscall", []string{"x32"}, nil, "SIGSYS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, out := run(t, standInSpec(t, tc.args...))
			if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); out != "" && !slices.Equal(got, tc.want) || out == "" && tc.want != nil {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, strings.Join(tc.want, "\n"))
			}
			if res.Signal != tc.signal {
				t.Errorf("signal %q, want %q (%+v)", res.Signal, tc.signal, res)
			}
		})
	}
	// Nothing arrived at the node's sockets (every job has ended, so
	// anything sent is queued by now).
	for name, l := range map[string]net.Listener{"tcp": tcp, "unix": unixSock, "abstract": abstractSock} {
		l.(interface{ SetDeadline(time.Time) error }).SetDeadline(time.Now())
		if c, err := l.Accept(); err == nil {
			c.Close()
			t.Errorf("a job connected to the %s listener", name)
		}
	}
	udp.SetReadDeadline(time.Now())
	if _, from, err := udp.ReadFrom(make([]byte, 16)); err == nil {
		t.Errorf("a job sent a UDP datagram from %v", from)
	}
}

// TestDirectoriesInTmp checks that a client working below /tmp keeps its
// files in the job's private /tmp, and that the output directory there is
// writable and nothing else is.
func TestDirectoriesInTmp(t *testing.T) {
	out := []string{"/tmp/build/out"}
	// With /tmp itself writable (the job's scratch space: a node never
	// asks for it, since what is written there is gone with the job), or
	// a directory above another writable one, what is mounted below a
	// writable directory stays in sight.
	tmp := []string{"/tmp", "/tmp/build/out"}
	above := []string{"/tmp/build/out", "/tmp/build"}
	for _, tc := range []struct {
		args, want string
		writable   []string
	}{
		{"write /tmp/build/out/x.o", "write: ok", out},
		{"write /tmp/build/y.o", "write: EROFS", out},
		{"read /tmp/build/x.c", "read: ok", out},
		{"write /tmp/scratch", "write: ok", out},
		{"read /tmp/build/x.c", "read: ok", tmp},
		{"write /tmp/y.o", "write: ok", tmp},
		{"write /tmp/build/out/x.o", "write: ok", tmp},
		{"write /tmp/build/y.o", "write: EROFS", tmp},
		{"read /tmp/build/x.c", "read: ok", above},
		{"write /tmp/build/out/x.o", "write: ok", above},
	} {
		spec := standInSpec(t, strings.Fields(tc.args)...) // a root is for one Run
		mkdir(t, spec.Root+"/tmp/build/out")
		writeFile(t, spec.Root+"/tmp/build/x.c", "int x;\n")
		spec.Writable = tc.writable
		spec.Dir = "/tmp/build"
		if _, out := run(t, spec); strings.TrimSpace(out) != tc.want {
			t.Errorf("%s, writable %v: %q, want %q", tc.args, tc.writable, out, tc.want)
		}
		if _, err := os.Stat(spec.Root + "/tmp/scratch"); err == nil {
			t.Errorf("the job's /tmp scratch file landed in the root")
		}
		if tc.want == "write: ok" && strings.HasPrefix(tc.args, "write /tmp/build/out") {
			if _, err := os.Stat(spec.Root + "/tmp/build/out/x.o"); err != nil {
				t.Errorf("output not in the root: %v", err)
			}
		}
	}
}

// lineWriter collects a job's stdout and closes ready when it prints "ready".
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	ready chan struct{}
}

func newLineWriter() *lineWriter { return &lineWriter{ready: make(chan struct{})} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), []byte("ready\n")) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startJob runs spec in the background; the returned channel reports how
// Run ended.
type runResult struct {
	res landlock.Result
	err error
}

func startJob(ctx context.Context, spec landlock.Spec, stdout *lineWriter) <-chan runResult {
	done := make(chan runResult, 1)
	go func() {
		res, err := spawner.Run(ctx, spec, stdout, os.Stderr)
		done <- runResult{res, err}
	}()
	return done
}

// waitReady waits until the job prints "ready", or fails the test.
func waitReady(t *testing.T, w *lineWriter, done <-chan runResult) {
	t.Helper()
	select {
	case <-w.ready:
	case r := <-done:
		t.Fatalf("job ended before it was ready: %+v, %v\n%s", r.res, r.err, w.String())
	case <-time.After(time.Minute):
		t.Fatalf("job not ready after a minute:\n%s", w.String())
	}
}

// waitDone waits for Run to return, or fails the test.
func waitDone(t *testing.T, done <-chan runResult) runResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(time.Minute):
		t.Fatal("Run has not returned a minute after its job was cancelled")
		return runResult{}
	}
}

func noJobProcesses(t *testing.T) {
	t.Helper()
	// A job killed by its parent's death gets SIGKILL only as that parent
	// finishes exiting, after its sockets closed (which is how Run and
	// Serve learn of it), and takes a moment to die: it must be gone
	// soon, not at once.
	left := jobProcesses(t)
	for deadline := time.Now().Add(10 * time.Second); len(left) > 0 && time.Now().Before(deadline); left = jobProcesses(t) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("processes of the job outlived it by 10s:\n%s", strings.Join(left, "\n"))
	}
}

// TestForkBomb: the job's forks fail at its Processes limit while the
// daemon (the test, which may be the same uid) can still start processes;
// cancelling the context kills the whole job.
func TestForkBomb(t *testing.T) {
	spec := standInSpec(t, "forkbomb")
	spec.Limits.Processes = 16
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newLineWriter()
	done := startJob(ctx, spec, w)
	waitReady(t, w, done)
	if out, err := exec.Command("/proc/self/exe", "-test.run=^$").CombinedOutput(); err != nil {
		t.Errorf("the daemon cannot start a process while a job is at its limit: %v\n%s", err, out)
	}
	cancel()
	r := waitDone(t, done)
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("Run after cancel: %+v, %v; want context.Canceled", r.res, r.err)
	}
	m := regexp.MustCompile(`forked (\d+), then: (\w+)`).FindStringSubmatch(w.String())
	if m == nil || m[2] != "EAGAIN" {
		t.Fatalf("stdout %q: want forks to end with EAGAIN", w.String())
	}
	if n, _ := strconv.Atoi(m[1]); n >= spec.Limits.Processes {
		t.Errorf("forked %d processes with a limit of %d", n, spec.Limits.Processes)
	}
	noJobProcesses(t)
}

func TestOrphanDoesNotOutliveJob(t *testing.T) {
	res, out := run(t, standInSpec(t, "orphan"))
	if out != "orphan: started\n" || res.ExitCode != 0 {
		t.Fatalf("%+v %q", res, out)
	}
	noJobProcesses(t)
}

func TestWallLimit(t *testing.T) {
	spec := standInSpec(t, "forever")
	spec.Limits.Wall = 500 * time.Millisecond
	res, out := run(t, spec)
	if res.LimitHit != "wall" || res.Signal != "SIGKILL" || out != "ready\n" {
		t.Errorf("%+v %q: want the wall limit to kill the job", res, out)
	}
	noJobProcesses(t)
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newLineWriter()
	done := startJob(ctx, standInSpec(t, "forever"), w)
	waitReady(t, w, done)
	cancel()
	if r := waitDone(t, done); !errors.Is(r.err, context.Canceled) || r.res.Signal != "SIGKILL" {
		t.Errorf("Run after cancel: %+v, %v", r.res, r.err)
	}
	noJobProcesses(t)
}

func TestCPULimit(t *testing.T) {
	spec := standInSpec(t, "spin")
	spec.Limits.CPU = time.Second
	res, _ := run(t, spec)
	// PID 1 ignores SIGXCPU: the hard limit's SIGKILL ends it.
	if res.LimitHit != "cpu" || res.Signal != "SIGKILL" {
		t.Errorf("%+v: want the CPU limit to kill the job", res)
	}
}

func TestAddressSpaceLimit(t *testing.T) {
	spec := standInSpec(t, "alloc")
	spec.Limits.AddressSpace = 256 << 20
	_, out := run(t, spec)
	m := regexp.MustCompile(`allocated (\d+) MiB, then: (\w+)`).FindStringSubmatch(out)
	if m == nil || m[2] != "ENOMEM" {
		t.Fatalf("stdout %q: want allocation to end with ENOMEM", out)
	}
	if n, _ := strconv.ParseInt(m[1], 10, 64); n<<20 >= spec.Limits.AddressSpace {
		t.Errorf("allocated %d MiB under a limit of %d MiB", n, spec.Limits.AddressSpace>>20)
	}
}

func TestFileSizeLimit(t *testing.T) {
	spec := standInSpec(t, "fill", outDir+"/big")
	spec.Limits.FileSize = 4 << 20
	res, out := run(t, spec)
	if want := fmt.Sprintf("create: ok\nwrote %d bytes, then: EFBIG\n", spec.Limits.FileSize); out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if res.LimitHit != "file size" {
		t.Errorf("%+v: want LimitHit \"file size\"", res)
	}
	if fi, err := os.Stat(spec.Root + outDir + "/big"); err != nil || fi.Size() != spec.Limits.FileSize {
		t.Errorf("output file: %v %v", fi, err)
	}
}

func TestTmpSizeLimit(t *testing.T) {
	spec := standInSpec(t, "fill", "/tmp/big")
	spec.Limits.TmpSize = 2 << 20
	_, out := run(t, spec)
	m := regexp.MustCompile(`wrote (\d+) bytes, then: (\w+)`).FindStringSubmatch(out)
	if m == nil || m[2] != "ENOSPC" {
		t.Fatalf("stdout %q: want writing /tmp to end with ENOSPC", out)
	}
	if n, _ := strconv.ParseInt(m[1], 10, 64); n > spec.Limits.TmpSize {
		t.Errorf("wrote %d bytes to a /tmp of %d", n, spec.Limits.TmpSize)
	}
}

func TestPidsCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("pids cgroups are used only when the daemon runs as root")
	}
	res, out := run(t, standInSpec(t, "cat", "/proc/self/cgroup"))
	if !strings.HasPrefix(res.Cgroup, "cgroup ") {
		t.Skipf("no pids cgroup on this machine: %s", res.Cgroup)
	}
	dir := strings.TrimSuffix(strings.Fields(res.Cgroup)[2], ",")
	// The job runs in its cgroup: born in it (clone3 into the cgroup,
	// cgroup v2) or moved there before it read its spec (v1).
	if !strings.Contains(out, "/distmesh/"+filepath.Base(dir)+"\n") {
		t.Errorf("the job's /proc/self/cgroup:\n%s\nwant it in %s", out, dir)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("job cgroup %s left behind: %v", dir, err)
	}
}

func TestRootNeverRunsCompilers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only a daemon running as root could run compilers as root")
	}
	for _, ids := range [][2]int{{0, 0}, {testUID, 0}, {0, testUID}} {
		spec := standInSpec(t, "true")
		spec.UID, spec.GID = ids[0], ids[1]
		if _, err := spawner.Run(t.Context(), spec, nil, nil); err == nil || !strings.Contains(err.Error(), "compilers never do") {
			t.Errorf("uid %d gid %d: Run: %v, want a refusal", ids[0], ids[1], err)
		}
	}
}

func TestInstallConflict(t *testing.T) {
	needSandbox(t)
	for _, tc := range []struct {
		name  string
		setup func(root string)
	}{
		{"file over the compiler", func(root string) { writeFile(t, root+"/usr/bin/gcc", "#!/bin/sh\n") }},
		{"directory over a node symlink", func(root string) { mkdir(t, root+"/lib") }},
		{"file in an install directory", func(root string) {
			writeFile(t, root+"/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h", "/* mine */\n")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t)
			tc.setup(root)
			uid, gid := jobIDs()
			spec := landlock.Spec{
				Root:    root,
				Install: []string{"/usr/bin/gcc", "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/gcc/x86_64-linux-gnu/12"},
				Exec:    []string{"/usr/bin/gcc"},
				Dir:     "/", Argv: []string{"/usr/bin/gcc"}, UID: uid, GID: gid,
			}
			if _, err := spawner.Run(context.Background(), spec, nil, nil); !errors.Is(err, landlock.ErrConflict) {
				t.Errorf("Run: %v, want ErrConflict", err)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	r := probe()
	t.Logf("\n%v", r)
	if r.Level == landlock.LevelNone {
		t.Skip("this machine cannot confine jobs")
	}
	if want := r.LandlockABI >= 6; r.Meets(landlock.LevelFull) != want {
		t.Errorf("Meets(full) = %v with Landlock ABI %d", !want, r.LandlockABI)
	}
	if !r.Meets(landlock.LevelPartial) || len(r.Problems) > 0 && r.Level == landlock.LevelFull {
		t.Errorf("inconsistent report: %+v", r)
	}
}

// BenchmarkRunTrue measures the launcher's overhead: a job whose program
// exits at once. The median is reported as median-ms.
func BenchmarkRunTrue(b *testing.B) {
	var times []time.Duration
	for b.Loop() {
		b.StopTimer()
		spec := standInSpec(b, "true") // a root serves one Run
		b.StartTimer()
		start := time.Now()
		if res, err := spawner.Run(context.Background(), spec, nil, nil); err != nil || res.ExitCode != 0 {
			b.Fatal(res, err)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
}
