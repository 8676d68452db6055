package jobs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
)

// scanFor runs the include scanner for one compile the way the agent does,
// reading files directly, and returns the physical paths it reached.
func scanFor(t *testing.T, compiler, dir string, args []string) (map[string]bool, error) {
	t.Helper()
	comp, err := ProbeCompiler(context.Background(), compiler)
	if err != nil {
		t.Skipf("%s: %v", compiler, err)
	}
	args, err = cc.ExpandResponseFiles(comp.Family, args, func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) })
	if err != nil {
		t.Fatal(err)
	}
	a := cc.Analyze(comp.Family, args, nil)
	if a.Local != "" {
		t.Fatalf("not distributable: %s", a.Local)
	}
	h := &cc.Hello{Args: args, Lang: a.Lang, Dir: dir, Source: a.Source, Includes: cc.ForcedIncludes(args)}
	var sc searchCache
	sp, err := sc.dirs(context.Background(), comp, h)
	if err != nil {
		t.Fatal(err)
	}
	w := newWalker(dir)
	s := newScan(w, sp.quote, sp.bracket, func(phys string, fi fs.FileInfo) (*directives, bool) {
		b, err := os.ReadFile(phys)
		if err != nil {
			t.Fatal(err)
		}
		d := parseDirectives(b)
		return &d, true
	})
	if !s.addRoots(comp.Family, h) {
		t.Fatalf("source %s not found", h.Source)
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
	a := cc.Analyze(guessFamily(compiler), args, nil)
	cmd := exec.Command(compiler, a.ScanArgs...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -M: %v", compiler, err)
	}
	deps, err := cc.ParseDeps(out)
	if err != nil {
		t.Fatal(err)
	}
	var phys []string
	for _, d := range deps {
		if !filepath.IsAbs(d) {
			d = dir + "/" + d // not cleaned: lnk/../x.h is not x.h when lnk is a symlink
		}
		r, err := filepath.EvalSymlinks(d)
		if err != nil {
			t.Fatal(err)
		}
		phys = append(phys, r)
	}
	return phys
}

