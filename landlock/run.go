package landlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cloneFlags are the namespaces each job gets. Go cannot unshare a user
// namespace from a running (multithreaded) process: they are created by
// clone(2) as the launcher starts.
const cloneFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

var errWall = errors.New("wall-clock limit")

// launcherName is the launcher's and the spawner's argv[0], for ps: the
// path they run from may be /proc/self/fd/N.
const launcherName = "distmesh"

// Run runs one job in its sandbox and returns how it ended; the compiler's
// output goes to stdout and stderr as it comes (the caller caps it). Run
// returns when every process of the job is gone: on exit, on the Wall
// limit (Result.LimitHit "wall", no error) and on cancellation of ctx (the
// context's error), the job's PID namespace is killed, double-forked and
// setsid'd processes included.
//
// An error means the job did not run: a bad Spec, an Install path that
// collides with Root ([ErrConflict]), a machine that cannot confine
// ([ErrUnavailable], with what to enable), or a failed sandbox setup
// step. Run never runs a job with less confinement than it documents.
func Run(ctx context.Context, spec Spec, stdout, stderr io.Writer) (Result, error) {
	return run(ctx, nil, spec, stdout, stderr)
}

func run(ctx context.Context, sp *Spawner, spec Spec, stdout, stderr io.Writer) (Result, error) {
	called := time.Now()
	s, err := spec.normalize()
	if err != nil {
		return Result{}, err
	}
	if s.UID, s.GID, err = jobIDs(s.UID, s.GID); err != nil {
		return Result{}, err
	}
	if _, err := landlockConfig(landlockABI()); err != nil {
		return Result{}, err
	}
	binds, err := prepareRoot(s, os.Geteuid())
	if err != nil {
		return Result{}, err
	}
	var res Result
	wctx, cancel := context.WithTimeoutCause(ctx, s.Limits.Wall, errWall)
	defer cancel()

	start := time.Now()
	l, err := startLauncher(wctx, sp, s.UID, s.GID, s.Limits.Processes, stdout, stderr)
	if err != nil {
		return Result{}, startError(err)
	}
	defer l.spec.Close()
	defer l.status.Close()
	cg := l.cg
	defer cg.remove()
	res.Cgroup = l.cgNote
	if cg != nil {
		res.Cgroup = cg.String()
	}
	json.NewEncoder(l.spec).Encode(launchMsg{Spec: s, Binds: binds, SetGroups: os.Geteuid() == 0}) // a launcher that died reports through status
	l.spec.Close()
	msg, _ := io.ReadAll(io.LimitReader(l.status, 4096)) // EOF: the launcher executed the compiler, or died
	if len(msg) == 0 {
		res.Setup = time.Since(called)
	}
	end, waitErr := l.wait()
	res.Elapsed = time.Since(start)
	if end == nil {
		return res, fmt.Errorf("wait for job: %w", waitErr)
	}
	ws, ru := end.status, end.rusage
	res.ExitCode = ws.ExitStatus()
	if ws.Signaled() {
		res.Signal = unix.SignalName(ws.Signal())
	}
	res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	killed := res.Signal == "SIGKILL"
	switch {
	case ctx.Err() != nil && killed:
		return res, fmt.Errorf("run job: %w", ctx.Err())
	case errors.Is(context.Cause(wctx), errWall) && killed:
		res.LimitHit = "wall"
		return res, nil
	case len(msg) > 0:
		return res, setupError(string(msg))
	}
	if res.ExitCode != 0 {
		switch {
		case cg.hitMax():
			res.LimitHit = "processes"
		case fileAtLimit(s):
			res.LimitHit = "file size"
		case res.CPU >= s.Limits.CPU:
			res.LimitHit = "cpu"
		}
	}
	if waitErr != nil && wctx.Err() == nil {
		return res, fmt.Errorf("wait for job: %w", waitErr) // e.g. copying its output failed
	}
	return res, nil
}

