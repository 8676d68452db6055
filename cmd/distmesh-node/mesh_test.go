package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain removes the commands distmeshBin built when the tests end.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binDir is where distmeshBin builds the commands.
var binDir string

// distmeshBin builds the distmesh commands once for the end-to-end tests:
// the real binaries, side by side as installed (masquerade links included);
// it returns the front's path.
var distmeshBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "distmesh-e2e-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "distmesh")
	cmd := exec.Command("make", "-s", "-C", filepath.Join("..", ".."), "build", "BIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build: %v\n%s", err, out)
	}
	return bin, nil
})

// testMesh is a mesh of real nodes on 127.0.0.1, each a distmesh process
// with a home of its own.
type testMesh struct {
	t     testing.TB
	bin   string
	dir   string
	homes map[string]string
	procs map[string]*exec.Cmd
	logs  map[string]*procLog
}

// procLog is a process's output, readable while the process writes it.
type procLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *procLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func needSandbox(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed: the end-to-end compile tests need it")
	}
	out, err := exec.Command("unshare", "-U", "-m", "-n", "-p", "-f", "true").CombinedOutput()
	if err != nil {
		t.Skipf("user namespaces unavailable here (%v: %s): nodes cannot serve compiles; see distmesh doctor", err, out)
	}
}

// newTestMesh creates names[0] as the issuer and enrolls the others with
// tokens, each node listening on 127.0.0.1:0.
func newTestMesh(t testing.TB, names ...string) *testMesh {
	t.Helper()
	bin, err := distmeshBin()
	if err != nil {
		t.Fatal(err)
	}
	m := &testMesh{t: t, bin: bin, dir: t.TempDir(), homes: map[string]string{}, procs: map[string]*exec.Cmd{}, logs: map[string]*procLog{}}
	t.Cleanup(m.stop)
	for i, name := range names {
		home := filepath.Join(m.dir, name)
		m.homes[name] = home
		if i == 0 {
			m.run("init", "--home", home, "--name", name)
			m.start(name)
			continue
		}
		token := strings.TrimSpace(m.run("keys", "add", "--home", m.homes[names[0]], "--name", name))
		m.start(name, token)
	}
	return m
}

