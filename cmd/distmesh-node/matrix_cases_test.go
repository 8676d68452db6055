package main

// The compile matrix: compiler invocations drawn from what distcc's
// (test/testdistcc.py), icecream's (tests/test.sh) and ccache's
// (test/suites/*.bash) own test suites exercise, and from what real builds
// pass (Debian's dpkg-buildflags, Kbuild, CMake with Ninja, Autotools with
// libtool, Meson). The runner compiles each case twice in the same directory
// at the same absolute path, once with the plain compiler and once through
// distmesh, and requires every output file, stdout, stderr and the exit
// status to be byte-identical.
//
// Every case was compiled locally with gcc 12 and clang 14 (Debian bookworm)
// twice in one copy of its fixture and once more in a fresh copy, with
// identical results each time, and its Outputs list is exactly the set of new
// files it wrote. What the runner must keep stable for that to hold:
//   - both compiles of a case see the same copy of the fixture (or a copy with
//     preserved mtimes): __TIMESTAMP__ is the source's mtime;
//   - the copy keeps symlinks as symlinks and keeps dot-directories (.deps,
//     .libs) and the empty output directories' .keep files;
//   - PWD is set to the logical working directory ($ROOT/Dir, symlinks not
//     resolved), as a shell sets it: DW_AT_comp_dir follows PWD, which is
//     what the symlinked-cwd cases check. (os/exec adds PWD only when
//     Cmd.Env is nil.)
// No case needs gcc-multilib: the -m16/-m32 sources include no libc header.

// matrixCase is one compile the matrix runs locally and through the mesh.
type matrixCase struct {
	Name     string   // unique, no spaces
	Fixture  string   // a directory under testdata/matrix/ copied (with symlinks preserved) into the test's work dir before the case
	Dir      string   // working directory relative to the copied fixture root ("" = root)
	Compiler string   // "gcc", "g++", "clang" or "clang++" (looked up in PATH)
	Args     []string // arguments after the compiler; may refer to $ROOT, replaced by the absolute path of the copied fixture root
	Env      []string // extra environment, "NAME=value"; may use $ROOT
	Outputs  []string // every file the compile is expected to write, relative to the fixture root (the runner compares these byte for byte and also fails if the compile writes any other new file)
	Remote   bool     // true: a distributable compile that must run on the node (the runner uses DISTMESH_FALLBACK=0); false: distmesh must run it locally (linking, -E, -S, several sources...) and the result must still be identical
	Fails    bool     // true when the compile is expected to exit non-zero (an error case: stderr and exit status still compared; with Remote true the node's failure is redone locally, which is fine)
}

// matrixDebianFlags are Debian bookworm's dpkg-buildflags CFLAGS and CPPFLAGS
// (with the build directory at $ROOT), as every Debian package build passes
// them.
var matrixDebianFlags = []string{
	"-g", "-O2", "-ffile-prefix-map=$ROOT=.", "-fstack-protector-strong",
	"-Wformat", "-Werror=format-security", "-fcf-protection",
	"-Wdate-time", "-D_FORTIFY_SOURCE=2",
}

// matrixFlags returns flags followed by args, in a new slice.
func matrixFlags(flags []string, args ...string) []string {
	return append(append([]string(nil), flags...), args...)
}

