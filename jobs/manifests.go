package jobs

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
)

// manifestCache is what ccache calls direct mode: for a job (compiler,
// arguments, the environment that matters, working directory, source) the
// manifest sent last time, and every name the job looked up to find it. A
// rebuild of an unchanged tree never parses a header, and never runs the
// compiler's dependency scan either.
//
// A cached manifest is reused when every lookup would still give the same
// answer and every input is the same version. Lookups are checked by
// directory: a name in a directory can only come to resolve differently
// (appear, vanish, be replaced or renamed) by a change that moves the
// directory's modification and change times, so while a directory keeps
// its stamp one lstat checks every name looked up in it (a mount over a
// directory changes its device and inode; a mount over a file shows in
// the file's). A directory whose stamp changed, or that had been modified
// within the settle interval when the manifest was stored (two changes in
// one tick of the kernel's clock leave equal times; git guards against the
// same "racy" case), has each of its names checked. Inputs are checked
// with the wrapper's view of them: same device, inode, size and times as
// the version that was hashed. For the caller whose wrapper opened every
// input at those versions (the owner), the wrapper stats them; for anyone
// else it opens them, so that nobody compiles what they cannot read. The
// change time moves with every chmod, chown and ACL change, so a version
// the owner could read, it still can.
//
// An input whose contents changed but whose include directives did not
// (an edited function body) leaves the scan's answer as it was: the
// scanner reads directives, not macros, and takes both branches of every
// conditional, so the same directives and the same lookups reach the same
// files. Such a manifest is reused with that input's new version
// (refreshed), without a scan. Not so for a manifest taken from the
// compiler's dependency list (a computed #include), which depends on
// macro values: any changed input rescans it.
//
// For a job whose inputs came from the compiler's dependency list, the
// candidates the compiler probed are not known; as with ccache, a new
// header earlier on the search path is then not noticed until an input
// changes.
type manifestCache struct {
	max int
	now func() time.Time // the clock the settle interval is measured on

	// mu protects the following.
	mu        sync.Mutex
	m         map[Hash]*cachedManifest
	templates map[Hash]*scanTemplate // by scanFamily
}

// scanTemplate is the manifest of a job whose inputs the scanner found
// (all of them: no computed #include), kept for the other jobs of its
// family, which search the same directories the same way: a build's
// other units. While every lookup it made still holds and its inputs'
// include directives are the same, a file it followed, reached by the
// same name, includes what it included then, and so on down: a job of
// the family that reaches such a file need not follow it, and takes the
// template's inputs and lookups instead (see gatherInputs). A first
// build's units mostly include the same headers (busybox's every one
// libbb.h, and through it two hundred of the C library's), which each
// job would otherwise look up again along the whole search path.
type scanTemplate struct {
	cm       *cachedManifest
	followed map[string]bool // the names its scan followed files by
}

type cachedManifest struct {
	owner   caller // whose wrapper opened every input at the versions cached
	dirs    []dirCheck
	inputs  []cachedInput
	entries []Entry       // the manifest as sent: directories, symlinks, files; shared with jobs, never changed
	scanned bool          // found by the include scanner, not by the compiler
	json    func() []byte // entries, encoded once
}

func newCachedManifest(owner caller, dirs []dirCheck, inputs []cachedInput, entries []Entry, scanned bool) *cachedManifest {
	return &cachedManifest{owner: owner, dirs: dirs, inputs: inputs, entries: entries, scanned: scanned,
		json: sync.OnceValue(func() []byte {
			return appendEntriesJSON(nil, entries)
		})}
}

// caller is the user a wrapper runs as (SO_PEERCRED), who may or may not
// be able to read a file.
type caller struct{ uid, gid uint32 }

// cachedInput is one input file: the name the wrapper opens it by, its
// entry in the manifest, and the version that was hashed.
type cachedInput struct {
	name  string
	entry int // index in cachedManifest.entries
	stamp cc.FileStamp
	hash  Hash
	dirs  *directives
}

