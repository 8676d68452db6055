package landlock_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distmesh/distmesh/landlock"
)

// TestDirectLaunch reruns the tests that start jobs with Run starting the
// launchers itself, the node's way when its spawner is gone.
func TestDirectLaunch(t *testing.T) {
	needSandbox(t)
	if os.Getenv(directEnv) != "" {
		t.Skip("already the direct run")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	tests := []string{"TestCompileGCC", "TestEscapes", "TestForkBomb", "TestOrphanDoesNotOutliveJob", "TestWallLimit", "TestCancel", "TestCPULimit", "TestPidsCgroup"}
	cmd := exec.CommandContext(ctx, "/proc/self/exe", "-test.v", "-test.run=^("+strings.Join(tests, "|")+")$")
	cmd.Env = append(os.Environ(), directEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tests without a spawner: %v\n%s", err, out)
	}
	for _, name := range tests {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") && !strings.Contains(string(out), "--- SKIP: "+name+" ") {
			t.Errorf("%s did not run without a spawner:\n%s", name, out)
		}
	}
}

// jobPIDs are the pids of the processes that carry marker.
func jobPIDs(t *testing.T) []int {
	t.Helper()
	var pids []int
	for _, p := range jobProcesses(t) {
		pid, err := strconv.Atoi(strings.TrimPrefix(p[:strings.IndexByte(p, ':')], "/proc/"))
		if err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func parentOf(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			ppid, _ := strconv.Atoi(strings.TrimSpace(v))
			return ppid
		}
	}
	t.Fatalf("no PPid in /proc/%d/status", pid)
	return 0
}

