package jobs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// A job's tree is the client's part of its private root: directories,
// symlinks and files at the client's paths, which the sandbox adds the
// compiler installation to. Consecutive jobs of a build share most of it
// (the system headers, the project's headers), so trees are kept in a pool
// and brought from one job's manifest to the next by a difference, instead
// of being built and removed whole each time.
//
// A tree is only ever changed by the node: outside the writable directories
// the sandbox mounts it read-only, and the writable directories (where a
// compiler may have left anything) are removed after every job and built
// afresh for the next.
type treePool struct {
	dir string

	// mu protects the following.
	mu   sync.Mutex
	idle []*tree
	seq  int
	max  int // idle trees kept
}

type tree struct {
	dir     string           // holds root/
	root    string           // the tree itself
	entries map[string]Entry // what the node put in it, by client path
	install string           // the installation it was last used with
}

func newTreePool(dir string, max int) *treePool {
	return &treePool{dir: dir, max: max}
}

// get returns an idle tree last used with the same compiler
// installation (the sandbox's placeholders for it are in place), or a new
// empty one.
func (p *treePool) get(install string) (*tree, error) {
	p.mu.Lock()
	for i, t := range p.idle {
		if t.install == install {
			p.idle = slices.Delete(p.idle, i, i+1)
			p.mu.Unlock()
			return t, nil
		}
	}
	p.seq++
	dir := filepath.Join(p.dir, strconv.Itoa(p.seq))
	p.mu.Unlock()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	return &tree{dir: dir, root: root, entries: map[string]Entry{}}, nil
}

// put returns a tree after a job, or discards it. When the pool is full
// the oldest idle tree goes.
func (p *treePool) put(t *tree, ok bool) {
	if !ok {
		os.RemoveAll(t.dir)
		return
	}
	p.mu.Lock()
	p.idle = append(p.idle, t)
	var drop *tree
	if len(p.idle) > p.max {
		drop = p.idle[0]
		p.idle = p.idle[1:]
	}
	p.mu.Unlock()
	if drop != nil {
		os.RemoveAll(drop.dir)
	}
}

// sync makes t hold exactly want (by client path), creating files with
// link for ordinary files and copy for those inside the job's writable
// directories (where the compiler could write into a hard link). It
// returns an error when the tree cannot be brought there (then discard it).
func (t *tree) sync(want map[string]Entry, writable []string, link, copy func(e Entry, path string) error) error {
	inWritable := func(p string) bool {
		for _, d := range writable {
			if within(p, d) {
				return true
			}
		}
		return false
	}
	// Remove what is stale, deepest first.
	var stale []string
	for p, have := range t.entries {
		if w, ok := want[p]; !ok || w != have || inWritable(p) && have.Kind != KindDir {
			stale = append(stale, p)
		}
	}
	slices.SortFunc(stale, func(a, b string) int { return strings.Compare(b, a) })
	for _, p := range stale {
		if err := os.Remove(filepath.Join(t.root, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("update job tree: %w", err)
		}
		delete(t.entries, p)
	}
	// Create what is missing, parents first.
	var add []Entry
	for p, e := range want {
		if _, ok := t.entries[p]; !ok {
			add = append(add, e)
		}
	}
	slices.SortFunc(add, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	for _, e := range add {
		path := filepath.Join(t.root, e.Path)
		var err error
		switch e.Kind {
		case KindDir:
			err = os.Mkdir(path, 0o755)
		case KindSymlink:
			err = os.Symlink(e.Target, path)
		case KindFile:
			if inWritable(e.Path) {
				err = copy(e, path)
			} else {
				err = link(e, path)
			}
		}
		if err != nil {
			return fmt.Errorf("update job tree: %w", err)
		}
		t.entries[e.Path] = e
	}
	return nil
}

// clean empties the writable directories after a job: whatever the
// compiler wrote there (outputs, anything else) goes, and so do the
// client's files there (they are copies; the next job that needs them
// gets fresh ones). The directories themselves are removed too, so the
// next job does not inherit their owner.
func (t *tree) clean(writable []string) error {
	for _, d := range writable {
		if err := os.RemoveAll(filepath.Join(t.root, d)); err != nil {
			return err
		}
		for p := range t.entries {
			if within(p, d) {
				delete(t.entries, p)
			}
		}
	}
	return nil
}
