package jobs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// clangCopy makes a clang installation of its own: the driver copied into
// bin/, lib/ a symlink to the real installation's, and the driver named
// TRIPLE-clang, under which clang reads TRIPLE-clang.cfg beside the driver
// (clang 14; from clang 16 every name has such a file). It lives outside
// /tmp, which is the job's own inside the sandbox, and is readable by the
// unprivileged user jobs run as.
func clangCopy(t *testing.T) (driver, bin string) {
	t.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang is not installed: apt-get install clang")
	}
	real, err := filepath.EvalSymlinks(clang)
	if err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(filepath.Dir(real), "..", "lib")
	if _, err := os.Stat(filepath.Join(lib, "clang")); err != nil {
		t.Skipf("clang at %s has no ../lib/clang beside it to share: %v", real, err)
	}
	out, err := exec.Command(clang, "-dumpmachine").Output()
	if err != nil {
		t.Fatal(err)
	}
	triple := strings.TrimSpace(string(out))
	root, err := os.MkdirTemp("/var/tmp", "distmesh-clang-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	bin = filepath.Join(root, "bin")
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "clang"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(lib, filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	driver = filepath.Join(bin, triple+"-clang")
	if err := os.Symlink("clang", driver); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(driver, "-fsyntax-only", "-x", "c", "/dev/null").CombinedOutput(); err != nil {
		t.Skipf("a copy of clang does not run here: %v: %s", err, out)
	}
	return driver, bin
}

// mustGet is cs.Get for a compiler the test needs.
func mustGet(t *testing.T, cs *Compilers, path string) *Compiler {
	t.Helper()
	c, err := cs.Get(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recheckAlways makes Compiler.Changed compare every time, for the test.
func recheckAlways(t *testing.T) {
	old := compilerRecheck.Swap(0)
	t.Cleanup(func() { compilerRecheck.Store(old) })
}

// TestCompilerConfigChanges: clang's configuration files are part of its
// identity, and a change to them under a running agent or node is noticed.
// A configuration file that appears beside the driver, one it includes
// with @file, an edit of that one and a .cfg only another --target would
// read each give the compiler a new identity, on the client (Compilers)
// and on the node, which refuses jobs for the identity it had, serves the
// new one with the files in its sandbox, and tells its peers (Refresh)
// without waiting for a job. A directory that changed without changing the
// identity does not cost a job.
func TestCompilerConfigChanges(t *testing.T) {
	recheckAlways(t)
	driver, bin := clangCopy(t)
	ctx := context.Background()
	var cs Compilers
	c1 := mustGet(t, &cs, driver)
	if len(c1.Config) != 0 {
		t.Fatalf("before any configuration file: %v", c1.Config)
	}
	// The node probes its compilers itself, as distmesh join does.
	nc1, err := ProbeCompiler(ctx, driver)
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, []*Compiler{nc1}, nil)
	n.checkServes(t, c1)
	serves := func(id string) bool {
		return slices.ContainsFunc(n.node.Compilers(), func(c *Compiler) bool { return c.ID == id })
	}

	cfg, common := driver+".cfg", filepath.Join(bin, "common.cfg")
	if err := os.WriteFile(cfg, []byte("# distmesh test\n@common.cfg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(common, []byte("-DANSWER=7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c2 := mustGet(t, &cs, driver)
	if c2.ID == c1.ID || !slices.Equal(c2.Config, []string{cfg, common}) {
		t.Fatalf("after adding %s: identity %s (was %s), configuration files %v", cfg, c2.Short(), c1.Short(), c2.Config)
	}
	a := n.send(t, goodJob(c1))
	if a.Err == nil || !strings.Contains(a.Err.Error(), "changed on this node") {
		t.Fatalf("a job for the identity the node's clang had before its configuration changed: %v, want it refused", a)
	}
	if !serves(c2.ID) {
		t.Fatalf("the node's compilers after the change are not the client's %s", c2.Short())
	}
	// ANSWER is defined only by the included file: the node's clang read it.
	job := func(c *Compiler) *secJob {
		return newManifest().file(secDir+"/x.c", []byte("int answer(void) { return ANSWER; }\n")).job(c, secDir, "-c", "x.c", "-o", "x.o")
	}
	if a := n.send(t, job(c2)); a.Err != nil || a.Result.Exit != 0 {
		t.Fatalf("a job for the new identity: %v", a)
	}

	if err := os.WriteFile(common, []byte("-DANSWER=8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c3 := mustGet(t, &cs, driver)
	if c3.ID == c2.ID {
		t.Fatalf("an edit of the included %s did not change the identity", common)
	}
	n.node.Refresh(ctx)
	if !serves(c3.ID) || serves(c2.ID) {
		t.Fatalf("after Refresh the node serves %v, want the edited configuration's %s", compilerInfos(n.node.Compilers()), c3.Short())
	}
	if a := n.send(t, job(c2)); a.Err == nil {
		t.Fatalf("a job for the identity before the edit ran: %v", a)
	}

	other := filepath.Join(bin, "aarch64-linux-gnu-clang.cfg")
	if err := os.WriteFile(other, []byte("-DANSWER=9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c4 := mustGet(t, &cs, driver)
	if c4.ID == c3.ID || !slices.Contains(c4.Config, other) {
		t.Fatalf("a .cfg for another target: identity %s (was %s), configuration files %v", c4.Short(), c3.Short(), c4.Config)
	}
	n.node.Refresh(ctx)

	// A file that is no configuration changes the directory, not the
	// identity: the job is served.
	if err := os.WriteFile(filepath.Join(bin, "README"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if a := n.send(t, job(c4)); a.Err != nil || a.Result.Exit != 0 {
		t.Fatalf("a job after an unrelated file appeared beside the driver: %v", a)
	}
}

// TestCompilerBrokenThenBack: a compiler that stops working under a
// running node (caught half upgraded) is no longer served, and is served
// again once it works; the agent likewise probes it again.
func TestCompilerBrokenThenBack(t *testing.T) {
	recheckAlways(t)
	old := compilerRetry.Swap(0)
	t.Cleanup(func() { compilerRetry.Store(old) })
	driver, _ := clangCopy(t)
	ctx := context.Background()
	nc, err := ProbeCompiler(ctx, driver)
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, []*Compiler{nc}, nil)
	serves := func() bool {
		return slices.ContainsFunc(n.node.Compilers(), func(c *Compiler) bool { return c.ID == nc.ID })
	}
	// An option clang does not know, in its configuration file: it fails
	// to run at all, while its driver file stays as it was.
	cfg := driver + ".cfg"
	if err := os.WriteFile(cfg, []byte("--distmesh-bogus-option\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var cs Compilers
	if _, err := cs.Get(ctx, driver); err == nil {
		t.Fatal("the agent identified a compiler that does not run: the test would prove nothing")
	}
	n.node.Refresh(ctx)
	if serves() {
		t.Fatal("the node still serves a compiler that does not run")
	}
	if a := n.send(t, goodJob(nc)); a.Err == nil {
		t.Fatalf("a job for a compiler that does not run: %v", a)
	}
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	n.node.Refresh(ctx)
	if !serves() {
		t.Fatalf("the compiler works again, and the node serves %v", compilerInfos(n.node.Compilers()))
	}
	n.checkServes(t, nc)
	if c, err := cs.Get(ctx, driver); err != nil || c.ID != nc.ID {
		t.Fatalf("the agent, once the compiler works again: %v", err)
	}
}

// TestCompilerSpecsFile: a GCC specs file in the compiler's installation
// is part of its identity, and without one the identity is what it was.
// The compiler is testdata/fakecc, which finds a specs file beside itself
// as GCC does in its installation directory.
func TestCompilerSpecsFile(t *testing.T) {
	recheckAlways(t)
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "fakecc")
	if out, err := exec.Command(gcc, "-O2", "-o", fake, filepath.Join("..", "testdata", "fakecc", "fakecc.c")).CombinedOutput(); err != nil {
		t.Fatalf("build fakecc: %v\n%s", err, out)
	}
	var cs Compilers
	c1 := mustGet(t, &cs, fake)
	specs := filepath.Join(dir, "specs")
	if err := os.WriteFile(specs, []byte("*cc1:\n-fno-common\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c2 := mustGet(t, &cs, fake)
	if c2.ID == c1.ID || !slices.Equal(c2.Config, []string{specs}) || !slices.Contains(c2.Install, specs) {
		t.Fatalf("with %s: identity %s (was %s), configuration files %v", specs, c2.Short(), c1.Short(), c2.Config)
	}
	if err := os.Remove(specs); err != nil {
		t.Fatal(err)
	}
	c3 := mustGet(t, &cs, fake)
	if c3.ID != c1.ID || len(c3.Config) != 0 {
		t.Fatalf("without the specs file again: identity %s, want %s; configuration files %v", c3.Short(), c1.Short(), c3.Config)
	}
}

// TestCompilerChangedRateLimited: Changed compares a compiler's files at
// most once per compilerRecheck, and once it has seen a change it says so
// for good, even if the file comes back.
func TestCompilerChangedRateLimited(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cc1")
	if err := os.WriteFile(f, []byte("one"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Compiler{watch: []watched{{f, stampOf(f)}}}
	c.checked.Store(monoNow())
	if err := os.WriteFile(f+".new", []byte("two"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f+".new", f); err != nil { // as dpkg replaces a file
		t.Fatal(err)
	}
	if c.Changed() {
		t.Fatal("Changed compared the files again within compilerRecheck")
	}
	c.checked.Store(monoNow() - compilerRecheck.Load())
	if !c.Changed() {
		t.Fatal("a replaced file went unnoticed")
	}
	c.watch[0].stamp = stampOf(f)
	if !c.Changed() {
		t.Fatal("Changed forgot the change it had seen")
	}
}

// TestCompilersProbeCutShort: a probe cut short by its caller's end (a
// wrapper interrupted during a build's first compile) is not remembered as
// the compiler's failure: the next job probes again and gets it.
func TestCompilersProbeCutShort(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed")
	}
	var cs Compilers
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cs.Get(ctx, gcc); err == nil {
		t.Fatal("a probe with its context cancelled succeeded: the test would prove nothing")
	}
	c, err := cs.Get(context.Background(), gcc)
	if err != nil {
		t.Fatalf("after a probe cut short, the next one: %v", err)
	}
	if c.ID == "" {
		t.Fatal("a compiler without an identity")
	}
}
