package landlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// launcherArg is the hidden first argument that makes the daemon's binary
// the launcher. It is not an option anybody types: the launcher only works
// as PID 1 of namespaces that [Run] creates.
const launcherArg = "-distmesh-sandbox-launcher-"

// The launcher's file descriptors, as Run passes them.
const (
	specFD   = 3 // read end of a pipe carrying the launchMsg as JSON
	statusFD = 4 // write end of a pipe: the setup error, or EOF on execve
)

// stage is where the new root is attached before pivot_root. It is in the
// launcher's private mount namespace, and every node path the launcher
// needs is open before, so covering it hides nothing needed.
const stage = "/tmp"

// devNodes are the only device nodes inside the sandbox.
var devNodes = []string{"null", "zero", "full", "random", "urandom"}

// launchMsg is what Run sends the launcher.
type launchMsg struct {
	Spec      Spec
	Binds     []string // node paths bound read-only at the same path
	SetGroups bool     // the launcher may (and must) clear its supplementary groups
}

// IsLauncher reports whether this process was started by [Run] (or
// [Probe]) as the sandbox launcher. A program that runs jobs calls it first
// thing in main, and then [Main]:
//
//	if landlock.IsLauncher() {
//		landlock.Main()
//	}
func IsLauncher() bool {
	return len(os.Args) >= 2 && os.Args[1] == launcherArg
}

