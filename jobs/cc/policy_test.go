package cc

import (
	"errors"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// example parses a test example: arguments separated by spaces (two
// apostrophes stand for an empty argument), with an optional "gcc:" or
// "clang:" prefix naming the one family it is checked with (both
// otherwise).
func example(s string) (fams []Family, args []string) {
	fams = []Family{FamilyGCC, FamilyClang}
	if rest, ok := strings.CutPrefix(s, "gcc:"); ok {
		fams, s = fams[:1], rest
	} else if rest, ok := strings.CutPrefix(s, "clang:"); ok {
		fams, s = fams[1:], rest
	}
	args = strings.Fields(s)
	for i, a := range args {
		if a == "''" {
			args[i] = ""
		}
	}
	return fams, args
}

// check runs CheckArgs and reports the entry that decided: the one that
// refused, or the one that accepted the first argument.
func check(f Family, args []string) (*rule, error) {
	var first, last *rule
	err := checkArgs(f, args, func(i int, r *rule) {
		if i == 0 {
			first = r
		}
		last = r
	})
	if err != nil {
		if last != nil && !last.deny {
			last = nil // refused for a bad value or off the list, not by an entry
		}
		return last, err
	}
	return first, nil
}

// policyTests holds, for every entry of the policy, a key (an example the
// entry decides), allowed examples and refused ones. For an allow entry the
// allowed examples must be decided by it and the refused ones are near
// misses; for a deny entry the refused examples must be refused by it and
// the allowed ones are near misses.
var policyTests = []struct {
	key     string
	ok, bad []string
}{
	{"''", []string{"x.c"}, []string{"-c ''"}},
	{"@args", []string{"a@b.c"}, []string{"-c @x", "-DX @y"}},
	{"-", []string{"-c"}, []string{"-x c -"}},
	{"-wrapper gdb,--args", []string{"-w"}, []string{"-wrapper /bin/sh,-c"}},
	{"-fplugin=./x.so", []string{"-fpic"}, []string{"-fplugin-arg-x-key=v", "-fplugin"}},
	{"-fpass-plugin=./p.so", []string{"-fpack-struct"}, []string{"-fpass-plugin"}},
	{"-B/tmp/evil", []string{"-DB"}, []string{"-B /tmp", "--prefix=/tmp", "--prefix /tmp"}},
	{"-specs=x.specs", []string{"-static"}, []string{"--specs=x", "--specs x"}},
	{"-Xclang -load", []string{"-x c"}, []string{"-Xclang -fno-pch-timestamp"}},
	{"-mllvm -load=x.so", []string{"-mlong-double-64"}, []string{"-mllvm -x", "-mllvm=x"}},
	{"-Wl,-plugin,x.so", []string{"-Wall"}, []string{"-Xlinker --version", "-Wl,-z,relro", "-Wl"}},
	{"-Xassembler -a=/tmp/x", []string{"-xassembler-with-cpp"}, []string{"-Xpreprocessor -MD"}},
	{"-Xarch_host -v", []string{"-xc++"}, []string{"-Xanalyzer x", "-Xopenmp-target=x -v"}},
	{"--config x.cfg", []string{"-fconstexpr-depth=10"}, []string{"--config=x.cfg", "--config-system-dir=/tmp"}},
	{"-save-temps", []string{"-shared"}, []string{"-save-temps=obj", "--save-temps"}},
	{"-dumpdir /tmp/", []string{"-DUMP"}, []string{"-dumpbase x", "-dumpbase-ext .c", "--dumpdir=/tmp"}},
	{"-dA", []string{"-D_GNU_SOURCE"}, []string{"-dumpversion", "-dM", "-dependency-file x.d"}},
	{"-fdump-tree-all", []string{"-fdollars-in-identifiers"}, []string{"-fdump-rtl-expand=/tmp/x", "-fdump-ada-spec"}},
	{"-aux-info /tmp/x", []string{"-ansi"}, []string{"-aux-info=x"}},
	{"-time=/tmp/t", []string{"-ftime-report"}, []string{"-time"}},
	{"-v", []string{"-w"}, []string{"-###", "-print-prog-name=cc1", "--print-file-name=x", "--version", "--help=warnings", "--verbose", "--target-help"}},
	{"-fcompare-debug", []string{"-fcommon"}, []string{"-fcompare-debug-second", "-fcompare-debug=-O2"}},
	{"-fopt-info-vec=/tmp/x", []string{"-fopt-info-vec-missed"}, []string{"-fopt-info=x"}},
	{"-ftime-trace", []string{"-ftime-report"}, []string{"-ftime-trace=x.json", "-ftime-trace-granularity=1"}},
	{"-MJ x.json", []string{"-MD"}, []string{"-MJx.json"}},
	{"-fmodules", []string{"-fmodulo-sched"}, []string{"-fmodules0", "-fmodules-cache-path=/tmp", "-fmodule-file=x.pcm", "-fimplicit-module-maps", "-fmodules-ts", "-fmodule-mapper=|cmd", "-fcxx-modules", "-fprebuilt-module-path=."}},
	{"-fcrash-diagnostics-dir=/tmp", []string{"-fcf-protection"}, []string{"-freport-bug", "-fcrash-diagnostics=all"}},
	{"-ivfsoverlay x.yaml", []string{"-iquote x"}, []string{"-ivfsoverlay", "-ivfsoverlay=x"}},
	{"-resource-dir /tmp", []string{"-rdynamic"}, []string{"-resource-dir=/tmp"}},
	{"--gcc-toolchain=/opt", []string{"-gdwarf-4"}, []string{"-gcc-toolchain /opt", "--gcc-install-dir=/x", "--gcc-triple=x"}},
	{"-fno-integrated-as", []string{"clang:-fintegrated-as"}, []string{"-no-integrated-as", "-fno-integrated-assembler"}},
	{"-working-directory /tmp", []string{"-w"}, []string{"-working-directory=/tmp"}},
	{"clang:-fms-extensions", []string{"gcc:-fms-extensions", "-fno-ms-extensions"}, []string{"clang:-fms-compatibility", "clang:-fms-compatibility-version=19"}},
	{"-fsanitize-ignorelist=x.txt", []string{"-fsanitize=address"}, []string{"-fsanitize-blacklist=x", "-fsanitize-system-ignorelist=x", "-fsanitize-coverage-allowlist=x"}},
	{"-fsave-optimization-record", []string{"-fsanitize-recover=all"}, []string{"-foptimization-record-file=/tmp/x", "-fsave-optimization-record=yaml"}},
	{"-fcallgraph-info", []string{"-fcaller-saves"}, []string{"-fcallgraph-info=su,da"}},
	{"-fproc-stat-report=x", []string{"-fprofile-arcs"}, []string{"-fvtv-counts", "-fproc-stat-report"}},
	{"-fdiagnostics-format=sarif-file", []string{"-fdiagnostics-format=json"}, []string{"-fdiagnostics-add-output=sarif", "-fdiagnostics-set-output=x"}},
	{"-fthinlto-index=x.bc", []string{"-flto=thin"}, []string{"-fbasic-block-sections=list=x", "-fxray-attr-list=x", "-fapinotes", "-fbuild-session-file=x", "-frewrite-map-file=x", "-fembed-offload-object=x"}},
	{"-fsycl", []string{"-fsigned-char"}, []string{"-foffload=nvptx-none", "-fopenmp-targets=nvptx64"}},
	{"-E", []string{"-c"}, []string{"-S", "-M", "-MM", "-fsyntax-only", "--preprocess", "--assemble"}},
	{"-include-pch x.pch", []string{"-include x.h"}, []string{"-serialize-diagnostics x.dia"}},
	{"-objcmt-migrate-all", []string{"-o obj.o"}, []string{"-object-file-name=x", "-obj.o"}},
	{"x.c", []string{"src/x.c", "/abs/x.c", "a@b.c"}, []string{"@x.c", "-x.c"}},
	{"-c", []string{"--compile"}, []string{"-cc"}},
	{"-o out/x.o", []string{"-oout/x.o", "-o /dev/null"}, []string{"-o -", "-o @x", "-o", "-o a@b.o", "-o-"}},
	{"--output x.o", []string{"--output=x.o"}, []string{"--output=@x", "--output=-"}},
	{"-x c", []string{"-xc++", "-x assembler-with-cpp", "-x none", "-xobjective-c++"}, []string{"-x c-header", "-xassembler", "-x"}},
	{"-MD", []string{"-MMD", "--write-dependencies", "--write-user-dependencies"}, []string{"-MDx"}},
	{"-MF x.d", []string{"-MFx.d"}, []string{"-MF -x", "-MF@x"}},
	{"-MT x.o", []string{"-MTx.o"}, []string{"-MT -o"}},
	{"-MQ x.o", []string{"-MQ$x"}, []string{"-MQ @x"}},
	{"-MP", []string{"-MG"}, []string{"-MPx"}},
	{"-Wp,-MD,dir/.x.o.d", []string{"-Wp,-MMD,x.d"}, []string{"-Wp,-MD,x.d,-DX", "-Wp,-MD,-x", "-Wp,-MD,@x"}},
	{"-Wp,-D_FORTIFY_SOURCE=2", []string{"-Wp,-UX", "-Wp,-DA,-DB=1,-UC"}, []string{"-Wp,-DX,-MD,x", "-Wp,-D@x"}},
	{"-Wp,-MF,x", []string{"-Wp,-DX"}, []string{"-Wp,-include,x", "-Wp"}},
	{"-Wa,--noexecstack", []string{"-Wa,-mrelax-relocations=no,--gdwarf-5", "-Wa,-mtune=generic32", "-Wa,--compress-debug-sections=zlib", "-Wa,--defsym,MYSYM=yes", "-Wa,--defsym,N=-1"}, []string{"-Wa,-adhln=/tmp/x", "-Wa,--defsym,X=/etc/passwd", "-Wa,--defsym,X"}},
	{"-Wa,-a=x.lst", []string{"-Wa,--64"}, []string{"-Wa,--MD,x", "-Wa,--noexecstack,-o,/tmp/x", "-Wa,", "-Wa"}},
	{"-gsplit-dwarf", []string{"-gno-split-dwarf"}, []string{"gcc:-gsplit-dwarf=single"}},
	{"clang:-gsplit-dwarf=single", []string{"clang:-gsplit-dwarf=split"}, []string{"clang:-gsplit-dwarf=both", "gcc:-gsplit-dwarf=split"}},
	{"--coverage", []string{"-coverage", "-ftest-coverage", "-fno-test-coverage"}, []string{"--coverage=x"}},
	{"-fstack-usage", nil, []string{"-fstack-usage=x"}},
	{"-I inc", []string{"-Iinc", "-I/usr/include", "-I=sysinc"}, []string{"-I-", "-I @x", "-I@x", "-I a@b"}},
	{"-isystem /x", []string{"-isystem/x"}, []string{"-isystem-after x", "-isystem @x"}},
	{"-iquote x", []string{"-iquotex"}, []string{"-iquote -x"}},
	{"-idirafter x", []string{"-idirafterx"}, []string{"-idirafter@x"}},
	{"-include x.h", []string{"-include./include/linux/kconfig.h"}, []string{"-include -x", "-include@x"}},
	{"-imacros x.h", []string{"-imacrosx.h"}, []string{"-imacros @x"}},
	{"-isysroot /sdk", []string{"-isysroot/sdk"}, []string{"-isysroot -x"}},
	{"--sysroot /sys", []string{"--sysroot=/sys"}, []string{"--sysroot=@x", "--sysroot=-x"}},
	{"-iprefix /p/", nil, []string{"-iprefix/p/", "-iprefix @x"}},
	{"-iwithprefix inc", nil, []string{"-iwithprefixinc"}},
	{"-iwithprefixbefore inc", nil, []string{"-iwithprefixbefore -x"}},
	{"-ffile-prefix-map=/build/x=.", []string{"-fdebug-prefix-map=/a=/b", "-fmacro-prefix-map=./=", "-fprofile-prefix-map=/a=b", "-fcoverage-prefix-map=a=b"}, []string{"-ffile-prefix-map=@x=y"}},
	{"-fprofile-arcs", []string{"-fprofile-update=atomic", "-fprofile-generate", "-fprofile-instr-generate", "-fno-profile-values", "-fprofile-abs-path"}, []string{"-fprofile-update=x"}},
	{"-fprofile-use=/tmp/x", []string{"-fprofile-arcs"}, []string{"-fprofile-use", "-fprofile-dir=/tmp", "-fprofile-generate=/tmp/x", "-fauto-profile=x", "-fbranch-probabilities", "-fprofile-instr-use=x", "-fprofile-sample-use=x", "-fcs-profile-generate", "-fprofile-note=x", "-fprofile-instr-generate=x"}},
	{"-fdebug-compilation-dir=/src", []string{"-fcoverage-compilation-dir=."}, []string{"-fdebug-compilation-dir=@x"}},
	{"-nostdinc", []string{"-nostdinc++", "-nostdlibinc", "-nobuiltininc"}, []string{"-nostdincx"}},
	{"-DNDEBUG", []string{"-D NDEBUG", "-DX=1", `-DKBUILD_MODNAME="x"`, "-DF(a,b)=a+b", "-DEMAIL=a@b"}, []string{"-D-x", "-D @x", "-D1X", "-D"}},
	{"-UNDEBUG", []string{"-U X"}, []string{"-UX=1", "-U -x"}},
	{"-std=gnu11", []string{"--std=c++17", "-std=c++2b"}, []string{"-std=/x"}},
	{"-ansi", []string{"-pedantic", "-pedantic-errors", "--pedantic", "-trigraphs", "-traditional-cpp", "-undef"}, []string{"-ansix"}},
	{"-Wall", []string{"-W", "-Wlogical-op", "-Wpedantic", "-Warray-bounds", "-Werror", "-Werror=format-security", "-Wno-error=foo", "-Wformat=2", "-Wframe-larger-than=2048", "-Wbidi-chars=unpaired,ucn"}, []string{"-W@x", "-Wx=/tmp"}},
	{"-w", nil, []string{"-wx"}},
	{"-H", []string{"-P", "-C", "-CC"}, []string{"-HP"}},
	{"-Qunused-arguments", []string{"-Qn", "-Qy"}, []string{"-Q"}},
	{"-O2", []string{"-O", "-O0", "-Os", "-Ofast", "-Og", "-Oz"}, []string{"-O4", "-Ox"}},
	{"-g", []string{"-g3", "-ggdb", "-gdwarf-5", "-gz=zlib", "-gno-column-info", "-gbtf"}, []string{"-gdwarf-6", "-gsplit", "-gen-cdb-fragment-path x"}},
	{"-frandom-seed=x.o", nil, []string{"-frandom-seed=@x"}},
	{"-finput-charset=UTF-8", []string{"-fexec-charset=ISO-8859-1", "-fwide-exec-charset=UTF-32LE"}, []string{"-finput-charset=/tmp/x"}},
	{"-finstrument-functions-exclude-file-list=include/,lib", []string{"-finstrument-functions-exclude-function-list=main"}, []string{"-finstrument-functions-exclude-file-list=@x"}},
	{"-fdiagnostics-color=always", []string{"-fno-diagnostics-show-caret", "-fdiagnostics-format=json", "-fdiagnostics-urls=never"}, []string{"-fdiagnostics-color=/tmp"}},
	{"-fvisibility=hidden", []string{"-fsanitize=address,undefined", "-flto=auto", "-fcf-protection=full", "-fpatchable-function-entry=16,14", "-fasan-shadow-offset=0xdffffc0000000000", "-fno-sanitize-recover=all"}, []string{"-fvisibility=/x", "-fuse-ld=lld", "-flto=@x"}},
	{"-fPIC", []string{"-fno-omit-frame-pointer", "-fstack-protector-strong", "-fno-strict-aliasing", "-fopenmp", "-fcolor-diagnostics"}, []string{"-f", "-f=x"}},
	{"-march=native", []string{"-m64", "-mno-red-zone", "-mcmodel=kernel", "-mcpu=cortex-a53+crc", "-mmemcpy-strategy=unrolled_loop:8:noalign,libcall:-1:noalign"}, []string{"-mthread-model posix", "-march=/x", "-m"}},
	{"--param ssp-buffer-size=4", []string{"--param=asan-globals=1"}, []string{"--param x", "--param=a=/b"}},
	{"clang:-target x86_64-linux-gnu", []string{"clang:--target=aarch64-linux-gnu"}, []string{"gcc:-target x86_64-linux-gnu", "clang:-target -x"}},
	{"clang:-stdlib=libc++", []string{"clang:--stdlib=libstdc++"}, []string{"gcc:-stdlib=libc++", "clang:-stdlib=x"}},
	{"clang:-integrated-as", []string{"clang:-fintegrated-as"}, []string{"gcc:-integrated-as"}},
	{"-pipe", []string{"-pthread", "-no-canonical-prefixes"}, []string{"-pipes"}},
	{"-pg", []string{"-p"}, []string{"-pgx"}},
	{"-shared", []string{"-static", "-rdynamic", "-no-pie", "-pie", "-nostdlib", "-s"}, []string{"-sharedx"}},
	{"-static-libgcc", []string{"-static-libstdc++", "-static-libasan", "-shared-libgcc", "-nolibc", "-nostdlib++"}, []string{"-static-libfoo", "-static-libgcc=x"}},
}

// TestPolicyEntries checks every entry with its examples, and that every
// entry of the table has a test: a new entry without one fails here.
func TestPolicyEntries(t *testing.T) {
	tested := map[*rule]bool{}
	for _, tt := range policyTests {
		fams, args := example(tt.key)
		r, err := check(fams[0], args)
		if r == nil {
			t.Errorf("key %q is decided by no entry (%v)", tt.key, err)
			continue
		}
		if tested[r] {
			t.Errorf("key %q: entry %q is already tested by another key", tt.key, r.name)
		}
		tested[r] = true
		if r.deny != (err != nil) {
			t.Errorf("key %q: entry %q (deny %v) returned %v", tt.key, r.name, r.deny, err)
		}
		examples := map[bool][]string{true: tt.ok, false: tt.bad}
		examples[!r.deny] = append(examples[!r.deny], tt.key)
		if len(examples[true]) == 0 || len(examples[false]) == 0 {
			t.Errorf("entry %q needs an allowed and a refused example", r.name)
		}
		for wantOK, exs := range examples {
			for _, ex := range exs {
				fams, args := example(ex)
				for _, f := range fams {
					got, err := check(f, args)
					switch {
					case wantOK && err != nil:
						t.Errorf("%s %q: %v; want it allowed (entry %q)", f, ex, err, r.name)
					case !wantOK && err == nil:
						t.Errorf("%s %q allowed by %q; want it refused (entry %q)", f, ex, got.name, r.name)
					case !errors.Is(err, ErrRefused) && err != nil:
						t.Errorf("%s %q: %v does not wrap ErrRefused", f, ex, err)
					case wantOK == !r.deny && got != r:
						t.Errorf("%s %q decided by %q, want entry %q", f, ex, ruleName(got), r.name)
					}
				}
			}
		}
	}
	table := policy()
	for i := range table {
		if !tested[&table[i]] {
			t.Errorf("policy entry %q has no test in policyTests", table[i].name)
		}
	}
}

func ruleName(r *rule) string {
	if r == nil {
		return "<none>"
	}
	return r.name
}

func TestPolicyTable(t *testing.T) {
	names := map[string]bool{}
	for _, r := range policy() {
		if names[r.name] {
			t.Errorf("two entries are named %q", r.name)
		}
		names[r.name] = true
		if r.reason == "" {
			t.Errorf("entry %q has no reason", r.name)
		}
		if (r.re == nil) == (r.val == nil) {
			t.Errorf("entry %q must be a pattern or an option with a value", r.name)
		}
		if r.sep != "" && !separateValue[r.sep] {
			t.Errorf("entry %q takes a separate value but is missing from separateValue", r.name)
		}
		if r.val != nil && r.deny {
			t.Errorf("entry %q: option entries only allow", r.name)
		}
		if r.val != nil && r.val.MatchString("-x") {
			t.Errorf("entry %q: a value starting with - would be read as an option", r.name)
		}
	}
}

func TestCheckArgsErrors(t *testing.T) {
	tests := []struct {
		f    Family
		args string
		want string
	}{
		{FamilyGCC, "-c x.c -fplugin=x.so", `argument "-fplugin=x.so" refused: loads code into the compiler`},
		{FamilyGCC, "-c -o x.o @rsp", `argument "@rsp" refused: reads more arguments from a file (response file)`},
		{FamilyGCC, "-c x.c -o @x", `argument "-o @x" refused: -o takes a file name not starting with - and without @`},
		{FamilyGCC, "-c x.c -I@inc", `argument "-I@inc" refused: -I takes a file name not starting with - and without @`},
		{FamilyGCC, "-c x.c -frobnicate=1", `argument "-frobnicate=1" refused: not on the allowlist`},
		{FamilyGCC, "-c x.c -mthread-model posix", `argument "-mthread-model" refused: takes a value and is not on the allowlist`},
		{FamilyGCC, "-c x.c -I", `argument "-I" refused: needs a value`},
		{FamilyGCC, "-c x.c -wrapper x", `argument "-wrapper" refused: runs a program of the sender's choosing around every subprocess`},
		{FamilyGCC, "-c x.c -target x86_64-linux-gnu", `argument "-target" refused: takes a value and is not on the allowlist`},
		{FamilyClang, "-c x.c -DA\x00B", `argument "-DA\x00B" refused: contains a NUL byte`},
		{FamilyGCC, "-D" + strings.Repeat("A", maxArgLen), `argument "-D` + strings.Repeat("A", 198) + `..." refused: longer than the kernel passes to a program`},
		{FamilyGCC, strings.Repeat("x.c ", maxArgs+1), `command line "65537 arguments" refused: too many arguments`},
	}
	for _, tt := range tests {
		err := CheckArgs(tt.f, strings.Fields(tt.args))
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrRefused) {
			t.Errorf("CheckArgs(%q) = %v, want %q wrapping ErrRefused", tt.args, err, tt.want)
		}
		var re *RefusedError
		if !errors.As(err, &re) || strings.Contains(re.Error(), "\n") {
			t.Errorf("CheckArgs(%q) = %v, want a one-line *RefusedError", tt.args, err)
		}
	}
}

