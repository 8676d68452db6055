package jobs

import (
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/distmesh/distmesh/jobs/cc"
)

// The include scanner finds every file a compile reads, on the client, in
// the agent, without running the preprocessor. It resolves each #include
// the way the compiler does, along the compiler's own search path (cpp -v),
// and takes every branch of every conditional, so it finds a superset of
// what the compiler reads; for a plain #include it ships the first existing
// candidate (the one the compiler opens: the node then finds the same
// one), for #include_next and __has_include every existing candidate on
// the path (cheaper than tracking where the search resumes, and still
// exact, since each is the client's own file). What it cannot know (a
// computed #include MACRO) sends the job to the compiler's own dependency
// list instead.

// errComputedInclude means the scanner cannot find the inputs itself;
// errComputedProbe and errEmbed that nobody can (__has_include of a
// macro; #embed and __has_embed).
var (
	errComputedInclude = errors.New("a computed #include")
	errComputedProbe   = errors.New("__has_include with a computed argument")
	errEmbed           = errors.New("#embed or __has_embed, whose files no dependency list names")
)

// scanFile is a file the scan reached.
type scanFile struct {
	name string // as the compiler names it (opens it by)
	phys string
	dir  string // where a quoted include in it is looked for first, as a prefix of the name (dirPrefix)
	// gch: GCC may read a precompiled header (name.gch, in each
	// directory it searches) for this file's #include lines (see addRoots).
	gch bool
}

// scanState is one job's scan. The caller drives it in rounds: files whose
// directives are not cached need their contents (through descriptors the
// wrapper opens), after which the scan continues.
type scanState struct {
	w              *walker
	quote, bracket []string
	// quoteP and bracketP are quote and bracket as prefixes of candidate
	// names: each directory with one slash appended.
	quoteP, bracketP []string
	// probesOnly follows only __has_include and #include_next: the
	// compiler's dependency list gave the files it includes.
	probesOnly bool
	lookup     func(phys string, fi fs.FileInfo) (*directives, bool) // cached directives of a file version

	files    map[string]scanFile // by physical path
	order    []string            // physical paths in discovery order
	followed map[followKey]bool  // files whose directives are (to be) followed, from where
	pending  []scanFile          // reached, directives not yet looked at
	unknown  []scanFile          // reached, directives not cached: contents needed
	resolved map[lookupKey]bool  // searches already made
	// pch is a precompiled header the compiler would try to read instead
	// of a header it includes; the first one found.
	pch string
	// covered, when set, says a file reached by a name is not to be
	// followed: a template's scan followed it by that name (see
	// scanTemplate). Such a file is reached all the same.
	covered func(name string) bool
	// names are the names files were queued to be followed by.
	names []string
}

// followKey is a file followed, and where its quoted includes start their
// search: the directory of the name it was reached by, as spelled. A
// header reached by names in two directories (through a symlink, or
// "../") is followed from each, as the compiler opens it from each.
type followKey struct{ phys, dir string }

// lookupKey is one search for an included name: the scan's search
// directories are fixed, so the kind of search and the includer's
// directory (when the search starts there) say which directories it tries.
type lookupKey struct {
	probe, next, fromDir bool
	dir, name            string
}

func newScan(w *walker, quote, bracket []string, lookup func(string, fs.FileInfo) (*directives, bool)) *scanState {
	s, ok := scanPool.Get().(*scanState)
	if !ok {
		s = &scanState{files: map[string]scanFile{}, followed: map[followKey]bool{}, resolved: map[lookupKey]bool{}}
	}
	clear(s.files)
	clear(s.followed)
	clear(s.resolved)
	*s = scanState{w: w, quote: quote, bracket: bracket, lookup: lookup,
		quoteP: prefixes(s.quoteP[:0], quote), bracketP: prefixes(s.bracketP[:0], bracket),
		files: s.files, followed: s.followed, resolved: s.resolved, order: s.order[:0], names: s.names[:0]}
	return s
}

// prefixes appends each directory of dirs with one slash appended, as
// the compiler joins a directory and a name ("/" stays "/").
func prefixes(to, dirs []string) []string {
	for _, d := range dirs {
		to = append(to, strings.TrimSuffix(d, "/")+"/")
	}
	return to
}

// dirPrefix is the prefix of the first candidates of a file's quoted
// includes: its directory (cc.DirOf) less one trailing slash, then a slash,
// taken from the name itself ("a/b.h", "a//b.h": "a/"; "b.h": "./"; "/b.h":
// "/").
func dirPrefix(name string) string {
	i := strings.LastIndexByte(name, '/')
	switch {
	case i < 0:
		return "./"
	case i > 0 && name[i-1] == '/':
		return name[:i]
	}
	return name[:i+1]
}

// scanPool keeps scans' maps between jobs, as walkerPool does walkers'.
var scanPool sync.Pool

// recycle gives s back to the pool: nothing may use it, or what it
// returned, after.
func (s *scanState) recycle() { scanPool.Put(s) }

