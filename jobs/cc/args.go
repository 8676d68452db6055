package cc

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Family is a compiler driver family. GCC and Clang accept nearly the same
// command line but differ in a few output naming rules, in how they split
// response files, and in which options they accept.
type Family int

const (
	// FamilyGCC is the GNU compiler driver (gcc, g++, cc, c++, x86_64-linux-gnu-gcc-12, ...).
	FamilyGCC Family = iota
	// FamilyClang is the LLVM compiler driver in its GCC-compatible mode (clang, clang++).
	FamilyClang
)

// String returns "gcc" or "clang".
func (f Family) String() string {
	if f == FamilyClang {
		return "clang"
	}
	return "gcc"
}

// OutputKind says what an output file is.
type OutputKind int

const (
	// KindObject is the object file (-o, or the source's base name with .o).
	KindObject OutputKind = iota
	// KindDeps is a make-style dependency file the compiler replaces
	// (-MD, -MMD, -MF, -Wp,-MD,file).
	KindDeps
	// KindDepsAppend is a dependency file GCC appends to (DEPENDENCIES_OUTPUT
	// or SUNPRO_DEPENDENCIES in the environment): the node starts from an
	// empty file, so the client must append the returned bytes, not replace
	// its file with them.
	KindDepsAppend
	// KindDWO is the split DWARF file of -gsplit-dwarf.
	KindDWO
	// KindGCNO is the coverage notes file of -ftest-coverage or --coverage.
	KindGCNO
	// KindStackUsage is the .su file of -fstack-usage.
	KindStackUsage
)

var kindNames = [...]string{"object", "deps", "deps-append", "dwo", "gcno", "su"}

// String returns a short name: object, deps, deps-append, dwo, gcno or su.
func (k OutputKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("OutputKind(%d)", int(k))
}

// Output is one file a compile writes.
type Output struct {
	// Path is the file name as the compiler resolves it: absolute, or
	// relative to the compile's working directory. It is not cleaned
	// (a/../b is not b when a is a symbolic link).
	Path string
	Kind OutputKind
}

// Analysis is what Analyze learnt from one compiler command line.
type Analysis struct {
	Family Family
	// Args are the arguments to run the compiler with: those given to
	// Analyze, unchanged (expand response files first with
	// ExpandResponseFiles).
	Args []string
	// Lang is the source language: "c", "c++", "objective-c",
	// "objective-c++" or "assembler-with-cpp" for a distributable job;
	// otherwise whatever -x or the extension said, possibly "".
	Lang string
	// LangByName: Lang comes from the source's name, as no -x sets it
	// (g++ and clang++ take a .c by name as C++: see NewHello).
	LangByName bool
	// Source is the one source file, as given.
	Source string
	// Outputs are every file the compile writes, in kind order (object,
	// dependency file, .dwo, .gcno, .su). Empty when Local is set.
	Outputs []Output
	// ScanArgs make the same compiler print, on stdout, the make-style list
	// of every file the preprocessor reads (system headers included) and
	// write nothing: Args without -c, -o and every dependency-file option,
	// with -M in front. Nil when Local is set. GCC ignores
	// DEPENDENCIES_OUTPUT under -M and Clang 14 ignores it altogether, so
	// the scan may run with the compile's environment.
	ScanArgs []string
	// Native reports -march=native, -mtune=native or -mcpu=native: the job
	// may only go to a node whose compiler expands them identically.
	Native bool
	// Local is "" when the job may be distributed; otherwise a short reason
	// to compile locally. A job is distributed only when Local is "" and
	// CheckArgs accepts Args.
	Local string
}

// Analyze analyses the arguments of one GCC or Clang invocation (those
// after the compiler name) run with the environment env ("NAME=value"
// entries). It is pure: it reads no files and runs nothing, so client and
// node reach the same answer. An argument starting with @ (a response file
// ExpandResponseFiles could not read, or any response file on the node)
// makes the job local.
func Analyze(f Family, args []string, env []string) Analysis {
	a := Analysis{Family: f, Args: args}
	p := parseArgs(f, args)
	a.Native = p.native
	if len(p.inputs) == 1 {
		a.Source = p.inputs[0].path
		a.Lang = p.inputs[0].language(f)
		a.LangByName = p.inputs[0].lang == "" || p.inputs[0].lang == "none"
	}
	if a.Local = p.localReason(a.Lang); a.Local != "" {
		return a
	}
	if _, reason := CompileEnv(env); reason != "" {
		a.Local = reason
		return a
	}
	a.Outputs, a.Local = p.outputs(a.Source, a.Lang, env)
	if a.Local != "" {
		a.Outputs = nil
		return a
	}
	a.ScanArgs = scanArgs(args)
	return a
}

