package landlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	ll "github.com/landlock-lsm/go-landlock/landlock"
	"golang.org/x/sys/unix"
)

// Level is how much of the confinement this package documents a machine
// enforces.
type Level int

const (
	// LevelNone: Run refuses to run jobs (no user namespaces, Landlock or
	// seccomp).
	LevelNone Level = iota
	// LevelPartial: jobs run in namespaces with seccomp and Landlock for
	// files, but the kernel's Landlock cannot restrict TCP (ABI < 4) or
	// scope abstract sockets and signals (ABI < 6).
	LevelPartial
	// LevelFull: every layer in the package documentation.
	LevelFull
)

var levelNames = []string{"none", "partial", "full"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// MarshalText makes a Level readable in config and JSON.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText accepts "none", "partial" and "full".
func (l *Level) UnmarshalText(b []byte) error {
	for i, n := range levelNames {
		if string(b) == n {
			*l = Level(i)
			return nil
		}
	}
	return fmt.Errorf("unknown confinement level %q: want none, partial or full", b)
}

// Report is what this machine enforces for a job, as [Probe] found it by
// trying.
type Report struct {
	Level       Level
	LandlockABI int    // 0: no Landlock
	FS          bool   // Landlock restricts file access (ABI 1+)
	TCP         bool   // Landlock denies TCP bind and connect (ABI 4+)
	Scoped      bool   // Landlock scopes abstract Unix sockets and signals (ABI 6+)
	Namespaces  string // the namespaces a launcher started in, "" if it could not start
	Seccomp     bool   // the seccomp filter installs
	Network     string // how jobs are kept off the network
	Limits      string // what bounds a job
	Cgroup      string // the pids cgroup controller used, or why none
	RunsAs      string // the ids compilers run as
	Problems    []string
}

// Meets reports whether the machine enforces at least min.
func (r Report) Meets(min Level) bool { return r.Level >= min }

func (r Report) String() string {
	var b strings.Builder
	yes := func(ok bool, what string) string {
		if ok {
			return what
		}
		return "no " + what
	}
	fmt.Fprintf(&b, "confinement: %s\n", r.Level)
	fmt.Fprintf(&b, "  landlock:    ABI %d (%s, %s, %s)\n", r.LandlockABI, yes(r.FS, "fs"), yes(r.TCP, "tcp"), yes(r.Scoped, "scoped"))
	ns := r.Namespaces
	if ns == "" {
		ns = "unavailable"
	}
	fmt.Fprintf(&b, "  namespaces:  %s\n", ns)
	fmt.Fprintf(&b, "  seccomp:     %s\n", yes(r.Seccomp, "filter"))
	fmt.Fprintf(&b, "  network:     %s\n", r.Network)
	fmt.Fprintf(&b, "  limits:      %s\n", r.Limits)
	fmt.Fprintf(&b, "  pids cgroup: %s\n", r.Cgroup)
	fmt.Fprintf(&b, "  runs as:     %s\n", r.RunsAs)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  missing:     %s\n", p)
	}
	return b.String()
}