// run runs a distmesh command and returns its stdout.
func (m *testMesh) run(args ...string) string {
	m.t.Helper()
	cmd := exec.Command(m.bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		m.t.Fatalf("distmesh %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func (m *testMesh) start(name string, extra ...string) {
	m.t.Helper()
	m.startAt(name, "127.0.0.1:0", extra...)
}

// addr is where a running node listens.
func (m *testMesh) addr(name string) string {
	m.t.Helper()
	var st struct{ Listen []string }
	b, err := os.ReadFile(filepath.Join(m.homes[name], "node.json"))
	if err != nil || json.Unmarshal(b, &st) != nil || len(st.Listen) == 0 {
		m.t.Fatalf("node %s: no address (%v)", name, err)
	}
	return st.Listen[0]
}

// startAt starts a node listening on addr.
func (m *testMesh) startAt(name, addr string, extra ...string) {
	m.t.Helper()
	home := m.homes[name]
	if home == "" {
		m.t.Fatalf("node %s has no home: set m.homes[%q] first", name, name)
	}
	args := append([]string{"join", "--home", home, "--listen", addr}, extra...)
	cmd := exec.Command(m.bin, args...)
	log := &procLog{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "DISTMESH_LOG=debug")
	// A test that panics (a timeout) runs no cleanup: the node must not
	// outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.procs[name], m.logs[name] = cmd, log
	m.waitFor(fmt.Sprintf("node %s to start", name), func() bool {
		_, err := os.Stat(filepath.Join(home, "agent.sock"))
		return err == nil
	})
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func (m *testMesh) waitFor(what string, cond func() bool) {
	m.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			m.dumpLogs()
			m.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// status returns a node's `distmesh status --json`.
func (m *testMesh) status(name string) map[string]any {
	m.t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(m.run("status", "--json", "--home", m.homes[name])), &st); err != nil {
		m.t.Fatal(err)
	}
	return st
}

func (m *testMesh) counter(name, key string) int {
	v, _ := m.status(name)[key].(float64)
	return int(v)
}

// waitPeersUp waits until name's agent sees n verified peers with slots.
func (m *testMesh) waitPeersUp(name string, n int) {
	m.t.Helper()
	m.waitFor(fmt.Sprintf("%s to see %d peers up", name, n), func() bool {
		peers, _ := m.status(name)["peers"].([]any)
		up := 0
		for _, p := range peers {
			p := p.(map[string]any)
			if p["state"] == "up" && p["slots"].(float64) > 0 {
				up++
			}
		}
		return up >= n
	})
}

// kill stops a node with a signal and waits for it.
func (m *testMesh) kill(name string, sig syscall.Signal) {
	cmd := m.procs[name]
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		m.t.Errorf("node %s did not exit within 30s of %v", name, sig)
	}
	delete(m.procs, name)
}

func (m *testMesh) stop() {
	for name := range m.procs {
		m.kill(name, syscall.SIGTERM)
	}
	if m.t.Failed() {
		m.dumpLogs()
	}
}

func (m *testMesh) dumpLogs() {
	for name, log := range m.logs {
		m.t.Logf("--- log of %s ---\n%s", name, log.String())
	}
}

// joinClient enrolls a client-only node named name with the node issuer,
// writes its config.toml lines, starts it and waits until it sees the
// issuer.
func (m *testMesh) joinClient(name, issuer string, config ...string) {
	m.t.Helper()
	token := strings.TrimSpace(m.run("keys", "add", "--home", m.homes[issuer], "--name", name))
	m.homes[name] = filepath.Join(m.dir, name)
	if len(config) > 0 {
		m.withConfig(name, config...)
	}
	m.start(name, token, "--client-only")
	m.waitPeersUp(name, 1)
}

// compileEnv is the environment for compiles through name's agent.
func (m *testMesh) compileEnv(name string, extra ...string) []string {
	env := append(os.Environ(), "DISTMESH_HOME="+m.homes[name])
	return append(env, extra...)
}

func TestProjectBuildIsByteIdentical(t *testing.T) {
	needSandbox(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	m := newTestMesh(t, "alpha", "beta", "gamma")
	m.waitPeersUp("gamma", 2)

	src, err := filepath.Abs(filepath.Join("..", "..", "testdata", "demo", "project"))
	if err != nil {
		t.Fatal(err)
	}
	proj := filepath.Join(t.TempDir(), "wordstat")
	if out, err := exec.Command("cp", "-a", src, proj).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	copied := time.Now()
	build := func(cc string, env []string, jobs string, cflags ...string) map[string][]byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		exec.Command("make", "-C", proj, "clean").Run()
		cmd := exec.CommandContext(ctx, "make", "-C", proj, jobs, "CC="+cc, "CFLAGS="+strings.Join(append([]string{"-g", "-O2", "-Wall", "-Wextra"}, cflags...), " "))
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make CC=%q: %v\n%s", cc, err, out)
		}
		objs := map[string][]byte{}
		files, _ := filepath.Glob(filepath.Join(proj, "build", "*"))
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
				objs[filepath.Base(f)], _ = os.ReadFile(f)
			}
		}
		return objs
	}
	local := build("gcc", os.Environ(), "-j8")
	sentBefore := m.counter("gamma", "jobs_sent")
	remote := build(m.bin+" gcc", m.compileEnv("gamma", "DISTMESH_FALLBACK=0"), "-j8")
	sent := m.counter("gamma", "jobs_sent") - sentBefore
	served := m.counter("alpha", "jobs_served") + m.counter("beta", "jobs_served")
	// Again: the jobs go on the streams the first build's left open, and
	// come back the same.
	again := build(m.bin+" gcc", m.compileEnv("gamma", "DISTMESH_FALLBACK=0"), "-j8")
	streams := 0
	peers, _ := m.status("gamma")["peers"].([]any)
	for _, p := range peers {
		stats, _ := p.(map[string]any)["stats"].(map[string]any)
		n, _ := stats["streams_opened"].(float64)
		streams += int(n)
	}
	if total := m.counter("gamma", "jobs_sent") - sentBefore; streams == 0 || streams >= total {
		t.Errorf("%d jobs in two builds on %d streams: want fewer streams than jobs (kept between jobs)", total, streams)
	}
	for name, want := range local {
		if got := again[name]; !bytes.Equal(got, want) {
			t.Errorf("%s differs in the second build through the mesh (kept streams): %d bytes, %d locally", name, len(got), len(want))
		}
	}

	if len(local) < 8 {
		t.Fatalf("local build produced %d files", len(local))
	}
	for name, want := range local {
		if got, ok := remote[name]; !ok {
			t.Errorf("%s missing from the distributed build", name)
		} else if !bytes.Equal(got, want) {
			t.Errorf("%s differs: %d bytes through the mesh, %d locally", name, len(got), len(want))
		}
	}
	objects := 0
	for name := range local {
		if strings.HasSuffix(name, ".o") {
			objects++
		}
	}
	if sent != objects || served < objects {
		t.Errorf("%d objects, %d jobs sent by gamma, %d served by alpha and beta: want every compile remote", objects, sent, served)
	}
	t.Logf("%d objects identical; %d jobs sent, %d served", objects, sent, served)

	// Once the copy's files are older than the settle interval (only
	// settled versions are kept in manifests), a build one unit at a time
	// with a macro none of the builds above had (no manifest of theirs is
	// this build's jobs', but the search is the same): each unit after the
	// first takes the first's template (see jobs.scanTemplate), and the
	// objects are those of a local build with the same macro.
	for time.Since(copied) < 2100*time.Millisecond {
		time.Sleep(50 * time.Millisecond)
	}
	templates := func() int {
		agent, _ := m.status("gamma")["agent"].(map[string]any)
		n, _ := agent["manifest_templates"].(float64)
		return int(n)
	}
	before := templates()
	serial := build(m.bin+" gcc", m.compileEnv("gamma", "DISTMESH_FALLBACK=0"), "-j1", "-DSERIAL_BUILD")
	took := templates() - before
	localSerial := build("gcc", os.Environ(), "-j8", "-DSERIAL_BUILD")
	if took < objects-1 {
		t.Errorf("%d of %d units built one at a time took the first's template, want all but the first", took, objects)
	}
	for name, want := range localSerial {
		if got := serial[name]; !bytes.Equal(got, want) {
			t.Errorf("%s differs in the build one unit at a time through the mesh (templates): %d bytes, %d locally", name, len(got), len(want))
		}
	}
}