// distributable lists the languages a node compiles.
var distributable = map[string]bool{
	"c": true, "c++": true, "objective-c": true, "objective-c++": true, "assembler-with-cpp": true,
}

// input is one non-option argument and the -x language in force before it.
type input struct {
	path string
	lang string // "" or "none": from the extension
}

// language returns the input's language: the -x in force, otherwise the
// one its extension implies to f's driver ("" for a linker input).
func (in input) language(f Family) string {
	if in.lang != "" && in.lang != "none" {
		return in.lang
	}
	base := path.Base(in.path)
	dot := strings.LastIndexByte(base, '.')
	if dot < 0 {
		return ""
	}
	switch ext := base[dot:]; ext {
	case ".c":
		return "c"
	case ".cc", ".cp", ".cxx", ".cpp", ".CPP", ".c++", ".C":
		return "c++"
	case ".CC":
		if f == FamilyClang {
			return "c++"
		}
	case ".m":
		return "objective-c"
	case ".mm", ".M":
		return "objective-c++"
	case ".S":
		return "assembler-with-cpp"
	case ".sx": // Clang 14 does not know .sx and treats it as a linker input.
		if f == FamilyGCC {
			return "assembler-with-cpp"
		}
	case ".s":
		return "assembler"
	case ".i":
		return "cpp-output"
	case ".ii":
		return "c++-cpp-output"
	case ".mi", ".mii":
		return "objective-c-cpp-output"
	case ".h":
		return "c-header"
	case ".hh", ".H", ".hp", ".hxx", ".hpp", ".HPP", ".h++", ".tcc":
		return "c++-header"
	}
	return ""
}

// parsed is what one pass over the arguments found.
type parsed struct {
	f          Family
	inputs     []input
	lang       string   // the -x in force
	empty      bool     // an empty argument
	respFile   bool     // an @file argument
	stdin      bool     // "-" as an input
	missing    string   // an option whose value is missing
	compile    bool     // -c
	preprocess bool     // -E
	assemble   bool     // -S
	depsOnly   bool     // -M or -MM
	syntaxOnly bool     // -fsyntax-only
	saveTemps  bool     // -save-temps*
	outs       []string // every -o value
	md         bool     // -MD or -MMD
	mf         []string // every -MF value
	depOpts    bool     // -MT, -MQ or -MP
	mg         bool     // -MG
	wpDeps     []string // files of -Wp,-MD,file and -Wp,-MMD,file
	wpBad      bool     // a -Wp, dependency option we do not model
	split      bool     // the last split-DWARF option asks for a .dwo
	debug      bool     // Clang: the last debug-level option leaves debug info on
	coverage   bool     // --coverage
	testCov    bool     // the last of -ftest-coverage / -fno-test-coverage
	stackUsage bool     // -fstack-usage
	lto        bool     // the last of -flto* / -fno-lto
	native     bool     // -march=native and the like
}

func parseArgs(f Family, args []string) *parsed {
	p := &parsed{f: f}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "":
			p.empty = true
		case arg[0] == '@':
			p.respFile = true
		case arg == "-":
			p.stdin = true
		case arg[0] != '-':
			p.inputs = append(p.inputs, input{arg, p.lang})
		case separateValue[arg]:
			if i+1 == len(args) {
				p.missing = arg
				return p
			}
			i++
			p.valued(arg, args[i])
		default:
			p.flag(arg)
		}
	}
	return p
}

// valued records an option whose value is the next argument.
func (p *parsed) valued(opt, val string) {
	switch opt {
	case "-o", "--output":
		p.outs = append(p.outs, val)
	case "-x", "--language":
		p.lang = val
	case "-MF":
		p.mf = append(p.mf, val)
	case "-MT", "-MQ":
		p.depOpts = true
	}
}