// realLines are compile lines real builds use; each must pass the policy
// and be distributable.
var realLines = []struct {
	name string
	f    Family
	args []string
}{
	{"Debian dpkg-buildflags", FamilyGCC, strings.Fields("-g -O2 -ffile-prefix-map=/build/pkg-1.0=. -fstack-protector-strong -fstack-clash-protection -Wformat -Werror=format-security -fcf-protection -Wdate-time -D_FORTIFY_SOURCE=2 -c -o src/x.o src/x.c")},
	{"Debian with clang", FamilyClang, strings.Fields("-g -O2 -ffile-prefix-map=/build/pkg-1.0=. -fstack-protector-strong -Wformat -Werror=format-security -fcf-protection -Wdate-time -D_FORTIFY_SOURCE=2 -c -o src/x.o src/x.c")},
	{"automake", FamilyGCC, strings.Fields("-DHAVE_CONFIG_H -I. -I.. -Wdate-time -D_FORTIFY_SOURCE=2 -g -O2 -MT lib/a.lo -MD -MP -MF lib/.deps/a.Tpo -c lib/a.c -fPIC -DPIC -o lib/.libs/a.o")},
	{"CMake", FamilyGCC, strings.Fields("-DFOO_EXPORTS -I/src/include -isystem /src/third_party -O3 -DNDEBUG -std=gnu++17 -fPIC -fvisibility=hidden -MD -MT CMakeFiles/foo.dir/a.cpp.o -MF CMakeFiles/foo.dir/a.cpp.o.d -o CMakeFiles/foo.dir/a.cpp.o -c /src/a.cpp")},
	{"Meson", FamilyClang, strings.Fields("-Ilibfoo.so.p -I. -I.. -fdiagnostics-color=always -D_FILE_OFFSET_BITS=64 -Wall -Winvalid-pch -Wextra -std=c11 -O2 -g -fPIC -pthread -MD -MQ libfoo.so.p/a.c.o -MF libfoo.so.p/a.c.o.d -o libfoo.so.p/a.c.o -c ../a.c")},
	{"Bazel", FamilyGCC, []string{"-U_FORTIFY_SOURCE", "-fstack-protector", "-Wall", "-Wunused-but-set-parameter", "-Wno-free-nonheap-object", "-fno-omit-frame-pointer", "-g0", "-O2", "-D_FORTIFY_SOURCE=1", "-DNDEBUG", "-ffunction-sections", "-fdata-sections", "-std=c++14", "-MD", "-MF", "bazel-out/k8-opt/bin/_objs/x/a.d", "-frandom-seed=bazel-out/k8-opt/bin/_objs/x/a.o", "-fPIC", "-iquote", ".", "-iquote", "bazel-out/k8-opt/bin", "-isystem", "external/zlib", "-fno-canonical-system-headers", "-Wno-builtin-macro-redefined", `-D__DATE__="redacted"`, `-D__TIMESTAMP__="redacted"`, `-D__TIME__="redacted"`, "-c", "a.cc", "-o", "bazel-out/k8-opt/bin/_objs/x/a.o"}},
	{"Alpine abuild C", FamilyGCC, strings.Fields("-Os -fstack-clash-protection -Wformat -Werror=format-security -c x.c -o x.o")},
	{"Alpine abuild C++", FamilyGCC, strings.Fields("-Os -fstack-clash-protection -Wformat -Werror=format-security -D_GLIBCXX_ASSERTIONS=1 -D_LIBCPP_ENABLE_THREAD_SAFETY_ANNOTATIONS=1 -D_LIBCPP_ENABLE_HARDENED_MODE=1 -c x.cpp -o x.o")},
	{"Fedora", FamilyGCC, strings.Fields("-O2 -flto=auto -ffat-lto-objects -fexceptions -g -grecord-gcc-switches -pipe -Wall -Werror=format-security -Wp,-U_FORTIFY_SOURCE,-D_FORTIFY_SOURCE=3 -Wp,-D_GLIBCXX_ASSERTIONS -fstack-protector-strong -m64 -march=x86-64 -mtune=generic -fasynchronous-unwind-tables -fstack-clash-protection -fcf-protection -mtls-dialect=gnu2 -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -c x.c -o x.o")},
	{"Linux kernel x86_64", FamilyGCC, append(strings.Fields(`-Wp,-MMD,drivers/staging/r8188eu/os_dep/.ioctl_linux.o.d -nostdinc -isystem /usr/lib64/gcc/x86_64-suse-linux/11/include
		-I./arch/x86/include -I./arch/x86/include/generated -I./include -I./arch/x86/include/uapi -I./arch/x86/include/generated/uapi
		-I./include/uapi -I./include/generated/uapi -include ./include/linux/compiler-version.h -include ./include/linux/kconfig.h
		-include ./include/linux/compiler_types.h -D__KERNEL__ -fmacro-prefix-map=./= -DKBUILD_EXTRA_WARN1 -Wall -Wundef
		-Werror=strict-prototypes -Wno-trigraphs -fno-strict-aliasing -fno-common -fshort-wchar -fno-PIE -Werror=implicit-function-declaration
		-Werror=implicit-int -Werror=return-type -Wno-format-security -std=gnu89 -mno-sse -mno-mmx -mno-sse2 -mno-3dnow -mno-avx
		-fcf-protection=none -m64 -falign-jumps=1 -falign-loops=1 -mno-80387 -mno-fp-ret-in-387 -mpreferred-stack-boundary=3 -mskip-rax-setup
		-mtune=generic -mno-red-zone -mcmodel=kernel -Wno-sign-compare -fno-asynchronous-unwind-tables -mindirect-branch=thunk-extern
		-mindirect-branch-register -fno-jump-tables -fno-delete-null-pointer-checks -Wno-frame-address -Wno-format-truncation
		-Wno-format-overflow -Wno-address-of-packed-member -O2 -fno-allow-store-data-races -Wframe-larger-than=2048 -fstack-protector-strong
		-Werror -Wimplicit-fallthrough=5 -Wno-main -Wno-unused-but-set-variable -Wno-unused-const-variable -fno-stack-clash-protection
		-g -gdwarf-4 -pg -mrecord-mcount -mfentry -DCC_USING_FENTRY -Wdeclaration-after-statement -Wvla -Wno-pointer-sign
		-Wno-stringop-truncation -Wno-zero-length-bounds -Wno-array-bounds -Wno-stringop-overflow -Wno-restrict -Wno-maybe-uninitialized
		-fno-strict-overflow -fno-stack-check -fconserve-stack -Werror=date-time -Werror=incompatible-pointer-types -Werror=designated-init
		-Wno-packed-not-aligned -fzero-call-used-regs=used-gpr -ftrivial-auto-var-init=zero -fstrict-flex-arrays=3 -fpatchable-function-entry=16,16
		-mfunction-return=thunk-extern -mharden-sls=all -fno-builtin-wcslen --param=allow-store-data-races=0 -DMODULE`),
		`-DKBUILD_BASENAME="ioctl_linux"`, `-DKBUILD_MODNAME="r8188eu"`, "-D__KBUILD_MODNAME=kmod_r8188eu",
		"-c", "-o", "drivers/staging/r8188eu/os_dep/ioctl_linux.o", "drivers/staging/r8188eu/os_dep/ioctl_linux.c")},
	{"Linux kernel i386", FamilyGCC, strings.Fields(`-Wp,-MMD,drivers/media/pci/cx18/.cx18.mod.o.d -nostdinc -I./arch/x86/include -I./include
		-include ./include/linux/kconfig.h -D__KERNEL__ -fmacro-prefix-map=./= -std=gnu11 -m32 -msoft-float -mregparm=3 -freg-struct-return
		-fno-pic -mpreferred-stack-boundary=2 -march=i686 -mtune=pentium3 -mtune=generic -Wa,-mtune=generic32 -ffreestanding
		-mstack-protector-guard-reg=fs -mstack-protector-guard-symbol=__stack_chk_guard -O2 -pg -mrecord-mcount -mfentry -DMODULE
		-c -o drivers/media/pci/cx18/cx18.mod.o drivers/media/pci/cx18/cx18.mod.c`)},
	{"Linux kernel assembler", FamilyGCC, strings.Fields(`-Wp,-MMD,arch/x86/entry/.entry_64.o.d -nostdinc -I./arch/x86/include -I./include
		-include ./include/linux/kconfig.h -D__KERNEL__ -fmacro-prefix-map=./= -D__ASSEMBLY__ -fno-PIE -m64 -g -gdwarf-5 -Wa,--gdwarf-5
		-DCC_USING_FENTRY -c -o arch/x86/entry/entry_64.o arch/x86/entry/entry_64.S`)},
	{"Linux kernel clang arm64", FamilyClang, strings.Fields(`-Wp,-MMD,drivers/gpu/arm/.x.o.d -nostdinc -isystem /usr/lib/llvm-14/lib/clang/14.0.6/include
		-I./arch/arm64/include -I./include -include ./include/linux/kconfig.h -include ./include/linux/compiler_types.h -D__KERNEL__
		-mlittle-endian -DKASAN_SHADOW_SCALE_SHIFT= -Qunused-arguments -fmacro-prefix-map=./= -Wall -Wundef -Werror=strict-prototypes
		-fno-strict-aliasing -fno-common -fshort-wchar -fno-PIE -std=gnu89 --target=aarch64-linux-gnu -integrated-as
		-Werror=unknown-warning-option -mgeneral-regs-only -Wno-psabi -fno-asynchronous-unwind-tables -fno-unwind-tables
		-mbranch-protection=none -Wa,-march=armv8.5-a -O2 -c -o drivers/gpu/arm/x.o drivers/gpu/arm/x.c`)},
	{"ccache-style clang", FamilyClang, strings.Fields("-Qunused-arguments -fcolor-diagnostics -O2 -g -gsplit-dwarf -c a.c -o out/a.o")},
}