// launched is a started launcher: its pid, the pipes it reads its spec
// from and reports its setup on, and how to wait for it. Wait returns how
// it ended, or nil and why that is unknown; an error with an end means
// its output could not be copied.
type launched struct {
	pid          int
	spec, status *os.File
	wait         func() (*ended, error)
	// cg is the job's pids cgroup, which the launcher is in, or nil and
	// cgNote says why there is none. The caller removes it.
	cg     *pidsCgroup
	cgNote string
}

// ended is how a launcher ended: its wait status, and the CPU time of it
// and of what it waited for.
type ended struct {
	status syscall.WaitStatus
	rusage syscall.Rusage
}

// startLauncher starts a launcher, or takes one sp's helper started
// before, killed when ctx is done, in a pids cgroup of its own limited to
// pids processes (see jobCgroup).
func startLauncher(ctx context.Context, sp *Spawner, uid, gid, pids int, stdout, stderr io.Writer) (launched, error) {
	if ctl := sp.control(); ctl != nil {
		key := launcherKey{uid, gid, pids}
		p := sp.takeHeld(key)
		var err error
		if p == nil {
			p, err = ask(ctl, key, false)
		}
		if err == nil {
			p.attach(ctx, stdout, stderr)
			return launched{pid: p.pid, spec: p.spec, status: p.status, wait: p.wait, cg: p.cg, cgNote: p.cgNote}, nil
		}
		if !errors.Is(err, errSpawnerGone) {
			return launched{}, err
		}
		// The helper died an instant ago; Serve is about to notice.
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return launched{}, err
	}
	defer specR.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		specW.Close()
		return launched{}, err
	}
	defer statusW.Close()
	cmd, cg, note, err := startInCgroup(pids, func() *exec.Cmd {
		cmd := launcherCmd(ctx, uid, gid)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.ExtraFiles = []*os.File{specR, statusW}
		return cmd
	})
	if err != nil {
		specW.Close()
		statusR.Close()
		return launched{}, err
	}
	return launched{pid: cmd.Process.Pid, spec: specW, status: statusR, cg: cg, cgNote: note, wait: func() (*ended, error) {
		err := cmd.Wait()
		ps := cmd.ProcessState
		if ps == nil {
			return nil, err
		}
		end := &ended{status: ps.Sys().(syscall.WaitStatus)}
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			end.rusage = *ru
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = nil
		}
		return end, err
	}}, nil
}

// launcherCmd returns the command that starts the launcher (this very
// binary, or the one UseLauncher chose) in new namespaces, as uid/gid
// mapped to 0 inside.
func launcherCmd(ctx context.Context, uid, gid int, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, launcherPath(), append([]string{launcherArg}, args...)...)
	cmd.Args[0] = launcherName
	cmd.Env = []string{"GOMAXPROCS=1"} // the launcher's own; the compiler gets Spec.Env
	cmd.WaitDelay = 5 * time.Second
	root := os.Geteuid() == 0
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 cloneFlags,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
		GidMappingsEnableSetgroups: root,
		Pdeathsig:                  syscall.SIGKILL,
	}
	if root {
		// The launcher keeps the node's uid 0, so that it reaches Root and
		// Install as the daemon does (Root may sit in a 0700 directory),
		// and these capabilities of the job's namespace across execve
		// (a uid that is not root in the namespace loses them otherwise).
		// It becomes uid and gid 0 of the namespace, the job's ids, once
		// its root is built; see becomeJobUser.
		cmd.SysProcAttr.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETUID, unix.CAP_SETGID, unix.CAP_SETPCAP}
	}
	return cmd
}

// startInCgroup starts the launcher newCmd returns in a pids cgroup of
// its own (see jobCgroup): born in it with cgroup v2 (clone3 with
// CLONE_INTO_CGROUP), moved in before it reads its spec, so before it does
// anything, with v1. A kernel that refuses the first way gets the second.
// cg is nil, and note says why, when the launcher is in no cgroup of its
// own; on error, nothing was started and nothing is left.
func startInCgroup(pids int, newCmd func() *exec.Cmd) (cmd *exec.Cmd, cg *pidsCgroup, note string, err error) {
	cg, fd, note := jobCgroup(pids)
	return startIn(cg, fd, note, newCmd)
}