// flag records an option that stands alone or carries its value joined.
func (p *parsed) flag(arg string) {
	switch arg {
	case "-c", "--compile":
		p.compile = true
	case "-E", "--preprocess":
		p.preprocess = true
	case "-S", "--assemble":
		p.assemble = true
	case "-M", "-MM", "--dependencies", "--user-dependencies":
		p.depsOnly = true
	case "-fsyntax-only":
		p.syntaxOnly = true
	case "-MD", "-MMD", "--write-dependencies", "--write-user-dependencies":
		p.md = true
	case "-MP":
		p.depOpts = true
	case "-MG", "--print-missing-file-dependencies":
		p.mg = true
	case "-gsplit-dwarf":
		p.split = true
	case "-gno-split-dwarf":
		p.split = false
	case "--coverage", "-coverage":
		p.coverage = true
	case "-ftest-coverage":
		p.testCov = true
	case "-fno-test-coverage":
		p.testCov = false
	case "-fstack-usage":
		p.stackUsage = true
	case "-flto":
		p.lto = true
	case "-fno-lto":
		p.lto = false
	case "-march=native", "-mtune=native", "-mcpu=native":
		p.native = true
	}
	switch {
	case strings.HasPrefix(arg, "-MF"):
		p.mf = append(p.mf, arg[3:])
	case strings.HasPrefix(arg, "-MT"), strings.HasPrefix(arg, "-MQ"):
		p.depOpts = true
	case strings.HasPrefix(arg, "--output="):
		p.outs = append(p.outs, arg[len("--output="):])
	case strings.HasPrefix(arg, "-o") && !strings.HasPrefix(arg, "-obj"):
		// -objcmt-* and -object-file-name= are other Clang options.
		p.outs = append(p.outs, arg[2:])
	case strings.HasPrefix(arg, "-x"):
		p.lang = arg[2:]
	case strings.HasPrefix(arg, "--language="):
		p.lang = arg[len("--language="):]
	case strings.HasPrefix(arg, "-save-temps"), strings.HasPrefix(arg, "--save-temps"):
		p.saveTemps = true
	case strings.HasPrefix(arg, "-flto="):
		p.lto = true
	case strings.HasPrefix(arg, "-Wp,"):
		p.wp(strings.Split(arg[len("-Wp,"):], ","))
	case p.f == FamilyClang && strings.HasPrefix(arg, "-gsplit-dwarf="):
		p.split = arg == "-gsplit-dwarf=split"
	}
	if p.f == FamilyClang {
		if on, ok := clangDebugLevel(arg); ok {
			p.debug = on
		}
	}
}

// wp records the preprocessor options of one -Wp, argument. Both drivers
// turn exactly "-Wp,-MD,file" and "-Wp,-MMD,file" into a dependency file;
// any other dependency option passed this way is not modelled.
func (p *parsed) wp(parts []string) {
	if (parts[0] == "-MD" || parts[0] == "-MMD") && len(parts) == 2 {
		p.wpDeps = append(p.wpDeps, parts[1])
		return
	}
	for _, part := range parts {
		if strings.HasPrefix(part, "-M") {
			p.wpBad = true
		}
	}
}

// clangDebugLevel reports whether arg is one of Clang 14's debug-level
// options (its g_Group) and whether it leaves debug information on. Clang
// writes a .dwo only when debug information is on; GCC 12 writes one for
// -gsplit-dwarf whatever the level. Verified option by option against the
// real compilers by TestOutputsDebugOptions.
func clangDebugLevel(arg string) (on, ok bool) {
	switch arg {
	case "-g0", "-ggdb0", "-gline-directives-only":
		return false, true
	case "-g", "-g1", "-g2", "-g3", "-ggdb", "-ggdb1", "-ggdb2", "-ggdb3",
		"-gline-tables-only", "-gmlt", "-glldb", "-gsce",
		"-gdwarf", "-gdwarf-2", "-gdwarf-3", "-gdwarf-4", "-gdwarf-5", "-gdwarf32", "-gdwarf64":
		return true, true
	}
	return false, false
}

// localReason returns why the job must run locally, or "".
func (p *parsed) localReason(lang string) string {
	switch {
	case p.empty:
		return "empty argument"
	case p.respFile:
		return "unreadable response file"
	case p.missing != "":
		return p.missing + " without a value"
	case p.preprocess:
		return "preprocess only (-E)"
	case p.depsOnly:
		return "dependencies only (-M or -MM)"
	case p.assemble:
		return "assembly output (-S)"
	case p.syntaxOnly:
		return "syntax check only (-fsyntax-only)"
	case !p.compile:
		return "linking"
	case p.saveTemps:
		return "-save-temps"
	case p.stdin:
		return "stdin input"
	case len(p.inputs) == 0:
		return "no source file"
	case len(p.inputs) > 1:
		return "several sources"
	case lang == "":
		return "not a source file"
	case !distributable[lang]:
		return "language " + lang + " is not distributed"
	case len(p.outs) > 1:
		return "several -o options"
	case p.wpBad:
		return "-Wp, dependency option other than -MD,file or -MMD,file"
	case len(p.wpDeps) > 0 && (p.md || len(p.mf) > 0):
		return "-Wp,-MD combined with -MD, -MMD or -MF"
	case len(p.mf) > 1 || len(p.wpDeps) > 1:
		// Both compilers write only the last; the others would be
		// options naming files that are never written.
		return "several dependency files named"
	case p.mg:
		return "-MG without -M or -MM"
	case !p.md && len(p.wpDeps) == 0 && (len(p.mf) > 0 || p.depOpts):
		return "-MF, -MT, -MQ or -MP without -MD or -MMD"
	}
	if len(p.outs) == 1 {
		o := p.outs[0]
		switch b := path.Base(o); {
		case o == "-":
			return "object to stdout (-o -)"
		case o == "" || strings.HasSuffix(o, "/") || b == "." || b == "..":
			return "-o names a directory"
		}
	}
	return ""
}