// TestSpawner: a serving spawner, not the caller, is the parent of its
// jobs; when it dies, its running jobs end (and Run says why), Serve
// reports it, and later jobs start directly; cancelling Serve kills the
// jobs still running.
func TestSpawner(t *testing.T) {
	needSandbox(t)
	serve := func(t *testing.T, sp *landlock.Spawner) (cancel func(), served <-chan error) {
		ctx, cancel := context.WithCancel(t.Context())
		ch := make(chan error, 1)
		go func() { ch <- sp.Serve(ctx) }()
		if !within(sp.Serving) {
			t.Fatal("spawner not serving after a minute")
		}
		return cancel, ch
	}
	start := func(t *testing.T, sp *landlock.Spawner) (spawnerPID int, done <-chan runResult) {
		w := newLineWriter()
		ch := make(chan runResult, 1)
		go func() {
			res, err := sp.Run(t.Context(), standInSpec(t, "forever"), w, os.Stderr)
			ch <- runResult{res, err}
		}()
		waitReady(t, w, ch)
		pids := jobPIDs(t)
		if len(pids) != 1 {
			t.Fatalf("job processes %v, want the stand-in alone", pids)
		}
		return parentOf(t, pids[0]), ch
	}

	t.Run("dies", func(t *testing.T) {
		sp := new(landlock.Spawner)
		cancel, served := serve(t, sp)
		defer cancel()
		parent, done := start(t, sp)
		if parent == os.Getpid() || parent == 0 {
			t.Fatalf("the job's launcher is a child of %d, not of the spawner", parent)
		}
		syscall.Kill(parent, syscall.SIGKILL)
		if r := waitDone(t, done); r.err == nil {
			t.Errorf("Run after its spawner died: %+v, no error", r.res)
		}
		select {
		case err := <-served:
			if err == nil {
				t.Error("Serve returned nil after its helper died")
			}
		case <-time.After(time.Minute):
			t.Fatal("Serve has not returned a minute after its helper died")
		}
		noJobProcesses(t)
		if sp.Serving() {
			t.Fatal("Serving after the helper died")
		}
		// Later jobs start directly.
		res, out := runWith(t, sp, standInSpec(t, "status"))
		if res.ExitCode != 0 || out == "" {
			t.Errorf("job after the spawner died: %+v %q", res, out)
		}
	})

	t.Run("idle launchers", func(t *testing.T) {
		before := spawnerPIDs(t)
		sp := new(landlock.Spawner)
		cancel, served := serve(t, sp)
		defer func() { cancel(); <-served }()
		helper := newSpawner(t, before)
		runWith(t, sp, standInSpec(t, "status")) // the helper starts idle launchers after it
		waitLaunchers(t, helper, 2, 2)
		// The job is asked for in a later clock tick than any idle
		// launcher started in.
		var started int64
		for _, pid := range childrenOf(t, helper) {
			started = max(started, startTicks(t, pid))
		}
		if !within(func() bool { return uptimeTicks(t) > started }) {
			t.Fatal("the clock did not tick in a minute")
		}
		asked := uptimeTicks(t)
		_, done := start(t, sp)
		pids := jobPIDs(t)
		if len(pids) != 1 {
			t.Fatalf("job processes %v", pids)
		}
		if started := startTicks(t, pids[0]); started >= asked {
			t.Errorf("the job's launcher started %d ticks after boot, when the job was asked for (%d): not an idle one", started, asked)
		}
		cancel()
		waitDone(t, done)
		noJobProcesses(t)
	})

	t.Run("between jobs", func(t *testing.T) {
		defer landlock.SetRefillWait(landlock.SetRefillWait(time.Hour))
		before := spawnerPIDs(t)
		sp := new(landlock.Spawner)
		cancel, served := serve(t, sp)
		defer cancel()
		helper := newSpawner(t, before)
		// The first job finds no idle launcher: the helper starts them
		// at once.
		runWith(t, sp, standInSpec(t, "status"))
		waitLaunchers(t, helper, 2, 2)
		// The second takes one of two: its replacement waits for JobDone
		// (or an hour).
		runWith(t, sp, standInSpec(t, "status"))
		if n := len(childrenOf(t, helper)); n != 1 {
			t.Errorf("the helper has %d launchers right after a job took one of its two idle ones, want 1: the replacement must wait until the job is done", n)
		}
		// JobDone: the node takes that one ahead of the next job, and the
		// helper replaces both.
		left := childrenOf(t, helper)
		sp.JobDone()
		waitLaunchers(t, helper, 3, 3)
		_, done := start(t, sp)
		pids := jobPIDs(t)
		if len(pids) != 1 || pids[0] != left[0] {
			t.Fatalf("the third job ran in %v, want the launcher the node took ahead, %d", pids, left[0])
		}
		// Launchers that die waiting, held by the node or idle in the
		// helper, are not used: kill the two idle ones after the node
		// has taken one of them ahead.
		var waiting []int
		for _, pid := range childrenOf(t, helper) {
			if pid != pids[0] {
				waiting = append(waiting, pid)
			}
		}
		sp.JobDone()
		waitLaunchers(t, helper, 4, 0) // the third job's, the held one, two idle
		for _, pid := range waiting {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		waitLaunchers(t, helper, 2, 0) // both reaped: the third job's and the new idle one
		if res, out := runWith(t, sp, standInSpec(t, "status")); res.ExitCode != 0 || out == "" {
			t.Errorf("a job after the launchers waiting for it died: %+v, output %q", res, out)
		}
		stopServing(t, cancel, served, done, helper)
	})

	t.Run("held for other limits", func(t *testing.T) {
		sp := new(landlock.Spawner)
		cancel, served := serve(t, sp)
		defer func() { cancel(); <-served }()
		runWith(t, sp, standInSpec(t, "status"))
		sp.JobDone()
		var held int
		if !within(func() bool { held = landlock.HeldPID(sp); return held != 0 }) {
			t.Fatal("no launcher held a minute after JobDone")
		}
		other := standInSpec(t, "status")
		other.Limits.Processes = 16
		if res, out := runWith(t, sp, other); res.ExitCode != 0 || out == "" {
			t.Fatalf("a job with other limits: %+v, output %q", res, out)
		}
		if pid := landlock.HeldPID(sp); pid != 0 {
			t.Errorf("the node still holds launcher %d after a job with other limits", pid)
		}
		// Dropped, the held launcher is killed by the helper and reaped.
		if !within(func() bool { return syscall.Kill(held, 0) != nil }) {
			t.Fatalf("launcher %d, held for other limits, still exists a minute after a job did not use it", held)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		sp := new(landlock.Spawner)
		cancel, served := serve(t, sp)
		parent, done := start(t, sp)
		if parent == os.Getpid() {
			t.Fatal("the job's launcher is the test's child, not the spawner's")
		}
		stopServing(t, cancel, served, done, parent)
	})
}

// stopServing cancels Serve while a job runs, and requires the job killed,
// Serve to return nil, no process of the job left and the helper gone.
func stopServing(t *testing.T, cancel func(), served <-chan error, done <-chan runResult, helper int) {
	t.Helper()
	cancel()
	if r := waitDone(t, done); r.res.Signal != "SIGKILL" {
		t.Errorf("Run after Serve was cancelled: %+v, %v; want the job killed", r.res, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	noJobProcesses(t)
	if err := syscall.Kill(helper, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("spawner %d still exists after Serve returned (kill 0: %v)", helper, err)
	}
}

// spawnerPIDs are the test's children that are spawners.
func spawnerPIDs(t *testing.T) []int {
	t.Helper()
	var pids []int
	for _, pid := range childrenOf(t, os.Getpid()) {
		cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if strings.Contains(string(cmdline), "\x00spawner\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// newSpawner is the spawner among the test's children that was not in
// before.
func newSpawner(t *testing.T, before []int) int {
	t.Helper()
	for _, pid := range spawnerPIDs(t) {
		if !slices.Contains(before, pid) {
			return pid
		}
	}
	t.Fatalf("no new spawner among the test's children (before Serve: %v)", before)
	return 0
}

// childrenOf lists the children of every thread of pid.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no tasks of %d: %v", pid, err)
	}
	var kids []int
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(b)) {
			if k, err := strconv.Atoi(w); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids
}

// within reports whether cond holds within a minute, asking every 10 ms.
func within(cond func() bool) bool {
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// waitLaunchers waits, for a minute at most, until the helper pid has n
// children, at least waiting of them launchers waiting for their spec:
// blocked reading descriptor 3, which a launcher reaches only once its Go
// runtime has started, milliseconds after the helper counted it idle.
// Where /proc/PID/syscall cannot be read, a child counts as waiting.
func waitLaunchers(t *testing.T, pid, n, waiting int) {
	t.Helper()
	var kids []int
	var ready int
	if !within(func() bool {
		kids, ready = childrenOf(t, pid), 0
		for _, k := range kids {
			b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(k), "syscall"))
			if err != nil || strings.HasPrefix(string(b), "0 0x3 ") {
				ready++
			}
		}
		return len(kids) == n && ready >= waiting
	}) {
		t.Fatalf("helper %d has children %v after a minute, %d of them waiting for a spec; want %d, %d waiting", pid, kids, ready, n, waiting)
	}
}

func runWith(t *testing.T, sp *landlock.Spawner, spec landlock.Spec) (landlock.Result, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	res, err := sp.Run(t.Context(), spec, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr.String())
	}
	return res, stdout.String()
}

// uptimeTicks is the time since boot in clock ticks (USER_HZ, 100).
func uptimeTicks(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	secs, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(secs * 100)
}

// startTicks is when a process started, in clock ticks after boot.
func startTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ticks, err := strconv.ParseInt(f[19], 10, 64) // field 22, starttime
	if err != nil {
		t.Fatal(err)
	}
	return ticks
}
