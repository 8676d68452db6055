package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// settle is longer than the interval after which the agent trusts a
// file's or directory's times to show its next change (jobs.absentSettle):
// only then does it cache a job's manifest.
const settle = 2500 * time.Millisecond

// TestRebuildSeesChanges: between builds through the mesh, a header is
// edited in place (same size), made to include another, shadowed by a new
// header earlier on the search path, unshadowed, and replaced by a rename
// (as editors save); the source is edited; a header that names the file a
// computed #include reads is edited. After each, the object through the
// mesh equals a local compile of the tree as it now is. An unchanged
// rebuild takes its inputs from the agent's manifest cache, and so does
// one whose edits left every #include as it was (with the new contents);
// every other change is scanned again. It runs with the agent's file
// watch (the agent checks the inputs itself) and without (the wrapper
// stats them).
func TestRebuildSeesChanges(t *testing.T) {
	for _, watch := range []bool{true, false} {
		t.Run(fmt.Sprintf("watch_files=%v", watch), func(t *testing.T) { testRebuildSeesChanges(t, watch) })
	}
}

func testRebuildSeesChanges(t *testing.T, watch bool) {
	needSandbox(t)
	m := newTestMesh(t, "server")
	m.joinClient("client", "server", fmt.Sprintf("watch_files = %v", watch))
	defer func() {
		// Which way the inputs were checked: by the agent, with lookups
		// answered from memory, or by the wrapper.
		agent, _ := m.status("client")["agent"].(map[string]any)
		fw, _ := agent["file_watch"].(map[string]any)
		here := m.agentCounter("client", "checked_here")
		hits, _ := fw["hits"].(float64)
		if watch && (here == 0 || hits == 0) {
			t.Errorf("with the file watch on, the agent checked %v jobs' inputs itself and answered %v lookups from memory", here, hits)
		}
		if !watch && (here != 0 || fw != nil) {
			t.Errorf("with the file watch off, the agent still checked %v jobs itself (watch %v)", here, fw)
		}
	}()

	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("first/.keep", "")
	write("second/cfg.h", "#define CFG 1\n")
	write("main.c", "#include <cfg.h>\nint value(void) { return CFG; }\n")
	args := []string{"-g", "-O2", "-Ifirst", "-Isecond", "-c", "main.c", "-o", "main.o"}
	env := m.compileEnv("client", "DISTMESH_FALLBACK=0")

	var last []byte
	// check compiles locally and through the mesh and compares; it
	// returns how the agent found the job's inputs.
	check := func(step string) (hits, refreshes int) {
		t.Helper()
		local := exec.Command("gcc", args...)
		local.Dir = dir
		if out, err := local.CombinedOutput(); err != nil {
			t.Fatalf("%s: local gcc: %v\n%s", step, err, out)
		}
		want, _ := os.ReadFile(filepath.Join(dir, "main.o"))
		os.Remove(filepath.Join(dir, "main.o"))
		h0, r0 := m.agentCounter("client", "manifest_hits"), m.agentCounter("client", "manifest_refreshes")
		sent := m.counter("client", "jobs_sent")
		cmd := exec.Command(m.bin, append([]string{"gcc"}, args...)...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: through the mesh: %v\n%s", step, err, out)
		}
		if m.counter("client", "jobs_sent") != sent+1 {
			t.Fatalf("%s: the job was not sent to the node", step)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "main.o"))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the object through the mesh (%d bytes) differs from the local one (%d bytes)", step, len(got), len(want))
		}
		if step != "first build" && bytes.Equal(want, last) {
			t.Fatalf("%s: the change did not change the local object; the step tests nothing", step)
		}
		last = want
		return m.agentCounter("client", "manifest_hits") - h0, m.agentCounter("client", "manifest_refreshes") - r0
	}
	// cached builds once the tree has settled, so the agent caches the
	// manifest, and checks that an unchanged rebuild reuses it.
	cached := func(step string) {
		t.Helper()
		time.Sleep(settle)
		last = nil
		check(step + ", settled")
		last = nil
		if hits, refreshes := check(step + ", unchanged"); hits != 1 || refreshes != 0 {
			t.Errorf("%s: an unchanged rebuild did not reuse the cached manifest as it was (hits %d, refreshes %d)", step, hits, refreshes)
		}
	}

	check("first build")
	cached("first build")

	write("second/cfg.h", "#define CFG 2\n") // same size, in place
	if hits, refreshes := check("header edited in place"); hits != 1 || refreshes != 1 {
		t.Errorf("a header edited with its #includes unchanged was not taken from the manifest cache with its new contents (hits %d, refreshes %d)", hits, refreshes)
	}
	cached("header edited")

	write("second/extra.h", "#define EXTRA 7\n")
	write("second/cfg.h", "#include \"extra.h\"\n#define CFG (EXTRA + 5)\n")
	if hits, _ := check("header gains an #include"); hits != 0 {
		t.Error("a header that gained an #include was taken from the manifest cache")
	}
	cached("header gained an #include")

	write("main.c", "#include <cfg.h>\nint value(void) { return CFG * 3; }\n")
	if hits, refreshes := check("source edited"); hits != 1 || refreshes != 1 {
		t.Errorf("a source edited with its #includes unchanged was not taken from the manifest cache with its new contents (hits %d, refreshes %d)", hits, refreshes)
	}
	cached("source edited")

	write("first/cfg.h", "#define CFG 3\n") // earlier on the search path
	if hits, _ := check("header shadowed"); hits != 0 {
		t.Error("a shadowing header was missed by the manifest cache")
	}
	cached("header shadowed")

	os.Remove(filepath.Join(dir, "first", "cfg.h"))
	check("shadowing header removed")
	cached("shadowing header removed")

	write("second/cfg.h.new", "#define CFG 4\n")
	if err := os.Rename(filepath.Join(dir, "second", "cfg.h.new"), filepath.Join(dir, "second", "cfg.h")); err != nil {
		t.Fatal(err)
	}
	check("header replaced by a rename")

	// A computed #include: its inputs come from the compiler's own
	// dependency list, which depends on macro values, so an edit that
	// keeps every #include but changes a macro rescans.
	write("pick/pick.h", "#define PICK \"one.h\"\n")
	write("pick/one.h", "#define V 1\n")
	write("pick/two.h", "#define V 2\n")
	write("computed.c", "#include \"pick/pick.h\"\n#include PICK\nint v(void) { return V; }\n")
	args = []string{"-g", "-O2", "-Ipick", "-c", "computed.c", "-o", "main.o"}
	last = nil
	check("computed include")
	cached("computed include")
	write("pick/pick.h", "#define PICK \"two.h\"\n") // same size, in place
	if hits, _ := check("computed include redirected"); hits != 0 {
		t.Error("a job with a computed #include was taken from the manifest cache after an input changed")
	}
}