// outputs lists the files the compile writes, following the naming rules
// of GCC 12 and Clang 14 (each verified by TestOutputsRealCompilers), or
// returns a reason to compile locally.
func (p *parsed) outputs(src, lang string, env []string) ([]Output, string) {
	out, haveOut := "", len(p.outs) == 1
	if haveOut {
		out = p.outs[0]
	}
	// aux names an auxiliary output: next to -o without its suffix, or in
	// the working directory after the source's base name.
	aux := func(suffix string) string {
		if haveOut {
			dir, base := path.Split(out)
			return dir + p.stem(base) + suffix
		}
		return p.stem(path.Base(src)) + suffix
	}
	var outs []Output
	derived := false // an output is named after -o
	add := func(kind OutputKind, name string, fromOut bool) {
		outs = append(outs, Output{Path: name, Kind: kind})
		derived = derived || (fromOut && haveOut)
	}

	obj := out
	if !haveOut {
		obj = aux(".o")
	}
	add(KindObject, obj, false)

	switch {
	case len(p.wpDeps) == 1:
		add(KindDeps, p.wpDeps[0], false)
	case p.md && len(p.mf) == 1:
		add(KindDeps, p.mf[0], false)
	case p.md && haveOut:
		// The -MD file drops -o's suffix even when it is all the
		// name (GCC's %.d spec and Clang's replace_extension agree).
		dir, base := path.Split(out)
		if dot := strings.LastIndexByte(base, '.'); dot >= 0 {
			base = base[:dot]
		}
		add(KindDeps, dir+base+".d", true)
	case p.md:
		add(KindDeps, aux(".d"), false)
	case p.f == FamilyGCC:
		// GCC honours these only without -MD, -MMD and -Wp,-MD, and
		// appends; Clang 14 ignores them. CompileEnv has checked the
		// value is "file [target]".
		if spec, ok := envDepsSpec(env); ok {
			file, _, _ := strings.Cut(spec, " ")
			add(KindDepsAppend, file, false)
		}
	}
	// Clang writes a .dwo only with debug information on and not under
	// LTO; GCC writes one whenever -gsplit-dwarf is in force.
	if p.split && (p.f == FamilyGCC || (p.debug && !p.lto)) {
		add(KindDWO, aux(".dwo"), true)
	}
	if (p.coverage || p.testCov) && lang != "assembler-with-cpp" {
		add(KindGCNO, aux(".gcno"), true)
	}
	if p.stackUsage && !p.lto && lang != "assembler-with-cpp" {
		add(KindStackUsage, aux(".su"), true)
	}

	// GCC names auxiliary outputs of -o /dev/null after the source, Clang
	// after /dev/null: neither belongs in /dev.
	if derived && strings.HasPrefix(out, "/dev/") {
		return nil, "auxiliary output named after -o " + out
	}
	seen := map[string]bool{path.Clean(src): true}
	for _, o := range outs {
		if b := path.Base(o.Path); o.Path == "" || strings.HasSuffix(o.Path, "/") || b == "." || b == ".." {
			return nil, fmt.Sprintf("%s output %q names a directory", o.Kind, o.Path)
		}
		c := path.Clean(o.Path)
		if seen[c] {
			return nil, fmt.Sprintf("%s output %q overwrites another file of the job", o.Kind, o.Path)
		}
		seen[c] = true
	}
	return outs, ""
}

// stem drops a file name's suffix the way p's driver does for auxiliary
// outputs: GCC keeps a leading dot (".c" stays ".c"), Clang drops it.
func (p *parsed) stem(base string) string {
	dot := strings.LastIndexByte(base, '.')
	if dot < 0 || (dot == 0 && p.f == FamilyGCC) || base == "." || base == ".." {
		return base
	}
	return base[:dot]
}