// dirCheck is every name a job looked up in one directory (physical
// paths), with what it found.
type dirCheck struct {
	dir     string
	stamp   dirStamp
	settled bool // the stamp can be trusted to show any change
	names   []nameCheck
}

type nameCheck struct {
	path     string
	found    bool
	dev, ino uint64
	kind     uint32 // the file type (st_mode & S_IFMT): a file made a directory may get the freed inode
	// target is a symlink's ("" for anything else): a symlink replaced by
	// one to elsewhere may get the freed inode back.
	target string
}

func newManifestCache(max int) *manifestCache {
	return &manifestCache{max: max, now: time.Now, m: map[Hash]*cachedManifest{}, templates: map[Hash]*scanTemplate{}}
}

// manifestKey is the job as the cache knows it.
func manifestKey(comp *Compiler, h *cc.Hello) Hash {
	env := slices.Clone(h.Env)
	slices.Sort(env)
	return keyOf([]string{"v2", comp.ID, comp.Name, h.Dir, h.PWD, h.Source, h.Lang}, h.Args, env, h.Includes, h.Dirs)
}

// keyOf hashes fields and lists, each list marked off, so that no two
// different sets of them hash alike.
func keyOf(fields []string, lists ...[]string) Hash {
	parts := fields
	for _, list := range lists {
		parts = append(parts, "\x01")
		parts = append(parts, list...)
	}
	return sha256.Sum256([]byte(strings.Join(parts, "\x00")))
}

// lookup returns the cached manifest of a job when every name it looked up
// still resolves as it did; w records what is checked. The caller checks
// the inputs' versions (cachedManifest.current).
func (mc *manifestCache) lookup(key Hash, w *walker) (*cachedManifest, bool) {
	mc.mu.Lock()
	cm, ok := mc.m[key]
	mc.mu.Unlock()
	if !ok || !cm.holds(w) {
		return nil, false
	}
	return cm, true
}

// holds reports whether every name cm's job looked up still resolves as it
// did; w records what is checked.
func (cm *cachedManifest) holds(w *walker) bool {
	for _, d := range cm.dirs {
		if d.settled {
			if st, ok := statOf(w.stat(d.dir).fi); ok && st.Mode&syscall.S_IFMT == syscall.S_IFDIR && stampOfDir(st) == d.stamp {
				continue
			}
		}
		for _, n := range d.names {
			r := w.stat(n.path)
			if r.err != nil && !errors.Is(r.err, fs.ErrNotExist) {
				return false
			}
			if n.found != (r.err == nil) {
				return false
			}
			if st, ok := statOf(r.fi); n.found && (!ok || st.Dev != n.dev || st.Ino != n.ino || st.Mode&syscall.S_IFMT != n.kind || r.target != n.target) {
				return false
			}
		}
	}
	return true
}

// current reports whether input i, open with fstat st, is the version that
// was cached.
func (cm *cachedManifest) current(i int, st *syscall.Stat_t) bool {
	return stampOfStat(st) == cm.inputs[i].stamp
}