func TestRealCommandLines(t *testing.T) {
	for _, l := range realLines {
		if err := CheckArgs(l.f, l.args); err != nil {
			t.Errorf("%s: %v", l.name, err)
		}
		if a := Analyze(l.f, l.args, nil); a.Local != "" {
			t.Errorf("%s: Analyze says local: %s", l.name, a.Local)
		}
	}
}

// TestDpkgBuildflags checks this machine's Debian build flags, when
// dpkg-buildflags is installed.
func TestDpkgBuildflags(t *testing.T) {
	if _, err := exec.LookPath("dpkg-buildflags"); err != nil {
		t.Skip("dpkg-buildflags is not installed; the fixed Debian line of TestRealCommandLines covers its defaults")
	}
	var args []string
	for _, v := range []string{"CPPFLAGS", "CFLAGS", "CXXFLAGS"} {
		out, err := exec.Command("dpkg-buildflags", "--get", v).Output()
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, strings.Fields(string(out))...)
	}
	args = append(args, "-c", "x.c", "-o", "x.o")
	for _, f := range []Family{FamilyGCC, FamilyClang} {
		if err := CheckArgs(f, args); err != nil {
			t.Errorf("%s %q: %v", f, args, err)
		}
	}
}

// driverHelp returns the option list f's real driver prints: gcc
// --help=... lists every option with its argument forms, clang
// --help-hidden every driver option.
func driverHelp(t *testing.T, f Family) string {
	t.Helper()
	cc := realCompiler(t, f)
	args := []string{"--help-hidden"}
	if f == FamilyGCC {
		args = []string{"--help=common", "--help=c", "--help=c++", "--help=objc", "--help=target", "--help=optimizers",
			"--help=warnings", "--help=undocumented", "--help=joined", "--help=separate"}
	}
	out, err := exec.Command(cc, args...).Output()
	if err != nil {
		t.Fatalf("%s %q: %v", cc, args, err)
	}
	return string(out)
}

