package jobs

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
)

// manifestCache is what ccache calls direct mode: for a job (compiler,
// arguments, the environment that matters, working directory, source) the
// inputs found last time, each with the version it had, and the candidates
// the scan looked for and did not find. A job whose inputs all still have
// those versions, and whose missing candidates are all still missing, needs
// no scan: a rebuild of an unchanged tree never parses a header, and never
// runs the compiler's dependency scan either. For a job whose inputs came
// from the compiler's dependency list (a computed #include), the
// candidates it probed are not known; as with ccache, a new header earlier
// on the search path is then not noticed until an input changes.
type manifestCache struct {
	max int
	now func() time.Time // the clock the settle interval is measured on

	// mu protects the following.
	mu sync.Mutex
	m  map[Hash]*cachedManifest
}

type cachedManifest struct {
	files  []cachedFile
	absent []string      // checked one by one
	groups []absentGroup // checked by their directory
}

type cachedFile struct {
	file  scanFile
	stamp cc.FileStamp
}

// absentGroup is the candidates missing from one directory that had not
// changed for the settle interval (see absentCache): while it has the same
// stamp, none of them can have appeared, so one lstat checks them all.
type absentGroup struct {
	dir   string // as the names spell it
	phys  string
	stamp dirStamp
	names []string
}

func newManifestCache(max int) *manifestCache {
	return &manifestCache{max: max, now: time.Now, m: map[Hash]*cachedManifest{}}
}

// manifestKey is the job as the cache knows it.
func manifestKey(comp *Compiler, h *cc.Hello) Hash {
	env := slices.Clone(h.Env)
	slices.Sort(env)
	parts := []string{"v1", comp.ID, comp.Name, h.Dir, h.PWD, h.Source, h.Lang}
	for _, list := range [][]string{h.Args, env, h.Includes, h.Dirs} {
		parts = append(parts, "\x01")
		parts = append(parts, list...)
	}
	return sha256.Sum256([]byte(strings.Join(parts, "\x00")))
}

// lookup returns the files of a cached manifest when every one of them, and
// every absent candidate, is as it was; w records what it walks.
func (mc *manifestCache) lookup(key Hash, w *walker) ([]scanFile, bool) {
	mc.mu.Lock()
	cm, ok := mc.m[key]
	mc.mu.Unlock()
	if !ok {
		return nil, false
	}
	for _, g := range cm.groups {
		phys, fi, err := w.resolve(g.dir)
		if err == nil && phys == g.phys {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && stampOfDir(st) == g.stamp {
				continue
			}
		}
		for _, name := range g.names {
			if _, _, err := w.resolve(name); err == nil {
				return nil, false
			}
		}
	}
	for _, name := range cm.absent {
		if _, _, err := w.resolve(name); err == nil {
			return nil, false // a file appeared where the scan found none
		}
	}
	files := make([]scanFile, 0, len(cm.files))
	for _, cf := range cm.files {
		phys, fi, err := w.resolve(cf.file.name)
		if err != nil || phys != cf.file.phys || !fi.Mode().IsRegular() || cc.StampOf(fi) != cf.stamp {
			return nil, false
		}
		files = append(files, cf.file)
	}
	return files, true
}

// store remembers the manifest of a job, as walked by w.
func (mc *manifestCache) store(key Hash, files []scanFile, absent map[string]bool, w *walker) {
	cm := &cachedManifest{}
	stamp := walkerStamp(w)
	for _, f := range files {
		st, ok := stamp(f.phys)
		if !ok {
			return // not all versions known: do not cache
		}
		cm.files = append(cm.files, cachedFile{f, st})
	}
	settled := mc.now().Add(-absentSettle).UnixNano()
	groups := map[string]int{}
	for name := range absent {
		dir := path.Dir(name)
		phys, fi, err := w.resolve(dir)
		st, ok := statOf(fi)
		gone := w.lstat[path.Join(phys, path.Base(name))]
		// Grouped only when the directory exists, is settled, and simply
		// has no entry of that name (not a dangling symlink, whose target
		// lies elsewhere).
		if err != nil || !ok || !fi.IsDir() || !errors.Is(gone.err, fs.ErrNotExist) ||
			st.Mtim.Nano() > settled || st.Ctim.Nano() > settled {
			cm.absent = append(cm.absent, name)
			continue
		}
		i, seen := groups[dir]
		if !seen {
			i = len(cm.groups)
			groups[dir] = i
			cm.groups = append(cm.groups, absentGroup{dir: dir, phys: phys, stamp: stampOfDir(st)})
		}
		cm.groups[i].names = append(cm.groups[i].names, name)
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if len(mc.m) >= mc.max {
		clear(mc.m) // bounded; a build refills it
	}
	mc.m[key] = cm
}

func statOf(fi fs.FileInfo) (*syscall.Stat_t, bool) {
	if fi == nil {
		return nil, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return st, ok
}

// walkerStamp returns the version a walker saw of a physical path.
func walkerStamp(w *walker) func(string) (cc.FileStamp, bool) {
	return func(phys string) (cc.FileStamp, bool) {
		r, ok := w.lstat[phys]
		if !ok || r.err != nil || r.fi == nil {
			return cc.FileStamp{}, false
		}
		return cc.StampOf(r.fi), true
	}
}

var _ fs.FileInfo = entryInfo{}
