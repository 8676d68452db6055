package jobs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/distmesh/distmesh/internal/renameio"
	"github.com/distmesh/distmesh/jobs/cc"
)

// The agent's per-file cache (content hashes and directives, keyed by file
// version) is saved when the node stops and loaded when it starts, so a
// restart does not mean rereading every header. A file that does not load
// (another release's format, a truncated or altered file) is ignored and the
// cache rebuilt: it is never trusted. It is only a cache: each entry is
// keyed by the file version it describes (device, inode, size,
// modification and change times, nanoseconds), so a changed file never
// matches an old entry.

// cacheMagic names the file format; a new release that changes what an
// entry means changes it.
const cacheMagic = "distmesh file cache v4\n"

type savedEntry struct {
	Stamp cc.FileStamp
	Hash  Hash
	Dirs  directives
}

func cachePath(home string) string { return filepath.Join(home, "cache", "files") }

// save writes the cache atomically: magic, gob-encoded entries, and a
// SHA-256 of everything before it.
func (hc *hashCache) save(path string) error {
	hc.mu.Lock()
	entries := make([]savedEntry, 0, len(hc.m))
	for st, e := range hc.m {
		entries = append(entries, savedEntry{st, e.hash, e.dirs})
	}
	hc.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := renameio.TempFile(path)
	if err != nil {
		return err
	}
	defer f.Cleanup()
	h := sha256.New()
	w := bufio.NewWriter(io.MultiWriter(f, h))
	w.WriteString(cacheMagic)
	if err := gob.NewEncoder(w).Encode(entries); err != nil {
		return fmt.Errorf("save file cache: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("save file cache: %w", err)
	}
	if _, err := f.Write(h.Sum(nil)); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace(0o600)
}

var errCacheInvalid = errors.New("file cache invalid")

// load reads a cache save wrote. Anything wrong with the file leaves the
// cache empty and says why.
func (hc *hashCache) load(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if len(data) < len(cacheMagic)+sha256.Size || string(data[:len(cacheMagic)]) != cacheMagic {
		return 0, fmt.Errorf("%w: another release's format, or not a cache", errCacheInvalid)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); string(got[:]) != string(sum) {
		return 0, fmt.Errorf("%w: checksum mismatch", errCacheInvalid)
	}
	var entries []savedEntry
	if err := gob.NewDecoder(bytes.NewReader(body[len(cacheMagic):])).Decode(&entries); err != nil {
		return 0, fmt.Errorf("%w: %v", errCacheInvalid, err)
	}
	hc.mu.Lock()
	defer hc.mu.Unlock()
	for _, e := range entries {
		if len(hc.m) >= hc.max {
			break
		}
		hc.m[e.Stamp] = &hashEntry{hash: e.Hash, dirs: e.Dirs}
	}
	return len(entries), nil
}
