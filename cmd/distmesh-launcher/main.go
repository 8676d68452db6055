// Command distmesh-launcher is the sandbox launcher distmesh-node starts
// for every remote compile, in the job's new namespaces: it confines
// itself and runs the compiler (see package landlock). It is a binary of
// its own because one starts per job, and a Go program's start-up grows
// with what it links. It does nothing when run by hand.
package main

import (
	"os"

	"github.com/distmesh/distmesh/landlock"
)

func main() {
	if landlock.IsLauncher() {
		landlock.Main()
	}
	os.Stderr.WriteString("distmesh-launcher: distmesh-node starts this program for each compile it runs; it is not a command\n")
	os.Exit(2)
}