// TestSeparateValueComplete checks separateValue against the options the
// real drivers document as taking their value in the next argument, so
// that a value is never mistaken for an option or an input.
func TestSeparateValueComplete(t *testing.T) {
	// The driver reads these as plain flags; only cc1 gives them a value.
	flags := map[string]bool{"-MD": true, "-MMD": true, "--write-dependencies": true, "--write-user-dependencies": true}
	for _, f := range []Family{FamilyGCC, FamilyClang} {
		cc := realCompiler(t, f)
		var out []byte
		var err error
		if f == FamilyGCC {
			out, err = exec.Command(cc, "--help=separate").Output()
		} else {
			out, err = exec.Command(cc, "--help-hidden").Output()
		}
		if err != nil {
			t.Fatalf("%s: %v", cc, err)
		}
		// gcc: "  -o <file>   ...", "  -D<macro>[=<val>] ...", "  --output ..."
		// clang: "  -o <file>   ...", "  -mllvm <value> ..."
		re := regexp.MustCompile(`(?m)^  (-[-A-Za-z0-9_+=]+)(?:<[^>]*>\S*)?( <[^>]*>)?`)
		n := 0
		for _, m := range re.FindAllStringSubmatch(string(out), -1) {
			name := m[1]
			if f == FamilyClang && m[2] == "" {
				continue // clang lists every option; only "-opt <arg>" is separate
			}
			if strings.HasSuffix(name, "=") || flags[name] {
				continue
			}
			n++
			if !separateValue[name] {
				t.Errorf("%s documents %s as taking a separate value; add it to separateValue", cc, name)
			}
		}
		if n < 30 {
			t.Errorf("found only %d separate options in %s's help; has its format changed?", n, cc)
		}
	}
}