// agentCounter is a counter from the agent section of a node's status.
func (m *testMesh) agentCounter(name, key string) int {
	agent, _ := m.status(name)["agent"].(map[string]any)
	v, _ := agent[key].(float64)
	return int(v)
}

// TestRebuildOnAnotherNode: a rebuild whose manifest the agent has cached
// (the wrapper only stats its inputs) goes to a node that has none of its
// contents. The wrapper opens them while the job is on the node, when the
// node asks for them, and the object equals a local compile.
func TestRebuildOnAnotherNode(t *testing.T) {
	needSandbox(t)
	m := newTestMesh(t, "first")
	m.joinClient("client", "first")

	dir := t.TempDir()
	for name, content := range map[string]string{
		"inc/cfg.h": "#define CFG 41\n",
		"main.c":    "#include <cfg.h>\nint value(void) { return CFG + 1; }\n",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-g", "-O2", "-Iinc", "-c", "main.c", "-o", "main.o"}
	local := exec.Command("gcc", args...)
	local.Dir = dir
	if out, err := local.CombinedOutput(); err != nil {
		t.Fatalf("local gcc: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "main.o"))
	build := func(step string) {
		t.Helper()
		os.Remove(filepath.Join(dir, "main.o"))
		cmd := exec.Command(m.bin, append([]string{"gcc"}, args...)...)
		cmd.Dir, cmd.Env = dir, m.compileEnv("client", "DISTMESH_FALLBACK=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: through the mesh: %v\n%s", step, err, out)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "main.o")); !bytes.Equal(got, want) {
			t.Fatalf("%s: the object through the mesh (%d bytes) differs from the local one (%d bytes)", step, len(got), len(want))
		}
	}
	time.Sleep(settle) // so that the agent caches the manifest
	build("first build")

	token := m.run("keys", "add", "--home", m.homes["first"], "--name", "second")
	m.homes["second"] = filepath.Join(m.dir, "second")
	m.start("second", strings.TrimSpace(token))
	m.waitPeersUp("client", 2)
	m.kill("first", syscall.SIGTERM)
	m.waitFor("the client to see first down", func() bool {
		for _, p := range m.status("client")["peers"].([]any) {
			if p := p.(map[string]any); p["name"] == "first" && p["state"] == "up" {
				return false
			}
		}
		return true
	})
	hits := m.agentCounter("client", "manifest_hits")
	build("rebuild on second")
	if got := m.agentCounter("client", "manifest_hits"); got != hits+1 {
		t.Errorf("the rebuild did not take its inputs from the manifest cache (hits %d, want %d)", got, hits+1)
	}
	for _, p := range m.status("client")["peers"].([]any) {
		p := p.(map[string]any)
		if p["name"] != "second" {
			continue
		}
		stats := p["stats"].(map[string]any)
		if stats["jobs_ok"].(float64) != 1 || stats["blobs_sent"].(float64) < 2 {
			t.Errorf("second: %v; want one job, with the source and the header sent", stats)
		}
	}
}

// TestNonUTF8CompilesLocally: a header name in Latin-1 and a -D value with
// a raw byte cannot cross JSON unchanged; such jobs compile locally, and
// the objects equal a plain local compile.
func TestNonUTF8CompilesLocally(t *testing.T) {
	needSandbox(t)
	m := newTestMesh(t, "server")
	m.joinClient("client", "server")
	dir := t.TempDir()
	name := "caf\xe9.h"
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#define CAFE 1\n"), 0o644); err != nil {
		t.Skipf("this file system refuses non-UTF-8 names: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "u.c"), []byte("#include \""+name+"\"\nint x = CAFE;\nconst char *s = S;\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "v.c"), []byte("const char *s = S;\n"), 0o644)
	for _, c := range []struct{ src, def string }{
		{"u.c", `-DS="plain"`},
		{"v.c", "-DS=\"caf\xe9\""},
	} {
		args := []string{"-O2", c.def, "-c", c.src, "-o", "out.o"}
		local := exec.Command("gcc", args...)
		local.Dir = dir
		if out, err := local.CombinedOutput(); err != nil {
			t.Fatalf("%s: local gcc: %v\n%s", c.src, err, out)
		}
		want, _ := os.ReadFile(filepath.Join(dir, "out.o"))
		os.Remove(filepath.Join(dir, "out.o"))
		before := m.counter("client", "jobs_sent")
		cmd := exec.Command(m.bin, append([]string{"gcc"}, args...)...)
		cmd.Dir, cmd.Env = dir, m.compileEnv("client")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: through distmesh: %v\n%s", c.src, err, out)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "out.o")); !bytes.Equal(got, want) {
			t.Errorf("%s: the object through distmesh differs from a local compile", c.src)
		}
		if m.counter("client", "jobs_sent") != before {
			t.Errorf("%s: a job with a non-UTF-8 string was sent to a node", c.src)
		}
		agent, _ := m.status("client")["agent"].(map[string]any)
		fb, _ := agent["fallbacks"].(map[string]any)
		found := false
		for why := range fb {
			found = found || strings.Contains(why, "not UTF-8")
		}
		if !found {
			t.Errorf("%s: no local compile recorded for the non-UTF-8 string; fallbacks: %v", c.src, fb)
		}
	}
}
