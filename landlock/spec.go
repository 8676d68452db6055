package landlock

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Spec describes the sandbox of one job. It is serialisable (JSON), so the
// daemon, tests and `distmesh doctor` all build the same thing.
type Spec struct {
	// Root is the job's prepared tree on the node, owned by the daemon's
	// user: the client's directories, files and symlinks at the client's
	// absolute paths below Root (Root+"/home/u/p/x.c"). It becomes "/"
	// inside the sandbox. Run adds what the sandbox needs to it: the
	// directories /proc, /dev and /tmp and placeholders (empty files,
	// directories and the node's symlinks) for Install, so a Root serves
	// one Run (a second one finds the placeholders in the way of Install
	// and fails with ErrConflict). When UID is another
	// user than the daemon's, everything the compiler reads must be
	// readable by others, and Run makes the Writable directories owned by
	// UID:GID.
	Root string
	// Install lists absolute node paths (files or directories; they may be
	// or pass through symlinks, e.g. /usr/bin/as -> x86_64-linux-gnu-as,
	// /lib64 -> usr/lib64) that appear read-only at the same path inside
	// the root: the compiler installation, the dynamic loader, libraries
	// (see [Closure]). Symlinks on the way are reproduced as symlinks; the
	// final files and directories are bind-mounted read-only. An Install
	// path that collides with something different in Root is an error
	// ([ErrConflict]), never silently shadowed: the node's own files
	// always win and the client must not place files there.
	Install []string
	// Exec lists the Install files that may be executed: the compiler
	// driver, cc1, as, and the ELF interpreter (the kernel checks execute
	// permission on the dynamic loader too). Everything else is readable,
	// not executable.
	Exec []string
	// Writable lists directories inside the root in which the compiler may
	// create and overwrite regular files and directories (the job's output
	// directories). They must exist in Root as real directories, with no
	// symlink on the way.
	Writable []string
	// Dir is the working directory inside the root.
	Dir string
	// Argv[0] is the absolute path of the program inside the root; it must
	// be listed in Exec.
	Argv []string
	// Env is the complete environment, built by the caller from scratch.
	// Run sets TMPDIR=/tmp, the job's private tmpfs.
	Env    []string
	Limits Limits
	// UID and GID are the outside ids the compiler runs as (mapped to 0
	// inside the job's user namespace). 0 means the daemon's own ids,
	// the only choice when the daemon is unprivileged. A daemon running
	// as root must name an unprivileged UID: compilers never run as root.
	UID, GID int
}

// Limits bounds one job. A zero field takes the default shown in
// [DefaultLimits]. CPU, AddressSpace and FileSize are per process
// (setrlimit); Processes counts the job's tasks (threads included) in its
// own user namespace, and its pids cgroup when the daemon is root.
type Limits struct {
	CPU          time.Duration // CPU time per process: SIGXCPU, then SIGKILL one second later
	Wall         time.Duration // wall-clock time of the whole job; Run kills it and reports "wall"
	AddressSpace int64         // bytes of virtual memory per process; allocations beyond fail
	FileSize     int64         // bytes per file written; writes beyond fail with EFBIG
	TmpSize      int64         // bytes of the job's private /tmp (tmpfs)
	OpenFiles    int           // open file descriptors per process
	Processes    int           // tasks of the job at once, at least 8 (the launcher needs a few before it executes the compiler)
}

// DefaultLimits are the limits used for the zero fields of a Spec's Limits.
func DefaultLimits() Limits {
	return Limits{
		CPU:          5 * time.Minute,
		Wall:         10 * time.Minute,
		AddressSpace: 8 << 30,
		FileSize:     1 << 30,
		TmpSize:      1 << 30,
		OpenFiles:    1024,
		Processes:    64,
	}
}