// Probe finds out what this machine enforces for jobs run as uid and gid
// (as in [Spec]), by starting a launcher in the job's namespaces that
// takes the confinement steps that need no job. It is for
// `distmesh doctor` and for the node's start.
func Probe(ctx context.Context, uid, gid int) Report {
	abi := landlockABI()
	r := Report{
		LandlockABI: abi, FS: abi >= 1, TCP: abi >= 4, Scoped: abi >= 6,
		Limits: "per process: CPU time, address space, file size, open files, no core dumps; per job: processes (RLIMIT_NPROC in its own user namespace), wall-clock time, /tmp size",
	}
	switch {
	case !r.FS:
		_, err := landlockConfig(abi)
		r.Problems = append(r.Problems, err.Error())
	case !r.TCP:
		r.Problems = append(r.Problems, fmt.Sprintf("Landlock ABI %d cannot deny TCP bind and connect (needs Linux 6.7); the empty network namespace and seccomp still keep jobs off the network", abi))
	case !r.Scoped:
		r.Problems = append(r.Problems, fmt.Sprintf("Landlock ABI %d cannot scope abstract Unix sockets and signals (needs Linux 6.12); the job's own network and PID namespaces still hide the node's", abi))
	}
	uid, gid, err := jobIDs(uid, gid)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else {
		r.RunsAs = fmt.Sprintf("uid %d gid %d, 0 inside the job's user namespace, no capabilities", uid, gid)
		r.probeLauncher(ctx, uid, gid)
	}
	if os.Geteuid() != 0 {
		r.Cgroup = "none: not running as root (the job's user namespace still bounds its processes)"
	} else if dir, v, err := findPidsController(); err != nil {
		r.Cgroup = "none: " + err.Error()
	} else {
		r.Cgroup = fmt.Sprintf("cgroup %s %s", v, dir)
	}
	r.Network = "none"
	if r.Namespaces != "" {
		r.Network = "empty network namespace"
		if r.Seccomp {
			r.Network += "; seccomp allows AF_UNIX sockets only"
		}
		if r.TCP {
			r.Network += "; Landlock denies TCP bind and connect"
		}
	}
	switch {
	case r.Namespaces == "" || !r.Seccomp || !r.FS:
		r.Level = LevelNone
	case r.TCP && r.Scoped:
		r.Level = LevelFull
	default:
		r.Level = LevelPartial
	}
	return r
}

// probeLauncher starts the launcher in probe mode and records what worked.
func (r *Report) probeLauncher(ctx context.Context, uid, gid int) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := launcherCmd(ctx, uid, gid, "probe").CombinedOutput()
	msg := strings.TrimSpace(string(out))
	namespaces := "user, mount, PID, network, IPC, UTS, created unprivileged"
	if os.Geteuid() == 0 {
		namespaces = "user, mount, PID, network, IPC, UTS, created by root"
		if block := usernsBlock(); block != "" {
			namespaces += " (unprivileged ones would fail: " + block + ")"
		}
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		r.Namespaces, r.Seccomp = namespaces, true
	case !errors.As(err, &ee):
		r.Problems = append(r.Problems, startError(err).Error())
	case strings.Contains(msg, "seccomp"):
		r.Namespaces = namespaces
		r.Problems = append(r.Problems, msg)
	default:
		r.Problems = append(r.Problems, "launcher: "+msg)
	}
}

// probeChild runs in the launcher started by Probe: the steps of launch
// that need no job.
func probeChild() error {
	if os.Getpid() != 1 {
		return errors.New("launcher: not the first process of a new PID namespace")
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mount tree private: %w", err)
	}
	tmp, err := newFS("tmpfs", nil, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return err
	}
	unix.Close(tmp)
	// This namespace's own /proc, as after pivot_root in a job.
	proc, err := newFS("proc", map[string]string{"subset": "pid"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return err
	}
	if err := unix.MoveMount(proc, "", unix.AT_FDCWD, "/proc", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	setgroups, _ := os.ReadFile("/proc/self/setgroups")
	if err := becomeJobUser(strings.TrimSpace(string(setgroups)) == "allow"); err != nil {
		return err
	}
	if err := dropPrivileges(); err != nil {
		return err
	}
	if err := threadPrctl(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	if cfg, err := landlockConfig(landlockABI()); err == nil {
		if err := cfg.Restrict(ll.PathAccess(cfg.HandledAccessFS&llRead, "/")); err != nil {
			return fmt.Errorf("landlock: %w", err)
		}
	}
	if err := installSeccomp(); err != nil {
		return err
	}
	if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0); err == nil {
		unix.Close(fd)
		return errors.New("seccomp: the filter let an AF_INET socket through")
	}
	return nil
}