// envDepsSpec returns DEPENDENCIES_OUTPUT, or else SUNPRO_DEPENDENCIES,
// from env, as GCC reads them.
func envDepsSpec(env []string) (string, bool) {
	if v, ok := lookupEnv(env, "DEPENDENCIES_OUTPUT"); ok {
		return v, true
	}
	return lookupEnv(env, "SUNPRO_DEPENDENCIES")
}

// scanArgs returns args without -c, -o and the dependency-file options,
// with -M in front.
func scanArgs(args []string) []string {
	scan := []string{"-M"}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch arg {
		case "-c", "--compile", "-MD", "-MMD", "--write-dependencies", "--write-user-dependencies", "-MP", "-MG":
			continue
		case "-o", "--output", "-MF", "-MT", "-MQ":
			i++
			continue
		}
		if separateValue[arg] && i+1 < len(args) {
			scan = append(scan, arg, args[i+1])
			i++
			continue
		}
		if strings.HasPrefix(arg, "-MF") || strings.HasPrefix(arg, "-MT") || strings.HasPrefix(arg, "-MQ") ||
			strings.HasPrefix(arg, "--output=") ||
			(strings.HasPrefix(arg, "-o") && !strings.HasPrefix(arg, "-obj")) ||
			strings.HasPrefix(arg, "-Wp,-MD,") || strings.HasPrefix(arg, "-Wp,-MMD,") {
			continue
		}
		scan = append(scan, arg)
	}
	return scan
}

// ErrResponseFile reports a response file that could not be expanded.
var ErrResponseFile = errors.New("unreadable response file")

// Limits on response file expansion, shared by the whole expansion so a
// file that names itself many times cannot make it explode.
const (
	maxResponseDepth = 16
	maxResponseReads = 1024
	maxArgs          = 1 << 16
)

// ExpandResponseFiles replaces every @file argument with the arguments
// file holds, split as f's driver splits them (whitespace-separated, single
// and double quotes, backslash escaping any character, nested @file
// resolved against the working directory as both drivers do). readFile
// reads a file named as in the argument; the caller resolves relative
// names against the compile's working directory. Like the compilers, it
// leaves an argument it cannot expand in place, and then also returns an
// error wrapping ErrResponseFile that names the first one (Analyze makes
// such a job local).
func ExpandResponseFiles(f Family, args []string, readFile func(name string) ([]byte, error)) ([]string, error) {
	e := &expander{f: f, readFile: readFile}
	out := e.expand(args, 0)
	return out, e.err
}

type expander struct {
	f        Family
	readFile func(string) ([]byte, error)
	reads    int   // files read so far
	args     int   // arguments produced so far
	err      error // the first failure
}

func (e *expander) expand(args []string, depth int) []string {
	var out []string
	for _, arg := range args {
		if !strings.HasPrefix(arg, "@") || len(arg) == 1 {
			out = append(out, arg)
			e.args++
			continue
		}
		name := arg[1:]
		var data []byte
		var err error
		switch e.reads++; {
		case depth >= maxResponseDepth:
			err = errors.New("nested too deeply")
		case e.reads > maxResponseReads || e.args > maxArgs:
			err = errors.New("too many response files or arguments")
		default:
			data, err = e.readFile(name)
			if err == nil && strings.IndexByte(string(data), 0) >= 0 {
				err = errors.New("contains a NUL byte")
			}
		}
		if err != nil {
			if e.err == nil {
				e.err = fmt.Errorf("%w %q: %w", ErrResponseFile, name, err)
			}
			out = append(out, arg)
			continue
		}
		out = append(out, e.expand(splitResponse(e.f, string(data)), depth+1)...)
	}
	return out
}

// splitResponse splits the contents of a response file into arguments.
// GCC (libiberty's buildargv) also separates on \v and \f and keeps empty
// quoted arguments; Clang (its GNU tokenizer) does neither.
func splitResponse(f Family, s string) []string {
	space := func(c byte) bool {
		switch c {
		case ' ', '\t', '\n', '\r':
			return true
		case '\v', '\f':
			return f == FamilyGCC
		}
		return false
	}
	var args []string
	var cur strings.Builder
	inArg := false // an argument has started, possibly empty ('')
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inArg = true
		case c == '\\':
			inArg = true // a trailing backslash escapes nothing
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			inArg = true
		case space(c):
			if inArg && (cur.Len() > 0 || f == FamilyGCC) {
				args = append(args, cur.String())
			}
			cur.Reset()
			inArg = false
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg && (cur.Len() > 0 || f == FamilyGCC) {
		args = append(args, cur.String())
	}
	return args
}
