package jobs

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
)

// EntryKind is what a manifest entry is.
type EntryKind string

const (
	KindFile    EntryKind = "f"
	KindDir     EntryKind = "d"
	KindSymlink EntryKind = "l"
)

// Entry is one thing a compile can observe in the file system: a file with
// its content hash, mode and modification time (__TIMESTAMP__, clang's PCH
// checks), a directory it traverses (dir/../x.h needs dir), or a symlink on
// the way (GCC takes DW_AT_comp_dir from PWD, which may pass through one).
// Paths are absolute and physical: no symlink in them but, for a symlink
// entry, the last component.
type Entry struct {
	Path   string    `json:"p"`
	Kind   EntryKind `json:"k"`
	Target string    `json:"t,omitempty"`  // a symlink's target, as read
	Mode   uint32    `json:"m,omitempty"`  // a file's permission bits
	MTime  int64     `json:"mt,omitempty"` // a file's modification time, ns
	Size   int64     `json:"s,omitempty"`
	Hash   Hash      `json:"h,omitzero"`
}

// maxSymlinks is the kernel's limit on symlinks in one path walk.
const maxSymlinks = 40

// walker resolves paths as the kernel does, component by component, and
// records every directory and symlink it passes and the file it ends at.
// Lookups are cached for the walker's life (one job).
type walker struct {
	cwd     string // physical working directory
	entries map[string]Entry
	lstat   map[string]lstatResult
	// lookup, when set, answers lstat from somewhere other than the file
	// system (a node resolves paths inside a client's manifest).
	lookup func(p string) lstatResult
	// absent, when set, answers lookups of names known to be missing
	// from an unchanged directory without asking the file system.
	absent *absentCache
	// watch, when set, answers lstat from what earlier jobs looked up,
	// kept true by inotify.
	watch *fileWatch
	// done memoizes whole resolutions of names that exist: a job resolves
	// those more than once (scan, manifest check, open, the .gch check),
	// but most names a scan tries, missing, only once.
	done map[string]resolved
	// bases are directories added with addDir (the include directories):
	// a name below one is walked from where it resolved, not from the
	// root again. The walker's answers never change, so neither would
	// that part of the walk.
	bases []walkBase
}

type resolved struct {
	phys  string
	fi    fs.FileInfo
	err   error
	links int // symlinks followed
}

type walkBase struct {
	name, phys string // as spelled, without a trailing slash; where it resolved
	links      int
}

type lstatResult struct {
	fi     fs.FileInfo
	target string
	err    error
}

func newWalker(cwd string) *walker {
	return &walker{cwd: cwd, entries: map[string]Entry{}, lstat: map[string]lstatResult{}, done: map[string]resolved{}}
}

// walkerPool keeps walkers between the agent's jobs. A scan makes
// thousands of lookups; maps made fresh for each job (zeroed memory, page
// by page) or grown step by step cost the agent more than the lookups.
// Cleared maps keep their room.
var walkerPool sync.Pool

// pooledWalker is a walker for cwd, its maps from an earlier job when the
// pool has one. Give it back with recycle.
func pooledWalker(cwd string) *walker {
	w, ok := walkerPool.Get().(*walker)
	if !ok {
		return newWalker(cwd)
	}
	clear(w.entries)
	clear(w.lstat)
	clear(w.done)
	*w = walker{cwd: cwd, entries: w.entries, lstat: w.lstat, done: w.done, bases: w.bases[:0]}
	return w
}

// recycle gives w back to the pool: nothing may use it after.
func (w *walker) recycle() { walkerPool.Put(w) }

func (w *walker) stat(p string) lstatResult {
	if r, ok := w.lstat[p]; ok {
		return r
	}
	var r lstatResult
	switch {
	case w.lookup != nil:
		r = w.lookup(p)
	case w.watch != nil:
		r = w.watch.get(p)
	default:
		r = osLstat(p)
	}
	w.lstat[p] = r
	return r
}

