package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

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