// requireCompilerInputs fails the test unless entries (a manifest's)
// hold every file the compiler lists as read for args in dir.
func requireCompilerInputs(t *testing.T, what string, entries []Entry, compiler, dir string, args []string) {
	t.Helper()
	got := map[string]bool{}
	for _, e := range entries {
		got[e.Path] = true
	}
	for _, d := range depsFor(t, compiler, dir, args) {
		if !got[d] {
			t.Errorf("%s: the manifest lacks %s, which %s reads", what, d, compiler)
		}
	}
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

// TestScanTrickyHeaders: include_next, guards, a header in two include
// directories, quoted includes relative to the including file, conditions
// on command-line macros, a directory with a space, an include cycle and a
// __has_include probe: the scan finds every file the compiler reads,
// resolved to the same path, with gcc and clang; files the compiler must
// not read (the second common.h, first/sib.h, which #error) are not taken
// for the ones it reads.
func TestScanTrickyHeaders(t *testing.T) {
	dir, err := filepath.Abs("testdata/scan")
	if err != nil {
		t.Fatal(err)
	}
	flags := []string{"-Itricky/first", "-Itricky/second", "-Itricky/nextA", "-Itricky/nextB"}
	for _, compiler := range []string{"gcc", "clang"} {
		for _, define := range []string{"-UUSE_A", "-DUSE_A"} {
			t.Run(compiler+define, func(t *testing.T) {
				args := append(append([]string{define}, flags...), "-c", "tricky/main.c")
				checkScan(t, compiler, dir, args...)
				got, err := scanFor(t, compiler, dir, args)
				if err != nil {
					t.Fatal(err)
				}
				// Both branches of a condition are shipped (harmless)...
				for _, want := range []string{"tricky/cond_a.h", "tricky/cond_b.h", "tricky/probed.h"} {
					if !got[filepath.Join(dir, want)] {
						t.Errorf("scan lacks %s", want)
					}
				}
				// ...but never a file that would shadow the compiler's choice.
				for _, bad := range []string{"tricky/second/common.h", "tricky/first/sib.h"} {
					if got[filepath.Join(dir, bad)] {
						t.Errorf("scan shipped %s, which the compiler does not read", bad)
					}
				}
			})
		}
	}
	t.Run("computed include", func(t *testing.T) {
		if _, err := scanFor(t, "gcc", dir, []string{"-c", "tricky/computed.c"}); !errors.Is(err, errComputedInclude) {
			t.Errorf("scan of a computed include = %v, want errComputedInclude", err)
		}
	})
	t.Run("embed", func(t *testing.T) {
		embed, err := filepath.Abs(filepath.Join("..", "testdata", "matrix", "embed")) // the matrix's case
		if err != nil {
			t.Fatal(err)
		}
		if _, err := scanFor(t, "gcc", embed, []string{"-c", "embed.c"}); !errors.Is(err, errEmbed) {
			t.Errorf("scan of a header with #embed = %v, want errEmbed", err)
		}
	})
}

// TestScanHeaderByTwoNames: one header reached by two names, whose
// quoted includes look first in the directory of the name it was opened
// by: src/lib.h, a symlink to include/lib.h, finds src/part.h, and
// include/lib.h finds include/part.h. The compiler reads both, so the scan
// follows the header once for each directory its names start a search
// in. Were include/part.h not shipped, the node would look on along the
// search path, and could find another part.h.
func TestScanHeaderByTwoNames(t *testing.T) {
	for _, compiler := range []string{"gcc", "clang"} {
		t.Run(compiler, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"include/lib.h": "#include \"part.h\"\n", "include/part.h": "int a;\n",
				"src/part.h": "int b;\n", "src/unit.c": "#include \"lib.h\"\n#include \"../include/lib.h\"\n"})
			if err := os.Symlink("../include/lib.h", filepath.Join(dir, "src", "lib.h")); err != nil {
				t.Fatal(err)
			}
			checkScan(t, compiler, dir, "-c", "src/unit.c", "-o", "unit.o")
		})
	}
}

// TestScanManyHeaders: one unit that includes 10,000 headers.
func TestScanManyHeaders(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "h"), 0o755)
	var src strings.Builder
	for i := range 10000 {
		name := fmt.Sprintf("h%05d.h", i)
		os.WriteFile(filepath.Join(dir, "h", name), []byte(fmt.Sprintf("#define H%d %d\n", i, i)), 0o644)
		fmt.Fprintf(&src, "#include \"h/%s\"\n", name)
	}
	src.WriteString("int x = H9999;\n")
	os.WriteFile(filepath.Join(dir, "many.c"), []byte(src.String()), 0o644)
	checkScan(t, "gcc", dir, "-c", "many.c")
}

