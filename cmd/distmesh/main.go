// Command distmesh spreads C, C++ and Objective-C compiles over the machines
// you own. See the README.
//
// This binary is the compiler wrapper every compile of a build starts, so
// it links only the wrapper (package wrap): a Go program's start-up grows
// with what it links (package initialisation, pages touched), and the whole
// node (SSH, discovery, sandbox) would triple the wrapper's. Every other
// command is handed to distmesh-node, installed beside it.
package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/distmesh/distmesh/jobs/wrap"
)

// commands are distmesh-node's commands (TestCommandsMatch keeps the list
// true).
var commands = []string{"init", "join", "keys", "status", "peers", "top", "masquerade", "doctor", "help"}

func main() {
	os.Exit(dispatch(os.Args))
}

// dispatch wraps a compiler when invoked under a compiler's name (a masquerade
// link), or with a first argument that is not a distmesh command (distmesh
// gcc -c x.c, distmesh /usr/bin/gcc-12 …, CMake's COMPILER_LAUNCHER form);
// `distmesh -- NAME ARGS…` does so for a compiler whose name is a distmesh
// command. A compiler's arguments are never parsed as distmesh's.
// Anything else is distmesh-node's.
func dispatch(argv []string) int {
	if base := filepath.Base(argv[0]); !strings.HasPrefix(base, wrap.FrontName) && wrap.IsCompilerName(base) {
		return wrap.Main(wrap.Home(), base, argv[1:])
	}
	args := argv[1:]
	switch {
	case len(args) > 0 && args[0] == "--":
		if len(args) < 2 {
			os.Stderr.WriteString("distmesh: usage: distmesh -- COMPILER ARGS…\n")
			return 2
		}
		return wrap.Main(wrap.Home(), args[1], args[2:])
	case len(args) > 0 && !slices.Contains(commands, args[0]) && !strings.HasPrefix(args[0], "-"):
		return wrap.Main(wrap.Home(), args[0], args[1:])
	}
	node, ok := nodeBinary()
	if !ok {
		os.Stderr.WriteString("distmesh: " + wrap.NodeName + " is neither beside this program nor in PATH: install all three binaries (make build puts them in bin/)\n")
		return 127
	}
	err := syscall.Exec(node, append([]string{node}, args...), os.Environ())
	os.Stderr.WriteString("distmesh: run " + node + ": " + err.Error() + "\n")
	return 127
}

// nodeBinary is distmesh-node beside this binary, else in PATH.
func nodeBinary() (string, bool) {
	if p, err := wrap.Beside(wrap.NodeName); err == nil {
		return p, true
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, wrap.NodeName)
		if dir != "" && syscall.Access(p, 1) == nil {
			return p, true
		}
	}
	return "", false
}
