package jobs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestAbsentCache: a name missing from a settled directory is answered from
// the cache, and creating it (which changes the directory) is seen at once;
// a directory changed within the settle interval is never cached.
func TestAbsentCache(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc")
	if err := os.Mkdir(inc, 0o755); err != nil {
		t.Fatal(err)
	}
	c := newAbsentCache(100)
	resolve := func() error {
		w := newWalker(dir)
		w.absent = c
		_, _, err := w.resolve(filepath.Join(inc, "x.h"))
		return err
	}

	// Just changed: looked up, not cached.
	if err := resolve(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("resolve inc/x.h: %v, want it missing", err)
	}
	if c.names != 0 {
		t.Fatalf("a directory changed just now was cached (%d names)", c.names)
	}

	// Settled (the clock moved on): cached, and answered from the cache.
	c.now = func() time.Time { return time.Now().Add(2 * absentSettle) }
	if err := resolve(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("resolve inc/x.h: %v, want it missing", err)
	}
	if c.names != 1 {
		t.Fatalf("cache holds %d names, want inc's x.h", c.names)
	}
	if !c.has(inc, stampOfDir(statT(t, inc)), "x.h") {
		t.Fatal("x.h is not known to be absent from the unchanged directory")
	}

	// Created: the directory's times move, the cached absence no longer
	// applies, and the file is found.
	if err := os.WriteFile(filepath.Join(inc, "x.h"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := resolve(); err != nil {
		t.Fatalf("resolve inc/x.h after creating it: %v", err)
	}
}

func statT(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}