// TestScanNonUTF8Names: file names that are not UTF-8.
func TestScanNonUTF8Names(t *testing.T) {
	dir := t.TempDir()
	name := "caf\xe9.h" // Latin-1
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#define CAFE 1\n"), 0o644); err != nil {
		t.Skipf("this file system refuses non-UTF-8 names: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "u.c"), []byte("#include \""+name+"\"\nint x = CAFE;\n"), 0o644)
	checkScan(t, "gcc", dir, "-c", "u.c")
}

// TestManifestCacheNoticesChanges: a header appearing earlier on the search
// path, a changed and a deleted input each invalidate a cached manifest,
// whether its missing candidates are checked one by one (directories just
// changed) or by their settled directory's stamp.
func TestManifestCacheNoticesChanges(t *testing.T) {
	for _, settled := range []bool{false, true} {
		t.Run(fmt.Sprintf("settled=%v", settled), func(t *testing.T) { testManifestCacheNoticesChanges(t, settled) })
	}
}

func testManifestCacheNoticesChanges(t *testing.T, settled bool) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "b", "x.h"), []byte("b"), 0o644)
	os.WriteFile(filepath.Join(dir, "s.c"), []byte("#include <x.h>\n"), 0o644)
	scan := func() (*scanState, []scanFile) {
		w := newWalker(dir)
		s := newScan(w, nil, []string{dir + "/a", dir + "/b"}, func(phys string, fi fs.FileInfo) (*directives, bool) {
			b, _ := os.ReadFile(phys)
			d := parseDirectives(b)
			return &d, true
		})
		s.addRoot("s.c")
		if _, err := s.run(); err != nil {
			t.Fatal(err)
		}
		var files []scanFile
		for _, p := range s.order {
			files = append(files, s.files[p])
		}
		return s, files
	}
	mc := newManifestCache(10)
	// Stored later than the settle interval after the files were written.
	mc.now = func() time.Time { return time.Now().Add(2 * absentSettle) }
	// Directories last modified long ago, so that a change now moves their
	// times even within one tick of the kernel's clock.
	past := time.Now().Add(-time.Hour)
	for _, d := range []string{"a", "b"} {
		os.Chtimes(filepath.Join(dir, d), past, past)
	}
	key := Hash{1}
	store := func() {
		s, files := scan()
		var inputs []cachedInput
		for _, f := range files {
			fi, err := os.Stat(f.phys)
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, cachedInput{name: f.name, stamp: cc.StampOf(fi)})
		}
		mc.store(key, caller{}, true, inputs, nil, nil, s.w)
		cm := mc.m[key]
		if cm == nil {
			t.Fatal("manifest not cached")
		}
		for i := range cm.dirs {
			if !settled {
				cm.dirs[i].settled = false // every name checked on its own
			} else if !cm.dirs[i].settled && strings.HasPrefix(cm.dirs[i].dir, dir+"/") {
				t.Errorf("directory %s not trusted by its stamp", cm.dirs[i].dir)
			}
		}
	}
	// reused reports whether the cached manifest would be reused: its
	// lookups hold and each input (as the wrapper would open it) is the
	// version cached.
	reused := func() bool {
		cm, ok := mc.lookup(key, newWalker(dir))
		if !ok {
			return false
		}
		for i, in := range cm.inputs {
			name := in.name
			if !filepath.IsAbs(name) {
				name = filepath.Join(dir, name)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(name, &st); err != nil || !cm.current(i, &st) {
				return false
			}
		}
		return true
	}
	store()
	if !reused() {
		t.Fatal("unchanged tree: cached manifest not reused")
	}
	// A header appears earlier on the search path: the compiler would now
	// read it, so the cached manifest is wrong.
	os.WriteFile(filepath.Join(dir, "a", "x.h"), []byte("a"), 0o644)
	if reused() {
		t.Error("a header earlier on the search path went unnoticed")
	}
	store()
	// An input changes.
	os.WriteFile(filepath.Join(dir, "a", "x.h"), []byte("a, longer"), 0o644)
	if reused() {
		t.Error("a changed input went unnoticed")
	}
	store()
	// An input disappears.
	os.Remove(filepath.Join(dir, "a", "x.h"))
	if reused() {
		t.Error("a deleted input went unnoticed")
	}
	// A file nobody looked for appears beside the inputs: the directory's
	// stamp moves, its names are checked one by one, and they still hold.
	store()
	os.WriteFile(filepath.Join(dir, "b", "unrelated.h"), nil, 0o644)
	if !reused() {
		t.Error("an unrelated new file invalidated the cached manifest")
	}
}

// guessFamily guesses a compiler's family from its name.
func guessFamily(name string) cc.Family {
	if strings.Contains(filepath.Base(name), "clang") {
		return cc.FamilyClang
	}
	return cc.FamilyGCC
}

// TestDirPrefix pins the spelling of quoted includes' first candidates:
// the includer's directory (cc.DirOf) less one trailing slash, a slash,
// the name, as the scan spelled them before it took the prefix from the
// includer's name.
func TestDirPrefix(t *testing.T) {
	for _, name := range []string{"x.h", "./x.h", "a/x.h", "a//x.h", "a///x.h", "/x.h", "//x.h", "/a/b/x.h", "../x.h", "a/../x.h"} {
		want := strings.TrimSuffix(cc.DirOf(name), "/") + "/" + "y.h"
		if got := dirPrefix(name) + "y.h"; got != want {
			t.Errorf("the first candidate of y.h included from %q is %q, want %q", name, got, want)
		}
	}
}

