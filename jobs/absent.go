package jobs

import (
	"sync"
	"syscall"
	"time"
)

// absentCache remembers, across jobs, names that a directory does not
// hold: most of an include scan's lookups are candidates that are not there
// (stdio.h is looked for in every -I directory before the system's), and
// a rebuild checks each again. An absence is trusted while the directory
// is unchanged: same device, inode, modification and change time, which
// any entry created, removed or renamed in it moves. Directories modified
// in the last settle interval are not cached: a directory's times have the
// granularity of the kernel's clock tick, so two changes within one tick
// can leave them equal (the "racy" case git also guards against).
type absentCache struct {
	max int
	now func() time.Time // the clock the settle interval is measured on

	// mu protects the following.
	mu    sync.Mutex
	dirs  map[string]*absentDir
	names int
}

type absentDir struct {
	stamp dirStamp
	names map[string]bool
}

type dirStamp struct {
	dev, ino     uint64
	mtime, ctime int64
}

const absentSettle = 2 * time.Second

func newAbsentCache(max int) *absentCache {
	return &absentCache{max: max, now: time.Now, dirs: map[string]*absentDir{}}
}

func stampOfDir(st *syscall.Stat_t) dirStamp {
	return dirStamp{dev: st.Dev, ino: st.Ino, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
}

// has reports whether name is known to be absent from dir, whose current
// stamp is st.
func (c *absentCache) has(dir string, st dirStamp, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dirs[dir]
	return d != nil && d.stamp == st && d.names[name]
}

// add records that dir, with stamp st taken before the lookup, does not
// hold name.
func (c *absentCache) add(dir string, st dirStamp, name string) {
	settled := c.now().Add(-absentSettle).UnixNano()
	if st.mtime > settled || st.ctime > settled {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dirs[dir]
	if d == nil || d.stamp != st {
		if d != nil {
			c.names -= len(d.names)
		}
		d = &absentDir{stamp: st, names: map[string]bool{}}
		c.dirs[dir] = d
	}
	if c.names >= c.max {
		clear(c.dirs) // bounded; the next scans refill it
		c.names = 0
		d = &absentDir{stamp: st, names: map[string]bool{}}
		c.dirs[dir] = d
	}
	if !d.names[name] {
		d.names[name] = true
		c.names++
	}
}
