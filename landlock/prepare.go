package landlock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// link is a symlink met while resolving a node path.
type link struct{ path, target string }

// resolveHost resolves the absolute path p on the node one component at a
// time, as the kernel does, and returns the symlinks met on the way and the
// final, symlink-free path.
func resolveHost(p string) (links []link, final string, err error) {
	rest := strings.Split(p, "/")
	cur := "/"
	for hops := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return nil, "", fmt.Errorf("resolve %s: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return nil, "", fmt.Errorf("resolve %s: %w", p, syscall.ELOOP)
		}
		target, err := os.Readlink(next)
		if err != nil {
			return nil, "", fmt.Errorf("resolve %s: %w", p, err)
		}
		links = append(links, link{next, target})
		if filepath.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return links, cur, nil
}

// installPlan is how an Install and Exec set resolves on the node: the
// symlinks on the way and the final paths with their types. Resolving it
// is many lstat calls; it is done once per set and remembered (the sets
// are a node's compilers, a handful).
type installPlan struct {
	kinds map[string]fs.FileMode // final install path -> its type
	links []link
	binds []string
	err   error
}

var plans struct {
	sync.Mutex
	m map[string]*installPlan
}

// planFor returns the plan of s's Install and Exec sets. A node path that
// changes afterwards (a compiler upgrade) is picked up by the caller, which
// identifies compilers by content and passes a new set.
func planFor(s Spec) *installPlan {
	key := strings.Join(s.Install, "\x00") + "\x01" + strings.Join(s.Exec, "\x00")
	plans.Lock()
	defer plans.Unlock()
	if p, ok := plans.m[key]; ok {
		return p
	}
	p := makePlan(s)
	if p.err == nil {
		if plans.m == nil {
			plans.m = map[string]*installPlan{}
		}
		plans.m[key] = p
	}
	return p
}

func makePlan(s Spec) *installPlan {
	p := &installPlan{kinds: map[string]fs.FileMode{}}
	fail := func(err error) *installPlan { p.err = err; return p }
	kinds := p.kinds
	for _, ip := range s.Install {
		l, final, err := resolveHost(ip)
		if err != nil {
			return fail(fmt.Errorf("install %s: %w", ip, err))
		}
		fi, err := os.Stat(final)
		if err != nil {
			return fail(fmt.Errorf("install %s: %w", ip, err))
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return fail(fmt.Errorf("install %s: %s is neither a regular file nor a directory", ip, final))
		}
		if under(final, "/proc") || under(final, "/dev") {
			return fail(fmt.Errorf("install %s: resolves to %s, which the sandbox provides itself", ip, final))
		}
		kinds[final] = fi.Mode().Type()
		p.links = append(p.links, l...)
	}
	for f := range kinds {
		if !p.covered(f) {
			p.binds = append(p.binds, f)
		}
	}
	slices.Sort(p.binds)
	for _, e := range s.Exec {
		_, final, err := resolveHost(e)
		if err != nil {
			return fail(fmt.Errorf("exec %s: %w", e, err))
		}
		if _, ok := kinds[final]; !ok && !p.covered(final) {
			return fail(fmt.Errorf("exec %s: %s is not part of install", e, final))
		}
		// A directory would make everything below it executable.
		if fi, err := os.Stat(final); err != nil || !fi.Mode().IsRegular() {
			return fail(fmt.Errorf("exec %s: %s is not a regular file", e, final))
		}
	}
	return p
}

// covered reports whether path lies strictly beneath a directory that is
// bound.
func (p *installPlan) covered(path string) bool {
	for d, k := range p.kinds {
		if k.IsDir() && path != d && under(path, d) {
			return true
		}
	}
	return false
}

