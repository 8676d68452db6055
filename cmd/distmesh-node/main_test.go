package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/distmesh/distmesh/cmd/distmesh/cli"
)

// TestCommandsMatch: the front (cmd/distmesh/distmesh.c) hands exactly
// the node's commands to the node, and wraps everything else.
func TestCommandsMatch(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "distmesh", "distmesh.c"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)commands\[\] = \{(.*?)NULL`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no commands[] in distmesh.c")
	}
	var got []string
	for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllSubmatch(m[1], -1) {
		got = append(got, string(q[1]))
	}
	if want := cli.CommandNames(); !slices.Equal(got, want) {
		t.Errorf("the front's commands %q differ from distmesh-node's %q", got, want)
	}
}

// TestScripts runs the command-line scenarios in testdata/script: real
// nodes on 127.0.0.1, real SSH, real files.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("..", "..", "testdata", "script"),
		Setup: func(e *testscript.Env) error {
			bin, err := distmeshBin()
			if err != nil {
				return err
			}
			e.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+e.Getenv("PATH"))
			e.Setenv("DISTMESH_HOME", filepath.Join(e.WorkDir, "home"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitnode": waitNode,
			"envfile":  envFile,
		},
	})
}

// waitnode HOME waits until the node in HOME is serving and sets
// ADDR_<basename of HOME> to its address.
func waitNode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: waitnode HOME")
	}
	home := ts.MkAbs(args[0])
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct{ Listen []string }
		b, err := os.ReadFile(filepath.Join(home, "node.json"))
		if err == nil && json.Unmarshal(b, &st) == nil && len(st.Listen) > 0 {
			ts.Setenv("ADDR_"+filepath.Base(home), st.Listen[0])
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("node in %s did not start within 30s", home)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// envfile NAME FILE sets NAME to FILE's content without surrounding space
// (the scripts' stand-in for $(...)).
func envFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: envfile NAME FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}
