package landlock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// pidsCgroup is the pids cgroup of one job, when the daemon runs as root:
// a second bound on its processes besides RLIMIT_NPROC in its own user
// namespace. A nil *pidsCgroup is valid and does nothing.
type pidsCgroup struct {
	dir, version string
	max          int
}

var jobSeq atomic.Uint64

// findPidsController returns where the pids controller is mounted,
// preferring cgroup v2.
func findPidsController() (dir, version string, err error) {
	err = cgroupMounts(func(mnt, fstype string, opts []string) bool {
		switch {
		case fstype == "cgroup2":
			if b, err := os.ReadFile(filepath.Join(mnt, "cgroup.controllers")); err == nil && slices.Contains(strings.Fields(string(b)), "pids") {
				dir, version = mnt, "v2"
				return false
			}
		case fstype == "cgroup" && slices.Contains(opts, "pids") && dir == "":
			dir, version = mnt, "v1"
		}
		return true
	})
	if err == nil && dir == "" {
		err = errors.New("no pids cgroup controller is mounted")
	}
	return dir, version, err
}

// cgroupMounts calls f with each cgroup (v1) and cgroup2 mount of this
// process's mount namespace, its mount point and super options, until f
// returns false.
func cgroupMounts(f func(mnt, fstype string, opts []string) bool) error {
	file, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		fstype := fields[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		if !f(fields[4], fstype, strings.Split(fields[sep+3], ",")) {
			return nil
		}
	}
	return sc.Err()
}

// pidsParent is <controller>/distmesh, ready for jobs' cgroups: found and
// set up by the first job, not by each (finding it parses mountinfo).
var pidsParent struct {
	sync.Mutex
	dir, version string
}

// jobsCgroupParent returns pidsParent, setting it up if needed.
func jobsCgroupParent() (parent, version string, err error) {
	pidsParent.Lock()
	defer pidsParent.Unlock()
	if pidsParent.dir != "" {
		return pidsParent.dir, pidsParent.version, nil
	}
	root, version, err := findPidsController()
	if err != nil {
		return "", "", err
	}
	parent = filepath.Join(root, "distmesh")
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", "", fmt.Errorf("create pids cgroup: %w", err)
	}
	sweepOnce.Do(func() { sweepStale(parent) })
	if version == "v2" {
		// Each level hands the controller down to the next.
		for _, d := range []string{root, parent} {
			if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+pids"), 0); err != nil {
				return "", "", fmt.Errorf("enable pids controller in %s: %w", d, err)
			}
		}
	}
	pidsParent.dir, pidsParent.version = parent, version
	return parent, version, nil
}

// newPidsCgroup creates <controller>/distmesh/job-<pid>-<n> with pids.max.
func newPidsCgroup(max int) (*pidsCgroup, error) {
	parent, version, err := jobsCgroupParent()
	if err != nil {
		return nil, err
	}
	c := &pidsCgroup{dir: filepath.Join(parent, fmt.Sprintf("job-%d-%d", os.Getpid(), jobSeq.Add(1))), version: version, max: max}
	if err := os.Mkdir(c.dir, 0o755); err != nil {
		pidsParent.Lock()
		pidsParent.dir = "" // set it up again next time: someone removed it?
		pidsParent.Unlock()
		return nil, fmt.Errorf("create pids cgroup: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, "pids.max"), []byte(strconv.Itoa(max)), 0); err != nil {
		c.remove()
		return nil, fmt.Errorf("set pids.max: %w", err)
	}
	return c, nil
}

var sweepOnce sync.Once

// sweepStale removes the cgroups left by daemons that died before they
// could (job-<pid>-<n> with no process <pid>). The kernel refuses to remove
// one that still holds a process, so a live job is never touched.
func sweepStale(parent string) {
	ents, _ := os.ReadDir(parent)
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "job-")
		if !ok || !e.IsDir() {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if _, err := os.Stat(filepath.Join("/proc", pid)); errors.Is(err, os.ErrNotExist) {
			os.Remove(filepath.Join(parent, e.Name()))
		}
	}
}

func (c *pidsCgroup) add(pid int) error {
	if err := os.WriteFile(filepath.Join(c.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("join pids cgroup: %w", err)
	}
	return nil
}

// hitMax reports whether a fork failed on pids.max.
func (c *pidsCgroup) hitMax() bool {
	if c == nil {
		return false
	}
	b, _ := os.ReadFile(filepath.Join(c.dir, "pids.events"))
	for _, line := range strings.Split(string(b), "\n") {
		if n, ok := strings.CutPrefix(line, "max "); ok && n != "0" {
			return true
		}
	}
	return false
}

// jobCgroup creates the pids cgroup for a launcher about to start, when
// the daemon runs as root and pids > 0. With cgroup v2 it returns a
// descriptor of its directory as well, for clone3's CLONE_INTO_CGROUP:
// the launcher is born in it, which costs nothing, where moving a running
// process in (writing cgroup.procs) takes for writing a lock that every
// fork and exit on the machine takes for reading: 0.15–2.1 ms measured on
// an idle node. With v1 the fd is -1 and the caller adds the launcher
// after starting it. note says why there is no cgroup when there is none.
func jobCgroup(pids int) (c *pidsCgroup, fd int, note string) {
	switch {
	case os.Geteuid() != 0:
		return nil, -1, "none: not running as root (the job's user namespace still bounds its processes)"
	case pids <= 0:
		return nil, -1, "none: no process limit"
	}
	c, err := newPidsCgroup(pids)
	if err != nil {
		return nil, -1, "none: " + err.Error()
	}
	if c.version != "v2" {
		return c, -1, ""
	}
	fd, err = unix.Open(c.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		c.remove()
		return nil, -1, fmt.Sprintf("none: open %s: %v", c.dir, err)
	}
	return c, fd, ""
}

// remove deletes the cgroup; the job's processes are gone by then.
func (c *pidsCgroup) remove() {
	if c != nil {
		os.Remove(c.dir)
	}
}

func (c *pidsCgroup) String() string {
	return fmt.Sprintf("cgroup %s %s, pids.max %d", c.version, c.dir, c.max)
}
