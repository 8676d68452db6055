package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestMatrix compiles every matrix case twice in the same directory: with
// the plain compiler, then through a mesh of two nodes (beta sends,
// alpha compiles), and requires identical output files, stdout, stderr and
// exit status. Distributable cases run with DISTMESH_FALLBACK=0 and must
// have been compiled on alpha; the others must be left to the local
// compiler.
func TestMatrix(t *testing.T) {
	needSandbox(t)
	// beta only sends: with no slot of its own, nothing stays local but
	// what distmesh decides must.
	m := newTestMesh(t, "alpha")
	m.joinClient("beta", "alpha")
	fixtures, err := filepath.Abs(filepath.Join("..", "..", "testdata", "matrix"))
	if err != nil {
		t.Fatal(err)
	}
	compilers := map[string]bool{}
	for _, c := range matrixCases {
		if _, ok := compilers[c.Compiler]; !ok {
			_, err := exec.LookPath(c.Compiler)
			compilers[c.Compiler] = err == nil
		}
	}
	var remote, local int
	for _, c := range matrixCases {
		t.Run(c.Name, func(t *testing.T) {
			if !compilers[c.Compiler] {
				t.Skipf("%s not installed (CI installs clang from Debian's packages)", c.Compiler)
			}
			root := filepath.Join(t.TempDir(), "root")
			if out, err := exec.Command("cp", "-a", filepath.Join(fixtures, c.Fixture), root).CombinedOutput(); err != nil {
				t.Fatalf("copy fixture: %v\n%s", err, out)
			}
			subst := func(ss []string) []string {
				out := make([]string, len(ss))
				for i, s := range ss {
					out[i] = strings.ReplaceAll(s, "$ROOT", root)
				}
				return out
			}
			for _, a := range c.Args {
				if p, ok := strings.CutPrefix(a, "/usr/lib/gcc/"); ok {
					if _, err := os.Stat("/usr/lib/gcc/" + p); err != nil {
						t.Skipf("%s not on this machine", a)
					}
				}
			}
			dir := filepath.Join(root, c.Dir)
			args := subst(c.Args)
			env := append(os.Environ(), "PWD="+dir)
			env = append(env, subst(c.Env)...)
			before := listFiles(t, root)

			want := runCompile(t, dir, env, c.Compiler, args)
			want.files = readOutputs(root, c.Outputs)
			checkOutputs(t, c, root, before)
			clean(t, root, before)

			denv := append(env, "DISTMESH_HOME="+m.homes["beta"])
			if c.Remote {
				denv = append(denv, "DISTMESH_FALLBACK=0")
			}
			sent := m.counter("beta", "jobs_sent")
			got := runCompile(t, dir, denv, m.bin, append([]string{c.Compiler}, args...))
			went := m.counter("beta", "jobs_sent") - sent
			got.files = readOutputs(root, c.Outputs)

			if got.exit != want.exit {
				t.Errorf("exit status %d through distmesh, %d locally\nstderr: %s", got.exit, want.exit, got.stderr)
			}
			if !bytes.Equal(got.stdout, want.stdout) {
				t.Errorf("stdout differs:\n--- through distmesh\n%s\n--- local\n%s", got.stdout, want.stdout)
			}
			if !bytes.Equal(got.stderr, want.stderr) {
				t.Errorf("stderr differs:\n--- through distmesh\n%s\n--- local\n%s", got.stderr, want.stderr)
			}
			for _, o := range c.Outputs {
				if !bytes.Equal(got.files[o], want.files[o]) {
					t.Errorf("%s differs (%d bytes through distmesh, %d locally)", o, len(got.files[o]), len(want.files[o]))
				}
			}
			checkOutputs(t, c, root, before)
			switch {
			case c.Remote && went == 0:
				t.Errorf("a distributable compile was not sent to the node")
			case !c.Remote && went != 0:
				t.Errorf("a compile that must stay local was sent to the node")
			case t.Failed():
			case c.Remote:
				remote++
			default:
				local++
			}
		})
	}
	t.Logf("%d cases compiled remotely and %d locally, identical to plain compiles", remote, local)
}

type compileResult struct {
	exit           int
	stdout, stderr []byte
	files          map[string][]byte // outputs, relative to the fixture root
}

func readOutputs(root string, outputs []string) map[string][]byte {
	files := map[string][]byte{}
	for _, o := range outputs {
		if b, err := os.ReadFile(filepath.Join(root, o)); err == nil {
			files[o] = b
		}
	}
	return files
}

func runCompile(t *testing.T, dir string, env []string, prog string, args []string) compileResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := compileResult{stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.exit = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", prog, err)
	}
	return res
}

// listFiles lists the regular files and symlinks under root.
func listFiles(t *testing.T, root string) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkOutputs checks that the files a compile created are exactly the
// case's outputs.
func checkOutputs(t *testing.T, c matrixCase, root string, before map[string]bool) {
	t.Helper()
	var created []string
	for p := range listFiles(t, root) {
		if !before[p] {
			created = append(created, p)
		}
	}
	sort.Strings(created)
	want := append([]string(nil), c.Outputs...)
	sort.Strings(want)
	if strings.Join(created, "\n") != strings.Join(want, "\n") {
		t.Errorf("the compile created %q, want %q", created, want)
	}
}

func clean(t *testing.T, root string, before map[string]bool) {
	t.Helper()
	for p := range listFiles(t, root) {
		if !before[p] {
			os.Remove(filepath.Join(root, p))
		}
	}
}
