// Package cli is distmesh's command tree: the subcommands, their flags, and
// the composition root that wires keys, transport, discovery and jobs into a
// running node (runNode).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/distmesh/distmesh/jobs/wrap"
)

// errUsage marks errors in how a command was called (exit status 2).
var errUsage = errors.New("usage")

type command struct {
	name    string
	args    string // synopsis of the arguments
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// env is what every command gets: where to write, and the home directory.
type env struct {
	stdout, stderr io.Writer
	home           string
}

func commands() []command {
	return []command{
		{"init", "[--name NAME]", "create a new mesh on this machine (the issuer)", runInit},
		{"join", "[TOKEN] [--listen ADDR] [--client-only]", "enroll with a token, then run this node; without a token, run an enrolled node", runJoin},
		{"keys", "add|list|revoke|renew|show", "manage the mesh's machines and this node's certificates", runKeys},
		{"status", "[--json] [--since 10m]", "this node's peers, jobs sent and served, local compiles and why", runStatus},
		{"peers", "[--json]", "the peers this node knows, where from, verified or not, and why", runPeers},
		{"top", "[--once]", "a live view of the mesh: nodes, slots, running jobs, jobs per second", runTop},
		{"masquerade", "DIR", "fill DIR with compiler names that run through distmesh", runMasquerade},
		{"doctor", "", "what this machine enforces for remote compiles, and the compilers it serves", runDoctor},
		{"help", "", "show this help", nil},
	}
}

// Main runs the command line (os.Args) of distmesh-node, which the
// distmesh front execs for every command that is not a compile, and
// returns the process's exit status.
func Main(argv []string) int {
	args := argv[1:]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: os.Stdout, stderr: os.Stderr}
	err := run(ctx, e, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(e.stderr, "distmesh: %v\n", err)
		return 2
	default:
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintf(e.stderr, "distmesh: %v\n", err)
		return 1
	}
}

// exitError ends the process with a status and no message (the message, if
// any, was already printed).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// CommandNames lists the commands, for the front's dispatch.
func CommandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

func run(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] && c.run != nil {
			return c.run(ctx, e, args[1:])
		}
	}
	if strings.HasPrefix(args[0], "-") && args[0] != "--" {
		return fmt.Errorf("%w: unknown flag %s before a command; run `distmesh help`", errUsage, args[0])
	}
	return fmt.Errorf("%w: unknown command %q; run `distmesh help`", errUsage, args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "distmesh spreads C, C++ and Objective-C compiles over the machines you own.")
	fmt.Fprintln(w, "\nUsage:\n  distmesh COMMAND [ARGS]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %-42s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "  COMPILER ARGS…                                                      compile through the mesh: distmesh gcc -c x.c")
	fmt.Fprintln(w, "\nEvery command takes --home DIR (or DISTMESH_HOME); the default is", wrap.DefaultHome()+".")
}

// homeFromEnv is DISTMESH_HOME or the default.
func homeFromEnv() string {
	if h := os.Getenv("DISTMESH_HOME"); h != "" {
		return h
	}
	return wrap.DefaultHome()
}

// flags returns a FlagSet for a command with the --home flag every command
// takes.
func (e *env) flags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&e.home, "home", homeFromEnv(), "the node's home `DIR` (keys, config.toml, state)")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: distmesh %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after positional arguments
// ("join TOKEN --listen :3633" and "join --listen :3633 TOKEN" alike) and
// returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if fs.Lookup("home") != nil && fsHome(fs) == "" {
		// filepath.Abs("") is the working directory: an unset variable
		// in --home "$H" must not make a node of it.
		return nil, fmt.Errorf("%w: --home is empty: give the node's home directory, or leave out --home for the default", errUsage)
	}
	if abs, err := filepath.Abs(fsHome(fs)); err == nil {
		fs.Set("home", abs)
	}
	return pos, nil
}

func fsHome(fs *flag.FlagSet) string {
	if f := fs.Lookup("home"); f != nil {
		return f.Value.String()
	}
	return ""
}

// wantArgs checks the number of positional arguments.
func wantArgs(pos []string, min, max int, synopsis string) error {
	if len(pos) < min || len(pos) > max {
		return fmt.Errorf("%w: distmesh %s", errUsage, synopsis)
	}
	return nil
}
