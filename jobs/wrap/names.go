package wrap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

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

// self is this program's executable, symlinks resolved.
func self() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}

// Beside is the binary name installed in the same directory as this
// program ("" and an error saying what to install when it is not there).
func Beside(name string) (string, error) {
	me, err := self()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(me), name)
	if _, err := os.Stat(p); err != nil {
		return "", errors.New(name + " is not installed beside " + me + ": install all three binaries (make build puts them in bin/)")
	}
	return p, nil
}

// SelfChecker returns a function reporting whether a path is distmesh: this
// program, or one of the binaries installed beside it (a masquerade link
// points at the wrapper even when the node looks for compilers).
func SelfChecker() func(string) bool {
	me, err := self()
	return func(p string) bool {
		r, rerr := filepath.EvalSymlinks(p)
		if err != nil || rerr != nil {
			return false
		}
		if r == me {
			return true
		}
		base := filepath.Base(r)
		return filepath.Dir(r) == filepath.Dir(me) && (base == FrontName || base == NodeName || base == LauncherName)
	}
}

// SocketPath is where the agent of home listens.
func SocketPath(home string) string { return filepath.Join(home, "agent.sock") }

// SystemHome is the home of a node started as root.
const SystemHome = "/var/lib/distmesh"

// DefaultHome is SystemHome for root, else $XDG_DATA_HOME/distmesh
// (~/.local/share/distmesh), else SystemHome when there is no home
// directory.
func DefaultHome() string {
	if os.Geteuid() == 0 {
		return SystemHome
	}
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "distmesh")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "distmesh")
	}
	return SystemHome
}