// addRoots adds the files a compile reads first: the source, its -include
// files and, for GCC, <stdc-predef.h>. It reports whether the source was
// found.
//
// It also looks for the precompiled headers the compiler would try (and
// read, silently, when valid) instead of a header, each lookup recorded as
// any other, so that a job that has one stays local (s.pch). GCC tries
// name.gch for the source, for <stdc-predef.h> and for each -include file,
// and for an #include in the source as long as it has opened no other file
// (so its first #include, after a first -include only stdc-predef.h), in
// every directory it searches, just before looking for the header there: a
// .gch in an -I directory before the header's own is read too. The scan
// takes every branch, so it tries the .gch for every #include of the
// source. Clang's driver tries only an -include file's name, as given, with
// .pch and .gch.
func (s *scanState) addRoots(family cc.Family, h *cc.Hello) bool {
	gcc := family == cc.FamilyGCC
	if gcc {
		s.tryPCH(h.Source, ".gch")
	}
	phys := s.reach(h.Source, false)
	if phys == "" {
		return false
	}
	if gcc && len(s.pending) > 0 && s.pending[len(s.pending)-1].phys == phys {
		s.pending[len(s.pending)-1].gch = true // the source, just queued
	}
	// found reports whether an -include file is at candidate c.
	found := func(c string) bool {
		if gcc {
			s.tryPCH(c, ".gch")
		}
		return s.reach(c, false) != ""
	}
	for _, inc := range h.Includes {
		if !gcc {
			s.tryPCH(inc, ".pch", ".gch")
		}
		// Relative to the working directory first, then on the quote
		// chain, as GCC looks for it.
		if found(inc) || path.IsAbs(inc) {
			continue
		}
		for _, p := range slices.Concat(s.quoteP, s.bracketP) {
			if found(p + inc) {
				break
			}
		}
	}
	if gcc {
		// GCC includes <stdc-predef.h> before the source unless told not to.
		s.follow(scanFile{dir: h.Dir, gch: true}, &directives{Refs: []includeRef{{Name: "stdc-predef.h", Angle: true}}})
	}
	return true
}

// addRoot adds a file the compiler's dependency list names.
func (s *scanState) addRoot(name string) bool {
	return s.reach(name, false) != ""
}

// tryPCH looks up name with each suffix, as the compiler would, and keeps
// the first that exists in s.pch.
func (s *scanState) tryPCH(name string, suffixes ...string) {
	for _, suffix := range suffixes {
		if _, _, err := s.w.resolve(name + suffix); err == nil && s.pch == "" {
			s.pch = name + suffix
		}
	}
}

// reach looks up candidate name; an existing regular file is added (and
// queued for its directives unless probe) and its physical path returned.
func (s *scanState) reach(name string, probe bool) string {
	phys, fi, err := s.w.resolve(name)
	if err != nil || !fi.Mode().IsRegular() {
		return "" // the walker recorded the lookup, for the manifest cache
	}
	f, ok := s.files[phys]
	if !ok {
		f = scanFile{name: name, phys: phys, dir: dirPrefix(name)}
		s.files[phys] = f
		s.order = append(s.order, phys)
	}
	// A file first met as a __has_include candidate may be included later:
	// then its own directives count.
	if k := (followKey{phys, dirPrefix(name)}); !probe && !s.followed[k] {
		s.followed[k] = true
		if s.covered == nil || !s.covered(name) {
			s.pending = append(s.pending, scanFile{name: name, phys: phys, dir: k.dir})
			s.names = append(s.names, name)
		}
	}
	return phys
}

// run continues the scan as far as cached directives allow. It returns
// with s.unknown holding the files whose contents it needs (then call
// learn and run again), or done when the closure is complete.
func (s *scanState) run() (done bool, err error) {
	for len(s.pending) > 0 {
		f := s.pending[0]
		s.pending = s.pending[1:]
		_, fi, err := s.w.resolve(f.name)
		if err != nil {
			return false, err
		}
		d, ok := s.lookup(f.phys, fi)
		if !ok {
			s.unknown = append(s.unknown, f)
			continue
		}
		if err := s.follow(f, d); err != nil {
			return false, err
		}
	}
	return len(s.unknown) == 0, nil
}

// learn hands the scan the directives of a file it asked for.
func (s *scanState) learn(f scanFile, d *directives) error {
	return s.follow(f, d)
}

func (s *scanState) follow(f scanFile, d *directives) error {
	switch {
	case d.ComputedProbe:
		return errComputedProbe
	case d.Embed:
		return errEmbed
	case d.ComputedInclude && !s.probesOnly:
		return errComputedInclude
	}
	for _, r := range d.Refs {
		if s.probesOnly && !r.Probe && !r.Next {
			continue
		}
		// Every search but an #include <...> starts in the includer's
		// directory; #include_next <...> resumes after it, which may be on
		// the quote chain too: it looks everywhere.
		fromDir := !r.Angle || r.Next
		all := r.Next || r.Probe
		// The same name found the same way resolves the same way; a probe
		// and an #include of one name are different lookups.
		key := lookupKey{probe: r.Probe, next: r.Next, fromDir: fromDir, name: r.Name}
		if fromDir {
			key.dir = f.dir
		}
		if !all && !f.gch && s.resolved[key] {
			continue
		}
		s.resolved[key] = true
		if path.IsAbs(r.Name) {
			if f.gch {
				s.tryPCH(r.Name, ".gch")
			}
			s.reach(r.Name, r.Probe)
			continue
		}
		// found reports whether the search ends at candidate prefix+name.
		found := func(prefix string) bool {
			if f.gch && !r.Probe {
				s.tryPCH(prefix+r.Name, ".gch")
			}
			return s.reach(prefix+r.Name, r.Probe) != "" && !all
		}
		if fromDir && (found(f.dir) || slices.ContainsFunc(s.quoteP, found)) {
			continue
		}
		for _, p := range s.bracketP {
			if found(p) {
				break
			}
		}
	}
	return nil
}
