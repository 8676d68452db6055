package cc

// The node's argument policy: which compiler arguments a node accepts from
// a client. An enrolled client may be malicious, and a compiler can be told
// to run programs (-wrapper, -B, -specs), to load code (-fplugin, -Xclang
// -load) or to read and write files of the sender's choosing. So every
// argument must match an entry of one table, an allowlist in the shape of
// Go's cmd/go/internal/work/security.go: anchored patterns, an explicit
// list of options that take their value in the next argument (so a value
// is only ever matched as a value, never as an option), nothing starting
// with @. Entries are tried in order and the first match decides: a deny
// entry stands above every allow entry broad enough to admit its family,
// and gives the refusal its reason. An argument no entry matches is
// refused.
//
// What this does not cover: the contents of inputs (an .incbin in the
// source reads whatever file the private root holds), and options a
// newer compiler adds to a family the generic -f, -m and -W entries admit.
// The table was checked against GCC 12 and Clang 14; the tests that read
// the drivers' own option lists (TestSeparateValueComplete,
// TestJoinedPrefixes) are the ones to rerun for a newer compiler.
//
// Options that write files are allowed only where Analyze lists the file
// among its Outputs (the node confines writes to those directories).
// Options that only name inputs (-I, -include, --sysroot, the prefix maps)
// are harmless: the compile runs in a private root holding nothing but the
// compiler and the job's own inputs.
//
// Do not loosen an entry without a test that shows the option can neither
// run code, nor read a file the dependency scan does not report, nor write
// a file Analyze does not list.

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// ErrRefused is wrapped by every error of CheckArgs and CheckEnv.
var ErrRefused = errors.New("refused by the node's policy")

// RefusedError says which argument (or environment variable) the policy
// refused and why.
type RefusedError struct {
	What   string // "argument" or "environment variable"
	Arg    string // the argument, with its value when it takes one
	Reason string
}

