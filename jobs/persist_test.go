package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
)

func TestFileCachePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache", "files")
	hc := newHashCache(100)
	st := cc.FileStamp{Dev: 1, Ino: 2, Size: 3, MTime: 4, CTime: 5}
	hc.m[st] = &hashEntry{hash: Hash{9}, dirs: directives{Refs: []includeRef{{Name: "a.h"}}}}
	if err := hc.save(path); err != nil {
		t.Fatal(err)
	}
	back := newHashCache(100)
	if n, err := back.load(path); err != nil || n != 1 {
		t.Fatalf("load = %d, %v", n, err)
	}
	if e, ok := back.lookup(st); !ok || e.hash != (Hash{9}) || len(e.dirs.Refs) != 1 || e.dirs.Refs[0].Name != "a.h" {
		t.Fatalf("entry after load: %+v %v", e, ok)
	}

	// Corrupt, truncated or foreign files are ignored, never trusted.
	data, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"flipped byte": func() []byte { b := append([]byte(nil), data...); b[len(b)/2] ^= 1; return b }(),
		"truncated":    data[:len(data)-5],
		"older format": append([]byte("distmesh file cache v0\n"), data[len(cacheMagic):]...),
		"empty":        nil,
	} {
		os.WriteFile(path, bad, 0o600)
		c := newHashCache(100)
		if _, err := c.load(path); !errors.Is(err, errCacheInvalid) {
			t.Errorf("%s: load = %v, want errCacheInvalid", name, err)
		}
		if len(c.m) != 0 {
			t.Errorf("%s: %d entries trusted", name, len(c.m))
		}
	}
}

// TestHashCacheWaitsForSettledFiles: a file version younger than the settle
// interval is hashed but not remembered (a second write within the same
// clock tick could keep its stamp); an older one is remembered.
func TestHashCacheWaitsForSettledFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.h")
	if err := os.WriteFile(p, []byte("#include <y.h>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	st := cc.StampOf(fi)
	hc := newHashCache(100)
	e, err := hc.get(int(f.Fd()), st, caller{})
	if err != nil || len(e.dirs.Refs) != 1 {
		t.Fatalf("get = %+v, %v", e, err)
	}
	if _, ok := hc.lookup(st); ok {
		t.Error("a file written just now was remembered")
	}
	hc.now = func() time.Time { return time.Now().Add(2 * absentSettle) }
	if _, err := hc.get(int(f.Fd()), st, caller{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := hc.lookup(st); !ok {
		t.Error("a settled file was not remembered")
	}
}