// TestJoinedPrefixes: where the policy reads "-Xvalue" as option -X with a
// joined value, no other driver option may start with -X, or the driver
// would read the argument as that option instead (clang's -objcmt-* start
// with -o). Every such option must be refused.
func TestJoinedPrefixes(t *testing.T) {
	for _, f := range []Family{FamilyGCC, FamilyClang} {
		help := driverHelp(t, f)
		names := regexp.MustCompile(`(?m)^  (-[^\s<\[]+)`).FindAllStringSubmatch(help, -1)
		if len(names) < 200 {
			t.Fatalf("found only %d options in %s's help; has its format changed?", len(names), f)
		}
		for _, r := range policy() {
			if r.join == "" || !r.applies(f) {
				continue
			}
			for _, m := range names {
				name := strings.TrimSuffix(m[1], "=")
				if !strings.HasPrefix(name, r.join) || name == strings.TrimSuffix(r.join, "=") {
					continue
				}
				for _, arg := range []string{name, name + "x", name + "=x"} {
					if err := CheckArgs(f, []string{arg}); err == nil {
						t.Errorf("%s: the policy reads %q as %s with a value, but the driver has the option %s", f, arg, r.name, name)
					}
				}
			}
		}
	}
}

// TestSeparateValuesRealCompilers checks, for every option the policy
// allows with its value in the next argument, that the real driver does
// take that argument as the value: were it read as an input, the compile
// would fail or write another object.
func TestSeparateValuesRealCompilers(t *testing.T) {
	values := map[string][]string{
		"-o": {"out/z.o"}, "--output": {"out/z.o"}, "-x": {"c"}, "-D": {"V"}, "-U": {"V"},
		"-MF": {"out/dep.d", "-MD"}, "-MT": {"t", "-MD"}, "-MQ": {"q", "-MD"},
		"-include": {"sub/v.c"}, "-imacros": {"sub/v.c"}, "--param": {"max-inline-insns-single=10"},
		"-target": {"x86_64-linux-gnu"},
	}
	for _, f := range []Family{FamilyGCC, FamilyClang} {
		t.Run(f.String(), func(t *testing.T) {
			cc := realCompiler(t, f)
			for _, r := range policy() {
				if r.sep == "" || !r.applies(f) {
					continue
				}
				v, ok := values[r.sep]
				if !ok {
					v = []string{"sub/d.c"} // a directory named like a source file
				}
				args := append([]string{"-c", "sub/x.c", r.sep}, v...)
				t.Run(r.sep, func(t *testing.T) {
					t.Parallel()
					if err := CheckArgs(f, args); err != nil {
						t.Fatal(err)
					}
					dir := writeTree(t)
					a := Analyze(f, args, nil)
					before := snapshot(t, dir)
					runCompiler(t, cc, dir, args, nil)
					if got, want := written(t, dir, before), outputNames(t, dir, a); !slices.Equal(got, want) {
						t.Errorf("%s %q wrote %q; Analyze says %q", cc, args, got, want)
					}
				})
			}
		})
	}
}

