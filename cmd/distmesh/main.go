// Command distmesh spreads C, C++ and Objective-C compiles over the machines
// you own. See the README.
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
