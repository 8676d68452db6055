package cc

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/distmesh/distmesh/jobs/wrap"
)

// compilerPaths are the real compilers the output naming rules were
// verified against (GCC 12 and Clang 14 on Debian 12).
var compilerPaths = map[Family]string{FamilyGCC: "/usr/bin/gcc", FamilyClang: "/usr/bin/clang"}

// realCompiler returns f's compiler or skips the test.
func realCompiler(t *testing.T, f Family) string {
	t.Helper()
	p := compilerPaths[f]
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is not installed, so the %s naming rules cannot be checked against it: %v", p, f, err)
	}
	return p
}

// hasObjC reports whether f's compiler can compile Objective-C here
// (Debian's gcc needs the gobjc package for cc1obj).
func hasObjC(f Family) bool {
	if f == FamilyClang {
		return true
	}
	out, err := exec.Command(compilerPaths[f], "-print-prog-name=cc1obj").Output()
	p := strings.TrimSpace(string(out))
	_, statErr := os.Stat(p)
	return err == nil && filepath.IsAbs(p) && statErr == nil
}

// fixture is the source tree every real-compiler case starts from.
var fixture = map[string]string{
	"sub/x.c":        "#include \"h.h\"\nint f(void) { return H; }\n",
	"sub/h.h":        "#define H 1\n",
	"sub/pre.h":      "#define PRE 2\n",
	"sub/sp ace.c":   "#include \"h.h\"\nint g(void) { return H; }\n",
	"sub/.c":         "int dot(void) { return 3; }\n",
	"sub/foo":        "int foo(void) { return 4; }\n",
	"sub/p.cpp":      "#include \"h.h\"\nint p() { return H; }\n",
	"sub/u.C":        "int u() { return 5; }\n",
	"sub/w.cc":       "int w() { return 6; }\n",
	"sub/m.m":        "#include \"h.h\"\nint m(void) { return H; }\n",
	"sub/a.S":        "#include \"h.h\"\n\t.globl f\nf:\n\tmov $H, %eax\n\tret\n",
	"sub/v.sx":       "\t.globl v\nv:\n\tret\n",
	"sub/v.c":        "int v(void) { return 7; }\n",
	"sub/d.c/.keep":  "", // a directory named like a source
	"out/.keep":      "",
	"out.v/.keep":    "",
	"out/appended.d": "old line\n",
}