// Main is the launcher: it confines itself and executes the compiler. It
// never returns. On failure it reports the step that failed to Run and
// exits with status 126.
func Main() {
	// Every per-thread step of the confinement and the execve happen on
	// this one thread (see threadSyscall).
	runtime.LockOSThread()
	if len(os.Args) == 3 && os.Args[2] == "stamp" { // see UseLauncher
		fmt.Println(buildStamp())
		os.Exit(0)
	}
	if len(os.Args) == 4 && os.Args[2] == "spawner" { // see Spawner
		if err := spawnerMain(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "distmesh spawner:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) == 3 && os.Args[2] == "probe" {
		if err := probeChild(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	err := launch()
	if _, werr := fmt.Fprint(os.NewFile(statusFD, "status"), err); werr != nil {
		fmt.Fprintln(os.Stderr, "distmesh launcher:", err) // not started by Run
	}
	os.Exit(126)
}

// launch confines the launcher and executes the compiler; it returns only
// on failure. Each step would undo or block a later one if taken earlier.
func launch() error {
	if os.Getpid() != 1 {
		return errors.New("launcher: not the first process of a new PID namespace; only landlock.Run starts it")
	}
	// A spawner starts launchers before their jobs: warm the decoder's
	// caches while waiting.
	json.Unmarshal([]byte(`{"Spec":{"Limits":{}},"Binds":[""]}`), new(launchMsg))
	var m launchMsg
	if err := json.NewDecoder(os.NewFile(specFD, "spec")).Decode(&m); err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	unix.Close(specFD)
	s := m.Spec
	// Open the node's files while the launcher has the daemon's uid.
	src, err := openSources(m)
	if err != nil {
		return err
	}
	// From here on the job's uid: what the launcher creates in the job's
	// /tmp and /dev must belong to it.
	if err := becomeJobUser(m.SetGroups); err != nil {
		return err
	}
	if err := buildRoot(s, src); err != nil { // private tree, mounts, /proc, pivot_root
		return err
	}
	if err := unix.Chdir(s.Dir); err != nil {
		return fmt.Errorf("chdir %s: %w", s.Dir, err)
	}
	if err := dropPrivileges(); err != nil {
		return err
	}
	// The credential changes above cleared the parent-death signal that
	// Run's clone set: set it again, so that the job dies with the process
	// that started it (the daemon, or its spawner), and let seccomp keep the
	// job from clearing it. A parent that died before this line leaves the
	// job to its limits; Run kills it when it sees the spawner gone.
	if err := threadPrctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL)); err != nil {
		return fmt.Errorf("set the parent-death signal: %w", err)
	}
	if err := threadPrctl(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	if err := restrictLandlock(s); err != nil { // no mount can change after this
		return err
	}
	if err := installSeccomp(); err != nil {
		return err
	}
	return execCompiler(s) // rlimits, the address space last; execve
}

// sources are the node's files that buildRoot mounts, opened (O_PATH) as
// the node's user and in the launcher's mount namespace, to which mount
// sources must belong.
type sources struct {
	root  int
	binds []int          // of paths
	paths []string       // launchMsg.Binds
	dev   map[string]int // of devNodes
}

func openSources(m launchMsg) (src sources, err error) {
	open := func(p string) int {
		fd, e := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if e != nil && err == nil {
			err = fmt.Errorf("open %s: %w", p, e)
		}
		return fd
	}
	src.root = open(m.Spec.Root)
	for _, b := range m.Binds {
		src.binds = append(src.binds, open(b))
	}
	src.paths = m.Binds
	src.dev = map[string]int{}
	for _, n := range devNodes {
		src.dev[n] = open("/dev/" + n)
	}
	return src, err
}

// buildRoot makes the mount tree private, assembles the job's root from
// Root, the node's Install paths, a tmpfs /tmp, a reduced /dev and a /proc
// of the job's PID namespace, and pivots into it. Every mount is made
// read-only (or not) before it is attached, so no writable view of a
// read-only path ever exists, and flags locked by the user namespace
// (nosuid, nodev, noexec, atime) are only ever added to, never reset.
func buildRoot(s Spec, src sources) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mount tree private: %w", err)
	}
	root, err := cloneMount(src.root, ro|unix.MOUNT_ATTR_NOEXEC, 0)
	if err == nil {
		err = unix.MoveMount(root, "", unix.AT_FDCWD, stage, unix.MOVE_MOUNT_F_EMPTY_PATH)
	}
	if err != nil {
		return fmt.Errorf("bind root: %w", err)
	}
	if err := mountTmp(root, s.Limits.TmpSize); err != nil {
		return fmt.Errorf("mount /tmp: %w", err)
	}
	for i, b := range src.paths {
		if err := bind(src.binds[i], root, b, ro, 0); err != nil {
			return fmt.Errorf("bind %s: %w", b, err)
		}
	}
	for _, w := range s.Writable {
		// The writable view takes along what is mounted below the
		// directory, as it is: with /tmp itself writable, the root's
		// entries bound in it (the sources in /tmp/build). Only the
		// directory's own mount becomes writable.
		t, err := openBeneath(root, w, unix.O_PATH|unix.O_DIRECTORY)
		if err == nil {
			var mnt int
			mnt, err = cloneTree(t, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, unix.MOUNT_ATTR_RDONLY)
			if err == nil {
				err = moveMount(mnt, t)
				unix.Close(mnt)
			}
			unix.Close(t)
		}
		if err != nil {
			return fmt.Errorf("bind writable %s: %w", w, err)
		}
	}
	if err := mountDev(root, src.dev); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	// proc is mounted before pivot_root on purpose: the kernel lets a user
	// namespace mount proc only while a fully visible proc is in its mount
	// namespace (mount_too_revealing), and the node's /proc goes away with
	// the old root. subset=pid shows the job's own processes and nothing
	// of the node (no /proc/sys, /proc/kcore, ...).
	proc, err := newFS("proc", map[string]string{"subset": "pid"}, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err == nil {
		err = attach(proc, root, "/proc")
	}
	if err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := unix.Fchdir(root); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// becomeJobUser switches the launcher's thread to uid and gid 0 of the
// job's user namespace, the job's ids outside, keeping the capabilities (of
// that namespace only) that building the root needs. When the daemon is
// root, the launcher ran as the node's uid 0 until now, so that it could
// open Root and Install like the daemon (Root may sit in a 0700
// directory); files it creates (in /tmp, /dev) must belong to the job's
// user. Like every confinement step, this changes the calling thread only
// (see threadSyscall): syscall.Setresuid would stop the world to change
// every thread, a millisecond or more per call here.
func becomeJobUser(setGroups bool) error {
	if setGroups {
		if err := threadSyscall(unix.SYS_SETGROUPS, 0, 0, 0); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
	}
	if err := threadSyscall(unix.SYS_SETRESGID, 0, 0, 0); err != nil {
		return fmt.Errorf("setresgid: %w", err)
	}
	if err := threadSyscall(unix.SYS_SETRESUID, 0, 0, 0); err != nil {
		return fmt.Errorf("setresuid: %w", err)
	}
	return nil
}

const ro = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV

// cloneMount returns a detached bind mount of what fd refers to, with the
// mount attributes set and clr changed.
func cloneMount(fd int, set, clr uint64) (int, error) { return clone(fd, 0, set, clr) }

// cloneTree is cloneMount of the mount fd refers to with the mounts below
// it; only the top one's attributes change.
func cloneTree(fd int, set, clr uint64) (int, error) { return clone(fd, unix.AT_RECURSIVE, set, clr) }

func clone(fd, flags int, set, clr uint64) (int, error) {
	mnt, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.O_CLOEXEC|unix.AT_EMPTY_PATH|uint(flags))
	if err != nil {
		return -1, fmt.Errorf("open_tree: %w", err)
	}
	if err := unix.MountSetattr(mnt, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: set, Attr_clr: clr}); err != nil {
		unix.Close(mnt)
		return -1, fmt.Errorf("mount_setattr: %w", err)
	}
	return mnt, nil
}