// TestDirOfClean: on the clean paths a walker records, cc.DirOf is
// path.Dir, which the manifest cache's store no longer calls.
func TestDirOfClean(t *testing.T) {
	for _, p := range []string{"/", "/usr", "/usr/include", "/usr/include/stdio.h", "x", "a/b"} {
		if got, want := cc.DirOf(p), path.Dir(p); got != want {
			t.Errorf("cc.DirOf(%q) = %q, want path.Dir's %q", p, got, want)
		}
	}
}

// TestSearchDirAppears: an include directory that does not exist at a
// unit's first compile (-Igen, before a build step makes gen/) is left out
// of the search path the compiler prints. When it appears with a header
// that shadows a later one, the cached manifest of a unit already built,
// another unit's first scan and a unit's scan from scratch all ship the
// header gcc -M says the compiler reads.
func TestSearchDirAppears(t *testing.T) {
	dir := t.TempDir() // newGatherer skips the test without gcc
	writeTree(t, dir, map[string]string{
		"src/config.h": "#define V 1\n",
		"x.c":          "#include <config.h>\nint x = V;\n",
		"y.c":          "#include <config.h>\nint y = V;\n",
	})
	args := func(src string) []string { return []string{"-Igen", "-Isrc", "-c", src} }
	g := newGatherer(t, dir, args("x.c")...)
	check := func(what, src string, cached bool) {
		t.Helper()
		g.job(t, dir, args(src)...)
		gather := g.gather
		if cached {
			gather = g.gatherCached
		}
		es, err := gather()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		requireCompilerInputs(t, what, es, "gcc", dir, args(src))
	}
	check("x.c before gen/", "x.c", false)
	writeTree(t, dir, map[string]string{"gen/config.h": "#define V 2\n"})
	check("x.c's cached manifest after gen/ appeared", "x.c", true)
	check("y.c's first scan", "y.c", true)
	check("x.c scanned from scratch", "x.c", false)
}

// TestScanProbeOnCommandLine: a macro from the command line that probes
// for a header names it in no file: the job cannot be scanned (and is
// compiled locally).
func TestScanProbeOnCommandLine(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"x.h": "int x;\n", "m.c": "#if HAS\n#include \"x.h\"\n#endif\n"})
	g := newGatherer(t, dir, "-c", "m.c", `-DHAS=__has_include("x.h")`)
	if _, err := g.gather(); !errors.Is(err, errComputedProbe) {
		t.Fatalf("a job with -DHAS=__has_include(...): %v, want errComputedProbe", err)
	}
}

