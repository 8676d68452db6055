package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
	"github.com/distmesh/distmesh/keys"
)

// gatherer runs the agent's input gathering for one compile in dir, as
// for a wrapper on the agent's own view, with the file watch on and the
// project's files taken as older than the settle interval (a build's
// headers are), so that they are remembered.
type gatherer struct {
	a    *Agent
	comp *Compiler
	h    *cc.Hello
	who  caller
}

func newGatherer(tb testing.TB, dir string, args ...string) *gatherer {
	tb.Helper()
	return newGathererFor(tb, "/usr/bin/gcc", dir, args...)
}

// newGathererFor is newGatherer for another compiler.
func newGathererFor(tb testing.TB, compiler, dir string, args ...string) *gatherer {
	tb.Helper()
	comp, err := ProbeCompiler(context.Background(), compiler)
	if err != nil {
		tb.Skipf("%s: %v", compiler, err)
	}
	a := NewAgent(AgentConfig{Identity: &keys.Identity{Name: "laptop"}})
	later := func() time.Time { return time.Now().Add(2 * absentSettle) }
	a.hashes.now, a.manifests.now = later, later
	fw := newFileWatch(1_000_000)
	tb.Cleanup(fw.close)
	a.watch.Store(fw)
	g := &gatherer{a: a, comp: comp, who: caller{uint32(os.Getuid()), uint32(os.Getgid())}}
	g.job(tb, dir, args...)
	return g
}

// job makes the compile in dir with args the one g gathers for next.
func (g *gatherer) job(tb testing.TB, dir string, args ...string) {
	tb.Helper()
	an := cc.Analyze(g.comp.Family, args, nil)
	if an.Local != "" {
		tb.Fatalf("not distributable: %s", an.Local)
	}
	g.h = &cc.Hello{Args: args, Lang: an.Lang, Dir: dir, Source: an.Source, Includes: cc.ForcedIncludes(args), Dirs: cc.IncludeDirs(args)}
}

// gatherCached gathers the job's inputs as a rebuild does, through the
// manifest cache, and returns its entries.
func (g *gatherer) gatherCached() ([]Entry, error) {
	m, err := g.a.gatherInputs(context.Background(), nil, g.comp, g.h, g.who, true)
	if m != nil {
		m.close()
		return m.entries, err
	}
	return nil, err
}

// gather gathers the job's inputs with its cached manifest dropped, as a
// first build does, and returns its entries.
func (g *gatherer) gather() ([]Entry, error) {
	g.a.manifests.mu.Lock()
	clear(g.a.manifests.m)
	g.a.manifests.mu.Unlock()
	m, err := g.a.gatherInputs(context.Background(), nil, g.comp, g.h, g.who, true)
	if m != nil {
		m.close()
		return m.entries, err
	}
	return nil, err
}

// writeTree writes files (name → contents) below dir.
func writeTree(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkGatherInputs is one first-build job's input gathering in the
// agent, as a wrapper on the agent's own view has it done: a unit of a
// project with two include directories that includes its own headers and
// two dozen of the C library's, scanned again each time (its manifest
// dropped), with the file watch, the file cache and the absence cache warm
// from the jobs before, as in the middle of a build. What is left is the
// scan, recording and checking the inputs, and storing the manifest:
// "scan" with no other unit's template to take from (the first units of a
// build), "template" with another unit's, which includes the same
// library header (the rest).
func BenchmarkGatherInputs(b *testing.B) {
	dir := b.TempDir()
	system := []string{"stdio.h", "stdlib.h", "string.h", "unistd.h", "errno.h", "fcntl.h", "signal.h", "time.h",
		"stdint.h", "stddef.h", "limits.h", "ctype.h", "stdarg.h", "setjmp.h", "dirent.h", "pwd.h", "grp.h",
		"sys/types.h", "sys/stat.h", "sys/wait.h", "sys/ioctl.h", "sys/socket.h", "netinet/in.h", "arpa/inet.h"}
	var lib strings.Builder
	lib.WriteString("#ifndef LIB_H\n#define LIB_H\n")
	for _, h := range system {
		fmt.Fprintf(&lib, "#include <%s>\n", h)
	}
	for i := range 8 {
		fmt.Fprintf(&lib, "#include \"part%d.h\"\n", i)
	}
	lib.WriteString("#endif\n")
	files := map[string]string{"include/lib.h": lib.String(), "src/unit.c": "#include \"lib.h\"\n#include \"local.h\"\nint main(void) { return 0; }\n",
		"src/local.h": "#include <stdio.h>\n#include \"config.h\"\n", "config/config.h": "#define CONFIG 1\n",
		"src/other.c": "#include \"lib.h\"\nint other;\n"}
	for i := range 8 {
		files[fmt.Sprintf("include/part%d.h", i)] = fmt.Sprintf("#include <stddef.h>\n#include \"config.h\"\nint part%d(void);\n", i)
	}
	writeTree(b, dir, files)
	args := func(src string) []string { return []string{"-O2", "-Iinclude", "-Iconfig", "-c", src, "-o", "out.o"} }
	for _, template := range []bool{false, true} {
		name := "scan"
		if template {
			name = "template"
		}
		b.Run(name, func(b *testing.B) {
			g := newGatherer(b, dir, args("src/other.c")...)
			if _, err := g.gather(); err != nil { // other.c's is the template
				b.Fatal(err)
			}
			g.job(b, dir, args("src/unit.c")...)
			gather := func() ([]Entry, error) {
				if !template {
					g.a.manifests.mu.Lock()
					clear(g.a.manifests.templates)
					g.a.manifests.mu.Unlock()
				}
				return g.gather()
			}
			entries, err := gather()
			if err != nil {
				b.Fatal(err)
			}
			if len(entries) < 50 {
				b.Fatalf("the job has %d entries, want the unit's headers and the C library's", len(entries))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := gather(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(entries)), "entries")
			if took := g.a.stats.ManifestTemplates > 0; took != template {
				b.Fatalf("took a template: %v, want %v", took, template)
			}
		})
	}
}