// bind mounts what src refers to on path below dir (or on dir itself when
// path is empty), with the attributes set and clr changed.
func bind(src, dir int, path string, set, clr uint64) error {
	mnt, err := cloneMount(src, set, clr)
	if err != nil {
		return err
	}
	defer unix.Close(mnt)
	if path == "" {
		return moveMount(mnt, dir)
	}
	return attach(mnt, dir, path)
}

// attach moves the detached mount mnt onto path below dir.
func attach(mnt, dir int, path string) error {
	t, err := openBeneath(dir, path, unix.O_PATH)
	if err != nil {
		return err
	}
	defer unix.Close(t)
	return moveMount(mnt, t)
}

func moveMount(mnt, target int) error {
	if err := unix.MoveMount(mnt, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// rel turns an absolute sandbox path into a name relative to the root.
func rel(p string) string {
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

// openBeneath opens the absolute sandbox path p below dir, refusing
// symlinks and "..": Root comes from a client, and a symlink in it must
// never redirect a mount onto the node's own file system.
func openBeneath(dir int, p string, flags uint64) (int, error) {
	fd, err := unix.Openat2(dir, rel(p), &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, fmt.Errorf("open %s in the new root: %w", p, err)
	}
	return fd, nil
}

// newFS creates a detached mount of a new file system instance.
func newFS(fstype string, opts map[string]string, attrs int) (int, error) {
	fd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen %s: %w", fstype, err)
	}
	defer unix.Close(fd)
	for k, v := range opts {
		if err := unix.FsconfigSetString(fd, k, v); err != nil {
			return -1, fmt.Errorf("fsconfig %s=%s: %w", k, v, err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return -1, fmt.Errorf("fsconfig create %s: %w", fstype, err)
	}
	mnt, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, fmt.Errorf("fsmount %s: %w", fstype, err)
	}
	return mnt, nil
}

// mountTmp mounts the job's private, size-limited /tmp. What Root holds in
// /tmp (a client working in /tmp/build) stays visible: each entry is bound
// read-only into the tmpfs, and Writable directories among them are bound
// writable later.
func mountTmp(root int, size int64) error {
	dir, err := openBeneath(root, "/tmp", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dir), "/tmp")
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("list /tmp of the root: %w", err)
	}
	tmp, err := newFS("tmpfs", map[string]string{"size": strconv.FormatInt(size, 10), "mode": "1777", "nr_inodes": "65536"},
		unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(tmp)
	if err := attach(tmp, root, "/tmp"); err != nil {
		return fmt.Errorf("attach tmpfs: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch t := e.Type(); {
		case t&os.ModeSymlink != 0:
			target, err := readlinkat(dir, name)
			if err == nil {
				err = unix.Symlinkat(target, tmp, name)
			}
			if err != nil {
				return fmt.Errorf("copy symlink /tmp/%s: %w", name, err)
			}
			continue
		case t.IsDir():
			err = unix.Mkdirat(tmp, name, 0o755)
		case t.IsRegular():
			err = touch(tmp, name, 0o644)
		default:
			return fmt.Errorf("/tmp/%s in the root is a %v", name, t)
		}
		if err != nil {
			return err
		}
		src, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = bind(src, tmp, name, ro|unix.MOUNT_ATTR_NOEXEC, 0)
		unix.Close(src)
		if err != nil {
			return fmt.Errorf("bind /tmp/%s: %w", name, err)
		}
	}
	return nil
}

// mountDev mounts a read-only /dev that holds the node's null, zero, full,
// random and urandom and the usual /proc/self/fd links, nothing else.
func mountDev(root int, nodes map[string]int) error {
	dev, err := newFS("tmpfs", map[string]string{"size": "65536", "mode": "0755"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	if err := attach(dev, root, "/dev"); err != nil {
		return err
	}
	for _, n := range devNodes {
		err := touch(dev, n, 0o666)
		if err == nil {
			// Not nodev: these are the node's device nodes, usable as such.
			err = bind(nodes[n], dev, n, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, 0)
		}
		if err != nil {
			return fmt.Errorf("bind /dev/%s: %w", n, err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := unix.Symlinkat(target, dev, name); err != nil {
			return err
		}
	}
	return unix.MountSetattr(dev, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
}

func touch(dir int, name string, mode uint32) error {
	fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

func readlinkat(dir int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// execCompiler sets the resource limits and executes the compiler, which
// becomes PID 1 of the job's PID namespace: when it exits, the kernel kills
// whatever is left in the namespace. The address-space limit comes last
// and nothing is allocated after it: the Go runtime dies under a tight one.
func execCompiler(s Spec) error {
	path, err := syscall.BytePtrFromString(s.Argv[0])
	if err != nil {
		return err
	}
	argv, err := syscall.SlicePtrFromStrings(s.Argv)
	if err != nil {
		return err
	}
	envv, err := syscall.SlicePtrFromStrings(s.Env)
	if err != nil {
		return err
	}
	l := s.Limits
	cpu := uint64((l.CPU + 999_999_999) / 1_000_000_000)
	limits := []struct {
		res      int
		cur, max uint64
	}{
		// PID 1 ignores SIGXCPU, so for the compiler itself the hard limit
		// (SIGKILL) one second later is what ends it.
		{unix.RLIMIT_CPU, cpu, cpu + 1},
		{unix.RLIMIT_FSIZE, uint64(l.FileSize), uint64(l.FileSize)},
		{unix.RLIMIT_NOFILE, uint64(l.OpenFiles), uint64(l.OpenFiles)},
		{unix.RLIMIT_CORE, 0, 0},
		// Counted per user (here: per job) namespace since Linux 5.14.
		{unix.RLIMIT_NPROC, uint64(l.Processes), uint64(l.Processes)},
		{unix.RLIMIT_AS, uint64(l.AddressSpace), uint64(l.AddressSpace)},
	}
	// Nothing the launcher opened reaches the compiler; the status pipe
	// closes on execve, which tells Run that setup succeeded.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	for _, r := range limits {
		if err := unix.Prlimit(0, r.res, &unix.Rlimit{Cur: r.cur, Max: r.max}, nil); err != nil {
			return fmt.Errorf("setrlimit %d: %w", r.res, err)
		}
	}
	_, _, errno := syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))
	return fmt.Errorf("execve %s: %w", s.Argv[0], errno)
}