func FuzzCheckArgs(f *testing.F) {
	for _, c := range outputCases {
		args := c.argv
		if args == nil {
			args = strings.Fields(c.args)
		}
		f.Add(false, strings.Join(args, "\x00"))
		f.Add(true, strings.Join(args, "\x00"))
	}
	for _, l := range realLines {
		f.Add(l.f == FamilyClang, strings.Join(l.args, "\x00"))
	}
	for _, tt := range policyTests {
		for _, ex := range append(append([]string{tt.key}, tt.ok...), tt.bad...) {
			fams, args := example(ex)
			f.Add(fams[len(fams)-1] == FamilyClang, strings.Join(append([]string{"-c", "x.c", "-o", "x.o"}, args...), "\x00"))
		}
	}
	f.Fuzz(func(t *testing.T, clang bool, joined string) {
		fam := FamilyGCC
		if clang {
			fam = FamilyClang
		}
		args := strings.Split(joined, "\x00")
		if CheckArgs(fam, args) != nil {
			return
		}
		a := Analyze(fam, args, nil)
		if a.Local != "" {
			return
		}
		if err := oracle(args, a.Outputs); err != "" {
			t.Fatalf("%s %q accepted and distributable, but %s (outputs %v)", fam, args, err, a.Outputs)
		}
	})
}

