package landlock_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distmesh/distmesh/landlock"
)

const source = `#include <stddef.h>

struct point { int x, y; };

static int sq(int v) { return v * v; }

size_t dist2(const struct point *a, const struct point *b)
{
	return (size_t)(sq(a->x - b->x) + sq(a->y - b->y));
}
`

// toolchain is what a node installs for one compiler.
type toolchain struct {
	driver  string
	install []string // passed through Closure
	exec    []string
}

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Skipf("%s %v: %v", name, args, err)
	}
	return strings.TrimSpace(string(out))
}

func gcc(t *testing.T) toolchain {
	driver, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed")
	}
	cc1 := output(t, driver, "-print-prog-name=cc1")
	var installDir string
	for _, line := range strings.Split(output(t, driver, "-print-search-dirs"), "\n") {
		if d, ok := strings.CutPrefix(line, "install: "); ok {
			installDir = d
		}
	}
	as, err := exec.LookPath("as")
	if err != nil || installDir == "" {
		t.Skip("no assembler or gcc install directory")
	}
	return toolchain{
		driver:  driver,
		install: []string{driver, cc1, as, installDir},
		exec:    []string{driver, cc1, as, interp(t, driver)},
	}
}

func clang(t *testing.T) toolchain {
	driver, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang is not installed")
	}
	real, err := filepath.EvalSymlinks(driver)
	if err != nil {
		t.Fatal(err)
	}
	llvm := filepath.Dir(filepath.Dir(real)) // /usr/lib/llvm-14, holding the resource dir
	if res := output(t, driver, "-print-resource-dir"); !strings.HasPrefix(res, llvm+"/") {
		t.Skipf("resource dir %s is outside %s", res, llvm)
	}
	return toolchain{
		driver:  driver,
		install: []string{driver, llvm},
		exec:    []string{driver, real, interp(t, driver)},
	}
}

func TestCompileGCC(t *testing.T)   { testCompile(t, gcc(t)) }
func TestCompileClang(t *testing.T) { testCompile(t, clang(t)) }

// testCompile compiles the same file at the same path with -g locally and
// in the sandbox, and compares the objects byte for byte.
func testCompile(t *testing.T, tc toolchain) {
	needSandbox(t)
	install, err := landlock.Closure(tc.install...)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	args := []string{tc.driver, "-g", "-O2", "-c", "dist.c", "-o", "out/dist.o"}
	env := []string{"PATH=/usr/bin:/bin", "PWD=" + src, "LC_ALL=C"}

	writeFile(t, src+"/dist.c", source)
	mkdir(t, src+"/out")
	local := exec.Command(args[0], args[1:]...)
	local.Dir, local.Env = src, env
	if out, err := local.CombinedOutput(); err != nil {
		t.Fatalf("local compile: %v\n%s", err, out)
	}

	root := newRoot(t)
	writeFile(t, root+src+"/dist.c", source)
	mkdir(t, root+src+"/out")
	uid, gid := jobIDs()
	spec := landlock.Spec{
		Root: root, Install: install, Exec: tc.exec, Writable: []string{src + "/out"},
		Dir: src, Argv: args, Env: env, UID: uid, GID: gid,
	}
	var stderr bytes.Buffer
	res, err := spawner.Run(t.Context(), spec, &stderr, &stderr)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("sandboxed compile: %+v %v\n%s", res, err, stderr.String())
	}
	want, err := os.ReadFile(src + "/out/dist.o")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(root + src + "/out/dist.o")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("sandboxed object (%d bytes) differs from the local one (%d bytes)", len(got), len(want))
	}
	if res.Setup <= 0 {
		t.Errorf("Result.Setup %v for a compile that ran: the sandbox's share of the latency is not reported", res.Setup)
	}
	t.Logf("%s: %d bytes identical, %v (sandbox setup %v), cpu %v", tc.driver, len(got), res.Elapsed, res.Setup, res.CPU)
}

func TestClosure(t *testing.T) {
	for _, tc := range []struct {
		name string
		prog func(*testing.T) toolchain
		want []string // base-name prefixes that must be in the closure
	}{
		{"gcc", gcc, []string{"gcc", "cc1", "libisl.so", "libmpc.so", "libgmp.so", "libzstd.so", "libc.so.6", "ld-linux", "libbfd"}},
		{"clang", clang, []string{"clang", "libLLVM-", "libstdc++.so", "libc.so.6", "ld-linux"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			progs := tc.prog(t)
			got, err := landlock.Closure(progs.install...)
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, p := range got {
				names[filepath.Base(p)] = true
			}
			has := func(prefix string) bool {
				for n := range names {
					if strings.HasPrefix(n, prefix) {
						return true
					}
				}
				return false
			}
			for _, w := range tc.want {
				if !has(w) {
					t.Errorf("closure lacks %s*", w)
				}
			}
			// Whatever the loader itself loads must be there too.
			for _, p := range progs.exec {
				out, err := exec.Command("ldd", p).Output()
				if err != nil || bytes.Contains(out, []byte("statically linked")) {
					continue // the loader itself, or no ldd
				}
				for _, line := range strings.Split(string(out), "\n") {
					if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "linux-vdso") && !names[filepath.Base(f[0])] {
						t.Errorf("closure lacks %s, which ldd %s lists", f[0], p)
					}
				}
			}
			if t.Failed() {
				t.Logf("closure:\n%s", strings.Join(got, "\n"))
			}
		})
	}
	if _, err := landlock.Closure("relative/gcc"); err == nil {
		t.Error("Closure accepted a relative path")
	}
}