// writeTree writes fixture into a new temporary directory.
func writeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range fixture {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// snapshot returns the contents of every regular file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// written returns the files under dir that are new or changed since before.
func written(t *testing.T, dir string, before map[string]string) []string {
	t.Helper()
	var w []string
	for name, body := range snapshot(t, dir) {
		if old, ok := before[name]; !ok || old != body {
			w = append(w, name)
		}
	}
	slices.Sort(w)
	return w
}

// runCompiler runs cc with args and env in dir and returns stdout.
func runCompiler(t *testing.T, cc, dir string, args, env []string) []byte {
	t.Helper()
	cmd := exec.Command(cc, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TMPDIR=" + t.TempDir()}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", cc, args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// outputNames returns a's outputs as cleaned paths relative to dir.
func outputNames(t *testing.T, dir string, a Analysis) []string {
	t.Helper()
	var names []string
	for _, o := range a.Outputs {
		p := o.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		rel, err := filepath.Rel(dir, filepath.Clean(p))
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("output %q is outside the test directory", o.Path)
		}
		names = append(names, rel)
	}
	slices.Sort(names)
	return names
}

// outputCase is one command line whose outputs are checked against a real
// compiler. "$DIR" in an argument stands for the test directory.
type outputCase struct {
	name string
	args string // split on spaces; use argv for arguments with spaces
	argv []string
	env  []string
	only *Family // nil: both families
	objc bool    // needs an Objective-C compiler
}

var (
	gccOnlyCase   = ptr(FamilyGCC)
	clangOnlyCase = ptr(FamilyClang)
)

func ptr[T any](v T) *T { return &v }

var outputCases = []outputCase{
	{name: "object without -o", args: "-c sub/x.c"},
	{name: "-o separate", args: "-c sub/x.c -o out/z.o"},
	{name: "-o joined", args: "-c sub/x.c -oout/z.o"},
	{name: "--output=", args: "-c sub/x.c --output=out/z.o"},
	{name: "--output separate", args: "--output out/z.o -c sub/x.c"},
	{name: "-o absolute", args: "-c sub/x.c -o $DIR/out/z.o -MD -g -gsplit-dwarf"},
	{name: "-MD without -o", args: "-c sub/x.c -MD"},
	{name: "-MMD with -o", args: "-c sub/x.c -MMD -o out/z.o"},
	{name: "-MD with suffixless -o", args: "-c sub/x.c -MD -o out/z"},
	{name: "-MD with -o in a dotted directory", args: "-c sub/x.c -MD -o out.v/z"},
	{name: "-MD with two suffixes", args: "-c sub/x.c -MD -o out/z.obj.o"},
	{name: "-MD -MF -MT -MP", args: "-c sub/x.c -MD -MF out/dep.d -MT foo -MP"},
	{name: "-MMD -MF joined -MQ", argv: []string{"-c", "sub/x.c", "-MMD", "-MFout/dep.d", "-MQ", "a b$"}},
	{name: "--write-dependencies", args: "-c sub/x.c --write-dependencies -o out/z.o"},
	{name: "-Wp,-MD", args: "-c sub/x.c -Wp,-MD,out/k.d"},
	{name: "-Wp,-MMD with -o", args: "-c sub/x.c -Wp,-MMD,out/k.d -o out/z.o"},
	{name: "split dwarf", args: "-c sub/x.c -g -gsplit-dwarf"},
	{name: "split dwarf with -o", args: "-c sub/x.c -g -gsplit-dwarf -o out/z.o"},
	{name: "split dwarf with -o elsewhere", args: "-c sub/x.c -gsplit-dwarf -g -o out.v/z"},
	{name: "split dwarf without -g", args: "-c sub/x.c -gsplit-dwarf"},
	{name: "split dwarf with -g0", args: "-c sub/x.c -g -gsplit-dwarf -g0"},
	{name: "split dwarf cancelled", args: "-c sub/x.c -g -gsplit-dwarf -gno-split-dwarf"},
	{name: "split dwarf under LTO", args: "-c sub/x.c -g -gsplit-dwarf -flto"},
	{name: "split dwarf LTO off again", args: "-c sub/x.c -g -gsplit-dwarf -flto -fno-lto"},
	{name: "split dwarf single", args: "-c sub/x.c -g -gsplit-dwarf=single", only: clangOnlyCase},
	{name: "split dwarf split", args: "-c sub/x.c -g -gsplit-dwarf=split -o out/z.o", only: clangOnlyCase},
	{name: "-ftest-coverage", args: "-c sub/x.c -ftest-coverage"},
	{name: "--coverage with -o", args: "-c sub/x.c --coverage -o out/z.o"},
	{name: "-coverage beats -fno-test-coverage", args: "-c sub/x.c -coverage -fno-test-coverage -o out/z"},
	{name: "-fno-test-coverage last", args: "-c sub/x.c -ftest-coverage -fno-test-coverage"},
	{name: "-fprofile-arcs alone", args: "-c sub/x.c -fprofile-arcs -fprofile-update=atomic"},
	{name: "-fprofile-generate", args: "-c sub/x.c -fprofile-generate -o out/z.o"},
	{name: "-fprofile-instr-generate", args: "-c sub/x.c -fprofile-instr-generate -o out/z.o", only: clangOnlyCase},
	{name: "-fstack-usage", args: "-c sub/x.c -fstack-usage"},
	{name: "-fstack-usage with -o", args: "-c sub/x.c -fstack-usage -o out/z.o"},
	{name: "-fstack-usage under LTO", args: "-c sub/x.c -fstack-usage --coverage -flto=auto"},
	{name: "assembler with everything", args: "-c sub/a.S -g -gsplit-dwarf -MD --coverage -fstack-usage -o out/q.o"},
	{name: ".sx", args: "-c sub/v.sx -MD", only: gccOnlyCase},
	{name: "-x c on a suffixless file", args: "-c -x c sub/foo -MD -g -gsplit-dwarf --coverage"},
	{name: "-x c++ then -x none", args: "-x c++ -c sub/x.c -x none -MD"},
	{name: "-xc joined", args: "-xc -c sub/foo"},
	{name: "c++", args: "-c sub/p.cpp -MD -fstack-usage"},
	{name: ".C", args: "-c sub/u.C"},
	{name: ".cc", args: "-c sub/w.cc -o out/w.o -MMD"},
	{name: "source named .c", args: "-c sub/.c -MD -g -gsplit-dwarf --coverage -fstack-usage"},
	{name: "-o with a leading dot", args: "-c sub/x.c -o out/.q -MD -g -gsplit-dwarf --coverage -fstack-usage"},
	{name: "-o with a trailing dot", args: "-c sub/x.c -o out/q. -MD -g -gsplit-dwarf --coverage -fstack-usage"},
	{name: "-o with two dots", args: "-c sub/x.c -o out/..q -MD -g -gsplit-dwarf --coverage -fstack-usage"},
	{name: "-o with a double suffix", args: "-c sub/x.c -o out/z.tar.gz -MD -g -gsplit-dwarf --coverage -fstack-usage"},
	{name: "-o through ..", args: "-c sub/x.c -o ./out/../out/q.o -MD -g -gsplit-dwarf"},
	{name: "source with a space", argv: []string{"-c", "sub/sp ace.c", "-MD", "-g", "-gsplit-dwarf", "--coverage"}},
	{name: "-include", args: "-c sub/x.c -include sub/pre.h -MD -o out/i.o"},
	{name: "objective-c", args: "-c sub/m.m -MD -o out/m.o", objc: true},
	{name: "DEPENDENCIES_OUTPUT appends", args: "-c sub/x.c", env: []string{"DEPENDENCIES_OUTPUT=out/appended.d"}},
	{name: "SUNPRO_DEPENDENCIES with target", args: "-c sub/x.c -o out/z.o", env: []string{"SUNPRO_DEPENDENCIES=out/s.d tgt"}},
	{name: "DEPENDENCIES_OUTPUT beats SUNPRO", args: "-c sub/x.c", env: []string{"SUNPRO_DEPENDENCIES=out/s.d", "DEPENDENCIES_OUTPUT=out/e.d"}},
	{name: "DEPENDENCIES_OUTPUT under -MD", args: "-c sub/x.c -MD", env: []string{"DEPENDENCIES_OUTPUT=out/e.d"}},
	{name: "DEPENDENCIES_OUTPUT on assembler", args: "-c sub/a.S", env: []string{"DEPENDENCIES_OUTPUT=out/e.d"}},
	{name: "Debian", args: "-g -O2 -ffile-prefix-map=$DIR=. -fstack-protector-strong -Wformat -Werror=format-security -fcf-protection -Wdate-time -D_FORTIFY_SOURCE=2 -MT out/x.lo -MD -MP -MF out/x.Tpo -c sub/x.c -fPIC -DPIC -o out/x.o"},
	{name: "Linux kernel", argv: []string{"-Wp,-MMD,out/.x.o.d", "-nostdinc", "-I./sub", "-D__KERNEL__", "-fmacro-prefix-map=./=", "-Wall", "-fno-PIE", "-mcmodel=kernel", "-mno-red-zone", "-O2", "-g", "-gdwarf-4", "-pg", "-mfentry", "-DKBUILD_BASENAME=\"x\"", "-DKBUILD_MODNAME=\"x\"", "-c", "-o", "out/x.o", "sub/x.c"}},
	{name: "Alpine", args: "-Os -fstack-clash-protection -Wformat -Werror=format-security -c sub/p.cpp -D_GLIBCXX_ASSERTIONS=1 -o out/p.o"},
}

// TestOutputsRealCompilers runs each case with the real GCC and Clang and
// checks that the files a compile writes are exactly Analyze's Outputs, and
// that ScanArgs write nothing and list the source and its header.
func TestOutputsRealCompilers(t *testing.T) {
	for _, f := range []Family{FamilyGCC, FamilyClang} {
		t.Run(f.String(), func(t *testing.T) {
			cc := realCompiler(t, f)
			for _, c := range outputCases {
				if c.only != nil && *c.only != f {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					if c.objc && !hasObjC(f) {
						t.Skipf("%s cannot compile Objective-C here (cc1obj is missing)", cc)
					}
					checkOutputs(t, f, cc, c.argv, c.args, c.env)
				})
			}
		})
	}
}

func checkOutputs(t *testing.T, f Family, cc string, argv []string, args string, env []string) {
	t.Helper()
	dir := writeTree(t)
	if argv == nil {
		argv = strings.Fields(strings.ReplaceAll(args, "$DIR", dir))
	}
	a := Analyze(f, argv, env)
	if a.Local != "" {
		t.Fatalf("Analyze(%q).Local = %q, want a distributable job", argv, a.Local)
	}

	// The scan writes nothing and names the source and what it includes.
	before := snapshot(t, dir)
	out := runCompiler(t, cc, dir, a.ScanArgs, env)
	if got := written(t, dir, before); len(got) != 0 {
		t.Errorf("scan %q wrote %q", a.ScanArgs, got)
	}
	deps, err := ParseDeps(out)
	if err != nil {
		t.Fatalf("scan %q: %v\n%s", a.ScanArgs, err, out)
	}
	wantDeps := []string{a.Source}
	if strings.Contains(fixture[a.Source], `"h.h"`) {
		wantDeps = append(wantDeps, "sub/h.h")
	}
	if i := slices.Index(argv, "-include"); i >= 0 {
		wantDeps = append(wantDeps, argv[i+1])
	}
	for _, d := range wantDeps {
		if !slices.Contains(deps, d) {
			t.Errorf("scan %q lists %q, without %q", a.ScanArgs, deps, d)
		}
	}

	// The compile writes exactly the outputs.
	runCompiler(t, cc, dir, argv, env)
	if got, want := written(t, dir, before), outputNames(t, dir, a); !slices.Equal(got, want) {
		t.Errorf("%s %q wrote %q; Analyze says %q (%v)", cc, argv, got, want, a.Outputs)
	}
	for _, o := range a.Outputs {
		if old, ok := fixture[o.Path]; ok && o.Kind == KindDepsAppend {
			if b, _ := os.ReadFile(filepath.Join(dir, o.Path)); !strings.HasPrefix(string(b), old) {
				t.Errorf("%s replaced %s instead of appending to it", cc, o.Path)
			}
		}
	}
}

// debugOptions are the -g options the policy allows.
var debugOptions = strings.Fields(`-g -g0 -g1 -g2 -g3 -ggdb -ggdb0 -ggdb1 -ggdb2 -ggdb3 -gdwarf -gdwarf-2 -gdwarf-3 -gdwarf-4 -gdwarf-5
	-gdwarf32 -gdwarf64 -gline-tables-only -gmlt -gline-directives-only -glldb -gcolumn-info -gno-column-info
	-gstrict-dwarf -grecord-gcc-switches -gno-record-gcc-switches -grecord-command-line -gpubnames -ggnu-pubnames
	-gstatement-frontiers -gvariable-location-views -gvariable-location-views=incompat5 -ginline-points
	-ginternal-reset-location-views -gdescribe-dies -gsimple-template-names -gas-loc-support -gas-locview-support
	-gz -gz=zlib -gbtf -gctf -gctf2 -gtoggle -gembed-source -gdwarf-aranges -gno-split-dwarf`)

// TestOutputsDebugOptions checks, for every allowed -g option, whether the
// real compilers write a .dwo with it where Analyze says they do.
func TestOutputsDebugOptions(t *testing.T) {
	for _, f := range []Family{FamilyGCC, FamilyClang} {
		t.Run(f.String(), func(t *testing.T) {
			cc := realCompiler(t, f)
			for _, g := range debugOptions {
				for _, args := range [][]string{
					{"-c", "sub/x.c", "-gsplit-dwarf", g},
					{"-c", "sub/x.c", "-g", "-gsplit-dwarf", g},
					{"-c", "sub/x.c", "-g0", "-gsplit-dwarf", g, "-o", "out/z.o"},
				} {
					if err := CheckArgs(f, args); err != nil {
						t.Fatalf("the policy refuses an option of debugOptions: %v", err)
					}
					t.Run(strings.Join(args[2:], " "), func(t *testing.T) {
						t.Parallel()
						dir := writeTree(t)
						a := Analyze(f, args, nil)
						before := snapshot(t, dir)
						cmd := exec.Command(cc, args...)
						cmd.Dir = dir
						if out, err := cmd.CombinedOutput(); err != nil {
							t.Skipf("%s does not accept %s: %s", cc, g, bytes.TrimSpace(out))
						}
						if got, want := written(t, dir, before), outputNames(t, dir, a); !slices.Equal(got, want) {
							t.Errorf("%s %q wrote %q; Analyze says %q", cc, args, got, want)
						}
					})
				}
			}
		})
	}
}

// TestAnalyzeOutputs pins the naming rules, including where GCC and Clang
// differ, without running a compiler.
func TestAnalyzeOutputs(t *testing.T) {
	type want map[Family][]Output
	both := func(o ...Output) want { return want{FamilyGCC: o, FamilyClang: o} }
	obj := func(p string) Output { return Output{p, KindObject} }
	dep := func(p string) Output { return Output{p, KindDeps} }
	dwo := func(p string) Output { return Output{p, KindDWO} }
	gcno := func(p string) Output { return Output{p, KindGCNO} }
	su := func(p string) Output { return Output{p, KindStackUsage} }
	tests := []struct {
		args string
		env  []string
		want want
	}{
		{"-c sub/x.c", nil, both(obj("x.o"))},
		{"-c sub/x.c -o out/z.o -MD", nil, both(obj("out/z.o"), dep("out/z.d"))},
		{"-c sub/x.c -MD -MF d -o z", nil, both(obj("z"), dep("d"))},
		{"-c sub/x.c -Wp,-MMD,out/.x.o.d -o out/x.o", nil, both(obj("out/x.o"), dep("out/.x.o.d"))},
		{"-c sub/x.c -gsplit-dwarf", nil, want{FamilyGCC: {obj("x.o"), dwo("x.dwo")}, FamilyClang: {obj("x.o")}}},
		{"-c sub/x.c -g -gsplit-dwarf -flto", nil, want{FamilyGCC: {obj("x.o"), dwo("x.dwo")}, FamilyClang: {obj("x.o")}}},
		{"-c sub/x.c -g -gsplit-dwarf -g0", nil, want{FamilyGCC: {obj("x.o"), dwo("x.dwo")}, FamilyClang: {obj("x.o")}}},
		{"-c sub/x.c -g1 -gsplit-dwarf -o o/z", nil, both(obj("o/z"), dwo("o/z.dwo"))},
		{"-c sub/.c -g -gsplit-dwarf --coverage -fstack-usage -MD", nil, want{
			FamilyGCC:   {obj(".c.o"), dep(".c.d"), dwo(".c.dwo"), gcno(".c.gcno"), su(".c.su")},
			FamilyClang: {obj(".o"), dep(".d"), dwo(".dwo"), gcno(".gcno"), su(".su")},
		}},
		{"-c sub/x.c -o o/.q -g -gsplit-dwarf --coverage -fstack-usage -MD", nil, want{
			FamilyGCC:   {obj("o/.q"), dep("o/.d"), dwo("o/.q.dwo"), gcno("o/.q.gcno"), su("o/.q.su")},
			FamilyClang: {obj("o/.q"), dep("o/.d"), dwo("o/.dwo"), gcno("o/.gcno"), su("o/.su")},
		}},
		{"-c sub/a.S --coverage -fstack-usage -g -gsplit-dwarf", nil, both(obj("a.o"), dwo("a.dwo"))},
		{"-c sub/x.c -fstack-usage -flto", nil, both(obj("x.o"))},
		{"-c sub/x.c", []string{"DEPENDENCIES_OUTPUT=e.d tgt"}, want{FamilyGCC: {obj("x.o"), {"e.d", KindDepsAppend}}, FamilyClang: {obj("x.o")}}},
		{"-c sub/x.c -MD", []string{"DEPENDENCIES_OUTPUT=e.d"}, both(obj("x.o"), dep("x.d"))},
	}
	for _, tt := range tests {
		for f, w := range tt.want {
			a := Analyze(f, strings.Fields(tt.args), tt.env)
			if a.Local != "" || !reflect.DeepEqual(a.Outputs, w) {
				t.Errorf("%s %s: Outputs = %v (Local %q), want %v", f, tt.args, a.Outputs, a.Local, w)
			}
		}
	}
}

// TestAnalyzeLocal checks the reasons to compile locally.
func TestAnalyzeLocal(t *testing.T) {
	tests := []struct {
		args string
		env  []string
		want string
	}{
		{"x.c -o x", nil, "linking"},
		{"-E x.c", nil, "preprocess only (-E)"},
		{"-c -E x.c", nil, "preprocess only (-E)"},
		{"-S -c x.c", nil, "assembly output (-S)"},
		{"-M x.c", nil, "dependencies only (-M or -MM)"},
		{"-c -MM x.c -o x.d", nil, "dependencies only (-M or -MM)"},
		{"-c -fsyntax-only x.c", nil, "syntax check only (-fsyntax-only)"},
		{"-c x.c y.c", nil, "several sources"},
		{"-c x.c y.o", nil, "several sources"},
		{"-xc -c x.c -x none y.c", nil, "several sources"},
		{"-c", nil, "no source file"},
		{"-c -x c -", nil, "stdin input"},
		{"-c x.c -save-temps", nil, "-save-temps"},
		{"-c x.c -save-temps=obj", nil, "-save-temps"},
		{"-c @args", nil, "unreadable response file"},
		{"-c x.c -o", nil, "-o without a value"},
		{"-c x.c -I", nil, "-I without a value"},
		{"-c x.o", nil, "not a source file"},
		{"-c x.s", nil, "language assembler is not distributed"},
		{"-c x.i", nil, "language cpp-output is not distributed"},
		{"-c x.h", nil, "language c-header is not distributed"},
		{"-c -x c-header x.c", nil, "language c-header is not distributed"},
		{"-c x.c -o a.o -o b.o", nil, "several -o options"},
		{"-c x.c -o -", nil, "object to stdout (-o -)"},
		{"-c x.c -o out/", nil, "-o names a directory"},
		{"-c x.c -o ..", nil, "-o names a directory"},
		{"-c x.c -MD -MF out/", nil, `deps output "out/" names a directory`},
		{"-c x.c -Wp,-MD,", nil, `deps output "" names a directory`},
		{"-c x.c -Wp,-MD,..", nil, `deps output ".." names a directory`},
		{"-c x.c -MF x.d", nil, "-MF, -MT, -MQ or -MP without -MD or -MMD"},
		{"-c x.c -MT t", nil, "-MF, -MT, -MQ or -MP without -MD or -MMD"},
		{"-c x.c -MP", nil, "-MF, -MT, -MQ or -MP without -MD or -MMD"},
		{"-c x.c -MD -MG", nil, "-MG without -M or -MM"},
		{"-c x.c -MD -Wp,-MD,k.d", nil, "-Wp,-MD combined with -MD, -MMD or -MF"},
		{"-c x.c -MD -MF a.d -MFb.d", nil, "several dependency files named"},
		{"-c x.c -Wp,-MD,a.d -Wp,-MMD,b.d", nil, "several dependency files named"},
		{"-c x.c -Wp,-MD,k.d,-DX", nil, "-Wp, dependency option other than -MD,file or -MMD,file"},
		{"-c x.c -Wp,-MF,k.d", nil, "-Wp, dependency option other than -MD,file or -MMD,file"},
		{"-c x.c -MD -o /dev/null", nil, "auxiliary output named after -o /dev/null"},
		{"-c x.c --coverage -o /dev/null", nil, "auxiliary output named after -o /dev/null"},
		{"-c x.c -MD -MF x.o", nil, `deps output "x.o" overwrites another file of the job`},
		{"-c x.c -o x.c", nil, `object output "x.c" overwrites another file of the job`},
		{"-c x.c", []string{"GCC_EXEC_PREFIX=/opt/gcc/"}, "GCC_EXEC_PREFIX is set"},
		{"-c x.c", []string{"LIBRARY_PATH="}, "LIBRARY_PATH is set"},
		{"-c x.c", []string{"DEPENDENCIES_OUTPUT="}, "DEPENDENCIES_OUTPUT has a value a node refuses"},
		{"-c x.c -o a.o", []string{"DEPENDENCIES_OUTPUT=a.o"}, `deps-append output "a.o" overwrites another file of the job`},
	}
	for _, tt := range tests {
		a := Analyze(FamilyGCC, strings.Fields(tt.args), tt.env)
		if a.Local != tt.want {
			t.Errorf("Analyze(%q).Local = %q, want %q", tt.args, a.Local, tt.want)
		}
		if a.Outputs != nil || a.ScanArgs != nil {
			t.Errorf("Analyze(%q) is local but has Outputs %v and ScanArgs %q", tt.args, a.Outputs, a.ScanArgs)
		}
	}
	// -o /dev/null alone is fine: the object is written in place.
	if a := Analyze(FamilyClang, strings.Fields("-c x.c -o /dev/null -MD -MF x.d"), nil); a.Local != "" {
		t.Errorf("-o /dev/null with -MF: Local = %q", a.Local)
	}
}

func TestAnalyzeFields(t *testing.T) {
	args := []string{"-c", "-march=native", "-DX=\"a b\"", "-x", "c++", "src/q.c", "-o", "q.o"}
	a := Analyze(FamilyClang, args, []string{"HOME=/root"})
	want := Analysis{
		Family: FamilyClang, Args: args, Lang: "c++", Source: "src/q.c",
		Outputs:  []Output{{"q.o", KindObject}},
		ScanArgs: []string{"-M", "-march=native", "-DX=\"a b\"", "-x", "c++", "src/q.c"},
		Native:   true,
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("Analyze = %+v\nwant      %+v", a, want)
	}
	if a := Analyze(FamilyGCC, []string{"-mtune=native", "x.c"}, nil); !a.Native || a.Local != "linking" {
		t.Errorf("Native or Local wrong for a local job: %+v", a)
	}
}

func TestScanArgs(t *testing.T) {
	tests := []struct{ args, want string }{
		{"-c x.c -o x.o", "-M x.c"},
		{"-c -ox.o --output=y.o --output y.o x.c", "-M x.c"},
		{"-Wp,-MD,d -Wp,-MMD,d -Wp,-DX -MD -MMD -MF d -MFd -MT t -MTt -MQ q -MQq -MP -MG x.c -c", "-M -Wp,-DX x.c"},
		{"--write-dependencies --write-user-dependencies x.c", "-M x.c"},
		{"-I -o -include h.h -D -MD -c x.c", "-M -I -o -include h.h -D -MD x.c"},
		{"-g -gsplit-dwarf --coverage -fstack-usage -x c x.c", "-M -g -gsplit-dwarf --coverage -fstack-usage -x c x.c"},
	}
	for _, tt := range tests {
		if got := scanArgs(strings.Fields(tt.args)); !slices.Equal(got, strings.Fields(tt.want)) {
			t.Errorf("scanArgs(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestSplitResponse(t *testing.T) {
	tests := []struct {
		in         string
		gcc, clang []string
	}{
		{"a b\tc\nd\r\ne", []string{"a", "b", "c", "d", "e"}, nil},
		{`-DA='x y' -DB="p\"q" -DC=a\ b -DD='a\'b'`, []string{"-DA=x y", `-DB=p"q`, "-DC=a b", "-DD=a'b"}, nil},
		{`-DE="a'b" -DF=a"b c"d -DG=\\x -DI=\q -DJ="a\\b" -DK='a\\b'`, []string{"-DE=a'b", "-DF=ab cd", `-DG=\x`, "-DI=q", `-DJ=a\b`, `-DK=a\b`}, nil},
		{"-DL=a\\\nb -DM=#c", []string{"-DL=a\nb", "-DM=#c"}, nil},
		{`-DS'x'"y"z \'-DT\'`, []string{"-DSxyz", "'-DT'"}, nil},
		{"-DP '' -DQ\n\"\" -DR ''\"\"", []string{"-DP", "", "-DQ", "", "-DR", ""}, []string{"-DP", "-DQ", "-DR"}},
		{"-DU\v-DV\f-DW", []string{"-DU", "-DV", "-DW"}, []string{"-DU\v-DV\f-DW"}},
		{"", nil, nil},
		{"  \n\t ", nil, nil},
		{`trailing\`, []string{"trailing"}, nil},
		{`'unterminated quote`, []string{"unterminated quote"}, nil},
	}
	for _, tt := range tests {
		if tt.clang == nil {
			tt.clang = tt.gcc
		}
		if got := splitResponse(FamilyGCC, tt.in); !slices.Equal(got, tt.gcc) {
			t.Errorf("gcc splitResponse(%q) = %q, want %q", tt.in, got, tt.gcc)
		}
		if got := splitResponse(FamilyClang, tt.in); !slices.Equal(got, tt.clang) {
			t.Errorf("clang splitResponse(%q) = %q, want %q", tt.in, got, tt.clang)
		}
	}
}

func TestExpandResponseFiles(t *testing.T) {
	files := map[string]string{
		"r1":     "-c 'a b.c' @sub/r2",
		"sub/r2": "@r3 -DX", // nested names are relative to the working directory
		"r3":     "-O2",
		"loop":   "@loop",
		"nul":    "-DA\x00",
		"bomb":   strings.Repeat("@bomb ", 100),
	}
	read := func(name string) ([]byte, error) {
		if b, ok := files[name]; ok {
			return []byte(b), nil
		}
		return nil, fs.ErrNotExist
	}
	tests := []struct {
		args    []string
		want    []string
		wantErr bool
	}{
		{[]string{"-Wall", "@r1", "-o", "x.o"}, []string{"-Wall", "-c", "a b.c", "-O2", "-DX", "-o", "x.o"}, false},
		{[]string{"@", "x.c"}, []string{"@", "x.c"}, false},
		{[]string{"@missing", "x.c"}, []string{"@missing", "x.c"}, true},
		{[]string{"@loop"}, []string{"@loop"}, true},
		{[]string{"@nul"}, []string{"@nul"}, true},
	}
	for _, tt := range tests {
		got, err := ExpandResponseFiles(FamilyGCC, tt.args, read)
		if !slices.Equal(got, tt.want) || (err != nil) != tt.wantErr {
			t.Errorf("ExpandResponseFiles(%q) = %q, %v; want %q, error %v", tt.args, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrResponseFile) {
			t.Errorf("ExpandResponseFiles(%q) error %v does not wrap ErrResponseFile", tt.args, err)
		}
		if a := Analyze(FamilyGCC, got, nil); tt.wantErr && a.Local != "unreadable response file" {
			t.Errorf("Analyze after a failed expansion: Local = %q", a.Local)
		}
	}
	// A file naming itself a hundred times stops at the shared limits.
	got, err := ExpandResponseFiles(FamilyClang, []string{"@bomb", "x.c"}, read)
	if !errors.Is(err, ErrResponseFile) || len(got) > maxArgs+maxResponseReads || got[len(got)-1] != "x.c" {
		t.Errorf("self-including response file: %d arguments, %v", len(got), err)
	}
}

// TestResponseFilesRealCompilers checks that the real compilers see the
// same macros through a response file as through ExpandResponseFiles.
func TestResponseFilesRealCompilers(t *testing.T) {
	contents := []string{
		`-DA='x y' -DB="p\"q" -DC=a\ b -DD='a\'b'`,
		"-DE=\"a'b\" -DF=a\"b c\"d -DG=\\\\x\t-DI=\\q -DJ=\"a\\\\b\" -DK='a\\\\b'",
		"-DL=a\\\nb -DM=#c -DN=\"multi\nline\"",
		"-DU\v-DV\f-DW=1 @nested",
		`-DS'x'"y"z -D'F(a,b)=a+b'`,
	}
	for _, f := range []Family{FamilyGCC, FamilyClang} {
		t.Run(f.String(), func(t *testing.T) {
			cc := realCompiler(t, f)
			for i, body := range contents {
				dir := t.TempDir()
				write := func(name, s string) {
					if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				write("rsp", body)
				write("nested", "-DNESTED=1")
				base := []string{"-E", "-dM", "-x", "c", "/dev/null"}
				viaFile := runCompiler(t, cc, dir, append(slices.Clone(base), "@rsp"), nil)
				args, err := ExpandResponseFiles(f, append(slices.Clone(base), "@rsp"), func(name string) ([]byte, error) {
					return os.ReadFile(filepath.Join(dir, name))
				})
				if err != nil {
					t.Fatal(err)
				}
				if direct := runCompiler(t, cc, dir, args, nil); !bytes.Equal(viaFile, direct) {
					t.Errorf("case %d: %s sees other macros through @rsp than through %q", i, cc, args)
				}
			}
		})
	}
}

// TestOutputsInTmpStayLocal: a node's job has a /tmp of its own, so a
// compile that writes a file in /tmp itself is compiled locally; one that
// writes below it (a build in /tmp/build) is not.
func TestOutputsInTmpStayLocal(t *testing.T) {
	for _, tc := range []struct {
		dir, args string
		local     bool
	}{
		{"/tmp", "-c x.c", true},
		{"/tmp/build", "-c x.c -o /tmp/x.o", true},
		{"/tmp/build", "-c x.c -o ../x.o", true},
		{"/tmp/build", "-c x.c -o x.o -MD -MF /tmp/x.d", true},
		{"/tmp/build", "-c x.c", false},
		{"/src", "-c x.c -o /tmp/out/x.o", false},
		{"/src", "-c x.c -o /tmpx.o", false},
	} {
		_, why := NewHello(FamilyGCC, &wrap.Job{Compiler: "/usr/bin/gcc", Name: "gcc", Dir: tc.dir, Args: strings.Fields(tc.args)}, nil)
		if got := strings.HasPrefix(why, "output in /tmp itself"); got != tc.local {
			t.Errorf("in %s, gcc %s: local reason %q; want local: %v", tc.dir, tc.args, why, tc.local)
		}
	}
}