// TestManifestSymlinkRetargeted: a symlink on the search path removed and
// made again to elsewhere (which may get the freed inode back, as ext4
// gives it) is noticed by a cached manifest, which then ships the header
// gcc -M says the compiler reads.
func TestManifestSymlinkRetargeted(t *testing.T) {
	dir := t.TempDir() // newGatherer skips the test without gcc
	writeTree(t, dir, map[string]string{
		"m.c":    "#include <x.h>\nint v = X;\n",
		"a/keep": "",
		"b/x.h":  "#define X 1\n",
		"i2/x.h": "#define X 2\n",
	})
	link := filepath.Join(dir, "i1")
	if err := os.Symlink("a", link); err != nil {
		t.Fatal(err)
	}
	args := []string{"-Ii1", "-Ii2", "-c", "m.c"}
	g := newGatherer(t, dir, args...)
	if _, err := g.gather(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Lstat(link)
	if err := errors.Join(os.Remove(link), os.Symlink("b", link)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Lstat(link)
	t.Logf("the symlink's inode: %d before, %d after", before.Sys().(*syscall.Stat_t).Ino, after.Sys().(*syscall.Stat_t).Ino)
	es, err := g.gatherCached()
	if err != nil {
		t.Fatal(err)
	}
	requireCompilerInputs(t, "after i1 was made to point elsewhere", es, "gcc", dir, args)
}

// TestParseSearchPath: cpp -v's lists, each directory after one blank,
// its own blanks kept; relative ones joined to the working directory
// uncleaned; the directories left out for not existing; a header map.
func TestParseSearchPath(t *testing.T) {
	out := "ignoring nonexistent directory \"gone\"\n" +
		"#include \"...\" search starts here:\n  q dir\n" +
		"#include <...> search starts here:\n i1 \n /usr/include\n /System/Library/Frameworks (framework directory)\nEnd of search list.\n"
	sp := parseSearchPath(out, "/w")
	want := searchPath{quote: []string{"/w/ q dir"}, bracket: []string{"/w/i1 ", "/usr/include", "/System/Library/Frameworks"}, absent: []string{"/w/gone"}}
	if !reflect.DeepEqual(sp, want) {
		t.Errorf("parseSearchPath = %+v, want %+v", sp, want)
	}
	if sp := parseSearchPath("#include <...> search starts here:\n m.hmap (headermap)\nEnd of search list.\n", "/w"); !sp.headerMap {
		t.Error("a header map went unnoticed")
	}
}

// TestSearchDirBecomesOther: directories the compiler left out of its
// search path for another reason than not existing, a duplicate of one
// before it (a symlink to it) and a file where a directory was named, are
// looked at again: when the symlink points elsewhere, or the file becomes
// a directory, a cached manifest and a new scan ship the header gcc -M
// says the compiler reads there.
func TestSearchDirBecomesOther(t *testing.T) {
	type testCase struct {
		name   string
		files  map[string]string
		setup  func(dir string) error
		args   []string
		change func(dir string) error
	}
	cases := []testCase{
		{"a duplicate made another directory",
			map[string]string{"m.c": "#include <x.h>\nint v = X;\n", "i1/keep": "", "b/x.h": "#define X 2\n", "i3/x.h": "#define X 3\n"},
			func(dir string) error { return os.Symlink("i1", filepath.Join(dir, "i2")) },
			[]string{"-Ii1", "-Ii2", "-Ii3", "-c", "m.c"},
			func(dir string) error {
				return errors.Join(os.Remove(filepath.Join(dir, "i2")), os.Symlink("b", filepath.Join(dir, "i2")))
			}},
		{"a file made a directory",
			map[string]string{"m.c": "#include <x.h>\nint v = X;\n", "nd": "", "src/x.h": "#define X 1\n"},
			nil,
			[]string{"-Ind", "-Isrc", "-c", "m.c"},
			func(dir string) error {
				nd := filepath.Join(dir, "nd")
				return errors.Join(os.Remove(nd), os.Mkdir(nd, 0o755), os.WriteFile(filepath.Join(nd, "x.h"), []byte("#define X 2\n"), 0o644))
			}},
	}
	for _, compiler := range []string{"gcc", "clang"} {
		for _, tc := range cases { // newGathererFor skips a compiler that is not installed
			t.Run(compiler+"/"+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				writeTree(t, dir, tc.files)
				if tc.setup != nil {
					if err := tc.setup(dir); err != nil {
						t.Fatal(err)
					}
				}
				g := newGathererFor(t, "/usr/bin/"+compiler, dir, tc.args...)
				if _, err := g.gather(); err != nil {
					t.Fatal(err)
				}
				if err := tc.change(dir); err != nil {
					t.Fatal(err)
				}
				es, err := g.gatherCached()
				if err != nil {
					t.Fatal(err)
				}
				requireCompilerInputs(t, "the cached manifest", es, compiler, dir, tc.args)
				if es, err = g.gather(); err != nil {
					t.Fatal(err)
				}
				requireCompilerInputs(t, "a new scan", es, compiler, dir, tc.args)
			})
		}
	}
}
