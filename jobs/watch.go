package jobs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileWatch answers lstat from memory, across jobs, for paths it watches
// with inotify: an answer (what is there, or that nothing is) stays true
// until an event says otherwise. A build's jobs look up the same few
// thousand names again and again (every unit's headers, the -I
// directories that do not hold stdio.h, every directory on the way); with
// the watch only the first lookup of each makes a system call, and a
// rebuild checks its inputs without asking the wrapper to stat them (see
// inputs.stat).
//
// What the kernel tells inotify decides what can be trusted:
//
//   - Events reach the queue before the system call that caused them
//     returns, so a change made before a job's wrapper started is in the
//     queue when the job begins; each job reads the queue first (sync).
//   - A name's answer is remembered only while its directory is watched:
//     that watch sees names appear, vanish and be renamed.
//   - A file's or symlink's answer is remembered only while the file
//     itself is watched: that watch sees it written, truncated, touched,
//     chmod'ed or linked, through any of its names.
//   - A directory's answer (its times, which the manifest and absence
//     caches compare) is remembered only while it is watched, and any
//     event inside it forgets it.
//   - A directory is watched only while its parent is, up to /: a rename or
//     removal of a directory anywhere above reaches its parent's watch,
//     which forgets the whole subtree.
//   - Mounts raise no inotify event: a change of the agent's mount table
//     (polled on /proc/self/mountinfo) forgets everything.
//   - Network and FUSE file systems change without local events: only
//     ext2/3/4, XFS, Btrfs, tmpfs and F2FS are watched, and everything
//     else is looked up every time.
//   - Lost events (a queue overflow) forget everything.
//
// inotify does not see writes through a shared memory mapping. Nothing
// that writes headers does that, but the `watch_files = false` setting
// turns the watch off, and every lookup is a system call again.
type fileWatch struct {
	lstat func(string) lstatResult // the file system's answer

	// mu protects the following.
	mu      sync.Mutex
	fd      int    // the inotify instance, non-blocking; -1 when none could be made
	epoch   uint64 // moves when fd is replaced
	mounts  int    // /proc/self/mountinfo, for POLLPRI on a mount change; -1: none
	dirs    map[string]*watchedDir
	byWD    map[int32]*watchedDir
	files   map[int32][]string // a file's (or symlink's) watch → the paths whose answers it vouches for
	names   int                // answers remembered, at most max
	max     int
	buf     []byte
	stats   watchStats
	lastErr error
}

type watchedDir struct {
	path  string
	wd    int32  // -1: not watched, its names are looked up every time
	gen   uint64 // moves with every event that may touch an answer in it
	names map[string]remembered
}

// remembered is an lstat's answer, with the watch of the file it found
// (-1 for a directory, which has its own watchedDir, or for nothing).
type remembered struct {
	r  lstatResult
	wd int32
}

type watchStats struct {
	hits, misses, flushes int64
}

// The events watched for: on a directory, what changes its names, its
// permissions or itself; on a file or symlink, what changes it.
const (
	dirEvents = unix.IN_ATTRIB | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_DONT_FOLLOW | unix.IN_ONLYDIR
	fileEvents = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
		unix.IN_DONT_FOLLOW
)

// File systems whose every change on this machine raises inotify events.
var watchableFS = map[int64]bool{
	0xEF53:     true, // ext2, ext3, ext4
	0x58465342: true, // XFS
	0x9123683E: true, // Btrfs
	0x01021994: true, // tmpfs
	0xF2F52010: true, // F2FS
}

// newFileWatch starts a watch remembering at most max answers (and
// directories). Where
// inotify or the mount table cannot be had, it remembers nothing
// (lastErr says why).
func newFileWatch(max int) *fileWatch {
	fw := &fileWatch{lstat: osLstat, max: max, buf: make([]byte, 64<<10), mounts: -1, fd: -1}
	fd, err := unix.Open("/proc/self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fw.lastErr = err // mounts would change unseen
		fw.closeInotify()
		return fw
	}
	fw.mounts = fd
	fw.reset()
	return fw
}