// prepareRoot checks s against its Root and the node, and adds to Root what
// the launcher mounts on: the directories /proc, /dev and /tmp, the node's
// symlinks on the way to each Install path, and an empty file or directory
// at each final Install path. What a previous Run on the same Root placed
// is reused. It returns the node paths to bind read-only: symlink-free,
// none beneath another.
func prepareRoot(s Spec, ownUID int) (binds []string, err error) {
	plan := planFor(s)
	if plan.err != nil {
		return nil, plan.err
	}
	kinds, links := plan.kinds, plan.links
	binds = plan.binds
	covered := plan.covered
	for _, w := range s.Writable {
		for _, b := range binds {
			if under(w, b) || under(b, w) {
				return nil, fmt.Errorf("writable %s overlaps install path %s", w, b)
			}
		}
	}

	fi, err := os.Stat(s.Root)
	if err != nil {
		return nil, fmt.Errorf("open root: %w", err)
	}
	if s.UID != ownUID && fi.Mode().Perm()&0o005 != 0o005 {
		return nil, fmt.Errorf("root %s has mode %v: uid %d cannot read it; make it 0755", s.Root, fi.Mode().Perm(), s.UID)
	}
	r, err := os.OpenRoot(s.Root)
	if err != nil {
		return nil, fmt.Errorf("open root: %w", err)
	}
	defer r.Close()
	pr := &preparer{r: r, dirs: map[string]bool{"/": true}}
	for _, m := range []struct {
		name  string
		holds holding
	}{{"/proc", nothing}, {"/dev", nothing}, {"/tmp", anything}} {
		if err := pr.placeDir(m.name, m.holds); err != nil {
			return nil, err
		}
	}
	for _, l := range links {
		if covered(l.path) {
			continue
		}
		if err := pr.placeLink(l); err != nil {
			return nil, err
		}
	}
	for _, b := range binds {
		if err := pr.ensureDirs(filepath.Dir(b)); err != nil {
			return nil, err
		}
		if kinds[b].IsDir() {
			err = pr.placeDir(b, onlyDirs)
		} else {
			err = pr.placeFile(b)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, w := range s.Writable {
		if err := realDir(r, w); err != nil {
			return nil, fmt.Errorf("writable %s: %w", w, err)
		}
		if s.UID != ownUID {
			if err := r.Lchown(rel(w), s.UID, s.GID); err != nil {
				return nil, fmt.Errorf("writable %s: %w", w, err)
			}
		}
	}
	return binds, nil
}

// rel turns an absolute sandbox path into a name for os.Root.
func rel(p string) string {
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

func conflict(p, what string) error {
	return fmt.Errorf("%w: %s: the root has %s", ErrConflict, p, what)
}

// describe names what the root holds at p, for conflict messages.
func describe(r *os.Root, p string, fi fs.FileInfo) string {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, _ := r.Readlink(rel(p))
		return "a symlink to " + t
	case fi.IsDir():
		return "a directory"
	case fi.Mode().IsRegular():
		return fmt.Sprintf("a file of %d bytes", fi.Size())
	}
	return "a " + fi.Mode().Type().String() + " file"
}

// A preparer places what the launcher mounts on in one root. Its
// directories on the way to the install paths are shared by most of them:
// each is checked once per Run.
type preparer struct {
	r    *os.Root
	dirs map[string]bool // checked or made real directories
}

// ensureDirs makes sure every component of dir is a real directory in the
// root, creating missing ones.
func (pr *preparer) ensureDirs(dir string) error {
	r := pr.r
	cur := "/"
	for _, name := range strings.Split(rel(dir), "/") {
		if name == "." {
			continue
		}
		cur = filepath.Join(cur, name)
		if pr.dirs[cur] {
			continue
		}
		pr.dirs[cur] = true // by the end of this iteration, or an error
		fi, err := r.Lstat(rel(cur))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := r.Mkdir(rel(cur), 0o755); err != nil {
				return fmt.Errorf("prepare root: %w", err)
			}
		case err != nil:
			return fmt.Errorf("prepare root: %w", err)
		case !fi.IsDir():
			return conflict(cur, describe(r, cur, fi)+" where the node has a directory")
		}
	}
	return nil
}

// realDir checks that every component of dir exists as a real directory.
func realDir(r *os.Root, dir string) error {
	cur := "/"
	for _, name := range strings.Split(rel(dir), "/") {
		if name == "." {
			continue
		}
		cur = filepath.Join(cur, name)
		fi, err := r.Lstat(rel(cur))
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory in the root (%s)", cur, describe(r, cur, fi))
		}
	}
	return nil
}

// holding says what an existing directory may hold when something is
// mounted on it.
type holding int

const (
	anything holding = iota // its entries stay visible (/tmp)
	onlyDirs                // the client's traversed directories, which the bind hides harmlessly
	nothing
)

// placeDir makes p a directory in the root, accepting an existing one that
// holds what h allows.
func (pr *preparer) placeDir(p string, h holding) error {
	if err := pr.ensureDirs(p); err != nil || h == anything {
		return err
	}
	return fs.WalkDir(pr.r.FS(), rel(p), func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("prepare root: %w", err)
		}
		switch {
		case name == rel(p):
			return nil
		case h == nothing:
			return conflict(p, "something in it ("+name+")")
		case !d.IsDir():
			return conflict(p, "a file in it ("+name+") that the node's directory would hide")
		}
		return nil
	})
}

// placeFile creates the empty file the launcher binds the node's file on,
// or accepts the one a previous Run on this root created (an empty,
// read-only regular file: a client file there would have been refused by
// the caller, and an empty one hides nothing).
func (pr *preparer) placeFile(p string) error {
	r := pr.r
	if fi, err := r.Lstat(rel(p)); err == nil {
		if fi.Mode().IsRegular() && fi.Size() == 0 && fi.Mode().Perm() == 0o444 {
			return nil
		}
		return conflict(p, describe(r, p, fi))
	}
	f, err := r.OpenFile(rel(p), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
	if err != nil {
		return fmt.Errorf("prepare root: %w", err)
	}
	return f.Close()
}

// placeLink reproduces one of the node's symlinks in the root.
func (pr *preparer) placeLink(l link) error {
	r := pr.r
	if err := pr.ensureDirs(filepath.Dir(l.path)); err != nil {
		return err
	}
	fi, err := r.Lstat(rel(l.path))
	if errors.Is(err, fs.ErrNotExist) {
		if err := r.Symlink(l.target, rel(l.path)); err != nil {
			return fmt.Errorf("prepare root: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("prepare root: %w", err)
	}
	if t, err := r.Readlink(rel(l.path)); err != nil || t != l.target || fi.Mode()&fs.ModeSymlink == 0 {
		return conflict(l.path, describe(r, l.path, fi)+" where the node has a symlink to "+l.target)
	}
	return nil
}