// TestWorkingDirectoryAndTmp: the places a job's sandbox provides itself.
// A compile run from / goes to the node like any other; so does one in a
// build directory under /tmp; one that writes a file in /tmp itself
// compiles locally, since the job's /tmp is its own. Every object is
// byte-identical to the local one.
func TestWorkingDirectoryAndTmp(t *testing.T) {
	needSandbox(t)
	m := newTestMesh(t, "alpha", "beta")
	m.waitPeersUp("beta", 1)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "x.c"), []byte("int thrice(int x) { return 3 * x; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inTmp, err := os.CreateTemp("/tmp", "distmesh-test-*.o") // a name of our own in /tmp
	if err != nil {
		t.Fatal(err)
	}
	inTmp.Close()
	t.Cleanup(func() { os.Remove(inTmp.Name()) })
	env := m.compileEnv("beta", "DISTMESH_FALLBACK=0")
	for _, tc := range []struct {
		name, dir, source, out string
		remote                 bool
	}{
		{"from /", "/", strings.TrimPrefix(src, "/") + "/x.c", src + "/root.o", true},
		{"in a directory under /tmp", src, "x.c", "sub.o", true},
		{"writing in /tmp itself", src, "x.c", inTmp.Name(), false},
	} {
		compile := func(prog string, env []string) []byte {
			t.Helper()
			cmd := exec.Command(prog, "-g", "-c", tc.source, "-o", tc.out)
			cmd.Args[0], cmd.Dir, cmd.Env = "gcc", tc.dir, env
			if o, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: gcc -c %s: %v\n%s", tc.name, tc.source, err, o)
			}
			out := tc.out
			if !filepath.IsAbs(out) {
				out = filepath.Join(tc.dir, out)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(out)
			return b
		}
		local := compile("gcc", os.Environ())
		sent := m.counter("beta", "jobs_sent")
		got := compile(m.bin, append(env, "PWD="+tc.dir))
		if n := m.counter("beta", "jobs_sent") - sent; (n == 1) != tc.remote {
			t.Errorf("%s: %d jobs sent; want remote: %v", tc.name, n, tc.remote)
		}
		if !bytes.Equal(local, got) {
			t.Errorf("%s: the object differs from the local one (%d and %d bytes)", tc.name, len(got), len(local))
		}
	}
}