var matrixCases = []matrixCase{
	// ccache test/suites/base.bash: the base case, -g, every spelling of -o,
	// output to another directory, sources without or with odd extensions,
	// -x handling, -Wp,-D, -frecord-gcc-switches, response files.
	{Name: "ccache-base-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "ccache-base-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "ccache-debug-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c", "-g"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "ccache-debug-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "hello.c", "-g"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "ccache-output-space-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c", "-o", "foo.o"}, Outputs: []string{"foo.o"}, Remote: true},
	{Name: "ccache-output-joined-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "hello.c", "-ofoo.o"}, Outputs: []string{"foo.o"}, Remote: true},
	{Name: "ccache-output-joined-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c", "-optf"}, Outputs: []string{"ptf"}, Remote: true},
	{Name: "output-long-equals-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c", "--output=long.o"}, Outputs: []string{"long.o"}, Remote: true},
	{Name: "output-long-space-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "hello.c", "--output", "long.o"}, Outputs: []string{"long.o"}, Remote: true},
	{Name: "ccache-x-c-noext-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-x", "c", "-c", "noext"}, Outputs: []string{"noext.o"}, Remote: true},
	{Name: "ccache-xc-joined-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-xc", "-c", "test1.ccc"}, Outputs: []string{"test1.o"}, Remote: true},
	{Name: "ccache-x-none-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-x", "assembler", "-x", "none", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: false},
	{Name: "ccache-double-extension-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "foo.c.c"}, Outputs: []string{"foo.c.o"}, Remote: true},
	{Name: "ccache-wp-define-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "-Wp,-DFOO=7", "defines.c"}, Outputs: []string{"defines.o"}, Remote: true},
	{Name: "ccache-record-switches-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-frecord-gcc-switches", "-Wall", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "ccache-record-switches-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-frecord-gcc-switches", "-Wall", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "ccache-dashdash-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "--", "hello.c"}, Outputs: []string{"hello.o"}, Remote: false},
	{Name: "ccache-response-file-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"@args.rsp", "-c", "defines.c"}, Outputs: []string{"defines.o"}, Remote: true},
	{Name: "ccache-response-file-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "defines.c", "@args.rsp", "-o", "out/defines.o"}, Outputs: []string{"out/defines.o"}, Remote: true},

	// ccache test/suites/direct.bash: where the dependency file goes for each
	// combination of -MD/-MMD, -MF, -MT, -MQ, -Wp,-MD and -o.
	{Name: "ccache-md-other-dir-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-MD", "-Iinclude", "-c", "src/deep.c", "-o", "out/deep.o"}, Outputs: []string{"out/deep.o", "out/deep.d"}, Remote: true},
	{Name: "ccache-md-other-dir-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-MD", "-Iinclude", "-c", "src/deep.c", "-o", "out/deep.o"}, Outputs: []string{"out/deep.o", "out/deep.d"}, Remote: true},
	{Name: "ccache-mmd-no-extension-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-MMD", "-Iinclude", "-c", "src/deep.c", "-o", "out/deep"}, Outputs: []string{"out/deep", "out/deep.d"}, Remote: true},
	{Name: "ccache-mmd-two-dots-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-MMD", "-Iinclude", "-c", "src/deep.c", "-o", "out/deep.foo.bar"}, Outputs: []string{"out/deep.foo.bar", "out/deep.foo.d"}, Remote: true},
	{Name: "ccache-mmd-two-dots-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-MMD", "-Iinclude", "-c", "src/deep.c", "-o", "out/deep.foo.bar"}, Outputs: []string{"out/deep.foo.bar", "out/deep.foo.d"}, Remote: true},
	{Name: "ccache-mmd-source-in-subdir-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-MMD", "-Iinclude", "-c", "src/deep.c"}, Outputs: []string{"deep.o", "deep.d"}, Remote: true},
	{Name: "ccache-mf-twice-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c", "-MMD", "-MF", "a.d", "-MF", "mf.d"}, Outputs: []string{"hello.o", "mf.d"}, Remote: false},
	{Name: "ccache-mf-joined-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "hello.c", "-MFmf.d", "-MMD", "-o", "obj.o"}, Outputs: []string{"obj.o", "mf.d"}, Remote: true},
	{Name: "ccache-mmd-and-wp-mmd-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c", "-MMD", "-Wp,-MMD,wp.d"}, Outputs: []string{"hello.o", "wp.d"}, Remote: false},
	{Name: "ccache-mt-wp-mmd-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "hello.c", "-MT", "foo.o", "-Wp,-MMD,wp.d"}, Outputs: []string{"hello.o", "wp.d"}, Remote: true},
	{Name: "ccache-mq-wp-mmd-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c", "-MQ", "$(objpfx)hello.o", "-Wp,-MMD,wp.d", "-o", "obj.o"}, Outputs: []string{"obj.o", "wp.d"}, Remote: true},
	{Name: "ccache-wp-several-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "-Wp,-MMD,source.d,-MT,source.o", "hello.c"}, Outputs: []string{"hello.o", "source.d"}, Remote: false},
	{Name: "ccache-wp-md-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "-Wp,-MD,other.d", "util.c", "-Iinclude", "-Ilinkinc"}, Outputs: []string{"util.o", "other.d"}, Remote: true},

	// ccache test/suites/split_dwarf.bash, profiling*.bash,
	// debug_prefix_map.bash, debug_compilation_dir.bash,
	// source_date_epoch.bash, input_charset.bash, basedir.bash, and base.bash's
	// DEPENDENCIES_OUTPUT / SUNPRO_DEPENDENCIES checks.
	{Name: "ccache-split-dwarf-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-gsplit-dwarf", "-g", "-Iinclude", "-c", "src/deep.c", "-o", "out/deep.o"}, Outputs: []string{"out/deep.o", "out/deep.dwo"}, Remote: true},
	{Name: "ccache-split-dwarf-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-g", "-gsplit-dwarf", "-c", "hello.c", "-o", "out/hello.o"}, Outputs: []string{"out/hello.o", "out/hello.dwo"}, Remote: true},
	// Without -g, clang 14 writes no .dwo (GCC's -gsplit-dwarf implies -g).
	{Name: "split-dwarf-without-g-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-gsplit-dwarf", "-c", "hello.c", "-o", "out/hello.o"}, Outputs: []string{"out/hello.o"}, Remote: true},
	{Name: "ccache-split-dwarf-no-o-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-gsplit-dwarf", "-c", "hello.c"}, Outputs: []string{"hello.o", "hello.dwo"}, Remote: true},
	// GCC stamps each .gcno with a random number unless -frandom-seed is given.
	{Name: "ccache-coverage-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"--coverage", "-frandom-seed=out/hello.o", "-c", "hello.c", "-o", "out/hello.o"}, Outputs: []string{"out/hello.o", "out/hello.gcno"}, Remote: true},
	{Name: "ccache-test-coverage-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-ftest-coverage", "-frandom-seed=hello.o", "-g", "-c", "hello.c"}, Outputs: []string{"hello.o", "hello.gcno"}, Remote: true},
	{Name: "ccache-coverage-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"--coverage", "-c", "hello.c", "-o", "out/hello.o"}, Outputs: []string{"out/hello.o", "out/hello.gcno"}, Remote: true},
	{Name: "ccache-debug-prefix-map-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-g", "-fdebug-prefix-map=$ROOT=.", "-I$ROOT/include", "-c", "$ROOT/src/deep.c", "-o", "out/deep.o"}, Outputs: []string{"out/deep.o"}, Remote: true},
	{Name: "ccache-debug-prefix-map-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-g", "-fdebug-prefix-map=$ROOT=/src", "-I$ROOT/include", "-c", "$ROOT/src/deep.c", "-o", "out/deep.o"}, Outputs: []string{"out/deep.o"}, Remote: true},
	{Name: "ccache-debug-compilation-dir-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-g", "-fdebug-compilation-dir=.", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	// clang 14 ignores SOURCE_DATE_EPOCH, so only GCC gets __DATE__/__TIME__.
	// LANGUAGE picks the messages' language before LANG: the assembler's
	// warning is in Spanish (binutils-common has the catalogue).
	{Name: "language-env-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "asmwarn.c"}, Env: []string{"LANG=C.UTF-8", "LANGUAGE=es"}, Outputs: []string{"asmwarn.o"}, Remote: true},
	// GCC finds its assembler through PATH: another one first in PATH
	// keeps the job local; another PATH to the same one does not.
	{Name: "path-other-assembler-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c"}, Env: []string{"PATH=$ROOT/fakeas:/usr/bin:/bin"}, Outputs: []string{"hello.o"}},
	{Name: "path-same-assembler-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c"}, Env: []string{"PATH=/bin:/usr/local/bin:/usr/bin"}, Outputs: []string{"hello.o"}, Remote: true},
	// clang's CCC_OVERRIDE_OPTIONS edits the command line: a node without
	// it would compile without -O2.
	{Name: "ccc-override-options-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "hello.c"}, Env: []string{"CCC_OVERRIDE_OPTIONS=+-O2"}, Outputs: []string{"hello.o"}},
	{Name: "ccache-source-date-epoch-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "times.c"}, Env: []string{"SOURCE_DATE_EPOCH=1700000000"}, Outputs: []string{"times.o"}, Remote: true},
	// __TIMESTAMP__ is the source's mtime: the runner must not touch the copy between the two compiles.
	{Name: "timestamp-mtime-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "stamp.c"}, Outputs: []string{"stamp.o"}, Remote: true},
	{Name: "timestamp-mtime-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "stamp.c", "-g"}, Outputs: []string{"stamp.o"}, Remote: true},
	// ... in local time: the client's time zone (TZ, or /etc/localtime) must travel with the job.
	{Name: "timestamp-tz-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "stamp.c"}, Env: []string{"TZ=Pacific/Auckland"}, Outputs: []string{"stamp.o"}, Remote: true},
	{Name: "timestamp-tz-posix-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "stamp.c"}, Env: []string{"TZ=ABC-5:30"}, Outputs: []string{"stamp.o"}, Remote: true},
	{Name: "ccache-input-charset-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-finput-charset=latin1", "-c", "latin1.c"}, Outputs: []string{"latin1.o"}, Remote: true},
	{Name: "ccache-basedir-absolute-clang", Fixture: "c-basic", Dir: "src", Compiler: "clang", Args: []string{"-g", "-I$ROOT/include", "-c", "$ROOT/src/deep.c", "-o", "$ROOT/out/deep.o"}, Outputs: []string{"out/deep.o"}, Remote: true},
	{Name: "ccache-dependencies-output-env-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-Iinclude", "-Ilinkinc", "-c", "util.c"}, Env: []string{"DEPENDENCIES_OUTPUT=deps.d"}, Outputs: []string{"util.o", "deps.d"}, Remote: true},
	{Name: "ccache-sunpro-dependencies-env-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "hello.c", "-o", "out/hello.o"}, Env: []string{"SUNPRO_DEPENDENCIES=out/sunpro.d custom-target"}, Outputs: []string{"out/hello.o", "out/sunpro.d"}, Remote: true},
	// clang 14 does not read DEPENDENCIES_OUTPUT: no dependency file may appear.
	{Name: "dependencies-output-env-ignored-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "hello.c"}, Env: []string{"DEPENDENCIES_OUTPUT=deps.d"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "cpath-env-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "envpath.c"}, Env: []string{"CPATH=$ROOT/cpathinc"}, Outputs: []string{"envpath.o"}, Remote: true},
	{Name: "c-include-path-env-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "envpath.c"}, Env: []string{"C_INCLUDE_PATH=$ROOT/cpathinc"}, Outputs: []string{"envpath.o"}, Remote: true},

	// distcc test/testdistcc.py: CompileHello, ImpliedOutput, DashD,
	// EmptyDefine, Unicode, SystemIncludeDirectories, Gdb (-g, -O1..-O3, in a
	// src/ subdirectory with -o obj/), GdbPrefixMap, AbsSourceFilename,
	// ScanIncludes and ForceDirectory (a symlinked header, dir/../header),
	// WriteDevNull, EmptySource, DashMD_DashMF_DashMT, DashWpMD, PreprocessAsm.
	{Name: "distcc-hello-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-o", "testtmp.o", "-I.", "-c", "src/testtmp.c"}, Outputs: []string{"testtmp.o"}, Remote: true},
	{Name: "distcc-implied-output-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-I.", "-c", "src/testtmp.c"}, Outputs: []string{"testtmp.o"}, Remote: true},
	{Name: "distcc-dash-d-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{`-DMESSAGE="hello DashD"`, "-c", "defines.c"}, Outputs: []string{"defines.o"}, Remote: true},
	{Name: "distcc-dash-d-quoting-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{`-DMESSAGE="hello DashD"`, `-DQUOTED="a \"quoted\" string, with 'spaces' and \\ a backslash"`, "-DTWICE(x)=((x) * 2)", "-DEMPTY_DEF=", `-DHEADER="computed.h"`, "-DUNDEFINED_LATER", "-UUNDEFINED_LATER", "-c", "defines.c"}, Outputs: []string{"defines.o"}, Remote: true},
	{Name: "distcc-dash-d-quoting-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-D", `MESSAGE="two words"`, `-DQUOTED="semi;colon $dollar` + "`tick`" + `"`, "-DTWICE(x)=((x)+(x))", `-DHEADER=<computed.h>`, "-I.", "-g", "-c", "defines.c", "-o", "out/defines.o"}, Outputs: []string{"out/defines.o"}, Remote: true},
	{Name: "distcc-empty-define-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "emptydefine.c"}, Outputs: []string{"emptydefine.o"}, Remote: true},
	{Name: "distcc-unicode-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-g", "-c", "unicode.c"}, Outputs: []string{"unicode.o"}, Remote: true},
	{Name: "distcc-unicode-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-g", "-c", "unicode.c"}, Outputs: []string{"unicode.o"}, Remote: true},
	{Name: "distcc-system-include-dir-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-I/usr/include", "-c", "systypes.c"}, Outputs: []string{"systypes.o"}, Remote: true},
	{Name: "distcc-gdb-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-g", "-o", "obj/testtmp.o", "-I.", "-c", "src/testtmp.c"}, Outputs: []string{"obj/testtmp.o"}, Remote: true},
	{Name: "distcc-gdb-o1-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-g", "-O1", "-o", "obj/testtmp.o", "-I.", "-c", "src/testtmp.c"}, Outputs: []string{"obj/testtmp.o"}, Remote: true},
	{Name: "distcc-gdb-o2-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-g", "-O2", "-o", "obj/testtmp.o", "-I.", "-c", "src/testtmp.c"}, Outputs: []string{"obj/testtmp.o"}, Remote: true},
	{Name: "distcc-gdb-o3-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-g", "-O3", "-o", "obj/testtmp.o", "-I.", "-c", "src/testtmp.c"}, Outputs: []string{"obj/testtmp.o"}, Remote: true},
	{Name: "distcc-gdb-prefix-map-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-g", "-fdebug-prefix-map=$ROOT=.", "-gno-record-gcc-switches", "-o", "obj/testtmp.o", "-I.", "-c", "src/testtmp.c"}, Outputs: []string{"obj/testtmp.o"}, Remote: true},
	{Name: "distcc-absolute-source-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "-o", "testtmp.o", "-I$ROOT", "$ROOT/src/testtmp.c"}, Outputs: []string{"testtmp.o"}, Remote: true},
	{Name: "distcc-scan-includes-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-Iinclude", "-Ilinkinc", "-c", "util.c"}, Outputs: []string{"util.o"}, Remote: true},
	{Name: "distcc-scan-includes-debug-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-g", "-Iinclude", "-Ilinkinc", "-c", "util.c"}, Outputs: []string{"util.o"}, Remote: true},
	{Name: "distcc-scan-includes-debug-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-g3", "-Ilinkinc", "-Iinclude", "-MD", "-c", "util.c"}, Outputs: []string{"util.o", "util.d"}, Remote: true},
	{Name: "distcc-write-dev-null-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "-o", "/dev/null", "-c", "hello.c"}, Remote: false},
	{Name: "distcc-write-dev-null-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "hello.c", "-o", "/dev/null"}, Remote: false},
	{Name: "distcc-empty-source-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "empty.c"}, Outputs: []string{"empty.o"}, Remote: true},
	{Name: "distcc-md-mf-mt-joined-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-MD", "-MFdotd_filename", "-MTtarget_name_42", "-c", "hello.c", "-o", "hello.o"}, Outputs: []string{"hello.o", "dotd_filename"}, Remote: true},
	{Name: "distcc-md-mf-mt-joined-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-MD", "-MFdotd_filename", "-MTtarget_name_42", "-c", "hello.c", "-o", "hello.o"}, Outputs: []string{"hello.o", "dotd_filename"}, Remote: true},
	{Name: "distcc-wp-md-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-Wp,-MD,depsfile", "-c", "hello.c"}, Outputs: []string{"hello.o", "depsfile"}, Remote: true},
	{Name: "distcc-preprocess-asm-gcc", Fixture: "asm", Compiler: "gcc", Args: []string{"-Iinclude", "-o", "entry.o", "-c", "entry.S"}, Outputs: []string{"entry.o"}, Remote: true},
	{Name: "distcc-preprocess-asm-clang", Fixture: "asm", Compiler: "clang", Args: []string{"-Iinclude", "-o", "entry.o", "-c", "entry.S"}, Outputs: []string{"entry.o"}, Remote: true},

	// icecream tests/test.sh: plain C and C++ with -Wall -Werror, -O2, a
	// source without extension under -x c++, -D with and without a space,
	// -march/-mtune=native, assembler options, warnings raised inside macros,
	// -Wunused-macros, __COUNTER__, raw string literals, -target, split DWARF
	// with an absurd relative -o, -g/-g0 on an absolute source path, caret
	// diagnostics on and off, sanitizers, -include with -Winvalid-pch.
	{Name: "icecc-plain-cxx-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-Wall", "-Werror", "-Iinclude", "-c", "templates.cpp", "-o", "build/templates.o"}, Outputs: []string{"build/templates.o"}, Remote: true},
	{Name: "icecc-plain-c-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-Wall", "-Werror", "-c", "clean.c", "-o", "clean.o"}, Outputs: []string{"clean.o"}, Remote: true},
	{Name: "icecc-plain-o2-clangxx", Fixture: "cpp", Compiler: "clang++", Args: []string{"-Wall", "-Werror", "-Iinclude", "-c", "templates.cpp", "-O2", "-o", "build/templates.o"}, Outputs: []string{"build/templates.o"}, Remote: true},
	{Name: "icecc-includes-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-Wall", "-Werror", "-c", "hello.cpp", "-o", "build/hello.o"}, Outputs: []string{"build/hello.o"}, Remote: true},
	{Name: "icecc-x-cxx-no-extension-gcc", Fixture: "cpp", Compiler: "gcc", Args: []string{"-Wall", "-Werror", "-x", "c++", "-c", "plain", "-o", "build/plain.o"}, Outputs: []string{"build/plain.o"}, Remote: true},
	{Name: "icecc-define-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-Wall", "-Werror", "-DICECREAM_TEST_DEFINE=test", "-c", "defines.c", "-o", "defines.o"}, Outputs: []string{"defines.o"}, Remote: true},
	{Name: "icecc-define-separate-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-Wall", "-Werror", "-D", "ICECREAM_TEST_DEFINE=test", "-c", "defines.c", "-o", "defines.o"}, Outputs: []string{"defines.o"}, Remote: true},
	// -march=native stays as written; the loopback node's compiler expands it identically.
	{Name: "icecc-march-native-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-Wall", "-Werror", "-c", "hello.c", "-march=native", "-g", "-o", "hello.o"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "icecc-mtune-native-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-Wall", "-Werror", "-c", "hello.c", "-mtune=native", "-o", "hello.o"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "icecc-asm-defsym-gcc", Fixture: "asm", Compiler: "gcc", Args: []string{"-Wa,--defsym,MYSYM=yes", "-Wall", "-Werror", "-c", "defsym.c", "-o", "defsym.o"}, Outputs: []string{"defsym.o"}, Remote: true},
	{Name: "icecc-asm-noexecstack-clang", Fixture: "asm", Compiler: "clang", Args: []string{"-Wa,--noexecstack", "-c", "defsym.c", "-o", "defsym.o"}, Outputs: []string{"defsym.o"}, Remote: true},
	{Name: "icecc-warning-in-macro-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-Wall", "-Wextra", "-c", "macro_warn.cpp", "-o", "build/macro_warn.o"}, Outputs: []string{"build/macro_warn.o"}, Remote: true},
	{Name: "icecc-warning-in-macro-clangxx", Fixture: "cpp", Compiler: "clang++", Args: []string{"-Wall", "-Wextra", "-c", "macro_warn.cpp", "-o", "build/macro_warn.o"}, Outputs: []string{"build/macro_warn.o"}, Remote: true},
	{Name: "icecc-unused-macro-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-Wall", "-Wunused-macros", "-c", "unusedmacro.c", "-o", "unusedmacro.o"}, Outputs: []string{"unusedmacro.o"}, Remote: true},
	{Name: "icecc-counter-macro-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-Wall", "-Werror", "-c", "counter.c", "-o", "counter.o"}, Outputs: []string{"counter.o"}, Remote: true},
	{Name: "icecc-raw-literals-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-std=c++11", "-Wall", "-Werror", "-c", "raw.cpp", "-o", "build/raw.o"}, Outputs: []string{"build/raw.o"}, Remote: true},
	{Name: "icecc-target-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-Wall", "-Werror", "-target", "x86_64-linux-gnu", "-c", "hello.c", "-o", "hello.o"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "icecc-target-equals-clangxx", Fixture: "cpp", Compiler: "clang++", Args: []string{"-Wall", "-Werror", "--target=x86_64-pc-linux-gnu", "-c", "upper.C", "-o", "build/upper.o"}, Outputs: []string{"build/upper.o"}, Remote: true},
	{Name: "icecc-split-dwarf-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-Wall", "-Werror", "-gsplit-dwarf", "-g", "-Iinclude", "-c", "templates.cpp", "-o", "build/templates.o"}, Outputs: []string{"build/templates.o", "build/templates.dwo"}, Remote: true},
	{Name: "icecc-split-dwarf-odd-path-gcc", Fixture: "c-basic", Dir: "sub/deeper", Compiler: "gcc", Args: []string{"-Wall", "-Werror", "-gsplit-dwarf", "-c", "nested.c", "-o", "../../../../../../../..$ROOT/out/nested.o"}, Outputs: []string{"out/nested.o", "out/nested.dwo"}, Remote: true},
	{Name: "icecc-split-dwarf-g0-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "hello.c", "-gsplit-dwarf", "-g0"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "icecc-debug-absolute-source-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "-g", "$ROOT/debug/debug2.c"}, Outputs: []string{"debug2.o"}, Remote: true},
	{Name: "icecc-debug-g0-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "-g0", "debug/debug2.c"}, Outputs: []string{"debug2.o"}, Remote: true},
	{Name: "icecc-messages-caret-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-Wall", "-c", "-fdiagnostics-show-caret", "messages.cpp", "-o", "build/messages.o"}, Outputs: []string{"build/messages.o"}, Remote: true},
	{Name: "icecc-messages-no-caret-clangxx", Fixture: "cpp", Compiler: "clang++", Args: []string{"-Wall", "-c", "-fno-caret-diagnostics", "messages.cpp", "-o", "build/messages.o"}, Outputs: []string{"build/messages.o"}, Remote: true},
	{Name: "icecc-sanitize-address-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "-fsanitize=address", "-g", "hello.c", "-o", "hello.o"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "icecc-sanitize-clangxx", Fixture: "cpp", Compiler: "clang++", Args: []string{"-c", "-fsanitize=address,undefined", "-g", "-Iinclude", "templates.cpp", "-o", "build/templates.o"}, Outputs: []string{"build/templates.o"}, Remote: true},
	// The ignorelist is an input no #include names; clang's own -M lists it.
	{Name: "icecc-sanitize-ignorelist-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "-fsanitize=address", "-fsanitize-ignorelist=asan_ignore.txt", "-g", "hello.c", "-o", "hello.o"}, Outputs: []string{"hello.o"}, Remote: false},
	{Name: "icecc-include-invalid-pch-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-Wall", "-Werror", "-Iinclude", "-c", "templates.cpp", "-include", "include/matrix.hpp", "-Winvalid-pch", "-o", "build/templates.o"}, Outputs: []string{"build/templates.o"}, Remote: true},

	// Debian: dpkg-buildflags' CFLAGS/CXXFLAGS/CPPFLAGS, as in every package
	// build (with -ffile-prefix-map of the build directory), Ubuntu's LTO
	// flags, and -Wdate-time warnings under SOURCE_DATE_EPOCH.
	{Name: "debian-buildflags-gcc", Fixture: "c-basic", Compiler: "gcc", Args: matrixFlags(matrixDebianFlags, "-c", "hello.c", "-o", "hello.o"), Outputs: []string{"hello.o"}, Remote: true},
	{Name: "debian-buildflags-clang", Fixture: "c-basic", Compiler: "clang", Args: matrixFlags(matrixDebianFlags, "-Iinclude", "-Ilinkinc", "-c", "util.c", "-o", "util.o"), Outputs: []string{"util.o"}, Remote: true},
	{Name: "debian-buildflags-gxx", Fixture: "cpp", Compiler: "g++", Args: matrixFlags(matrixDebianFlags, "-Iinclude", "-c", "templates.cpp", "-o", "build/templates.o"), Outputs: []string{"build/templates.o"}, Remote: true},
	{Name: "debian-buildflags-clangxx", Fixture: "cpp", Compiler: "clang++", Args: matrixFlags(matrixDebianFlags, "-c", "hello.cpp", "-o", "build/hello.o"), Outputs: []string{"build/hello.o"}, Remote: true},
	// The same flags that make GCC fail on fmtsec.c pass with clang 14.
	{Name: "debian-format-security-clang", Fixture: "errors", Compiler: "clang", Args: matrixFlags(matrixDebianFlags, "-c", "fmtsec.c", "-o", "fmtsec.o"), Outputs: []string{"fmtsec.o"}, Remote: true},
	{Name: "debian-date-time-warning-gcc", Fixture: "errors", Compiler: "gcc", Args: matrixFlags(matrixDebianFlags, "-c", "datetime.c", "-o", "datetime.o"), Env: []string{"SOURCE_DATE_EPOCH=1700000000"}, Outputs: []string{"datetime.o"}, Remote: true},
	// GCC names LTO sections with a random number unless -frandom-seed is given.
	{Name: "ubuntu-lto-gcc", Fixture: "c-basic", Compiler: "gcc", Args: matrixFlags(matrixDebianFlags, "-flto=auto", "-ffat-lto-objects", "-frandom-seed=hello.o", "-c", "hello.c", "-o", "hello.o"), Outputs: []string{"hello.o"}, Remote: true},
	{Name: "thin-lto-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-flto=thin", "-O2", "-g", "-c", "hello.c", "-o", "hello.o"}, Outputs: []string{"hello.o"}, Remote: true},

	// Linux kernel (Kbuild): -Wp,-MMD into a dot-file, -nostdinc, forced
	// -include of kconfig.h, -D__KERNEL__, KBUILD_* string defines, the
	// x86-64 code model flags; -isystem of GCC's own include directory (older
	// kernels); the real-mode boot code built with -m16/-m32.
	{Name: "kernel-kbuild-gcc", Fixture: "kernelish", Compiler: "gcc", Args: []string{
		"-Wp,-MMD,kernel/.fork.o.d", "-nostdinc", "-I./arch/x86/include", "-I./include",
		"-include", "./include/linux/kconfig.h", "-include", "./include/linux/compiler_types.h",
		"-D__KERNEL__", "-fmacro-prefix-map=./=", "-std=gnu11", "-fshort-wchar", "-funsigned-char",
		"-fno-common", "-fno-PIE", "-fno-strict-aliasing", "-mno-sse", "-mno-mmx", "-mno-sse2",
		"-mno-3dnow", "-mno-avx", "-fcf-protection=none", "-m64", "-falign-jumps=1", "-falign-loops=1",
		"-mno-80387", "-mno-fp-ret-in-387", "-mpreferred-stack-boundary=3", "-mskip-rax-setup",
		"-mtune=generic", "-mno-red-zone", "-mcmodel=kernel", "-Wno-sign-compare",
		"-fno-asynchronous-unwind-tables", "-mindirect-branch=thunk-extern", "-mindirect-branch-register",
		"-mfunction-return=thunk-extern", "-fno-jump-tables", "-fno-delete-null-pointer-checks", "-O2",
		"-fno-allow-store-data-races", "-fstack-protector-strong", "-fno-omit-frame-pointer",
		"-fno-optimize-sibling-calls", "-ftrivial-auto-var-init=zero", "-fno-stack-clash-protection",
		"-pg", "-mrecord-mcount", "-mfentry", "-DCC_USING_FENTRY", "-falign-functions=16",
		"-fno-strict-overflow", "-fstack-check=no", "-fconserve-stack", "-Wall", "-Wundef",
		"-Werror=implicit-function-declaration", "-Werror=implicit-int", "-Werror=return-type",
		"-Werror=strict-prototypes", "-Wno-format-security", "-Wno-trigraphs", "-Wmissing-declarations",
		"-Wmissing-prototypes", "-Wframe-larger-than=2048", "-Wvla", "-Wno-pointer-sign", "-g", "-gdwarf-5",
		`-DKBUILD_MODFILE="kernel/fork"`, `-DKBUILD_BASENAME="fork"`, `-DKBUILD_MODNAME="fork"`,
		"-D__KBUILD_MODNAME=kmod_fork", "-c", "-o", "kernel/fork.o", "kernel/fork.c",
	}, Outputs: []string{"kernel/fork.o", "kernel/.fork.o.d"}, Remote: true},
	{Name: "kernel-kbuild-clang", Fixture: "kernelish", Compiler: "clang", Args: []string{
		"-Wp,-MMD,kernel/.fork.o.d", "-nostdinc", "-I./arch/x86/include", "-I./include",
		"-include", "./include/linux/kconfig.h", "-include", "./include/linux/compiler_types.h",
		"-D__KERNEL__", "-Qunused-arguments", "-fmacro-prefix-map=./=", "-std=gnu11", "-fshort-wchar",
		"-funsigned-char", "-fno-common", "-fno-PIE", "-fno-strict-aliasing", "-mno-sse", "-mno-mmx",
		"-mno-sse2", "-mno-3dnow", "-mno-avx", "-fcf-protection=none", "-m64", "-mno-80387",
		"-mstack-alignment=8", "-mtune=generic", "-mno-red-zone", "-mcmodel=kernel", "-Wno-sign-compare",
		"-fno-asynchronous-unwind-tables", "-mretpoline-external-thunk", "-fno-jump-tables",
		"-fno-delete-null-pointer-checks", "-O2", "-fstack-protector-strong", "-fno-omit-frame-pointer",
		"-fno-optimize-sibling-calls", "-pg", "-mfentry", "-DCC_USING_FENTRY", "-fno-strict-overflow",
		"-fno-stack-check", "-Wall", "-Wundef", "-Werror=implicit-function-declaration",
		"-Werror=implicit-int", "-Werror=return-type", "-Werror=strict-prototypes", "-Wno-format-security",
		"-Wno-trigraphs", "-Wno-frame-address", "-Wno-address-of-packed-member", "-Wmissing-declarations",
		"-Wmissing-prototypes", "-Wframe-larger-than=2048", "-Wno-gnu", "-Wvla", "-Wno-pointer-sign",
		"-g", "-gdwarf-5", `-DKBUILD_MODFILE="kernel/fork"`, `-DKBUILD_BASENAME="fork"`,
		`-DKBUILD_MODNAME="fork"`, "-D__KBUILD_MODNAME=kmod_fork", "-c", "-o", "kernel/fork.o", "kernel/fork.c",
	}, Outputs: []string{"kernel/fork.o", "kernel/.fork.o.d"}, Remote: true},
	// Busybox (its Kbuild, `make V=1`): -Wp,-MD into a dot-file, string
	// defines in shell quoting, -finline-limit=0, and the link-only
	// -static-libgcc that a -c compile ignores.
	{Name: "busybox-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{
		"-Wp,-MD,.hello.o.d", "-std=gnu99", "-I.", "-D_GNU_SOURCE", "-DNDEBUG", "-D_FILE_OFFSET_BITS=64",
		`-DBB_VER="1.35.0"`, "-malign-data=abi", "-Wall", "-Wshadow", "-Wwrite-strings", "-Wundef",
		"-Wstrict-prototypes", "-Wold-style-definition", "-finline-limit=0", "-fno-builtin-strlen",
		"-fomit-frame-pointer", "-ffunction-sections", "-fdata-sections", "-fno-guess-branch-probability",
		"-funsigned-char", "-static-libgcc", "-falign-functions=1", "-falign-jumps=1", "-falign-labels=1",
		"-falign-loops=1", "-fno-unwind-tables", "-fno-asynchronous-unwind-tables", "-fno-builtin-printf",
		"-Os", `-DKBUILD_BASENAME="hello"`, `-DKBUILD_MODNAME="hello"`, "-c", "-o", "hello.o", "hello.c",
	}, Outputs: []string{"hello.o", ".hello.o.d"}, Remote: true},
	// Only for GCC 12 on x86-64 Debian: the runner should skip it when the directory is missing.
	{Name: "kernel-isystem-gcc-include-gcc", Fixture: "kernelish", Compiler: "gcc", Args: []string{
		"-Wp,-MMD,drivers/char/.mem.o.d", "-nostdinc", "-isystem", "/usr/lib/gcc/x86_64-linux-gnu/12/include",
		"-I./include", "-include", "./include/linux/kconfig.h", "-D__KERNEL__", "-fno-PIE", "-mcmodel=kernel",
		"-mno-red-zone", "-O2", "-g", `-DKBUILD_MODNAME="mem"`, "-c", "-o", "drivers/char/mem.o", "drivers/char/mem.c",
	}, Outputs: []string{"drivers/char/mem.o", "drivers/char/.mem.o.d"}, Remote: true},
	{Name: "kernel-boot-m16-gcc", Fixture: "kernelish", Compiler: "gcc", Args: []string{
		"-Wp,-MMD,arch/x86/boot/.a20.o.d", "-m16", "-g", "-Os", "-Wall", "-Wstrict-prototypes", "-march=i386",
		"-mregparm=3", "-fno-strict-aliasing", "-fomit-frame-pointer", "-fno-pic", "-mno-mmx", "-mno-sse",
		"-fcf-protection=none", "-ffreestanding", "-fno-stack-protector", "-mpreferred-stack-boundary=2",
		"-D_SETUP", "-c", "-o", "arch/x86/boot/a20.o", "arch/x86/boot/a20.c",
	}, Outputs: []string{"arch/x86/boot/a20.o", "arch/x86/boot/.a20.o.d"}, Remote: true},
	{Name: "kernel-boot-m32-clang", Fixture: "kernelish", Compiler: "clang", Args: []string{
		"-m32", "-ffreestanding", "-Os", "-g", "-fno-pic", "-c", "-o", "arch/x86/boot/a20.o", "arch/x86/boot/a20.c",
	}, Outputs: []string{"arch/x86/boot/a20.o"}, Remote: true},

	// CMake with the Ninja generator: absolute sources, a build tree, -MD -MT
	// -MF next to the object, response files for long include lists.
	{Name: "cmake-ninja-gcc", Fixture: "projects", Dir: "cmake/build", Compiler: "gcc", Args: []string{`-DAPP_VERSION="1.2"`, "-I$ROOT/cmake/include", "-O2", "-g", "-DNDEBUG", "-std=gnu11", "-fPIC", "-MD", "-MT", "CMakeFiles/app.dir/src/app.c.o", "-MF", "CMakeFiles/app.dir/src/app.c.o.d", "-o", "CMakeFiles/app.dir/src/app.c.o", "-c", "$ROOT/cmake/src/app.c"}, Outputs: []string{"cmake/build/CMakeFiles/app.dir/src/app.c.o", "cmake/build/CMakeFiles/app.dir/src/app.c.o.d"}, Remote: true},
	{Name: "cmake-ninja-clang", Fixture: "projects", Dir: "cmake/build", Compiler: "clang", Args: []string{`-DAPP_VERSION="1.2"`, "-I$ROOT/cmake/include", "-O2", "-g", "-DNDEBUG", "-std=gnu11", "-fPIC", "-MD", "-MT", "CMakeFiles/app.dir/src/app.c.o", "-MF", "CMakeFiles/app.dir/src/app.c.o.d", "-o", "CMakeFiles/app.dir/src/app.c.o", "-c", "$ROOT/cmake/src/app.c"}, Outputs: []string{"cmake/build/CMakeFiles/app.dir/src/app.c.o", "cmake/build/CMakeFiles/app.dir/src/app.c.o.d"}, Remote: true},
	{Name: "cmake-ninja-gxx", Fixture: "projects", Dir: "cmake/build", Compiler: "g++", Args: []string{"-I$ROOT/cmake/include", "-O2", "-g", "-DNDEBUG", "-std=gnu++17", "-fPIC", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-MD", "-MT", "CMakeFiles/app.dir/src/engine.cpp.o", "-MF", "CMakeFiles/app.dir/src/engine.cpp.o.d", "-o", "CMakeFiles/app.dir/src/engine.cpp.o", "-c", "$ROOT/cmake/src/engine.cpp"}, Outputs: []string{"cmake/build/CMakeFiles/app.dir/src/engine.cpp.o", "cmake/build/CMakeFiles/app.dir/src/engine.cpp.o.d"}, Remote: true},
	{Name: "cmake-ninja-clangxx", Fixture: "projects", Dir: "cmake/build", Compiler: "clang++", Args: []string{"-I$ROOT/cmake/include", "-O2", "-g", "-DNDEBUG", "-std=gnu++17", "-fPIC", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-MD", "-MT", "CMakeFiles/app.dir/src/engine.cpp.o", "-MF", "CMakeFiles/app.dir/src/engine.cpp.o.d", "-o", "CMakeFiles/app.dir/src/engine.cpp.o", "-c", "$ROOT/cmake/src/engine.cpp"}, Outputs: []string{"cmake/build/CMakeFiles/app.dir/src/engine.cpp.o", "cmake/build/CMakeFiles/app.dir/src/engine.cpp.o.d"}, Remote: true},
	{Name: "cmake-response-file-gcc", Fixture: "projects", Dir: "cmake/build", Compiler: "gcc", Args: []string{"@CMakeFiles/app.dir/includes_C.rsp", "-O0", "-g", "-MD", "-MT", "CMakeFiles/app.dir/src/app.c.o", "-MF", "CMakeFiles/app.dir/src/app.c.o.d", "-o", "CMakeFiles/app.dir/src/app.c.o", "-c", "$ROOT/cmake/src/app.c"}, Outputs: []string{"cmake/build/CMakeFiles/app.dir/src/app.c.o", "cmake/build/CMakeFiles/app.dir/src/app.c.o.d"}, Remote: true},

	// Autotools (automake's depcomp "gcc3" mode) and libtool: config.h
	// through -I.. from a subdirectory, .deps/*.Tpo, the PIC object in .libs/.
	{Name: "autotools-depcomp-gcc", Fixture: "projects", Dir: "autotools/lib", Compiler: "gcc", Args: []string{"-DHAVE_CONFIG_H", "-I.", "-I..", "-g", "-O2", "-MT", "parse.o", "-MD", "-MP", "-MF", ".deps/parse.Tpo", "-c", "-o", "parse.o", "parse.c"}, Outputs: []string{"autotools/lib/parse.o", "autotools/lib/.deps/parse.Tpo"}, Remote: true},
	{Name: "autotools-depcomp-clang", Fixture: "projects", Dir: "autotools/lib", Compiler: "clang", Args: []string{"-DHAVE_CONFIG_H", "-I.", "-I..", "-g", "-O2", "-MT", "parse.o", "-MD", "-MP", "-MF", ".deps/parse.Tpo", "-c", "-o", "parse.o", "parse.c"}, Outputs: []string{"autotools/lib/parse.o", "autotools/lib/.deps/parse.Tpo"}, Remote: true},
	{Name: "libtool-pic-gcc", Fixture: "projects", Dir: "autotools/lib", Compiler: "gcc", Args: []string{"-DHAVE_CONFIG_H", "-I.", "-I..", "-g", "-O2", "-MT", "parse.lo", "-MD", "-MP", "-MF", ".deps/parse.Tpo", "-c", "parse.c", "-fPIC", "-DPIC", "-o", ".libs/parse.o"}, Outputs: []string{"autotools/lib/.libs/parse.o", "autotools/lib/.deps/parse.Tpo"}, Remote: true},
	{Name: "libtool-pic-clang", Fixture: "projects", Dir: "autotools/lib", Compiler: "clang", Args: []string{"-DHAVE_CONFIG_H", "-I.", "-I..", "-g", "-O2", "-MT", "parse.lo", "-MD", "-MP", "-MF", ".deps/parse.Tpo", "-c", "parse.c", "-fPIC", "-DPIC", "-o", ".libs/parse.o"}, Outputs: []string{"autotools/lib/.libs/parse.o", "autotools/lib/.deps/parse.Tpo"}, Remote: true},

	// Meson with Ninja: an out-of-tree builddir, the *.p private directory,
	// -MD -MQ -MF, always-coloured diagnostics.
	{Name: "meson-gcc", Fixture: "projects", Dir: "meson/builddir", Compiler: "gcc", Args: []string{"-Ilibfoo.a.p", "-I.", "-I..", "-Ilibfoo", "-I../libfoo", "-fdiagnostics-color=always", "-D_FILE_OFFSET_BITS=64", "-Wall", "-Winvalid-pch", "-Wextra", "-std=c99", "-O2", "-g", "-fPIC", "-MD", "-MQ", "libfoo.a.p/foo.c.o", "-MF", "libfoo.a.p/foo.c.o.d", "-o", "libfoo.a.p/foo.c.o", "-c", "../libfoo/foo.c"}, Outputs: []string{"meson/builddir/libfoo.a.p/foo.c.o", "meson/builddir/libfoo.a.p/foo.c.o.d"}, Remote: true},
	{Name: "meson-clang", Fixture: "projects", Dir: "meson/builddir", Compiler: "clang", Args: []string{"-Ilibfoo.a.p", "-I.", "-I..", "-Ilibfoo", "-I../libfoo", "-fcolor-diagnostics", "-D_FILE_OFFSET_BITS=64", "-Wall", "-Winvalid-pch", "-Wextra", "-std=c99", "-O2", "-g", "-fPIC", "-MD", "-MQ", "libfoo.a.p/foo.c.o", "-MF", "libfoo.a.p/foo.c.o.d", "-o", "libfoo.a.p/foo.c.o", "-c", "../libfoo/foo.c"}, Outputs: []string{"meson/builddir/libfoo.a.p/foo.c.o", "meson/builddir/libfoo.a.p/foo.c.o.d"}, Remote: true},

	// What the issue names and real trees contain: forced includes, include
	// search options, #include_next (gnulib's wrapper headers), names with
	// spaces, a working directory reached through a symlink (PWD differs
	// from the physical path; DW_AT_comp_dir follows PWD), optimisation and
	// code-generation options, language standards, -x, Objective-C.
	{Name: "include-imacros-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-include", "config.h", "-imacros", "imacros.h", "-c", "forced.c"}, Outputs: []string{"forced.o"}, Remote: true},
	{Name: "include-imacros-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-include", "$ROOT/config.h", "-imacros", "imacros.h", "-g", "-c", "forced.c"}, Outputs: []string{"forced.o"}, Remote: true},
	// g++ and clang++ compile a .c file as C++, with C++'s headers.
	{Name: "cxx-driver-c-file-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-c", "cxx.c"}, Outputs: []string{"cxx.o"}, Remote: true},
	{Name: "cxx-driver-c-file-clangxx", Fixture: "cpp", Compiler: "clang++", Args: []string{"-c", "cxx.c"}, Outputs: []string{"cxx.o"}, Remote: true},
	{Name: "cxx-driver-c-file-x-none-clangxx", Fixture: "cpp", Compiler: "clang++", Args: []string{"-x", "none", "-c", "cxx.c"}, Outputs: []string{"cxx.o"}, Remote: true},
	{Name: "include-imacros-joined-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-includeconfig.h", "-imacrosimacros.h", "-c", "forced.c"}, Outputs: []string{"forced.o"}, Remote: true},
	{Name: "iquote-isystem-idirafter-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-Wall", "-Wextra", "-iquote", "quoted", "-isystem", "sysinc", "-idirafter", "afterinc", "-c", "iquote.c"}, Outputs: []string{"iquote.o"}, Remote: true},
	{Name: "iquote-isystem-idirafter-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-Wall", "-Wextra", "-iquote", "quoted", "-isystem", "$ROOT/sysinc", "-idirafter", "afterinc", "-c", "iquote.c"}, Outputs: []string{"iquote.o"}, Remote: true},
	{Name: "include-next-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-Iwrap", "-Iinc1", "-Iinc2", "-c", "next.c"}, Outputs: []string{"next.o"}, Remote: true},
	{Name: "include-next-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-Iwrap", "-Iinc1", "-Iinc2", "-g", "-c", "next.c"}, Outputs: []string{"next.o"}, Remote: true},
	{Name: "space-in-names-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-I", "inc dir", "-c", "my file.c", "-o", "my file.o"}, Outputs: []string{"my file.o"}, Remote: true},
	{Name: "space-in-names-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-g", "-MD", "-Iinc dir", "-c", "my file.c"}, Outputs: []string{"my file.o", "my file.d"}, Remote: true},
	{Name: "symlinked-cwd-gcc", Fixture: "c-basic", Dir: "linksrc", Compiler: "gcc", Args: []string{"-g", "-I..", "-c", "testtmp.c", "-o", "../obj/testtmp.o"}, Outputs: []string{"obj/testtmp.o"}, Remote: true},
	{Name: "symlinked-cwd-clang", Fixture: "c-basic", Dir: "linksrc", Compiler: "clang", Args: []string{"-g", "-I..", "-MD", "-c", "testtmp.c", "-o", "../obj/testtmp.o"}, Outputs: []string{"obj/testtmp.o", "obj/testtmp.d"}, Remote: true},
	{Name: "g3-macros-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-g3", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "gz-dwarf4-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-g", "-gdwarf-4", "-gz", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "o0-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-O0", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "os-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-Os", "-g", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "march-x86-64-v2-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-march=x86-64-v2", "-O2", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "march-x86-64-v2-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-march=x86-64-v2", "-O2", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "fpic-fno-common-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-fPIC", "-fno-common", "-c", "a.c"}, Outputs: []string{"a.o"}, Remote: true},
	{Name: "fcommon-pipe-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-fcommon", "-pipe", "-O2", "-c", "a.c"}, Outputs: []string{"a.o"}, Remote: true},
	{Name: "pipe-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-pipe", "-O2", "-g", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "std-c11-pedantic-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-std=c11", "-pedantic-errors", "-Wall", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "std-gnuxx17-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-std=gnu++17", "-O2", "-c", "cxx17.cpp", "-o", "build/cxx17.o"}, Outputs: []string{"build/cxx17.o"}, Remote: true},
	{Name: "std-gnuxx17-clangxx", Fixture: "cpp", Compiler: "clang++", Args: []string{"-std=gnu++17", "-g", "-c", "cxx17.cpp", "-o", "build/cxx17.o"}, Outputs: []string{"build/cxx17.o"}, Remote: true},
	{Name: "cxx-upper-c-extension-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-c", "upper.C", "-o", "build/upper.o"}, Outputs: []string{"build/upper.o"}, Remote: true},
	{Name: "cxx-source-through-gcc", Fixture: "cpp", Compiler: "gcc", Args: []string{"-Iinclude", "-c", "templates.cpp", "-o", "build/templates.o"}, Outputs: []string{"build/templates.o"}, Remote: true},
	{Name: "x-c-through-gxx", Fixture: "c-basic", Compiler: "g++", Args: []string{"-x", "c", "-c", "hello.c"}, Outputs: []string{"hello.o"}, Remote: true},
	{Name: "x-cxx-through-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-x", "c++", "-c", "a.c"}, Outputs: []string{"a.o"}, Remote: true},
	{Name: "cxx-static-init-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-c", "static_init.cpp", "-o", "build/static_init.o"}, Outputs: []string{"build/static_init.o"}, Remote: true},
	{Name: "cxx-static-init-clangxx", Fixture: "cpp", Compiler: "clang++", Args: []string{"-c", "static_init.cpp", "-o", "build/static_init.o"}, Outputs: []string{"build/static_init.o"}, Remote: true},
	{Name: "cxx-include-path-env-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-c", "templates.cpp", "-o", "build/templates.o"}, Env: []string{"CPLUS_INCLUDE_PATH=$ROOT/include"}, Outputs: []string{"build/templates.o"}, Remote: true},
	{Name: "cxx-instantiation-warning-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-Wall", "-Wextra", "-c", "instantiate.cpp", "-o", "build/instantiate.o"}, Outputs: []string{"build/instantiate.o"}, Remote: true},
	{Name: "asm-cpp-md-defines-gcc", Fixture: "asm", Compiler: "gcc", Args: []string{"-Iinclude", "-DWITH_EXTRA", "-DSTACK_PAD=32", "-MD", "-c", "entry.S", "-o", "out/entry.o"}, Outputs: []string{"out/entry.o", "out/entry.d"}, Remote: true},
	{Name: "asm-cpp-debug-clang", Fixture: "asm", Compiler: "clang", Args: []string{"-g", "-Iinclude", "-c", "entry.S", "-o", "out/entry.o"}, Outputs: []string{"out/entry.o"}, Remote: true},
	{Name: "asm-x-assembler-with-cpp-gcc", Fixture: "asm", Compiler: "gcc", Args: []string{"-Iinclude", "-x", "assembler-with-cpp", "-c", "crc.asm"}, Outputs: []string{"crc.o"}, Remote: true},
	{Name: "asm-x-assembler-with-cpp-clang", Fixture: "asm", Compiler: "clang", Args: []string{"-Iinclude", "-x", "assembler-with-cpp", "-c", "crc.asm", "-o", "out/crc.o"}, Outputs: []string{"out/crc.o"}, Remote: true},
	{Name: "asm-sx-extension-gcc", Fixture: "asm", Compiler: "gcc", Args: []string{"-c", "vectors.sx"}, Outputs: []string{"vectors.o"}, Remote: true},
	{Name: "objc-clang", Fixture: "objc", Compiler: "clang", Args: []string{"-c", "greeter.m"}, Outputs: []string{"greeter.o"}, Remote: true},
	{Name: "objc-debug-md-clang", Fixture: "objc", Compiler: "clang", Args: []string{"-g", "-O2", "-MD", "-x", "objective-c", "-c", "greeter.m", "-o", "greeter.o"}, Outputs: []string{"greeter.o", "greeter.d"}, Remote: true},
	{Name: "objc-warning-clang", Fixture: "objc", Compiler: "clang", Args: []string{"-Wall", "-c", "warn.m"}, Outputs: []string{"warn.o"}, Remote: true},
	{Name: "objc-include-path-env-clang", Fixture: "objc", Compiler: "clang", Args: []string{"-c", "envpath.m"}, Env: []string{"OBJC_INCLUDE_PATH=$ROOT/envinc"}, Outputs: []string{"envpath.o"}, Remote: true},
	{Name: "objcxx-include-path-env-clangxx", Fixture: "objc", Compiler: "clang++", Args: []string{"-c", "envpath.mm"}, Env: []string{"OBJCPLUS_INCLUDE_PATH=$ROOT/envinc"}, Outputs: []string{"envpath.o"}, Remote: true},
	{Name: "objcxx-clangxx", Fixture: "objc", Compiler: "clang++", Args: []string{"-c", "greeter.mm"}, Outputs: []string{"greeter.o"}, Remote: true},

	// __has_include of a header that exists but is never #included: GCC's
	// -M does not list it, yet the object depends on its presence (quoted
	// next to the source, with angle brackets through -I, and relative to
	// the probing header's own directory).
	{Name: "has-include-gcc", Fixture: "hasinclude", Compiler: "gcc", Args: []string{"-c", "probe.c"}, Outputs: []string{"probe.o"}, Remote: true},
	{Name: "has-include-clang", Fixture: "hasinclude", Compiler: "clang", Args: []string{"-c", "probe.c"}, Outputs: []string{"probe.o"}, Remote: true},
	{Name: "has-include-md-gcc", Fixture: "hasinclude", Compiler: "gcc", Args: []string{"-g", "-MD", "-c", "probe.c"}, Outputs: []string{"probe.o", "probe.d"}, Remote: true},
	{Name: "has-include-angle-gcc", Fixture: "hasinclude", Compiler: "gcc", Args: []string{"-Isys", "-c", "angle.c"}, Outputs: []string{"angle.o"}, Remote: true},
	{Name: "has-include-angle-clang", Fixture: "hasinclude", Compiler: "clang", Args: []string{"-Isys", "-c", "angle.c"}, Outputs: []string{"angle.o"}, Remote: true},
	{Name: "has-include-from-header-gcc", Fixture: "hasinclude", Compiler: "gcc", Args: []string{"-Iinclude", "-c", "feature.c"}, Outputs: []string{"feature.o"}, Remote: true},
	{Name: "has-include-from-header-clang", Fixture: "hasinclude", Compiler: "clang", Args: []string{"-I$ROOT/include", "-c", "feature.c"}, Outputs: []string{"feature.o"}, Remote: true},
	{Name: "has-include-gxx", Fixture: "hasinclude", Compiler: "g++", Args: []string{"-c", "probe.cpp"}, Outputs: []string{"probe.o"}, Remote: true},
	{Name: "has-include-clangxx", Fixture: "hasinclude", Compiler: "clang++", Args: []string{"-c", "probe.cpp"}, Outputs: []string{"probe.o"}, Remote: true},
	{Name: "has-include-cxx-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-std=c++17", "-c", "hasinc.cpp", "-o", "build/hasinc.o"}, Outputs: []string{"build/hasinc.o"}, Remote: true},
	// C23 #embed and __has_embed, behind a guard this machine's compilers
	// skip: what a newer compiler would read or probe is named by no
	// dependency list, so the job must stay local.
	{Name: "embed-gcc", Fixture: "embed", Compiler: "gcc", Args: []string{"-c", "embed.c"}, Outputs: []string{"embed.o"}},
	{Name: "embed-clang", Fixture: "embed", Compiler: "clang", Args: []string{"-c", "embed.c"}, Outputs: []string{"embed.o"}},

	// Diagnostics (ccache color_diagnostics.bash and base.bash "Caching
	// stderr", distcc SyntaxError/CppError, icecream syntaxerror.cpp):
	// -Wall -Wextra warnings, -fdiagnostics-color=always, GCC_COLORS, the
	// locale's quotes, #warning, warnings inside macros. stderr is compared
	// exactly.
	{Name: "wall-wextra-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-Wall", "-Wextra", "-c", "warn.c"}, Outputs: []string{"warn.o"}, Remote: true},
	{Name: "wall-wextra-clang", Fixture: "errors", Compiler: "clang", Args: []string{"-Wall", "-Wextra", "-c", "warn.c"}, Outputs: []string{"warn.o"}, Remote: true},
	{Name: "color-always-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-fdiagnostics-color=always", "-Wall", "-Wextra", "-c", "warn.c"}, Outputs: []string{"warn.o"}, Remote: true},
	{Name: "color-always-clang", Fixture: "errors", Compiler: "clang", Args: []string{"-fdiagnostics-color=always", "-Wall", "-Wextra", "-c", "warn.c"}, Outputs: []string{"warn.o"}, Remote: true},
	{Name: "gcc-colors-env-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-fdiagnostics-color=always", "-Wall", "-c", "macro.c"}, Env: []string{"GCC_COLORS=error=01;35:warning=01;36:note=01;32:caret=01;32:locus=01:quote=01"}, Outputs: []string{"macro.o"}, Remote: true},
	{Name: "locale-c-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-Wall", "-c", "warn.c"}, Env: []string{"LC_ALL=C"}, Outputs: []string{"warn.o"}, Remote: true},
	{Name: "locale-utf8-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-Wall", "-c", "warn.c"}, Env: []string{"LC_ALL=C.UTF-8"}, Outputs: []string{"warn.o"}, Remote: true},
	// A locale this machine lacks: gcc runs in C here, and is told C there
	// (a node lacking a locale the client has refuses the job).
	{Name: "locale-missing-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-Wall", "-c", "warn.c"}, Env: []string{"LANG=xx_XX.UTF-8", "LC_ALL="}, Outputs: []string{"warn.o"}, Remote: true},
	{Name: "warning-in-macro-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-Wall", "-Wextra", "-c", "macro.c"}, Outputs: []string{"macro.o"}, Remote: true},
	{Name: "warning-in-macro-clang", Fixture: "errors", Compiler: "clang", Args: []string{"-Wall", "-Wextra", "-c", "macro.c"}, Outputs: []string{"macro.o"}, Remote: true},
	{Name: "hash-warning-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-c", "hashwarn.c", "-MMD"}, Outputs: []string{"hashwarn.o", "hashwarn.d"}, Remote: true},
	{Name: "hash-warning-clang", Fixture: "errors", Compiler: "clang", Args: []string{"-c", "hashwarn.c"}, Outputs: []string{"hashwarn.o"}, Remote: true},

	// Compiles that fail: the node's failure is redone locally, and the
	// exit status and stderr must be the local compiler's.
	{Name: "error-werror-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-Wall", "-Werror", "-c", "warn.c", "-o", "warn.o"}, Remote: true, Fails: true},
	// A failed compile removes its object but leaves the dependency file behind.
	{Name: "error-werror-md-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-Wall", "-Werror", "-MD", "-c", "warn.c", "-o", "warn.o"}, Outputs: []string{"warn.d"}, Remote: true, Fails: true},
	{Name: "error-werror-md-clang", Fixture: "errors", Compiler: "clang", Args: []string{"-Wall", "-Wextra", "-Werror", "-MD", "-c", "warn.c"}, Outputs: []string{"warn.d"}, Remote: true, Fails: true},
	{Name: "error-caret-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-c", "syntax.c"}, Remote: true, Fails: true},
	{Name: "error-caret-color-clang", Fixture: "errors", Compiler: "clang", Args: []string{"-fdiagnostics-color=always", "-c", "syntax.c"}, Remote: true, Fails: true},
	{Name: "error-format-security-gcc", Fixture: "errors", Compiler: "gcc", Args: matrixFlags(matrixDebianFlags, "-c", "fmtsec.c", "-o", "fmtsec.o"), Remote: true, Fails: true},
	{Name: "distcc-cpp-error-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-c", "hasherror.c"}, Remote: true, Fails: true},
	{Name: "distcc-syntax-error-clang", Fixture: "errors", Compiler: "clang", Args: []string{"-o", "syntax.o", "-c", "syntax.c"}, Remote: true, Fails: true},
	{Name: "icecc-template-error-caret-gxx", Fixture: "errors", Compiler: "g++", Args: []string{"-c", "-fdiagnostics-show-caret", "template_error.cpp"}, Remote: true, Fails: true},
	{Name: "icecc-template-error-no-caret-clangxx", Fixture: "errors", Compiler: "clang++", Args: []string{"-c", "-fno-caret-diagnostics", "template_error.cpp"}, Remote: true, Fails: true},
	// distcc's BadInclude: the dependency scan itself fails, so the compile runs locally.
	{Name: "distcc-bad-include-gcc", Fixture: "errors", Compiler: "gcc", Args: []string{"-o", "missing.o", "-c", "missing.c"}, Remote: true, Fails: true},

	// Not distributable: linking, -E, -S, -M without -c, several sources,
	// -save-temps, -fsyntax-only, and inputs that are not C, C++,
	// Objective-C or assembler-with-cpp (.i, .s). distmesh runs the local
	// compiler with the arguments untouched; the results must still match.
	{Name: "local-link-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"a.c", "b.c", "-o", "prog"}, Outputs: []string{"prog"}},
	{Name: "local-link-debian-clang", Fixture: "c-basic", Compiler: "clang", Args: matrixFlags(matrixDebianFlags, "a.c", "b.c", "-Wl,-z,relro", "-Wl,-z,now", "-o", "prog"), Outputs: []string{"prog"}},
	{Name: "local-preprocess-stdout-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-E", "-Iinclude", "-Ilinkinc", "util.c"}},
	{Name: "icecc-local-preprocess-gxx", Fixture: "cpp", Compiler: "g++", Args: []string{"-Wall", "-Werror", "-E", "-Iinclude", "templates.cpp", "-o", "build/templates.ii"}, Outputs: []string{"build/templates.ii"}},
	{Name: "local-assembly-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-S", "-O2", "hello.c"}, Outputs: []string{"hello.s"}},
	{Name: "local-deps-only-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-M", "-Iinclude", "-Ilinkinc", "util.c"}},
	{Name: "local-deps-mm-mg-clang", Fixture: "errors", Compiler: "clang", Args: []string{"-MM", "-MG", "missing.c", "-MF", "missing.d"}, Outputs: []string{"missing.d"}},
	{Name: "distcc-local-multiple-sources-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-c", "a.c", "b.c"}, Outputs: []string{"a.o", "b.o"}},
	{Name: "distcc-local-s-beats-c-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "-S", "hello.c"}, Outputs: []string{"hello.s"}},
	{Name: "ccache-local-save-temps-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-save-temps", "-c", "hello.c"}, Outputs: []string{"hello.i", "hello.s", "hello.o"}},
	{Name: "ccache-local-syntax-only-clang", Fixture: "errors", Compiler: "clang", Args: []string{"-fsyntax-only", "-Wall", "warn.c"}},
	{Name: "distcc-local-preprocessed-input-clang", Fixture: "c-basic", Compiler: "clang", Args: []string{"-c", "preprocessed.i"}, Outputs: []string{"preprocessed.o"}},
	// icecream's asm_listing runs locally; with -pipe the listing names no temporary file.
	{Name: "icecc-local-asm-listing-gcc", Fixture: "c-basic", Compiler: "gcc", Args: []string{"-pipe", "-Wa,-al=listing.txt", "-Wall", "-Werror", "-c", "hello.c", "-o", "hello.o"}, Outputs: []string{"hello.o", "listing.txt"}},
	{Name: "distcc-local-assemble-gcc", Fixture: "asm", Compiler: "gcc", Args: []string{"-o", "plain.o", "-c", "plain.s"}, Outputs: []string{"plain.o"}},

	// Precompiled headers where the compiler would try one stay local (each
	// here is not a valid one: GCC then reads the header, silently; clang
	// fails), and only there: GCC never tries one for a header's own
	// #include.
	{Name: "pch-beside-first-include-gcc", Fixture: "pch", Dir: "beside", Compiler: "gcc", Args: []string{"-g", "-c", "unit.c"}, Outputs: []string{"beside/unit.o"}},
	{Name: "pch-earlier-include-dir-gcc", Fixture: "pch", Dir: "early", Compiler: "gcc", Args: []string{"-Ipch", "-Iinc", "-c", "unit.c"}, Outputs: []string{"early/unit.o"}},
	{Name: "pch-computed-include-gcc", Fixture: "pch", Dir: "computed", Compiler: "gcc", Args: []string{"-c", "unit.c"}, Outputs: []string{"computed/unit.o"}},
	{Name: "pch-nested-include-gcc", Fixture: "pch", Dir: "nested", Compiler: "gcc", Args: []string{"-g", "-c", "unit.c"}, Outputs: []string{"nested/unit.o"}, Remote: true},
	{Name: "pch-forced-include-clang", Fixture: "pch", Dir: "forced", Compiler: "clang", Args: []string{"-include", "x.h", "-c", "unit.c"}, Fails: true},
}
