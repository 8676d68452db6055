package landlock

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStartInCgroupV2 starts a process the way a launcher starts in its
// job's cgroup v2 (born in it with CLONE_INTO_CGROUP), and the way it falls
// back when the kernel refuses that (moved in at once). It needs a cgroup2
// hierarchy, with or without the pids controller (machines whose pids
// controller is on cgroup v1 run jobs the v1 way: TestPidsCgroup).
func TestStartInCgroupV2(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making cgroups needs root")
	}
	root := cgroup2Mount(t)
	dir := filepath.Join(root, fmt.Sprintf("distmesh-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a cgroup in %s: %v", root, err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	want := "0::/" + strings.TrimPrefix(strings.TrimPrefix(dir, root), "/")
	for _, tc := range []struct {
		name string
		open string // the directory whose fd goes to clone3
	}{
		{"born in", dir},
		{"moved in when clone3 refuses", t.TempDir()}, // not a cgroup
	} {
		t.Run(tc.name, func(t *testing.T) {
			fd, err := unix.Open(tc.open, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			cg := &pidsCgroup{dir: dir, version: "v2"}
			cmd, got, note, err := startIn(cg, fd, "", func() *exec.Cmd {
				c := exec.Command("sleep", "60")
				c.SysProcAttr = &syscall.SysProcAttr{}
				return c
			})
			if err != nil {
				t.Fatalf("startIn: %v", err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			if got != cg || note != "" {
				t.Errorf("startIn returned cgroup %v, note %q; want %v", got, note, cg)
			}
			b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(strings.Split(string(b), "\n"), want) {
				t.Errorf("the process's cgroups:\n%s\nwant the line %q", b, want)
			}
		})
	}
}

// cgroup2Mount returns where a cgroup2 hierarchy is mounted, or skips.
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	var root string
	err := cgroupMounts(func(mnt, fstype string, _ []string) bool {
		if fstype == "cgroup2" {
			root = mnt
		}
		return root == ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if root == "" {
		t.Skip("no cgroup2 hierarchy is mounted")
	}
	return root
}