func osLstat(p string) (r lstatResult) {
	r.fi, r.err = os.Lstat(p)
	if r.err == nil && r.fi.Mode()&os.ModeSymlink != 0 {
		r.target, r.err = os.Readlink(p)
	}
	return r
}

// close releases the watch's descriptors.
func (fw *fileWatch) close() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.closeInotify()
	if fw.mounts >= 0 {
		unix.Close(fw.mounts)
		fw.mounts = -1
	}
}

func (fw *fileWatch) closeInotify() {
	if fw.fd >= 0 {
		unix.Close(fw.fd)
	}
	fw.fd = -1
	fw.dirs, fw.byWD, fw.files, fw.names = map[string]*watchedDir{}, map[int32]*watchedDir{}, map[int32][]string{}, 0
}

// reset forgets everything and starts a new inotify instance (closing the
// old one removes all its watches at once).
func (fw *fileWatch) reset() {
	fw.closeInotify()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		fw.lastErr = fmt.Errorf("inotify: %w", err)
		return
	}
	fw.fd = fd
	fw.epoch++
}

// status reports the watch's counters; nil for no watch.
func (fw *fileWatch) status() *WatchStatus {
	if fw == nil {
		return nil
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	st := &WatchStatus{Remembered: fw.names, Hits: fw.stats.hits, Misses: fw.stats.misses, Flushes: fw.stats.flushes}
	if fw.lastErr != nil {
		st.Error = fw.lastErr.Error()
	}
	return st
}

// sync reads every event queued so far and forgets what they touch. A job
// calls it before its first lookup: every change made before it started
// is then accounted for.
func (fw *fileWatch) sync() {
	if fw == nil {
		return
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.fd < 0 {
		return
	}
	p := []unix.PollFd{{Fd: int32(fw.mounts), Events: unix.POLLPRI}}
	if n, err := unix.Poll(p, 0); err != nil || n > 0 {
		fw.flush()
		return
	}
	fw.drain()
}

// flush forgets everything: the mount table changed or events were lost.
func (fw *fileWatch) flush() {
	fw.stats.flushes++
	fw.reset()
}

// drain reads and applies the queued events.
func (fw *fileWatch) drain() {
	for fw.fd >= 0 {
		n, err := unix.Read(fw.fd, fw.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n <= 0 {
			if err != nil && !errors.Is(err, unix.EAGAIN) {
				fw.lastErr = fmt.Errorf("inotify: %w", err)
				fw.flush()
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&fw.buf[off]))
			name := fw.buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if !fw.apply(ev.Wd, ev.Mask, string(name)) {
				return // everything was forgotten, the rest of the queue with it
			}
		}
	}
}

// apply forgets what one event touches; false when it forgot everything.
func (fw *fileWatch) apply(wd int32, mask uint32, name string) bool {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		fw.flush()
		return false
	}
	if paths, ok := fw.files[wd]; ok {
		// A file changed: forget it under every name it was found by.
		for _, p := range slices.Clone(paths) {
			if d := fw.dirs[path.Dir(p)]; d != nil {
				d.gen++
				fw.forget(d, path.Base(p))
			}
		}
		return true
	}
	d := fw.byWD[wd]
	if d == nil {
		return true // a watch already dropped
	}
	d.gen++
	fw.forgetAnswer(d.path) // its times moved
	if mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED|unix.IN_UNMOUNT) != 0 ||
		name == "" && mask&unix.IN_ATTRIB != 0 { // its permissions changed
		fw.dropTree(d.path)
		return true
	}
	if name != "" {
		fw.forget(d, name)
		if _, ok := fw.dirs[childOf(d.path, name)]; ok {
			fw.dropTree(childOf(d.path, name))
		}
	}
	return true
}

