package jobs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWalkerAgreesWithKernel resolves names the way the kernel does, each
// name alone and after others that share its directories (a walker keeps
// the directories it resolved): symlinked directories, "..", names through
// missing directories and files, and symlink chains that pass the kernel's
// limit of 40 only when the directory's links and the name's are counted
// together.
func TestWalkerAgreesWithKernel(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "real/sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "real/x.h"), []byte("x"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "real/sub/y.h"), []byte("y"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "top.h"), []byte("t"), 0o644))
	must(os.Symlink("real/sub", filepath.Join(dir, "link")))    // link/.. is real, not dir
	must(os.Symlink("x.h", filepath.Join(dir, "real/alias.h"))) // a file symlink
	// In directory in, a chain of n links p0 → p1 → … → target.
	chain := func(in, p, target string, n int) {
		for i := n - 1; i >= 0; i-- {
			next := target
			if i < n-1 {
				next = fmt.Sprintf("%s%d", p, i+1)
			}
			must(os.Symlink(next, filepath.Join(dir, in, fmt.Sprintf("%s%d", p, i))))
		}
	}
	chain(".", "d", "real", 30)   // d0 reaches real through 30 links
	chain("real", "f", "x.h", 15) // real/f0 reaches x.h through 15 links: 45 from d0
	chain("real", "g", "x.h", 5)  // 35 from d0
	names := []string{
		"real/x.h", "real/sub/y.h", "top.h", "link/y.h", "link/../x.h", "link/../../top.h",
		"real/alias.h", "real/missing.h", "missing/x.h", "real/x.h/z.h", "real/./sub/../x.h",
		"d0/x.h", "d0/sub/y.h", "d0/g0", "d0/f0", // the last: 45 links in all
		filepath.Join(dir, "link/../x.h"), "real/sub/", "link/..",
	}
	kernel := func(name string) (string, error) {
		p := name
		if !filepath.IsAbs(p) {
			p = dir + "/" + name // not Join, which would clean ".." away lexically
		}
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return "", err
		}
		defer syscall.Close(fd)
		return os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	}
	check := func(w *walker, name string) {
		t.Helper()
		want, kerr := kernel(name)
		got, _, err := w.resolve(name)
		switch {
		case kerr != nil && err == nil:
			t.Errorf("%s: resolved to %s; the kernel says %v", name, got, kerr)
		case kerr == nil && err != nil:
			t.Errorf("%s: %v; the kernel opens %s", name, err, want)
		case kerr == nil && got != want:
			t.Errorf("%s: resolved to %s, the kernel opens %s", name, got, want)
		case kerr != nil && !errors.Is(err, kerr.(syscall.Errno)):
			t.Errorf("%s: %v; the kernel says %v", name, err, kerr)
		}
	}
	shared := newWalker(dir)
	for _, name := range names {
		check(newWalker(dir), name)
		check(shared, name)
	}
	for i := len(names) - 1; i >= 0; i-- { // the other way round
		check(shared, names[i])
	}

	// Names below directories added with addDir (include directories) are
	// walked from where those resolved: the same answers, the symlinks on
	// the way to the directory still counted, the same entries recorded.
	bases := []string{dir + "/d0", dir + "/link", dir + "/real/", dir + "/d0/sub", dir + "/link/..", dir + "/missing"}
	below := []string{
		dir + "/d0/f0", dir + "/d0/g0", dir + "/d0/x.h", dir + "/d0/sub/y.h", dir + "/d0/sub/../x.h",
		dir + "/link/y.h", dir + "/link/../x.h", dir + "/link/../../top.h", dir + "/link/..//sub/y.h",
		dir + "/real/x.h", dir + "/real/alias.h", dir + "/real/missing.h", dir + "/real/x.h/z.h", dir + "/missing/x.h", dir + "/realx.h",
	}
	based, plain := newWalker(dir), newWalker(dir)
	for _, b := range bases {
		must(based.addDir(b))
		must(plain.addDir(b))
	}
	plain.bases = nil
	if len(based.bases) != len(bases)-1 {
		t.Fatalf("%d bases for %d directories, one of them missing", len(based.bases), len(bases))
	}
	for _, name := range below {
		check(based, name)
		check(plain, name)
	}
	if len(based.entries) != len(plain.entries) {
		t.Errorf("%d entries recorded from bases, %d walking from the root", len(based.entries), len(plain.entries))
	}
	for p, e := range plain.entries {
		if based.entries[p] != e {
			t.Errorf("%s: recorded %+v from bases, %+v walking from the root", p, based.entries[p], e)
		}
	}
}
