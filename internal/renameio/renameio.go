// Package renameio replaces files atomically: readers see the old file or
// the new one, never a part of either, and a crash leaves at most a stray
// temporary file named ".NAME.tmp-*" beside the target.
package renameio

import (
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes data to path through a temporary file in the same
// directory, synced, then renamed over path. perm is applied exactly (the
// umask does not reduce it).
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, true)
}

// WriteFileUnsynced is WriteFile without the syncs: still all or nothing
// for readers, but not durable across a power loss. It is for a compiler's
// outputs, which the compiler itself never syncs, and where two syncs per
// file would cost more than the compile's latency.
func WriteFileUnsynced(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, false)
}

func writeFile(path string, data []byte, perm fs.FileMode, sync bool) error {
	f, err := TempFile(path)
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return writeError(path, err)
	}
	return f.replace(perm, sync)
}

// PendingFile is a temporary file that becomes its target on
// CloseAtomicallyReplace, or disappears on Cleanup.
type PendingFile struct {
	*os.File
	path string
	done bool
}

// TempFile creates the temporary file for path.
func TempFile(path string) (*PendingFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, writeError(path, err)
	}
	return &PendingFile{File: f, path: path}, nil
}

// CloseAtomicallyReplace sets the mode, syncs, closes and renames the file
// over its target, then syncs the directory.
func (p *PendingFile) CloseAtomicallyReplace(perm fs.FileMode) error {
	return p.replace(perm, true)
}

func (p *PendingFile) replace(perm fs.FileMode, sync bool) error {
	if err := p.Chmod(perm); err != nil {
		return writeError(p.path, err)
	}
	if sync {
		if err := p.Sync(); err != nil {
			return writeError(p.path, err)
		}
	}
	if err := p.Close(); err != nil {
		return writeError(p.path, err)
	}
	if err := os.Rename(p.Name(), p.path); err != nil {
		return writeError(p.path, err)
	}
	p.done = true
	if !sync {
		return nil
	}
	if d, err := os.Open(filepath.Dir(p.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Cleanup removes the temporary file unless it was renamed. It is safe to
// defer right after TempFile.
func (p *PendingFile) Cleanup() {
	if p.done {
		return
	}
	p.Close()
	os.Remove(p.Name())
}

// writeError says which file could not be written ("write PATH: …").
func writeError(path string, err error) error {
	return &fs.PathError{Op: "write", Path: path, Err: err}
}
