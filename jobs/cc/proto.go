package cc

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Messages between a wrapper and the agent, on the agent socket (see
// LocalConn for the framing):
//
//	wrapper → agent  hello   Hello    the compile, as the wrapper sees it
//	agent → wrapper  local   Local    compile locally (holding the connection open holds a local slot)
//	                 open    Open     open these inputs (the agent's scanner found them)
//	wrapper → agent  opened  Opened   with descriptors for the ones that opened
//	agent → wrapper  scan    {}       run the compiler's own dependency scan (a computed #include)
//	wrapper → agent  deps    Deps     what it listed
//	agent → wrapper  result  Result, then one "out" message per output
//	                 error   text     (DISTMESH_FALLBACK=0 only)
type Hello struct {
	Compiler string    `json:"compiler"` // the real compiler's absolute path
	Stamp    FileStamp `json:"stamp"`    // its driver, as the wrapper sees it
	Name     string    `json:"name"`     // the driver's name as invoked
	Args     []string  `json:"args"`     // the arguments, response files expanded
	Env      []string  `json:"env"`      // the environment that matters (CompileEnv)
	Native   bool      `json:"native,omitempty"`
	Fallback bool      `json:"fallback"`
	Source   string    `json:"source"`
	Lang     string    `json:"lang"`
	Dir      string    `json:"dir"`             // physical working directory
	PWD      string    `json:"pwd,omitempty"`   // $PWD
	Dirs     []string  `json:"dirs"`            // include and output directories
	Includes []string  `json:"includes"`        // -include and -imacros files
	Color    bool      `json:"color,omitempty"` // stderr is a terminal: ask the node for colour
}

type Deps struct {
	Paths []string `json:"paths"`
}

// Open asks the wrapper to open files. It answers with Opened messages in
// order, each for the next names, carrying the descriptors of those that
// opened (at most MaxFDsPerMessage each), until every name is answered.
type Open struct {
	Paths []string `json:"paths"`
}

type Opened struct {
	OK []bool `json:"ok"` // for the next len(OK) names
}

type Local struct {
	Reason string `json:"reason"`
}

type Result struct {
	Exit    int          `json:"exit"`
	Stdout  []byte       `json:"stdout,omitempty"`
	Stderr  []byte       `json:"stderr,omitempty"`
	Node    string       `json:"node"`
	Outputs []OutputFile `json:"outputs,omitempty"`
}

// OutputFile announces one output; its content follows in a message of
// its own.
type OutputFile struct {
	Path string `json:"path"` // as named in the arguments
	Size int64  `json:"size"`
}

// SocketPath is where the agent of home listens.
func SocketPath(home string) string { return filepath.Join(home, "agent.sock") }

// FileStamp identifies one version of a file without reading it.
type FileStamp struct {
	Dev, Ino uint64
	Size     int64
	MTime    int64
	CTime    int64
}

func StampOf(fi os.FileInfo) FileStamp {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileStamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	}
	return FileStamp{Dev: st.Dev, Ino: st.Ino, Size: st.Size, MTime: st.Mtim.Nano(), CTime: st.Ctim.Nano()}
}

// DirOf is the directory part of a name as the compiler forms it (not
// cleaned: a/../b is not b when a is a symlink).
func DirOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return name[:i]
}

// IsCompilerName reports whether name is one a compiler driver goes by: cc,
// c++, gcc, g++, clang, clang++, with a version suffix (gcc-12, clang++-14)
// or a target prefix (x86_64-linux-gnu-gcc).
func IsCompilerName(name string) bool {
	base := name
	if i := strings.LastIndex(base, "-"); i > 0 {
		// gcc-12, clang-14, clang++-14: drop a numeric suffix.
		if v := base[i+1:]; v != "" && strings.Trim(v, "0123456789.") == "" {
			base = base[:i]
		}
	}
	for _, n := range []string{"cc", "c++", "gcc", "g++", "clang", "clang++"} {
		if base == n || strings.HasSuffix(base, "-"+n) && !strings.HasSuffix(base, "-"+n+"-") {
			// Exclude tools that end like a compiler but are not one.
			return !strings.HasSuffix(base, "c89-gcc") && !strings.HasSuffix(base, "c99-gcc")
		}
	}
	return false
}