// store remembers the manifest of a job: its entries, its inputs, and the
// lookups that found them (every lstat of the job's walkers, taken in
// walking order, so a directory's stamp predates the lookups in it), with
// the checks of a template it took lookups from (extra). A job whose
// lookups or inputs cannot all be checked later is not cached (nil). The
// cache keeps entries as they are: the caller must not change them.
func (mc *manifestCache) store(key Hash, owner caller, scanned bool, inputs []cachedInput, entries []Entry, extra []dirCheck, walkers ...*walker) *cachedManifest {
	settled := mc.settledBefore()
	if !inputsSettled(inputs, settled) {
		return nil
	}
	lstats := walkers[0].lstat // read only
	if len(walkers) > 1 {
		lstats = maps.Clone(lstats)
		for _, w := range walkers[1:] {
			for p, r := range w.lstat {
				if _, ok := lstats[p]; !ok {
					lstats[p] = r
				}
			}
		}
	}
	// Each name's check, then the checks grouped by directory in one
	// array, each directory's names a slice of it.
	type looked struct {
		dir   int // in checks
		check nameCheck
	}
	all := make([]looked, 0, len(lstats))
	index := make(map[string]int, len(lstats)/8) // directory → its place in checks
	var checks []dirCheck
	var counts []int
	for p, r := range lstats {
		if p == "/" {
			continue
		}
		n := nameCheck{path: p}
		if r.err == nil {
			st, ok := statOf(r.fi)
			if !ok {
				return nil
			}
			n.found, n.dev, n.ino, n.kind, n.target = true, st.Dev, st.Ino, st.Mode&syscall.S_IFMT, r.target
		} else if !errors.Is(r.err, fs.ErrNotExist) {
			return nil
		}
		dir := cc.DirOf(p) // path.Dir without cleaning again: the walkers' paths are clean
		i, ok := index[dir]
		if !ok {
			d := dirCheck{dir: dir}
			if st, ok := statOf(lstats[dir].fi); ok && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
				d.stamp = stampOfDir(st)
				d.settled = d.stamp.mtime <= settled && d.stamp.ctime <= settled
			}
			i = len(checks)
			index[dir] = i
			checks, counts = append(checks, d), append(counts, 0)
		}
		all = append(all, looked{i, n})
		counts[i]++
	}
	names := make([]nameCheck, len(all))
	at := 0
	for i, k := range counts {
		checks[i].names = names[at : at : at+k]
		at += k
	}
	for _, l := range all {
		d := &checks[l.dir]
		d.names = append(d.names, l.check)
	}
	// A directory in both is checked twice: harmless.
	checks = append(checks, extra...)
	slices.SortFunc(checks, func(a, b dirCheck) int { return strings.Compare(a.dir, b.dir) })
	cm := newCachedManifest(owner, checks, inputs, entries, scanned)
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if len(mc.m) >= mc.max {
		clear(mc.m) // bounded; a build refills it
	}
	mc.m[key] = cm
	return cm
}

// template returns the template of a family of jobs, or nil.
func (mc *manifestCache) template(family Hash) *scanTemplate {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.templates[family]
}

// setTemplate makes cm, found by a scan that followed files by the names
// followed, its family's template.
func (mc *manifestCache) setTemplate(family Hash, cm *cachedManifest, followed []string) {
	t := &scanTemplate{cm: cm, followed: make(map[string]bool, len(followed))}
	for _, name := range followed {
		t.followed[name] = true
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if len(mc.templates) >= mc.max {
		clear(mc.templates) // bounded
	}
	mc.templates[family] = t
}

// settledBefore is the time (Unix nanoseconds) before which a change is
// settled: one within the same tick of the kernel's clock as a later
// change would have left the same times.
func (mc *manifestCache) settledBefore() int64 {
	return mc.now().Add(-absentSettle).UnixNano()
}

// inputsSettled reports whether every input version is settled, so old
// enough to be remembered.
func inputsSettled(inputs []cachedInput, settled int64) bool {
	for _, in := range inputs {
		if in.stamp.MTime > settled || in.stamp.CTime > settled {
			return false
		}
	}
	return true
}

// refresh replaces the cached manifest old by the same lookups with new
// input versions, seen by owner, unless another job replaced it meanwhile.
func (mc *manifestCache) refresh(key Hash, old *cachedManifest, owner caller, inputs []cachedInput, entries []Entry) {
	if !inputsSettled(inputs, mc.settledBefore()) {
		return
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.m[key] == old {
		mc.m[key] = newCachedManifest(owner, old.dirs, inputs, entries, old.scanned)
	}
}

func statOf(fi fs.FileInfo) (*syscall.Stat_t, bool) {
	if fi == nil {
		return nil, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return st, ok
}

var _ fs.FileInfo = entryInfo{}
