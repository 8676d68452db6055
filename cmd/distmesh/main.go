// Command distmesh spreads C, C++ and Objective-C compiles over the machines
// you own. See the README.
package main

import (
	"os"

	"github.com/distmesh/distmesh/cmd/distmesh/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