// child looks up comp in the directory cur (already walked), whose path
// joined with comp is next.
func (w *walker) child(cur, comp, next string) lstatResult {
	if w.absent == nil {
		return w.stat(next)
	}
	if r, ok := w.lstat[next]; ok {
		return r
	}
	// What the watch remembers needs no absence check first.
	if w.watch != nil && w.lookup == nil {
		if r, ok := w.watch.recall(cur, comp); ok {
			w.lstat[next] = r
			return r
		}
	}
	parent := w.stat(cur)
	if parent.err != nil || parent.fi == nil {
		return w.stat(next)
	}
	st, ok := parent.fi.Sys().(*syscall.Stat_t)
	if !ok {
		return w.stat(next)
	}
	stamp := stampOfDir(st)
	if w.absent.has(cur, stamp, comp) {
		r := lstatResult{err: &fs.PathError{Op: "lstat", Path: next, Err: syscall.ENOENT}}
		w.lstat[next] = r
		return r
	}
	r := w.stat(next)
	if errors.Is(r.err, fs.ErrNotExist) {
		w.absent.add(cur, stamp, comp)
	}
	return r
}

// resolve walks name (absolute, or relative to the working directory),
// records what it passes, and returns the physical path it ends at and what
// is there. A missing final component returns an error wrapping
// fs.ErrNotExist, with the directories on the way recorded.
func (w *walker) resolve(name string) (string, fs.FileInfo, error) {
	if r, ok := w.done[name]; ok {
		return r.phys, r.fi, r.err
	}
	r := w.walk(name)
	if r.err == nil {
		w.done[name] = r
	}
	return r.phys, r.fi, r.err
}

func (w *walker) walk(name string) resolved {
	if name == "" {
		return resolved{err: fmt.Errorf("resolve: empty path")}
	}
	rest := name
	cur := "/"
	// full spells out the path from the root; while the walk follows it,
	// each path walked is a prefix of it, which makes no new string.
	full := name
	if !path.IsAbs(name) {
		cur = w.cwd
		full = w.cwd + "/" + name
	}
	links := 0
	if b := w.base(name); b != nil {
		cur, rest, links = b.phys, name[len(b.name):], b.links
	}
	for {
		rest = strings.TrimLeft(rest, "/")
		if rest == "" {
			r := w.stat(cur)
			return resolved{cur, r.fi, r.err, links}
		}
		var comp string
		comp, rest, _ = strings.Cut(rest, "/")
		switch comp {
		case ".":
			continue
		case "..":
			// cur is physical, so its lexical parent is its real parent.
			cur = path.Dir(cur)
			continue
		}
		next := childPath(full, cur, comp)
		r := w.child(cur, comp, next)
		if r.err != nil {
			return resolved{next, nil, r.err, links}
		}
		switch mode := r.fi.Mode(); {
		case mode&fs.ModeSymlink != 0:
			if links++; links > maxSymlinks {
				return resolved{next, nil, &fs.PathError{Op: "resolve", Path: name, Err: syscall.ELOOP}, links}
			}
			w.entries[next] = Entry{Path: next, Kind: KindSymlink, Target: r.target}
			if path.IsAbs(r.target) {
				cur = "/"
			}
			rest = r.target + "/" + rest
		case mode.IsDir():
			w.entries[next] = Entry{Path: next, Kind: KindDir}
			cur = next
		default:
			if strings.Trim(rest, "/") != "" {
				return resolved{next, nil, &fs.PathError{Op: "resolve", Path: name, Err: syscall.ENOTDIR}, links}
			}
			return resolved{next, r.fi, nil, links}
		}
	}
}

