package landlock

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The launcher starts once per job, so its start-up is part of every
// job's cost. By default it is this very binary re-executed, which for
// the node means starting the whole daemon's Go program (SSH, discovery,
// TOML...) to take a dozen system calls. [UseLauncher] points Run at a
// smaller binary of the same build that also carries the launcher.

var launcher struct {
	sync.Mutex
	fd int // the launcher binary, held open; 0: /proc/self/exe
}

// launcherFD is where UseLauncher keeps the binary: high, because the
// child side of os/exec renumbers the files it passes into the low
// descriptors (3, 4, then a few above) before it executes the launcher.
const launcherFD = 100

// UseLauncher makes [Run] and [Probe] start the launcher from the program
// at path instead of re-executing this one. That program must call
// [IsLauncher] and [Main] first thing, like this one, and come from the
// same build: UseLauncher asks it for its build stamp and refuses it when
// the stamp is not this program's, leaving the default in place.
//
// The binary is held open and executed through its descriptor, so an
// upgrade that replaces the file on disk does not change which launcher
// this process runs until it restarts. Call it once, before the first Run.
func UseLauncher(ctx context.Context, path string) error {
	own := buildStamp()
	if own == "" {
		return fmt.Errorf("launcher %s: this program carries no build information to compare", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, launcherFD)
	if err != nil {
		return fmt.Errorf("launcher %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, fdPath(fd), launcherArg, "stamp").Output()
	if err != nil || strings.TrimSpace(string(out)) != own {
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("launcher %s: %w", path, err)
		}
		return fmt.Errorf("launcher %s is from another build than this program: install distmesh, distmesh-node and distmesh-launcher from the same build", path)
	}
	launcher.Lock()
	defer launcher.Unlock()
	if launcher.fd != 0 {
		unix.Close(launcher.fd)
	}
	launcher.fd = fd
	return nil
}

// launcherPath is what launcherCmd executes.
func launcherPath() string {
	launcher.Lock()
	defer launcher.Unlock()
	if launcher.fd == 0 {
		return "/proc/self/exe"
	}
	return fdPath(launcher.fd)
}

func fdPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// buildStamp identifies the build this program comes from: the Go
// release, the main module's version and source revision, and the modules
// the launcher is made of. Two binaries built together have the same
// stamp. It is "" when the program carries no build information.
func buildStamp() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path == "" {
		return ""
	}
	parts := []string{bi.GoVersion, bi.Main.Path + "@" + bi.Main.Version + bi.Main.Sum}
	for _, s := range bi.Settings {
		if strings.HasPrefix(s.Key, "vcs.") {
			parts = append(parts, s.Key+"="+s.Value)
		}
	}
	for _, d := range bi.Deps {
		switch d.Path {
		case "github.com/landlock-lsm/go-landlock", "golang.org/x/sys", "kernel.org/pub/linux/libs/security/libcap/psx":
			parts = append(parts, d.Path+"@"+d.Version+d.Sum)
		}
	}
	return strings.Join(parts, " ")
}