// Written independently of the policy: option prefixes that run or load
// code, or write files Analyze never lists, must never pass.
var (
	codeLoading = []string{"-wrapper", "-fplugin", "-fpass-plugin", "-B", "-specs", "--specs", "-Xclang", "-mllvm",
		"--config", "-Wl,", "-Xlinker", "-Xassembler", "-Xpreprocessor", "--prefix", "-fno-integrated-as", "-no-integrated-as"}
	hiddenWriters = []string{"-save-temps", "--save-temps", "-aux-info", "-dumpdir", "-dumpbase", "-fdump-", "-time",
		"-MJ", "-ftime-trace", "-fprofile-use", "-fprofile-dir", "-fprofile-generate=", "-fprofile-instr-generate=",
		"-fauto-profile", "-fcallgraph-info", "-fsave-optimization-record", "-foptimization-record-file",
		"-fcrash-diagnostics", "-fmodules", "-serialize-diagnostics", "-fcompare-debug", "-ivfsoverlay", "-resource-dir",
		"--gcc-toolchain", "-working-directory"}
)

// oracle returns what is wrong with accepted, distributable args: a code
// loading or hidden writing option, an @file, or a file named by a writing
// option (-o, --output, -MF, -Wp,-MD, -Wa listings) that is not an output.
func oracle(args []string, outputs []Output) string {
	outs := map[string]bool{}
	for _, o := range outputs {
		outs[o.Path] = true
	}
	var named []string // paths writing options name
	for i, arg := range args {
		if strings.HasPrefix(arg, "@") {
			return "argument " + arg + " reads a response file"
		}
		for _, p := range append(slices.Clone(codeLoading), hiddenWriters...) {
			if strings.HasPrefix(arg, p) {
				return "argument " + arg + " has the dangerous prefix " + p
			}
		}
		next := func() string {
			if i+1 < len(args) {
				return args[i+1]
			}
			return "<missing>"
		}
		switch {
		case arg == "-o" || arg == "--output" || arg == "-MF":
			named = append(named, next())
		case strings.HasPrefix(arg, "--output="):
			named = append(named, arg[len("--output="):])
		case strings.HasPrefix(arg, "-MF"):
			named = append(named, arg[len("-MF"):])
		case strings.HasPrefix(arg, "-o") && !strings.HasPrefix(arg, "-obj"):
			named = append(named, arg[len("-o"):])
		case strings.HasPrefix(arg, "-Wp,"), strings.HasPrefix(arg, "-Wa,"):
			parts := strings.Split(arg, ",")
			for j, p := range parts[1:] {
				switch {
				case (p == "-MD" || p == "-MMD" || p == "--MD") && j+2 < len(parts):
					named = append(named, parts[j+2])
				case p == "-o" || strings.HasPrefix(p, "-a") || strings.HasPrefix(p, "-M"):
					return "argument " + arg + " passes a writing option " + p
				}
			}
		}
	}
	for _, p := range named {
		if !outs[p] {
			return "a writing option names " + p + ", which is not an output"
		}
	}
	return ""
}