// existsBeside reports whether anything is at name+suffix (a name the
// compiler also tries, as GCC does x.h.gch for x.h). It looks that last
// component up in the directory where name's own was found, as a walk of
// name+suffix would, instead of walking every component again; the
// lookup is recorded as any other.
func (w *walker) existsBeside(name, suffix string) bool {
	dir, base := cc.DirOf(name), name[strings.LastIndexByte(name, '/')+1:]
	walked := func() bool { _, _, err := w.resolve(name + suffix); return err == nil }
	if base == "" || base == "." || base == ".." {
		return walked()
	}
	// Not cleaned: "a/.." is walked, as the compiler's open would.
	p, fi, err := w.resolve(dir)
	if err != nil || !fi.IsDir() {
		return walked()
	}
	next := p + "/" + base + suffix // one string, the component a slice of it
	if p == "/" {
		next = "/" + base + suffix
	}
	r := w.child(p, next[len(next)-len(base)-len(suffix):], next)
	switch {
	case r.err != nil:
		return false
	case r.fi.Mode()&fs.ModeSymlink != 0:
		return walked() // exists if its target does
	}
	return true
}

// base is the longest of w's bases that name (absolute) is below, or nil.
func (w *walker) base(name string) *walkBase {
	var best *walkBase
	for i := range w.bases {
		b := &w.bases[i]
		if len(name) > len(b.name) && name[len(b.name)] == '/' && name[:len(b.name)] == b.name &&
			(best == nil || len(b.name) > len(best.name)) {
			best = b
		}
	}
	return best
}

// childPath is cur/comp (cur clean and physical, comp one name): a prefix
// of full when full spells it.
func childPath(full, cur, comp string) string {
	n := len(cur)
	if cur == "/" {
		n = 0
	}
	end := n + 1 + len(comp)
	if len(full) >= end && full[n] == '/' && full[:n] == cur[:n] && full[n+1:end] == comp {
		return full[:end]
	}
	return childOf(cur, comp)
}

// childOf is dir/name, for a clean physical dir and one name.
func childOf(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// addDir records a directory the compile may traverse (the working
// directory, PWD, an include directory). A directory that does not exist is
// not an error: it does not exist on the node either.
func (w *walker) addDir(name string) error {
	p, fi, err := w.resolve(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() && p != "/" { // every tree has a root: a manifest never lists it
		w.entries[p] = Entry{Path: p, Kind: KindDir}
		if b := strings.TrimRight(name, "/"); path.IsAbs(b) && len(w.bases) < maxBases {
			w.bases = append(w.bases, walkBase{name: b, phys: p, links: w.done[name].links})
		}
	}
	return nil
}

// maxBases bounds the bases a walker tries for each name.
const maxBases = 32

// addFile records the file name resolves to and returns its physical path
// and its information.
func (w *walker) addFile(name string) (string, fs.FileInfo, error) {
	p, fi, err := w.resolve(name)
	if err != nil {
		return "", nil, err
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("input %s is not a regular file", name)
	}
	return p, fi, nil
}

// manifestLookup answers lstat from a manifest.
func manifestLookup(byPath map[string]Entry) func(string) lstatResult {
	return func(p string) lstatResult {
		if p == "/" {
			return lstatResult{fi: entryInfo{Entry{Path: "/", Kind: KindDir}}}
		}
		e, ok := byPath[p]
		if !ok {
			return lstatResult{err: &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}}
		}
		return lstatResult{fi: entryInfo{e}, target: e.Target}
	}
}

// entryInfo presents a manifest entry as an fs.FileInfo.
type entryInfo struct{ e Entry }

func (i entryInfo) Name() string       { return path.Base(i.e.Path) }
func (i entryInfo) Size() int64        { return i.e.Size }
func (i entryInfo) ModTime() time.Time { return time.Unix(0, i.e.MTime) }
func (i entryInfo) IsDir() bool        { return i.e.Kind == KindDir }
func (i entryInfo) Sys() any           { return nil }
func (i entryInfo) Mode() fs.FileMode {
	switch i.e.Kind {
	case KindDir:
		return fs.ModeDir | 0o755
	case KindSymlink:
		return fs.ModeSymlink | 0o777
	}
	return fs.FileMode(i.e.Mode)
}