// forget forgets the answer for name in d, and stops watching the file it
// found when no other answer needs that.
func (fw *fileWatch) forget(d *watchedDir, name string) {
	a, ok := d.names[name]
	if !ok {
		return
	}
	delete(d.names, name)
	fw.names--
	if a.wd >= 0 {
		fw.unwatchFile(a.wd, childOf(d.path, name))
	}
}

// unwatchFile stops the file watch wd vouching for p, and removes it when
// it vouches for nothing else.
func (fw *fileWatch) unwatchFile(wd int32, p string) {
	paths := slices.DeleteFunc(fw.files[wd], func(q string) bool { return q == p })
	if len(paths) > 0 {
		fw.files[wd] = paths
		return
	}
	delete(fw.files, wd)
	unix.InotifyRmWatch(fw.fd, uint32(wd))
}

// forgetAnswer forgets the answer for the directory p in its parent.
func (fw *fileWatch) forgetAnswer(p string) {
	if p == "/" {
		return
	}
	if parent := fw.dirs[path.Dir(p)]; parent != nil {
		parent.gen++ // an lstat of p in flight must not be remembered
		fw.forget(parent, path.Base(p))
	}
}

// dropTree stops watching the directory p and every directory below it,
// and forgets their answers and p's own.
func (fw *fileWatch) dropTree(p string) {
	prefix := p + "/"
	if p == "/" {
		prefix = "/"
	}
	for q, d := range fw.dirs {
		if q != p && !strings.HasPrefix(q, prefix) {
			continue
		}
		for name := range d.names {
			fw.forget(d, name)
		}
		if d.wd >= 0 {
			unix.InotifyRmWatch(fw.fd, uint32(d.wd))
			delete(fw.byWD, d.wd)
		}
		delete(fw.dirs, q)
	}
	fw.forgetAnswer(p)
}

// dir returns the state of directory p (physical, clean), watching it if
// it can: p's parent is watched (up to /), p is a directory on a file
// system that reports every change, and no other path watches it.
func (fw *fileWatch) dir(p string) *watchedDir {
	if d := fw.dirs[p]; d != nil {
		return d
	}
	d := &watchedDir{path: p, wd: -1}
	if p == "/" || fw.dir(path.Dir(p)).wd >= 0 {
		if wd, ok := fw.add(p, dirEvents); ok {
			if fw.byWD[wd] != nil {
				// The same directory by another path (a bind mount):
				// the first keeps the watch.
			} else {
				d.wd, d.names = wd, map[string]remembered{}
				fw.byWD[wd] = d
			}
		}
	}
	fw.dirs[p] = d
	return d
}

// add watches p (not following a symlink) if it is on a file system the
// watch trusts.
func (fw *fileWatch) add(p string, mask uint32) (int32, bool) {
	wd, err := unix.InotifyAddWatch(fw.fd, p, mask)
	if err != nil {
		if errors.Is(err, unix.ENOSPC) {
			fw.lastErr = errors.New("inotify: no watch left; raise fs.inotify.max_user_watches")
		}
		return -1, false
	}
	var sfs unix.Statfs_t
	if unix.Statfs(p, &sfs) != nil || !watchableFS[int64(sfs.Type)] {
		if _, used := fw.files[int32(wd)]; !used && fw.byWD[int32(wd)] == nil {
			unix.InotifyRmWatch(fw.fd, uint32(wd))
		}
		return -1, false
	}
	return int32(wd), true
}

// recall answers lstat of name in dir (physical, clean, absolute) if the
// watch remembers it, without a system call or a new watch.
func (fw *fileWatch) recall(dir, name string) (lstatResult, bool) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	d := fw.dirs[dir]
	if fw.fd < 0 || d == nil {
		return lstatResult{}, false
	}
	a, ok := d.names[name]
	if ok {
		fw.stats.hits++
	}
	return a.r, ok
}

