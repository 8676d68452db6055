package landlock_test

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distmesh/distmesh/landlock"
)

// TestMain makes the test binary the launcher when Run re-executes it.
func TestMain(m *testing.M) {
	if landlock.IsLauncher() {
		landlock.Main()
	}
	// Not in /tmp: a job may write to /tmp itself, and a writable
	// directory may not hold the compiler (see TestDirectoriesInTmp).
	dir, err := os.MkdirTemp("/var/tmp", "landlock-test-")
	if err != nil {
		dir, err = os.MkdirTemp("", "landlock-test-")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The stand-in lives here; the sandbox sees it at the same path.
	os.Chmod(dir, 0o755)
	binDir = dir
	// Jobs start their launchers through a spawner, as the node's do,
	// unless TestDirectLaunch reruns the tests without one.
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	if os.Getenv(directEnv) == "" {
		spawner = new(landlock.Spawner)
		go func() { served <- spawner.Serve(ctx) }()
		for deadline := time.Now().Add(time.Minute); !spawner.Serving() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	} else {
		served <- nil
	}
	code := m.Run()
	cancel()
	if err := <-served; err != nil {
		fmt.Fprintln(os.Stderr, "spawner:", err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var binDir string

// spawner starts the tests' launchers; nil: Run starts them itself.
var spawner *landlock.Spawner

const directEnv = "LANDLOCK_TEST_DIRECT"

// testUID is the unprivileged uid jobs run as when the tests run as root.
const testUID = 2147000000

func jobIDs() (int, int) {
	if os.Geteuid() == 0 {
		return testUID, testUID
	}
	return 0, 0
}

var probe = sync.OnceValue(func() landlock.Report {
	uid, gid := jobIDs()
	return landlock.Probe(context.Background(), uid, gid)
})

// needSandbox skips a test on a machine where Run cannot confine.
func needSandbox(t testing.TB) {
	t.Helper()
	if r := probe(); r.Level == landlock.LevelNone {
		t.Skipf("this machine cannot confine jobs, so Run refuses them:\n%v", r)
	}
}

var standIn = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "escape")
	out, err := exec.Command("gcc", "-O1", "-Wall", "-o", bin, "testdata/escape.c").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("gcc testdata/escape.c: %v\n%s", err, out)
	}
	return bin, nil
})

// interp returns the ELF interpreter of a program.
func interp(t testing.TB, prog string) string {
	t.Helper()
	f, err := elf.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	t.Fatalf("%s has no interpreter", prog)
	return ""
}

// Paths of the client's tree in the job roots of the stand-in tests.
const (
	workDir = "/home/u/p"
	outDir  = "/home/u/p/out"
)

// marker is in the environment of every job, to find its processes.
var marker = fmt.Sprintf("DISTMESH_TEST_MARKER=%d", os.Getpid())

// standInSpec returns the spec of a job that runs the stand-in with args,
// in a fresh root holding workDir/x.c and the writable outDir.
func standInSpec(t testing.TB, args ...string) landlock.Spec {
	t.Helper()
	needSandbox(t)
	bin, err := standIn()
	if err != nil {
		t.Fatal(err)
	}
	install, err := landlock.Closure(bin)
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(t)
	mkdir(t, root+outDir)
	writeFile(t, root+workDir+"/x.c", "int main(void) { return 0; }\n")
	uid, gid := jobIDs()
	return landlock.Spec{
		Root:     root,
		Install:  install,
		Exec:     []string{bin, interp(t, bin)},
		Writable: []string{outDir},
		Dir:      workDir,
		Argv:     append([]string{bin}, args...),
		Env:      []string{"PATH=/usr/bin", marker},
		Limits:   landlock.Limits{Wall: time.Minute},
		UID:      uid,
		GID:      gid,
	}
}

// newRoot returns an empty job root, readable by the job's uid.
func newRoot(t testing.TB) string {
	root := filepath.Join(t.TempDir(), "root")
	mkdir(t, root)
	return root
}

func mkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, name, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(name))
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs a job that must start, and returns its result and stdout.
func run(t testing.TB, spec landlock.Spec) (landlock.Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	res, err := spawner.Run(ctx, spec, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return res, stdout.String()
}

// jobProcesses lists the processes that carry marker in their environment.
func jobProcesses(t testing.TB) []string {
	t.Helper()
	var found []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		env, err := os.ReadFile(d + "/environ")
		if err == nil && bytes.Contains(env, []byte(marker+"\x00")) {
			cmdline, _ := os.ReadFile(d + "/cmdline")
			found = append(found, d+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}