// TestOracle makes sure the fuzz oracle itself catches what it should.
func TestOracle(t *testing.T) {
	outs := []Output{{"x.o", KindObject}, {"x.d", KindDeps}}
	bad := [][]string{
		{"@f"}, {"-fplugin=x"}, {"-B/x"}, {"-Wl,-z"}, {"-save-temps"}, {"-o", "y.o"}, {"-oy.o"}, {"--output=y.o"},
		{"-MF", "y.d"}, {"-MFy.d"}, {"-Wp,-MD,y.d"}, {"-Wa,-adhln=l"}, {"-Wa,--MD,y.d"}, {"-o"},
	}
	for _, args := range bad {
		if oracle(args, outs) == "" {
			t.Errorf("oracle(%q) found nothing wrong", args)
		}
	}
	if msg := oracle([]string{"-c", "x.c", "-o", "x.o", "-MD", "-MFx.d", "-Wp,-MMD,x.d", "-Wa,--noexecstack"}, outs); msg != "" {
		t.Errorf("oracle on a good line: %s", msg)
	}
}

// TestRememberedRules checks that findRule's remembered answers are per
// family and the same as the table's: the second look-up of an argument
// decides as the first did.
func TestRememberedRules(t *testing.T) {
	verdict := func(err error) string {
		if err == nil {
			return "allowed"
		}
		return err.Error()
	}
	for _, arg := range []string{"-stdlib=libc++", "-gsplit-dwarf=single", "-O2", "-fplugin=x.so", "-Wl,-z,now", "-no-such-option"} {
		for _, f := range []Family{FamilyGCC, FamilyClang, FamilyGCC} {
			first := verdict(CheckArgs(f, []string{arg}))
			again := verdict(CheckArgs(f, []string{arg}))
			if first != again {
				t.Errorf("%s %s: first %q, then %q", f, arg, first, again)
			}
		}
	}
	if CheckArgs(FamilyClang, []string{"-stdlib=libc++"}) != nil {
		t.Error("clang: -stdlib=libc++ refused")
	}
	if CheckArgs(FamilyGCC, []string{"-stdlib=libc++"}) == nil {
		t.Error("gcc: -stdlib=libc++ admitted after clang's answer was remembered")
	}
}