// get answers lstat of p (physical, clean, absolute).
func (fw *fileWatch) get(p string) lstatResult {
	if p == "/" || !path.IsAbs(p) {
		return fw.lstat(p)
	}
	dirPath, name := path.Dir(p), path.Base(p)
	fw.mu.Lock()
	if fw.fd < 0 {
		fw.mu.Unlock()
		return fw.lstat(p)
	}
	d := fw.dir(dirPath)
	if a, ok := d.names[name]; ok {
		fw.stats.hits++
		fw.mu.Unlock()
		return a.r
	}
	fw.stats.misses++
	gen, watched, epoch := d.gen, d.wd >= 0, fw.epoch
	fw.mu.Unlock()
	r := fw.lstat(p)
	if !watched || !rememberable(r) {
		return r
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	// An event applied since gen was read may predate the lstat: then the
	// answer may be stale, and is not remembered. One not yet applied is
	// still queued and will forget it.
	if fw.epoch != epoch || fw.dirs[dirPath] != d || d.gen != gen {
		return r
	}
	a := remembered{wd: -1}
	if r.err == nil {
		// What is there is remembered only from an lstat made once it is
		// watched itself: a directory, whose times move with what is
		// inside, or a file, which may change through another name.
		if r.fi.IsDir() {
			if c := fw.dir(p); c.wd < 0 {
				return r
			}
		} else {
			wd, ok := fw.add(p, fileEvents)
			if !ok {
				return r
			}
			a.wd = wd
			fw.files[wd] = append(fw.files[wd], p)
		}
		fw.mu.Unlock()
		r = fw.lstat(p)
		fw.mu.Lock()
		if fw.epoch != epoch || fw.dirs[dirPath] != d || d.gen != gen || !rememberable(r) || r.err != nil || (a.wd >= 0) == r.fi.IsDir() {
			if a.wd >= 0 && fw.epoch == epoch {
				fw.unwatchFile(a.wd, p)
			}
			return r
		}
	}
	if fw.names >= fw.max || len(fw.dirs) >= fw.max {
		fw.flush() // bounded; the next lookups refill it
		return r
	}
	a.r = r
	d.names[name] = a
	fw.names++
	return r
}

// rememberable reports whether an answer can be remembered: nothing there,
// a directory, a symlink or a regular file.
func rememberable(r lstatResult) bool {
	if r.err != nil {
		return errors.Is(r.err, os.ErrNotExist)
	}
	switch r.fi.Mode().Type() {
	case 0, os.ModeDir, os.ModeSymlink:
		_, ok := r.fi.Sys().(*syscall.Stat_t)
		return ok
	}
	return false
}

// ownView is where the agent stands in the file system: its user, its
// mount namespace and its root directory. A wrapper that shares all three
// finds every path where the agent does, and could read whatever the agent
// reads (it is the same user, who could run the agent's code itself), so
// the agent's lookups may stand in for its stats.
type ownView struct {
	ok   bool
	uid  uint32
	mnt  string // the namespace, as /proc/PID/ns/mnt names it
	root [2]uint64
}

func readOwnView() ownView {
	v := ownView{uid: uint32(os.Geteuid())}
	var err error
	v.mnt, v.root, err = viewOf("self")
	v.ok = err == nil
	return v
}

func viewOf(pid string) (mnt string, root [2]uint64, err error) {
	if mnt, err = os.Readlink("/proc/" + pid + "/ns/mnt"); err != nil {
		return "", root, err
	}
	var st unix.Stat_t
	if err = unix.Stat("/proc/"+pid+"/root", &st); err != nil {
		return "", root, err
	}
	return mnt, [2]uint64{st.Dev, st.Ino}, nil
}

// shares reports whether the process with credentials cred (a wrapper,
// alive while its connection is) has the agent's user, mount namespace and
// root.
func (v ownView) shares(cred syscall.Ucred) bool {
	if !v.ok || cred.Uid != v.uid || cred.Pid <= 0 {
		return false
	}
	mnt, root, err := viewOf(strconv.Itoa(int(cred.Pid)))
	return err == nil && mnt == v.mnt && root == v.root
}