func (e *RefusedError) Error() string {
	arg := e.Arg
	if len(arg) > 200 {
		arg = arg[:200] + "..."
	}
	return fmt.Sprintf("%s %q refused: %s", e.What, arg, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Unwrap() error { return ErrRefused }

func refuse(arg, reason string) error {
	return &RefusedError{What: "argument", Arg: arg, Reason: reason}
}

// separateValue lists the options GCC 12 or Clang 14 read with their value
// in the next argument (from `gcc --help=separate` and `clang
// --help-hidden`), allowed or not: Analyze skips their values, CheckArgs
// matches the value with the option's value pattern and refuses the option
// when no allow entry names it.
var separateValue = map[string]bool{
	"-o": true, "--output": true, "-x": true, "--language": true,
	"-D": true, "-U": true, "-I": true, "-A": true, "-F": true, "-J": true, "-G": true,
	"-include": true, "-imacros": true, "-isystem": true, "-iquote": true, "-idirafter": true,
	"-iprefix": true, "-iwithprefix": true, "-iwithprefixbefore": true, "-isysroot": true,
	"-imultiarch": true, "-imultilib": true, "-iframework": true, "-iframeworkwithsysroot": true,
	"-iwithsysroot": true, "-isystem-after": true, "-cxx-isystem": true, "-stdlib++-isystem": true,
	"-include-pch": true, "-ivfsoverlay": true, "--sysroot": true, "-target": true, "-arch": true,
	"-MF": true, "-MT": true, "-MQ": true, "-MJ": true, "--param": true,
	"-Xclang": true, "-Xlinker": true, "-Xassembler": true, "-Xpreprocessor": true, "-Xanalyzer": true,
	"-Xarch_device": true, "-Xarch_host": true, "-Xcuda-fatbinary": true, "-Xcuda-ptxas": true,
	"-Xopenmp-target": true, "-mllvm": true, "-mthread-model": true, "-meabi": true,
	"-wrapper": true, "-B": true, "--prefix": true, "--specs": true, "--config": true,
	"-aux-info": true, "-dumpdir": true, "-dumpbase": true, "-dumpbase-ext": true,
	"--dumpdir": true, "--dumpbase": true, "--dumpbase-ext": true, "--dump": true,
	"-L": true, "-l": true, "-T": true, "-Tbss": true, "-Tdata": true, "-Ttext": true,
	"-u": true, "-z": true, "-b": true, "-V": true, "-e": true,
	"-working-directory": true, "-resource-dir": true, "-serialize-diagnostics": true,
	"-dependency-file": true, "-dependency-dot": true, "-gen-cdb-fragment-path": true,
	"-module-dependency-dir": true, "-fmodules-user-build-path": true,
	"-arcmt-migrate-report-output": true, "-ccc-arcmt-migrate": true, "-ccc-objcmt-migrate": true,
	"-ccc-gcc-name": true, "-ccc-install-dir": true, "-dsym-dir": true, "--analyzer-output": true,
	"--include": true, "--imacros": true, "--include-directory": true, "--include-directory-after": true,
	"--include-prefix": true, "--include-with-prefix": true, "--include-with-prefix-after": true,
	"--include-with-prefix-before": true, "--define-macro": true, "--undefine-macro": true, "--assert": true,
	// Other languages' driver options, which the C driver knows too.
	"-Hd": true, "-Hf": true, "-Xf": true, "-fintrinsic-modules-path": true, "-gnatO": true,
}

// Value patterns (anchored; `.` matches newlines too).
const (
	// A file name: never empty, never read as an option or a response
	// file, no @ anywhere (GCC's driver splits -I@x into "-I" "@x" for
	// cc1, which would expand it).
	pathVal   = `[^-@][^@]*`
	pathDoc   = "a file name not starting with - and without @"
	macroDef  = `[A-Za-z_][A-Za-z0-9_]*(\([A-Za-z0-9_, .]*\))?(=.*)?`
	macroName = `[A-Za-z_][A-Za-z0-9_]*`
	// A plain value: no path separator, no @, no =.
	plainVal = `[A-Za-z0-9_.,+:-]*`
)

// maxArgLen is Linux's MAX_ARG_STRLEN: exec refuses longer arguments.
const maxArgLen = 128 << 10

// famMask says which families an entry applies to.
type famMask uint8

const (
	gccOnly   famMask = 1 << FamilyGCC
	clangOnly famMask = 1 << FamilyClang
	anyFamily         = gccOnly | clangOnly
)

// rule is one policy entry: a pattern for a whole argument, or an option
// with a value (in the next argument, joined to it, or both).
type rule struct {
	name   string         // the pattern, or the option: identifies the entry in tests
	re     *regexp.Regexp // pattern entries: matches the whole argument
	sep    string         // option entries: the option when its value is the next argument
	join   string         // option entries: the prefix when the value is joined to it
	val    *regexp.Regexp // option entries: matches the whole value
	valDoc string         // option entries: what the value must be
	deny   bool
	fams   famMask
	reason string
}

func anchored(p string) *regexp.Regexp { return regexp.MustCompile(`^(?s:` + p + `)$`) }

// allow admits arguments matching pattern; reason says why they are harmless.
func allow(pattern, reason string) rule {
	return rule{name: pattern, re: anchored(pattern), fams: anyFamily, reason: reason}
}

// deny refuses arguments matching pattern, for reason.
func deny(pattern, reason string) rule {
	r := allow(pattern, reason)
	r.deny = true
	return r
}

// opt admits an option whose value matches val: "sep VALUE" when sep is
// set, "joinVALUE" when join is set.
func opt(sep, join, val, valDoc, reason string) rule {
	name := sep
	if name == "" {
		name = join
	}
	return rule{name: name, sep: sep, join: join, val: anchored(val), valDoc: valDoc, fams: anyFamily, reason: reason}
}

// only restricts an entry to some families.
func (r rule) only(m famMask) rule { r.fams = m; return r }

func (r *rule) applies(f Family) bool { return f >= 0 && f < 8 && r.fams&(1<<f) != 0 }

// matches reports whether the entry decides the single argument arg.
func (r *rule) matches(arg string) bool {
	if r.re != nil {
		return r.re.MatchString(arg)
	}
	return r.join != "" && strings.HasPrefix(arg, r.join) && r.val.MatchString(arg[len(r.join):])
}

const (
	runsCode    = "runs a program of the sender's choosing"
	loadsCode   = "loads code into the compiler"
	readsHidden = "reads a file the dependency scan does not report"
	noObject    = "produces no object (such jobs are compiled locally)"
)

// waHarmless are the assembler options -Wa, may carry: each changes only
// the object's contents.
const waHarmless = `--noexecstack|--execstack|-mrelax-relocations=(yes|no)|--gdwarf-?[2-5]|--gdwarf-sections` +
	`|--compress-debug-sections(=(none|zlib|zlib-gnu|zlib-gabi|zstd))?|--nocompress-debug-sections` +
	`|-mbig-obj|--32|--64|--x32|-mx86-used-note=(yes|no)|-mtune=[A-Za-z0-9_.+-]+|-march=[A-Za-z0-9_.+-]+` +
	`|-mno-shared|-msoft-float|--fatal-warnings|--no-warn|-W|--warn|-mfence-as-lock-add=(yes|no)` +
	`|-mbranches-within-32B-boundaries|-mrelax|-mno-relax` +
	`|--defsym,[A-Za-z_.$][A-Za-z0-9_.$]*=-?[A-Za-z0-9_.$]+`

// fValued are the -f options allowed with a plain value (no path).
const fValued = `visibility|tls-model|cf-protection|fp-contract|excess-precision|trivial-auto-var-init` +
	`|zero-call-used-regs|ira-algorithm|ira-region|vect-cost-model|simd-cost-model` +
	`|lto|lto-partition|lto-compression-level|lto-jobs|sanitize|sanitize-recover|sanitize-trap|sanitize-coverage` +
	`|sanitize-address-use-after-return|sanitize-memory-track-origins|sanitize-undefined-strip-path-components` +
	`|live-patching|fp-model|fp-exception-behavior|denormal-fp-math|denormal-fp-math-f32|gnuc-version` +
	`|ms-compatibility-version|objc-runtime|debug-default-version|stack-reuse|stack-check` +
	`|permitted-flt-eval-methods|message-length|max-errors|error-limit|template-depth|template-backtrace-limit` +
	`|constexpr-depth|constexpr-steps|constexpr-loop-limit|constexpr-ops-limit|macro-backtrace-limit|tabstop` +
	`|abi-version|abi-compat-version|pack-struct|max-type-align|align-functions|align-loops|align-jumps` +
	`|align-labels|min-function-alignment|inline-limit|patchable-function-entry|strict-flex-arrays` +
	`|sched-stalled-insns|sched-stalled-insns-dep|asan-shadow-offset|trapv-handler|openmp-version|openmp` +
	`|strong-eval-order|lax-vector-conversions|new-alignment|fp-eval-method|sanitize-address-field-padding`

// policy is the table, compiled on first use (its regular expressions
// would otherwise cost every distmesh process milliseconds at start). Each entry has its reason beside it; the first entry
// that matches an argument decides.
var policy = sync.OnceValue(func() []rule {
	return []rule{
		// Always refused.
		deny(``, "empty argument"),
		deny(`@.*`, "reads more arguments from a file (response file)"),
		deny(`-`, "reads the source from standard input"),
		deny(`-wrapper`, runsCode+" around every subprocess"),
		deny(`-fplugin.*`, loadsCode),
		deny(`-fpass-plugin.*`, loadsCode),
		deny(`-B.*|--prefix.*`, runsCode+" (where the driver finds cc1 and as)"),
		deny(`-?-specs.*`, runsCode+" (spec files can run anything)"),
		deny(`-Xclang`, "passes arguments to the compiler proper unchecked (-load loads code)"),
		deny(`-mllvm.*`, "passes options to LLVM unchecked (some load code or write files)"),
		deny(`-Wl(,.*)?|-Xlinker`, "linker options: linking is never distributed"),
		deny(`-Xassembler|-Xpreprocessor`, "passes arguments to the assembler or preprocessor unchecked"),
		deny(`-X.*`, "passes arguments to an inner tool unchecked"),
		deny(`--config.*`, "reads options from a configuration file"),
		deny(`-?-save-temps.*`, "writes intermediate files Analyze does not list"),
		deny(`-dumpdir|-dumpbase|-dumpbase-ext|--dump.*`, "chooses where auxiliary outputs go"),
		deny(`-d.*`, "dumps compiler state to files or prints it instead of compiling"),
		deny(`-fdump-.*`, "writes dump files"),
		deny(`-aux-info.*`, "writes prototypes to a file of the sender's choosing"),
		deny(`-time.*`, "writes timing data to a file of the sender's choosing"),
		deny(`-###|-v|--verbose|-?-print-.*|--version|--help.*|--target-help`, "prints driver information instead of compiling"),
		deny(`-fcompare-debug.*`, "compiles twice and writes comparison dumps"),
		deny(`-fopt-info.*=.*`, "writes optimization notes to a file"),
		deny(`-ftime-trace.*`, "writes a trace file Analyze does not list"),
		deny(`-MJ.*`, "writes a compilation database fragment"),
		deny(`-f(no-)?([a-z-]*-)?modules?.*`, "uses module files or a module cache outside the job"),
		deny(`-fcrash-diagnostics.*|-freport-bug.*`, "writes crash reports to files"),
		deny(`-ivfsoverlay.*`, "overlays the file system from a file"),
		deny(`-resource-dir.*`, "makes the driver use another runtime directory"),
		deny(`-?-gcc-toolchain.*|--gcc-install-dir.*|--gcc-triple.*`, "makes the driver use another toolchain"),
		deny(`-f?no-integrated-as.*`, runsCode+" (an external assembler outside the compiler identity)"),
		deny(`-working-directory.*`, "changes the directory paths are resolved against"),
		deny(`-fms-(extensions|compatibility).*`, "makes Clang find headers in ways the dependency scan does not follow (backslashes, #pragma include_alias, the whole include stack)").only(clangOnly),
		deny(`-fsanitize-(system-)?(ignorelist|blacklist)=.*|-fsanitize-coverage-(allowlist|blocklist|ignorelist|whitelist|blacklist)=.*`, readsHidden),
		deny(`-f(no-)?save-optimization-record.*|-foptimization-record-.*`, "writes an optimization record file"),
		deny(`-fcallgraph-info.*`, "writes a call graph file Analyze does not list"),
		deny(`-fproc-stat-report.*|-fvtv-.*`, "writes statistics or log files"),
		deny(`-fdiagnostics-(add|set)-output=.*|-fdiagnostics-format=[a-z-]*-file`, "writes diagnostics to a file"),
		deny(`-f(thinlto-index|embed-offload-object|build-session-file|rewrite-map-file|basic-block-sections)=.*|-fapinotes.*|-fxray-.*`, readsHidden),
		deny(`-fsycl.*|-foffload.*|-fopenmp-targets.*`, runsCode+" (offloading tools outside the compiler identity)"),
		deny(`-E|-S|-M|-MM|-fsyntax-only|--preprocess|--assemble`, noObject),
		deny(`-include-pch|-serialize-diagnostics`, "reads or writes a file outside the compile's inputs and outputs"),
		deny(`-obj.*`, "Clang reads this as an -objcmt or -object option, not as -o"),

		// Inputs and outputs.
		allow(`[^-@].*`, "an input file, read inside the job's private root"),
		allow(`-c|--compile`, "compiles to an object"),
		opt("-o", "-o", pathVal, pathDoc, "writes the object, which Analyze lists"),
		opt("--output", "--output=", pathVal, pathDoc, "writes the object, which Analyze lists"),
		opt("-x", "-x", `c|c\+\+|objective-c|objective-c\+\+|assembler-with-cpp|none`, "a distributed language", "selects the source language"),
		allow(`-MD|-MMD|--write-dependencies|--write-user-dependencies`, "writes the dependency file Analyze lists"),
		opt("-MF", "-MF", pathVal, pathDoc, "names the dependency file Analyze lists"),
		opt("-MT", "-MT", `[^-@].*`, "a target not starting with - or @", "names a target inside the dependency file"),
		opt("-MQ", "-MQ", `[^-@].*`, "a target not starting with - or @", "names a target inside the dependency file"),
		allow(`-MP|-MG`, "changes only the dependency file's contents"),
		allow(`-Wp,-M?MD,[^-@,][^@,]*`, "writes the dependency file Analyze lists (Linux kernel)"),
		allow(`-Wp(,(-D`+macroName+`(=[^,]*)?|-U`+macroName+`))+`, "defines or undefines macros through the preprocessor"),
		deny(`-Wp(,.*)?`, "preprocessor options other than -MD/-MMD file and -D/-U may write or read files"),
		allow(`-Wa(,(`+waHarmless+`))+`, "assembler options that change only the object"),
		deny(`-Wa(,.*)?`, "assembler options off the harmless list may write listings or read files"),
		allow(`-gsplit-dwarf|-gno-split-dwarf`, "writes the .dwo Analyze lists"),
		allow(`-gsplit-dwarf=(split|single)`, "writes the .dwo Analyze lists, or none").only(clangOnly),
		allow(`--?coverage|-f(no-)?test-coverage`, "writes the .gcno Analyze lists"),
		allow(`-fstack-usage`, "writes the .su Analyze lists"),

		// Input paths, harmless in the private root.
		opt("-I", "-I", pathVal, pathDoc, "names an include directory (input only)"),
		opt("-isystem", "-isystem", pathVal, pathDoc, "names an include directory (input only)"),
		opt("-iquote", "-iquote", pathVal, pathDoc, "names an include directory (input only)"),
		opt("-idirafter", "-idirafter", pathVal, pathDoc, "names an include directory (input only)"),
		opt("-include", "-include", pathVal, pathDoc, "includes a file (input only; the dependency scan reports it)"),
		opt("-imacros", "-imacros", pathVal, pathDoc, "includes a file's macros (input only; the dependency scan reports it)"),
		opt("-isysroot", "-isysroot", pathVal, pathDoc, "names the header root (input only)"),
		opt("--sysroot", "--sysroot=", pathVal, pathDoc, "names the system root (input only)"),
		opt("-iprefix", "", pathVal, pathDoc, "names an include prefix (input only)"),
		opt("-iwithprefix", "", pathVal, pathDoc, "names an include directory (input only)"),
		opt("-iwithprefixbefore", "", pathVal, pathDoc, "names an include directory (input only)"),
		allow(`-f(debug|file|macro|profile|coverage)-prefix-map=[^@]*`, "rewrites recorded paths; opens no file"),
		allow(`-f(no-)?profile-(arcs|abs-path|values|correction|reorder-functions|partial-training|generate|instr-generate|update=(single|atomic|prefer-atomic))`,
			"profiling instrumentation; writes nothing at compile time"),
		deny(`-f(no-)?(auto-profile|branch-probabilities|(cs-)?profile-[a-z-]+).*`, "reads or writes profile data at a path of the sender's choosing"),
		allow(`-f(debug|coverage)-compilation-dir=[^@]*`, "records a directory name; opens no file"),
		allow(`-nostdinc|-nostdinc\+\+|-nostdlibinc|-nobuiltininc`, "restricts the header search"),

		// Macros, language and diagnostics.
		opt("-D", "-D", macroDef, "a macro definition", "defines a macro"),
		opt("-U", "-U", macroName, "a macro name", "undefines a macro"),
		allow(`-?-std=[a-z0-9+]+`, "selects the language standard"),
		allow(`-ansi|--?pedantic(-errors)?|-trigraphs|-traditional-cpp|-undef`, "selects the language dialect"),
		allow(`-W|-W(no-)?[A-Za-z0-9+][A-Za-z0-9+_.-]*(=[A-Za-z0-9_.,+-]*)?`, "warning options (never -Wa, -Wl, or -Wp,)"),
		allow(`-w`, "suppresses warnings"),
		allow(`-H|-P|-C|-CC`, "lists headers on stderr or shapes preprocessor output; writes nothing"),
		allow(`-Q(unused-arguments|n|y)`, "silences unused-argument warnings or the .ident directive"),

		// Code generation.
		allow(`-O([0-3sgz]|fast)?`, "optimization level"),
		allow(`-g|-g[0-3]|-ggdb[0-3]?|-gdwarf(-[2-5]|32|64)?|-gline-tables-only|-gmlt|-gline-directives-only|-glldb`+
			`|-g(no-)?(column-info|strict-dwarf|record-gcc-switches|record-command-line|pubnames|gnu-pubnames|statement-frontiers`+
			`|variable-location-views|inline-points|internal-reset-location-views|describe-dies|simple-template-names`+
			`|as-loc-support|as-locview-support)|-gvariable-location-views=incompat5|-gz(=(none|zlib|zlib-gnu|zstd))?`+
			`|-gbtf|-gctf[0-2]?|-gtoggle|-gembed-source|-gdwarf-aranges`, "debug information, in the object or the .dwo Analyze lists"),
		allow(`-frandom-seed=[^@]*`, "seeds generated symbol names; opens no file"),
		allow(`-f(input|exec|wide-exec)-charset=[A-Za-z0-9_.:-]+`, "selects a character set by name (no path)"),
		allow(`-finstrument-functions-exclude-(file|function)-list=[^@]*`, "matches names; opens no file"),
		allow(`-f(no-)?diagnostics-[a-z0-9-]+(=[A-Za-z0-9_.,:-]+)?`, "formats diagnostics on stderr"),
		allow(`-f(no-)?(`+fValued+`)=`+plainVal, "feature option with a plain value (no path)"),
		allow(`-f?integrated-as`, "Clang's built-in assembler, part of the compiler").only(clangOnly),
		allow(`-f(no-)?[A-Za-z0-9][A-Za-z0-9+_.-]*`, "feature option without a value (the writing and loading ones are refused above)"),
		allow(`-m(no-)?[A-Za-z0-9][A-Za-z0-9_.+-]*(=`+plainVal+`)?`, "target code generation option"),
		opt("--param", "--param=", `[a-z0-9_-]+=[A-Za-z0-9_-]+`, "name=value", "tunes an optimization parameter"),
		opt("-target", "--target=", `[A-Za-z0-9_][A-Za-z0-9_.-]*`, "a target triple", "selects the target").only(clangOnly),
		allow(`-?-stdlib=(libc\+\+|libstdc\+\+|platform)`, "selects the C++ library headers").only(clangOnly),
		allow(`-pipe|-pthread|-no-canonical-prefixes`, "driver plumbing; writes nothing"),
		allow(`-p|-pg`, "profiling instrumentation; writes nothing at compile time"),
		allow(`-static|-shared|-rdynamic|-no-pie|-pie|-static-pie|-nostdlib|-nodefaultlibs|-nostartfiles|-s`, "link-time only; ignored with -c"),
		allow(`-static-lib(gcc|stdc\+\+|asan|hwasan|lsan|tsan|ubsan|gfortran)|-shared-libgcc|-nolibc|-nostdlib\+\+`, "selects runtime libraries at link time only; ignored with -c (busybox passes -static-libgcc)"),
	}
})

// CheckArgs returns nil when every argument of a compile is on the node's
// allowlist for family f, or an error wrapping ErrRefused that names the
// first refused argument and the rule, in one line.
func CheckArgs(f Family, args []string) error {
	return checkArgs(f, args, nil)
}

// checkArgs is CheckArgs; decided, when not nil, learns which entry
// decided each argument (tests use it to show every entry is exercised).
func checkArgs(f Family, args []string, decided func(i int, r *rule)) error {
	if len(args) > maxArgs {
		return &RefusedError{What: "command line", Arg: fmt.Sprintf("%d arguments", len(args)), Reason: "too many arguments"}
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case strings.IndexByte(arg, 0) >= 0:
			return refuse(arg, "contains a NUL byte")
		case len(arg) > maxArgLen:
			return refuse(arg, "longer than the kernel passes to a program")
		}
		if separateValue[arg] {
			r := sepRule(f, arg)
			if r == nil {
				if r = findRule(f, arg); r != nil && r.deny {
					return decide(decided, i, r, arg)
				}
				return refuse(arg, "takes a value and is not on the allowlist")
			}
			if i+1 == len(args) {
				return refuse(arg, "needs a value")
			}
			val := args[i+1]
			if !r.val.MatchString(val) {
				return refuse(arg+" "+val, fmt.Sprintf("%s takes %s", arg, r.valDoc))
			}
			if err := decide(decided, i, r, arg); err != nil {
				return err
			}
			i++
			continue
		}
		r := findRule(f, arg)
		if r == nil {
			return refuse(arg, notAllowed(f, arg))
		}
		if err := decide(decided, i, r, arg); err != nil {
			return err
		}
	}
	return nil
}

func decide(decided func(int, *rule), i int, r *rule, arg string) error {
	if decided != nil {
		decided(i, r)
	}
	if r.deny {
		return refuse(arg, r.reason)
	}
	return nil
}

// sepRule returns the allow entry for opt with its value in the next argument.
func sepRule(f Family, opt string) *rule {
	p := policy()
	for i := range p {
		if r := &p[i]; r.sep == opt && r.applies(f) {
			return r
		}
	}
	return nil
}

// findRule returns the first entry that matches arg, or nil. A build
// passes the same few dozen arguments to every job, and matching one
// tries the table's patterns in turn, so answers are remembered.
func findRule(f Family, arg string) *rule {
	k := ruleKey{f, arg}
	found.Lock()
	r, ok := found.m[k]
	found.Unlock()
	if ok {
		return r
	}
	p := policy()
	for i := range p {
		if p[i].applies(f) && p[i].matches(arg) {
			r = &p[i]
			break
		}
	}
	if len(arg) > maxFoundLen {
		return r
	}
	found.Lock()
	if len(found.m) >= maxFound {
		clear(found.m) // bounded; a build refills it
	}
	found.m[k] = r
	found.Unlock()
	return r
}

type ruleKey struct {
	f   Family
	arg string
}

// At most maxFound answers, for arguments of at most maxFoundLen bytes.
const (
	maxFound    = 1 << 14
	maxFoundLen = 256
)

// found remembers findRule's answers.
var found = struct {
	sync.Mutex
	m map[ruleKey]*rule
}{m: map[ruleKey]*rule{}}

// notAllowed explains why no entry matched arg: a joined option whose value
// is not allowed, or an option off the list.
func notAllowed(f Family, arg string) string {
	p := policy()
	for i := range p {
		if r := &p[i]; r.join != "" && r.applies(f) && strings.HasPrefix(arg, r.join) {
			return fmt.Sprintf("%s takes %s", r.name, r.valDoc)
		}
	}
	return "not on the allowlist"
}
