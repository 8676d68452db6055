package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestScanTemplate: a unit whose scan takes another unit's template (see
// scanTemplate) ships every file the compiler reads, as gcc -M lists them,
// whether the template holds, went stale, or covers nothing the unit
// reaches.
func TestScanTemplate(t *testing.T) {
	base := map[string]string{
		"include/lib.h":   "#include <stdio.h>\n#include \"part.h\"\n",
		"include/part.h":  "#include \"config.h\"\n",
		"config/config.h": "#define CONFIG 1\n",
		"config/opt.h":    "#include \"deep.h\"\n",
		"config/deep.h":   "int deep;\n",
		"other/a.c":       "#include \"lib.h\"\n#if __has_include(<opt.h>)\n#endif\nint a;\n",
	}
	args := func(src string) []string { return []string{"-Iinclude", "-Iconfig", "-c", src, "-o", "out.o"} }
	for _, tc := range []struct {
		name     string
		b        string                 // src/b.c
		change   func(dir string) error // after a.c's job, before b.c's
		template bool                   // b.c's scan takes a.c's template
	}{
		{"the template holds", "#include \"lib.h\"\n#include <string.h>\nint b;\n", nil, true},
		// src/lib.h is include/lib.h, but its #include "part.h" finds
		// src/part.h first: followed by that name, not taken.
		{"a header reached by another name", "#include \"lib.h\"\nint b;\n", func(dir string) error {
			return errors.Join(os.Symlink("../include/lib.h", filepath.Join(dir, "src", "lib.h")),
				os.WriteFile(filepath.Join(dir, "src", "part.h"), []byte("#include \"bpart.h\"\n"), 0o644),
				os.WriteFile(filepath.Join(dir, "src", "bpart.h"), []byte("int bpart;\n"), 0o644))
		}, true},
		{"a header the template only probed", "#include <opt.h>\nint b;\n", nil, true},
		{"a new header earlier on the search path", "#include \"lib.h\"\nint b;\n", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "include", "stdio.h"), []byte("int shadow;\n"), 0o644)
		}, false},
		{"a header's #include lines changed", "#include \"lib.h\"\nint b;\n", func(dir string) error {
			return errors.Join(os.WriteFile(filepath.Join(dir, "config", "extra.h"), []byte("int extra;\n"), 0o644),
				os.WriteFile(filepath.Join(dir, "include", "part.h"), []byte("#include \"config.h\"\n#include \"extra.h\"\n"), 0o644))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, base)
			writeTree(t, dir, map[string]string{"src/b.c": tc.b})
			g := newGatherer(t, dir, args("other/a.c")...)
			if _, err := g.gather(); err != nil {
				t.Fatalf("a.c: %v", err)
			}
			if tc.change != nil {
				if err := tc.change(dir); err != nil {
					t.Fatal(err)
				}
			}
			g.job(t, dir, args("src/b.c")...)
			entries, err := g.gather()
			if err != nil {
				t.Fatalf("b.c: %v", err)
			}
			if got := g.a.stats.ManifestTemplates == 1; got != tc.template {
				t.Errorf("b.c's scan took a.c's template: %v, want %v", got, tc.template)
			}
			var shipped []string
			for _, e := range entries {
				shipped = append(shipped, e.Path)
			}
			for _, p := range depsFor(t, "gcc", dir, args("src/b.c")) {
				if !slices.Contains(shipped, p) {
					t.Errorf("gcc reads %s, which b.c's manifest lacks", p)
				}
			}
		})
	}
}

// TestScanTemplateChecks: a manifest found with a template's help is
// checked, when reused, against the template's lookups too: a header made
// where the template's headers would find it first sends the unit back to
// the scanner.
func TestScanTemplateChecks(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"include/lib.h": "#include <stdio.h>\n", "a.c": "#include \"lib.h\"\n", "b.c": "#include \"lib.h\"\nint b;\n"})
	args := func(src string) []string { return []string{"-Iinclude", "-c", src, "-o", "out.o"} }
	g := newGatherer(t, dir, args("a.c")...)
	if _, err := g.gather(); err != nil {
		t.Fatalf("a.c: %v", err)
	}
	g.job(t, dir, args("b.c")...)
	gather := func() []Entry {
		t.Helper()
		m, err := g.a.gatherInputs(context.Background(), nil, g.comp, g.h, g.who, true)
		if err != nil {
			t.Fatalf("b.c: %v", err)
		}
		m.close()
		return m.entries
	}
	gather()
	gather()
	if g.a.stats.ManifestTemplates != 1 || g.a.stats.ManifestHits != 1 {
		t.Fatalf("b.c's jobs: %d took the template, %d reused a manifest; want 1 and 1", g.a.stats.ManifestTemplates, g.a.stats.ManifestHits)
	}
	shadow := filepath.Join(dir, "include", "stdio.h")
	if err := os.WriteFile(shadow, []byte("int shadow;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(gather(), func(e Entry) bool { return e.Path == shadow }) {
		t.Errorf("b.c's job after include/stdio.h was made does not ship it (manifest hits %d)", g.a.stats.ManifestHits)
	}
}