// startIn is startInCgroup with the cgroup made: fd is its directory's
// (v2) or -1, and closed on return.
func startIn(cg *pidsCgroup, fd int, note string, newCmd func() *exec.Cmd) (cmd *exec.Cmd, _ *pidsCgroup, _ string, err error) {
	if fd >= 0 {
		cmd = newCmd()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = fd
		err = cmd.Start()
		unix.Close(fd)
		if err == nil {
			return cmd, cg, "", nil
		}
	}
	cmd = newCmd()
	if err := cmd.Start(); err != nil {
		cg.remove()
		return nil, nil, "", err
	}
	if cg != nil {
		if err := cg.add(cmd.Process.Pid); err != nil {
			cg.remove()
			cg, note = nil, "none: "+err.Error()
		}
	}
	return cmd, cg, note, nil
}

// jobIDs resolves the outside ids a job runs as.
func jobIDs(uid, gid int) (int, int, error) {
	euid, egid := os.Geteuid(), os.Getegid()
	if uid == 0 {
		uid = euid
	}
	if gid == 0 {
		gid = egid
	}
	switch {
	case euid == 0 && (uid == 0 || gid == 0):
		return 0, 0, errors.New("spec: the daemon runs as root and compilers never do: set an unprivileged uid and gid (config user = \"...\")")
	case euid != 0 && (uid != euid || gid != egid):
		return 0, 0, fmt.Errorf("spec: uid %d gid %d: an unprivileged daemon runs compilers as itself (uid %d gid %d)", uid, gid, euid, egid)
	}
	return uid, gid, nil
}

// startError explains a failure to create the job's namespaces.
func startError(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EUSERS) {
		return fmt.Errorf("%w: create the job's namespaces: %v; %s", ErrUnavailable, err, usernsHint())
	}
	return fmt.Errorf("start launcher: %w", err)
}

// setupError turns the launcher's report into an error.
func setupError(msg string) error {
	if rest, ok := strings.CutPrefix(msg, ErrUnavailable.Error()); ok {
		return fmt.Errorf("%w%s", ErrUnavailable, rest)
	}
	return fmt.Errorf("sandbox setup: %s", msg)
}

// usernsHint names the likely reason this machine refuses user namespaces
// and how to allow them.
func usernsHint() string {
	if block := usernsBlock(); block != "" {
		return block
	}
	return "the kernel refuses user, mount, PID and network namespaces: check CONFIG_USER_NS and container or systemd restrictions"
}

// usernsBlock names a setting known to refuse unprivileged user
// namespaces, and how to change it, or returns "".
func usernsBlock() string {
	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return strings.TrimSpace(string(b))
	}
	switch {
	case read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
		return "sysctl kernel.unprivileged_userns_clone is 0: set it to 1"
	case read("/proc/sys/user/max_user_namespaces") == "0":
		return "sysctl user.max_user_namespaces is 0: set it to 10000 or more"
	case read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
		return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): give distmesh an AppArmor profile with \"userns,\" or set the sysctl to 0"
	case strings.Contains(read("/proc/self/status"), "Seccomp:\t2"):
		return "a seccomp filter on distmesh refuses namespaces (Docker's default profile, systemd RestrictNamespaces=): run it without that filter (docker run --security-opt seccomp=unconfined, RestrictNamespaces=no)"
	}
	return ""
}

// fileAtLimit reports whether a Writable directory holds a file that
// reached the FileSize limit.
func fileAtLimit(s Spec) bool {
	for _, w := range s.Writable {
		entries, _ := os.ReadDir(filepath.Join(s.Root, w))
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Size() >= s.Limits.FileSize {
				return true
			}
		}
	}
	return false
}
