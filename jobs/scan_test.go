package jobs

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// scanFor runs the include scanner for one compile the way the agent does,
// reading files directly, and returns the physical paths it reached.
func scanFor(t *testing.T, compiler, dir string, args []string) (map[string]bool, error) {
	t.Helper()
	comp, err := ProbeCompiler(context.Background(), compiler)
	if err != nil {
		t.Skipf("%s: %v", compiler, err)
	}
	args, err = ExpandResponseFiles(comp.Family, args, func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) })
	if err != nil {
		t.Fatal(err)
	}
	a := Analyze(comp.Family, args, nil)
	if a.Local != "" {
		t.Fatalf("not distributable: %s", a.Local)
	}
	h := &wrapHello{Args: args, Lang: a.Lang, Dir: dir, Source: a.Source, Includes: forcedIncludes(args)}
	var sc searchCache
	quote, bracket, err := sc.dirs(context.Background(), comp, h)
	if err != nil {
		t.Fatal(err)
	}
	w := newWalker(dir)
	s := newScan(w, quote, bracket, func(phys string, fi fs.FileInfo) (*directives, bool) {
		b, err := os.ReadFile(phys)
		if err != nil {
			t.Fatal(err)
		}
		d := parseDirectives(b)
		return &d, true
	})
	if !s.addRoot(h.Source, false) {
		t.Fatalf("source %s not found", h.Source)
	}
	for _, inc := range h.Includes {
		s.addRoot(inc, true)
	}
	if comp.Family == FamilyGCC {
		s.follow(scanFile{dir: dir}, &directives{Refs: []includeRef{{Name: "stdc-predef.h", Angle: true}}})
	}
	if _, err := s.run(); err != nil {
		return nil, err
	}
	got := map[string]bool{}
	for p := range s.files {
		got[p] = true
	}
	return got, nil
}

// depsFor returns the physical paths of every file the compiler itself
// lists as read.
func depsFor(t *testing.T, compiler, dir string, args []string) []string {
	t.Helper()
	a := Analyze(guessFamily(compiler), args, nil)
	cmd := exec.Command(compiler, a.ScanArgs...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -M: %v", compiler, err)
	}
	deps, err := ParseDeps(out)
	if err != nil {
		t.Fatal(err)
	}
	var phys []string
	for _, d := range deps {
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d) // cleaned: fine for comparing real files
		}
		r, err := filepath.EvalSymlinks(d)
		if err != nil {
			t.Fatal(err)
		}
		phys = append(phys, r)
	}
	return phys
}

// checkScan requires every file the compiler reads to be in the scan.
func checkScan(t *testing.T, compiler, dir string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(compiler); err != nil {
		t.Skipf("%s not installed", compiler)
	}
	got, err := scanFor(t, compiler, dir, args)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	var missing []string
	for _, p := range depsFor(t, compiler, dir, args) {
		if !got[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s %s: the scan missed %d files the compiler reads:\n%s", compiler, strings.Join(args, " "), len(missing), strings.Join(missing, "\n"))
	}
}

func TestScanMatchesCompiler(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.c"), []byte("#include <stdio.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <math.h>\n#include <pthread.h>\n#include <unistd.h>\n#include <sys/stat.h>\nint main(void){return 0;}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cpp.cpp"), []byte("#include <iostream>\n#include <vector>\n#include <map>\n#include <string>\n#include <memory>\n#include <algorithm>\n#include <thread>\n#include <regex>\nint main(){std::vector<int> v; return v.size();}\n"), 0o644)
	for _, tt := range []struct {
		compiler string
		args     []string
	}{
		{"gcc", []string{"-c", "c.c"}},
		{"gcc", []string{"-D_GNU_SOURCE", "-O2", "-c", "c.c"}},
		{"g++", []string{"-std=gnu++17", "-c", "cpp.cpp"}},
		{"clang", []string{"-c", "c.c"}},
		{"clang++", []string{"-c", "cpp.cpp"}},
		{"clang++", []string{"-std=c++20", "-c", "cpp.cpp"}},
	} {
		t.Run(tt.compiler+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			checkScan(t, tt.compiler, dir, tt.args...)
		})
	}
}
