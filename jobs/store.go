package jobs

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distmesh/distmesh/internal/renameio"
)

// Store is a node's content-addressed store of the files clients sent, so
// a header crosses the network once. It is bounded in size: the least
// recently used contents are removed first.
//
// A compile sees files with the client's mode and modification time, which
// live in the inode, so the store keeps a variant per (content, mode,
// mtime) and hard-links it into each job's tree. Variants are created by
// copying the content once; a build tree's files keep their times, so a
// content usually has one variant.
type Store struct {
	dir   string
	limit int64
	log   *slog.Logger

	// mu protects the following.
	mu    sync.Mutex
	used  map[string]time.Time // file name relative to dir → last use
	sizes map[string]int64
	total int64
}

// OpenStore opens (creating) the store in dir, bounded to limit bytes.
func OpenStore(dir string, limit int64, log *slog.Logger) (*Store, error) {
	s := &Store{dir: dir, limit: limit, log: log, used: map[string]time.Time{}, sizes: map[string]int64{}}
	for _, sub := range []string{"objects", "variants"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	// Index what is there; remove what a crash left half-written.
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(d.Name(), ".") {
			os.Remove(p)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		s.used[rel] = fi.ModTime()
		s.sizes[rel] = fi.Size()
		s.total += fi.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

func (s *Store) objectName(h Hash) string {
	hs := h.String()
	return filepath.Join("objects", hs[:2], hs)
}

// Has reports whether the store holds content h.
func (s *Store) Has(h Hash) bool {
	name := s.objectName(h)
	s.mu.Lock()
	_, ok := s.sizes[name]
	if ok {
		s.used[name] = time.Now()
	}
	s.mu.Unlock()
	return ok
}

// ErrCorrupt is returned by Put for content that does not match its hash.
var ErrCorrupt = errors.New("content does not match its hash")

// Put stores content, which must hash to h.
func (s *Store) Put(h Hash, content []byte) error {
	if sha256.Sum256(content) != h {
		return fmt.Errorf("store %s: %w", h, ErrCorrupt)
	}
	if s.Has(h) {
		return nil
	}
	name := s.objectName(h)
	path := filepath.Join(s.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := renameio.WriteFile(path, content, 0o444); err != nil {
		return err
	}
	s.account(name, int64(len(content)))
	return nil
}

func (s *Store) account(name string, size int64) {
	s.mu.Lock()
	if _, ok := s.sizes[name]; !ok {
		s.sizes[name] = size
		s.total += size
	}
	s.used[name] = time.Now()
	over := s.total > s.limit
	s.mu.Unlock()
	if over {
		s.evict()
	}
}

// Link makes path a hard link to content h with the given mode and
// modification time, creating that variant when needed.
func (s *Store) Link(h Hash, mode fs.FileMode, mtime int64, path string) error {
	vname := filepath.Join("variants", h.String()[:2], h.String()+"."+strconv.FormatUint(uint64(mode.Perm()), 8)+"."+strconv.FormatInt(mtime, 10))
	vpath := filepath.Join(s.dir, vname)
	err := os.Link(vpath, path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := s.makeVariant(h, mode, mtime, vpath); err != nil {
			return err
		}
		err = os.Link(vpath, path)
	}
	if err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	fi, _ := os.Stat(vpath)
	if fi != nil {
		s.account(vname, fi.Size())
	}
	return nil
}

// Copy writes a private copy of content h to path, with the given mode and
// modification time.
func (s *Store) Copy(h Hash, mode fs.FileMode, mtime int64, path string) error {
	return s.copyOut(h, mode, mtime, path)
}

func (s *Store) makeVariant(h Hash, mode fs.FileMode, mtime int64, vpath string) error {
	if err := os.MkdirAll(filepath.Dir(vpath), 0o755); err != nil {
		return err
	}
	return s.copyOut(h, mode, mtime, vpath)
}

// copyOut copies content h to path (which must not exist; an existing one
// is left as it is), through a temporary file.
func (s *Store) copyOut(h Hash, mode fs.FileMode, mtime int64, vpath string) error {
	src, err := os.Open(filepath.Join(s.dir, s.objectName(h)))
	if err != nil {
		return fmt.Errorf("store: content %s: %w", h, err)
	}
	defer src.Close()
	f, err := renameio.TempFile(vpath)
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := io.Copy(f, src); err != nil { // copy_file_range where the kernel can
		return err
	}
	// The sandboxed compiler may run as another user: everybody may read.
	if err := f.Chmod(mode.Perm() | 0o444); err != nil {
		return err
	}
	t := time.Unix(0, mtime)
	if err := os.Chtimes(f.Name(), t, t); err != nil {
		return err
	}
	// Not CloseAtomicallyReplace: it would chmod again; a concurrent job may
	// have made the same variant, which is as good.
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(f.Name(), vpath); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// evict removes least recently used files until the store is 90% of its
// limit. Files still linked into a running job survive in that job's tree.
func (s *Store) evict() {
	s.mu.Lock()
	names := make([]string, 0, len(s.used))
	for n := range s.used {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return s.used[names[i]].Before(s.used[names[j]]) })
	target := s.limit * 9 / 10
	var drop []string
	for _, n := range names {
		if s.total <= target {
			break
		}
		s.total -= s.sizes[n]
		delete(s.sizes, n)
		delete(s.used, n)
		drop = append(drop, n)
	}
	s.mu.Unlock()
	for _, n := range drop {
		os.Remove(filepath.Join(s.dir, n))
	}
	if len(drop) > 0 {
		s.log.Debug("store evicted files", "count", len(drop))
	}
}

// Size is the store's current size in bytes.
func (s *Store) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}
