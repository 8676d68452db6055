package jobs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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

// TestCompilerConfigChanges: clang's configuration files are part of its
// identity, and a change to them under a running agent or node is noticed.
// A configuration file that appears beside the driver, one it includes
// with @file and an edit of that one each give the compiler a new
// identity, on the client (Compilers) and on the node, which refuses jobs
// for the identity it had and serves the new one with the files in its
// sandbox.
func TestCompilerConfigChanges(t *testing.T) {
	defer func(d time.Duration) { compilerRecheck = d }(compilerRecheck)
	compilerRecheck = 0
	driver, bin := clangCopy(t)
	ctx := context.Background()
	var cs Compilers
	c1, err := cs.Get(ctx, driver)
	if err != nil {
		t.Fatal(err)
	}
	if len(c1.Config) != 0 {
		t.Fatalf("before any configuration file: %v", c1.Config)
	}
	n := startNode(t, []*Compiler{c1}, nil)
	n.checkServes(t, c1)

	cfg, common := driver+".cfg", filepath.Join(bin, "common.cfg")
	if err := os.WriteFile(cfg, []byte("# distmesh test\n@common.cfg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(common, []byte("-DANSWER=7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c2, err := cs.Get(ctx, driver)
	if err != nil {
		t.Fatal(err)
	}
	if c2.ID == c1.ID || !slices.Equal(c2.Config, []string{cfg, common}) {
		t.Fatalf("after adding %s: identity %s (was %s), configuration files %v", cfg, c2.Short(), c1.Short(), c2.Config)
	}
	a := n.send(t, goodJob(c1))
	if a.Err == nil || !strings.Contains(a.Err.Error(), "changed on this node") {
		t.Fatalf("a job for the identity the node's clang had before its configuration changed: %v, want it refused", a)
	}
	if !slices.ContainsFunc(n.node.Compilers(), func(c *Compiler) bool { return c.ID == c2.ID }) {
		t.Fatalf("the node's compilers after the change are not the client's %s", c2.Short())
	}
	// ANSWER is defined only by the included file: the node's clang read it.
	job := newManifest().file(secDir+"/x.c", []byte("int answer(void) { return ANSWER; }\n")).job(c2, secDir, "-c", "x.c", "-o", "x.o")
	if a := n.send(t, job); a.Err != nil || a.Result.Exit != 0 {
		t.Fatalf("a job for the new identity: %v", a)
	}

	if err := os.WriteFile(common, []byte("-DANSWER=8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c3, err := cs.Get(ctx, driver)
	if err != nil {
		t.Fatal(err)
	}
	if c3.ID == c2.ID {
		t.Fatalf("an edit of the included %s did not change the identity", common)
	}
	if a := n.send(t, job); a.Err == nil {
		t.Fatalf("a job for the identity before the edit ran: %v", a)
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
