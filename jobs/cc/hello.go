package cc

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/distmesh/distmesh/jobs/wrap"
)

// Hello is one compile as the agent handles it: a wrapper's job (see
// package wrap), analysed.
type Hello struct {
	Compiler string    // the real compiler's absolute path
	Stamp    FileStamp // its driver, as the wrapper sees it
	Name     string    // the driver's name as invoked
	Args     []string  // the arguments, response files expanded
	Env      []string  // the environment that matters (CompileEnv)
	Native   bool
	Fallback bool // DISTMESH_FALLBACK is not 0: any failure compiles locally
	Debug    bool // DISTMESH_LOG=debug: tell the user where the job went
	Source   string
	Lang     string
	Dir      string   // physical working directory
	PWD      string   // $PWD
	Dirs     []string // include and output directories
	Includes []string // -include and -imacros files
	Color    bool     // stderr is a terminal: ask the node for colour
	Outputs  []Output
	ScanArgs []string
}

// NewHello analyses a wrapper's job for a compiler of family f, reading
// response files with readFile. It returns a reason to compile locally
// when the job is not a distributable compile.
func NewHello(f Family, j *wrap.Job, readFile func(name string) ([]byte, error)) (h *Hello, local string) {
	args, err := ExpandResponseFiles(f, j.Args, readFile)
	if err != nil {
		return nil, err.Error()
	}
	a := Analyze(f, args, j.Env)
	if a.Local != "" {
		return nil, a.Local
	}
	env, why := CompileEnv(j.Env)
	if why != "" {
		return nil, why
	}
	if a.Lang == "c" && a.LangByName && strings.Contains(filepath.Base(j.Name), "++") {
		// g++ and clang++ compile a .c file as C++: with C++'s search path.
		a.Lang = "c++"
	}
	for _, o := range a.Outputs {
		if strings.HasPrefix(o.Path, "/dev/") || strings.HasPrefix(o.Path, "/proc/") {
			return nil, "output to " + o.Path
		}
		// A node's job has a /tmp of its own, gone with the job: a file
		// written in /tmp itself would never come back.
		p := o.Path
		if !path.IsAbs(p) {
			p = j.Dir + "/" + p
		}
		if path.Dir(p) == "/tmp" {
			return nil, "output in /tmp itself: " + o.Path
		}
	}
	getenv := func(k string) string {
		v := ""
		for _, kv := range j.Env {
			if val, ok := strings.CutPrefix(kv, k+"="); ok {
				v = val
			}
		}
		return v
	}
	h = &Hello{
		Compiler: j.Compiler, Stamp: j.Stamp, Name: filepath.Base(j.Name),
		Args: a.Args, Env: env, Native: a.Native,
		Fallback: getenv("DISTMESH_FALLBACK") != "0", Debug: getenv("DISTMESH_LOG") == "debug",
		Source: a.Source, Lang: a.Lang, Dir: j.Dir, PWD: getenv("PWD"),
		Dirs: IncludeDirs(a.Args), Includes: ForcedIncludes(a.Args),
		Color:   j.Terminal && getenv("TERM") != "dumb" && !colorChosen(a.Args),
		Outputs: a.Outputs, ScanArgs: a.ScanArgs,
	}
	for _, o := range a.Outputs {
		h.Dirs = append(h.Dirs, DirOf(o.Path))
	}
	return h, ""
}

// ForcedIncludes lists the files of -include and -imacros.
func ForcedIncludes(args []string) []string {
	var files []string
	for i := 0; i < len(args); i++ {
		for _, opt := range []string{"-include", "-imacros"} {
			if args[i] == opt && i+1 < len(args) {
				files = append(files, args[i+1])
				i++
				break
			}
			if f, ok := strings.CutPrefix(args[i], opt); ok && f != "" && !strings.HasPrefix(f, "-") {
				files = append(files, f) // -includefile, as GCC and clang take it too
				break
			}
		}
	}
	return files
}

// IncludeDirs lists the include directories named in args.
func IncludeDirs(args []string) []string {
	var dirs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		for _, opt := range []string{"-I", "-iquote", "-isystem", "-idirafter"} {
			if a == opt && i+1 < len(args) {
				dirs = append(dirs, args[i+1])
				i++
				break
			}
			if strings.HasPrefix(a, opt) && len(a) > len(opt) && (opt != "-I" || !strings.HasPrefix(a, "-I-")) {
				dirs = append(dirs, a[len(opt):])
				break
			}
		}
	}
	return dirs
}

// colorChosen reports whether args choose whether to colour messages. A
// local compile on a terminal colours them unless told otherwise, so a
// remote one is told to when they do not.
func colorChosen(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "-fdiagnostics-color") || strings.HasPrefix(a, "-fno-diagnostics-color") ||
			strings.HasPrefix(a, "-fcolor-diagnostics") || strings.HasPrefix(a, "-fno-color-diagnostics") {
			return true
		}
	}
	return false
}
