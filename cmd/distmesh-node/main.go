// Command distmesh-node is the rest of distmesh: the node (SSH server,
// discovery, agent, sandbox) and every command but the compiler wrapper.
// Users run it as `distmesh COMMAND`: the distmesh front execs it.
package main

import (
	"os"

	"github.com/distmesh/distmesh/cmd/distmesh/cli"
	"github.com/distmesh/distmesh/landlock"
)

func main() {
	// The sandbox launcher is this binary re-executed; it must run before
	// anything else.
	if landlock.IsLauncher() {
		landlock.Main()
	}
	os.Exit(cli.Main(os.Args))
}