// minProcesses is the smallest Processes limit: the launcher is a Go
// program whose few threads count until it executes the compiler.
const minProcesses = 8

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v, def int64) int64 {
		if v == 0 {
			return def
		}
		return v
	}
	return Limits{
		CPU:          time.Duration(pick(int64(l.CPU), int64(d.CPU))),
		Wall:         time.Duration(pick(int64(l.Wall), int64(d.Wall))),
		AddressSpace: pick(l.AddressSpace, d.AddressSpace),
		FileSize:     pick(l.FileSize, d.FileSize),
		TmpSize:      pick(l.TmpSize, d.TmpSize),
		OpenFiles:    int(pick(int64(l.OpenFiles), int64(d.OpenFiles))),
		Processes:    int(pick(int64(l.Processes), int64(d.Processes))),
	}
}

// Result is how a job ended.
type Result struct {
	ExitCode int    // the compiler's exit status; -1 when a signal killed it
	Signal   string // the signal that killed it ("SIGKILL"), or ""
	// LimitHit names the limit that ended the job: "wall", "cpu",
	// "file size" (a file in a Writable directory reached FileSize),
	// "processes" (only seen with a pids cgroup), or "". Other limits show
	// as the compiler's own error (ENOMEM, EMFILE, ENOSPC in /tmp).
	LimitHit string
	Elapsed  time.Duration // wall-clock time of the job, launcher included
	CPU      time.Duration // user+system time of the job's processes that were waited for
	Cgroup   string        // the pids cgroup that held the job, or why none did
	// Setup is the wall-clock time from Run's call to the compiler's
	// execve (preparing the root, taking a launcher, confining it): what
	// the sandbox adds to the job's latency. Zero when the launcher
	// reported a failed setup step.
	Setup time.Duration
}

// ErrConflict reports an Install path that collides with something
// different in Root.
var ErrConflict = errors.New("install path collides with a file in the job root")

// ErrUnavailable reports that this machine cannot confine a job: user
// namespaces, Landlock or seccomp are missing. The error says how to
// enable what is missing; [Probe] reports it too.
var ErrUnavailable = errors.New("sandbox unavailable")

// normalize checks s and returns a copy with clean paths, default limits
// and TMPDIR set.
func (s Spec) normalize() (Spec, error) {
	var err error
	abs := func(what, p string) string {
		if err == nil && (!filepath.IsAbs(p) || strings.ContainsRune(p, 0)) {
			err = fmt.Errorf("spec: %s %q is not an absolute path", what, p)
		}
		return filepath.Clean(p)
	}
	all := func(what string, ps []string) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = abs(what, p)
		}
		return out
	}
	s.Root = abs("root", s.Root)
	s.Install = all("install path", s.Install)
	s.Exec = all("exec path", s.Exec)
	s.Writable = all("writable directory", s.Writable)
	s.Dir = abs("working directory", s.Dir)
	if len(s.Argv) == 0 {
		return s, errors.New("spec: empty argv")
	}
	s.Argv = slices.Clone(s.Argv)
	s.Argv[0] = abs("program", s.Argv[0])
	if err != nil {
		return s, err
	}
	if s.Root == "/" {
		return s, errors.New("spec: root is the node's own /")
	}
	if !slices.Contains(s.Exec, s.Argv[0]) {
		return s, fmt.Errorf("spec: program %s is not listed in exec", s.Argv[0])
	}
	for _, p := range append(slices.Clone(s.Install), s.Writable...) {
		if p == "/" || under(p, "/proc") || under(p, "/dev") {
			return s, fmt.Errorf("spec: %s: the sandbox provides /, /proc and /dev itself", p)
		}
	}
	env := []string{"TMPDIR=/tmp"}
	for _, e := range s.Env {
		if !strings.HasPrefix(e, "TMPDIR=") {
			env = append(env, e)
		}
	}
	s.Env = env
	s.Limits = s.Limits.withDefaults()
	if s.Limits.Processes < minProcesses {
		return s, fmt.Errorf("spec: processes limit %d is below %d, the launcher alone needs that many", s.Limits.Processes, minProcesses)
	}
	if s.UID < 0 || s.GID < 0 {
		return s, errors.New("spec: negative uid or gid")
	}
	return s, nil
}

// under reports whether p is dir or below it (both clean and absolute).
func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