// TestMasquerade: `distmesh masquerade DIR` (run by distmesh-node) links the
// compiler names to the wrapper beside it; with DIR first in PATH a plain
// `gcc -c` goes through the mesh and comes back identical, and the node,
// looking for compilers in that PATH, does not take the links for one.
func TestMasquerade(t *testing.T) {
	needSandbox(t)
	m := newTestMesh(t, "alpha", "beta")
	m.waitPeersUp("beta", 1)

	dir := filepath.Join(t.TempDir(), "masq")
	m.run("masquerade", dir)
	for _, name := range []string{"cc", "gcc", "c++"} {
		if target, err := os.Readlink(filepath.Join(dir, name)); err != nil || target != m.bin {
			t.Errorf("%s/%s links to %q (%v); want the wrapper %s", dir, name, target, err, m.bin)
		}
	}

	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "x.c"), []byte("int twice(int x) { return 2 * x; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// gcc as make runs it: prog is the first gcc in env's PATH, argv[0]
	// is the bare name.
	compile := func(prog, out string, env []string) []byte {
		t.Helper()
		cmd := exec.Command(prog, "-g", "-O2", "-c", "x.c", "-o", out)
		cmd.Args[0], cmd.Dir, cmd.Env = "gcc", src, env
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s -c x.c -o %s: %v\n%s", prog, out, err, o)
		}
		b, err := os.ReadFile(filepath.Join(src, out))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	local := compile("gcc", "local.o", os.Environ())
	path := "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")
	env := m.compileEnv("beta", "DISTMESH_FALLBACK=0", path)
	sent := m.counter("beta", "jobs_sent")
	remote := compile(filepath.Join(dir, "gcc"), "remote.o", env)
	if got := m.counter("beta", "jobs_sent") - sent; got != 1 {
		t.Errorf("gcc through the masquerade directory sent %d jobs; want 1", got)
	}
	if !bytes.Equal(local, remote) {
		t.Errorf("the object built through the masquerade link differs from the local one (%d and %d bytes)", len(remote), len(local))
	}

	doctor := exec.Command(m.bin, "doctor", "--home", m.homes["beta"])
	doctor.Env = append(os.Environ(), path)
	out, err := doctor.CombinedOutput()
	if err != nil {
		t.Fatalf("distmesh doctor: %v\n%s", err, out)
	}
	if strings.Contains(string(out), dir) {
		t.Errorf("the node takes masquerade links for compilers:\n%s", out)
	}
}

// TestLauncherChoice: the node starts jobs' launchers from distmesh-launcher
// installed beside it, and from itself when that one is of another build.
func TestLauncherChoice(t *testing.T) {
	needSandbox(t)
	m := newTestMesh(t, "alpha")
	doctor := func(node string) string {
		t.Helper()
		out, err := exec.Command(node, "doctor", "--home", m.homes["alpha"]).CombinedOutput()
		if err != nil {
			t.Fatalf("%s doctor: %v\n%s", node, err, out)
		}
		return string(out)
	}
	node := filepath.Join(filepath.Dir(m.bin), "distmesh-node")
	launcher := filepath.Join(filepath.Dir(m.bin), "distmesh-launcher")
	first := doctor(node)
	if !strings.Contains(first, "launcher:    "+launcher+"\n") {
		t.Errorf("doctor does not name %s as the launcher:\n%s", launcher, first)
	}
	level := strings.SplitN(first, "\n", 2)[0] // confinement: full
	// A node beside a distmesh-launcher of another build (here: one that answers
	// for another build) uses itself, and still confines.
	dir := t.TempDir()
	data, err := os.ReadFile(node)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "distmesh-node"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "other.c")
	if err := os.WriteFile(src, []byte("#include <stdio.h>\nint main(void) { puts(\"go1.0 another build\"); return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-o", filepath.Join(dir, "distmesh-launcher"), src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out := doctor(filepath.Join(dir, "distmesh-node"))
	if !strings.Contains(out, "launcher:    this binary (launcher "+filepath.Join(dir, "distmesh-launcher")+" is from another build") || !strings.HasPrefix(out, level+"\n") {
		t.Errorf("doctor beside a launcher of another build:\n%s", out)
	}
}
