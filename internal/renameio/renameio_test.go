package renameio

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(b) != "new" || fi.Mode().Perm() != 0o600 {
		t.Errorf("got %q mode %o", b, fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("stray files: %v", ents)
	}

	p, err := TempFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("abandoned"))
	p.Cleanup()
	b, _ = os.ReadFile(path)
	ents, _ = os.ReadDir(dir)
	if string(b) != "new" || len(ents) != 1 {
		t.Errorf("Cleanup left %q and %d entries", b, len(ents))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o644); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestWriteFileUnsynced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.o")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileUnsynced(path, []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	ents, _ := os.ReadDir(dir)
	if string(b) != "new" || fi.Mode().Perm() != 0o640 || len(ents) != 1 {
		t.Errorf("got %q mode %o, %d entries", b, fi.Mode().Perm(), len(ents))
	}
}
