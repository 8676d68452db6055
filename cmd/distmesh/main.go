// Command distmesh spreads C, C++ and Objective-C compiles over the machines
// you own. See the README.
//
// This binary is the compiler wrapper every compile of a build starts, so
// it links only the wrapper (package cc): a Go program's start-up grows
// with what it links, and the whole node (SSH, discovery, sandbox) would
// triple the wrapper's. Every other command is handed to distmesh-node,
// installed beside it. The node starts each job's sandbox launcher from
// this binary too, for the same reason (see landlock.UseLauncher).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/distmesh/distmesh/jobs/cc"
	"github.com/distmesh/distmesh/landlock"
)

// commands are distmesh-node's commands (TestCommandsMatch keeps the list
// true).
var commands = []string{"init", "join", "keys", "status", "peers", "top", "masquerade", "doctor", "help"}

func main() {
	if landlock.IsLauncher() { // started by the node, in a job's new namespaces
		landlock.Main()
	}
	os.Exit(dispatch(os.Args))
}

// dispatch wraps a compiler when invoked under a compiler's name (a masquerade
// link), or with a first argument that is not a distmesh command (distmesh
// gcc -c x.c, distmesh /usr/bin/gcc-12 …, CMake's COMPILER_LAUNCHER form);
// `distmesh -- NAME ARGS…` does so for a compiler whose name is a distmesh
// command. A compiler's arguments are never parsed as distmesh's.
// Anything else is distmesh-node's.
func dispatch(argv []string) int {
	if base := filepath.Base(argv[0]); !strings.HasPrefix(base, cc.FrontName) && cc.IsCompilerName(base) {
		return cc.Wrap(cc.CompilerHome(), base, argv[1:])
	}
	args := argv[1:]
	switch {
	case len(args) > 0 && args[0] == "--":
		if len(args) < 2 {
			fmt.Fprintln(os.Stderr, "distmesh: usage: distmesh -- COMPILER ARGS…")
			return 2
		}
		return cc.Wrap(cc.CompilerHome(), args[1], args[2:])
	case len(args) > 0 && !slices.Contains(commands, args[0]) && !strings.HasPrefix(args[0], "-"):
		return cc.Wrap(cc.CompilerHome(), args[0], args[1:])
	}
	node, err := nodeBinary()
	if err != nil {
		fmt.Fprintf(os.Stderr, "distmesh: %v\n", err)
		return 127
	}
	err = syscall.Exec(node, append([]string{node}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "distmesh: run %s: %v\n", node, err)
	return 127
}

// nodeBinary is distmesh-node beside this binary, else in PATH.
func nodeBinary() (string, error) {
	if p, err := cc.Beside(cc.NodeName); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath(cc.NodeName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s is neither beside this program nor in PATH: install both binaries (make build puts them in bin/)", cc.NodeName)
}
