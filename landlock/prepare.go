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

	"golang.org/x/sys/unix"
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

	rootFD, err := unix.Open(s.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", s.Root, err)
	}
	pr := &preparer{dirs: map[string]int{"/": rootFD}}
	defer pr.close()
	var st unix.Stat_t
	if err := unix.Fstat(rootFD, &st); err != nil {
		return nil, fmt.Errorf("open root %s: %w", s.Root, err)
	}
	if perm := fs.FileMode(st.Mode).Perm(); s.UID != ownUID && perm&0o005 != 0o005 {
		return nil, fmt.Errorf("root %s has mode %v: uid %d cannot read it; make it 0755", s.Root, perm, s.UID)
	}
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
		fd, err := pr.dir(w, false)
		if err != nil {
			return nil, fmt.Errorf("writable %s: %w", w, err)
		}
		if s.UID != ownUID {
			if err := unix.Fchownat(fd, "", s.UID, s.GID, unix.AT_EMPTY_PATH); err != nil {
				return nil, fmt.Errorf("writable %s: chown: %w", w, err)
			}
		}
	}
	return binds, nil
}

func conflict(p, what string) error {
	return fmt.Errorf("%w: %s: the root has %s", ErrConflict, p, what)
}

// describe names what the root holds at name in dir, for messages.
func describe(dir int, name string, st *unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		t, _ := readlinkat(dir, name)
		return "a symlink to " + t
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFREG:
		return fmt.Sprintf("a file of %d bytes", st.Size)
	case unix.S_IFIFO:
		return "a named pipe"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	}
	return fmt.Sprintf("a file of type %#o", st.Mode&unix.S_IFMT)
}

// A preparer places what the launcher mounts on in one root. It keeps
// every real directory it has checked or made open (O_PATH, opened without
// following a symlink, beneath one it checked before), so each path costs
// a system call or two in its directory rather than a walk from the root,
// and no symlink in the root is ever followed. The directories on the way
// to the install paths are shared by most of them.
type preparer struct {
	dirs map[string]int // sandbox path -> descriptor of that real directory
}

func (pr *preparer) close() {
	for _, fd := range pr.dirs {
		unix.Close(fd)
	}
}

// dir returns a descriptor of the real directory d in the root, making the
// missing components when create is set.
func (pr *preparer) dir(d string, create bool) (int, error) {
	if fd, ok := pr.dirs[d]; ok {
		return fd, nil
	}
	parent, err := pr.dir(filepath.Dir(d), create)
	if err != nil {
		return -1, err
	}
	name := filepath.Base(d)
	open := func() (int, error) {
		return unix.Openat(parent, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	fd, err := open()
	if errors.Is(err, unix.ENOENT) && create {
		if err := unix.Mkdirat(parent, name, 0o755); err != nil {
			return -1, fmt.Errorf("prepare root: mkdir %s: %w", d, err)
		}
		fd, err = open()
	}
	if errors.Is(err, unix.ENOTDIR) { // a symlink or another file
		var st unix.Stat_t
		if err := unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return -1, fmt.Errorf("prepare root: %s: %w", d, err)
		}
		if create {
			return -1, conflict(d, describe(parent, name, &st)+" where the node has a directory")
		}
		return -1, fmt.Errorf("%s is not a directory in the root (%s)", d, describe(parent, name, &st))
	}
	if err != nil {
		return -1, fmt.Errorf("prepare root: %s: %w", d, err)
	}
	pr.dirs[d] = fd
	return fd, nil
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
	fd, err := pr.dir(p, true)
	if err != nil || h == anything {
		return err
	}
	return checkHolds(fd, p, h)
}

// checkHolds walks the directory dir, the root's p, and fails on anything
// h does not allow.
func checkHolds(dir int, p string, h holding) error {
	d, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("prepare root: %s: %w", p, err)
	}
	f := os.NewFile(uintptr(d), p)
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("prepare root: %w", err)
	}
	for _, e := range entries {
		name := filepath.Join(p, e.Name())
		switch {
		case h == nothing:
			return conflict(p, "something in it ("+name+")")
		case !e.IsDir():
			return conflict(p, "a file in it ("+name+") that the node's directory would hide")
		}
		sub, err := unix.Openat(d, e.Name(), unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("prepare root: %s: %w", name, err)
		}
		err = checkHolds(sub, name, h)
		unix.Close(sub)
		if err != nil {
			return err
		}
	}
	return nil
}

// placeFile creates the empty file the launcher binds the node's file on,
// or accepts the one a previous Run on this root created (an empty,
// read-only regular file: a client file there would have been refused by
// the caller, and an empty one hides nothing).
func (pr *preparer) placeFile(p string) error {
	dir, err := pr.dir(filepath.Dir(p), true)
	if err != nil {
		return err
	}
	name := filepath.Base(p)
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 && st.Mode&0o7777 == 0o444 {
			return nil
		}
		return conflict(p, describe(dir, name, &st))
	}
	fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return fmt.Errorf("prepare root: %s: %w", p, err)
	}
	return unix.Close(fd)
}

// placeLink reproduces one of the node's symlinks in the root.
func (pr *preparer) placeLink(l link) error {
	dir, err := pr.dir(filepath.Dir(l.path), true)
	if err != nil {
		return err
	}
	name := filepath.Base(l.path)
	var st unix.Stat_t
	err = unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		if err := unix.Symlinkat(l.target, dir, name); err != nil {
			return fmt.Errorf("prepare root: %s: %w", l.path, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("prepare root: %s: %w", l.path, err)
	}
	if t, err := readlinkat(dir, name); err != nil || t != l.target || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return conflict(l.path, describe(dir, name, &st)+" where the node has a symlink to "+l.target)
	}
	return nil
}
