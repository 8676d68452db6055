package jobs

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
)

// hashCache remembers, per file version (device, inode, size, modification
// and change times), its content hash and its preprocessor directives, so a
// header is read once per change, not once per job that includes it. A
// version younger than the settle interval is not remembered: a file
// rewritten twice within one tick of the kernel's clock, at the same size,
// keeps its stamp (git's "racy" case), so until then it is read each time.
type hashCache struct {
	max int
	now func() time.Time // the clock the settle interval is measured on

	// mu protects the following.
	mu sync.Mutex
	m  map[cc.FileStamp]*hashEntry
	// owners are the callers whose wrappers last passed a descriptor of
	// each version (not saved: after a restart every file is opened once
	// more).
	owners map[cc.FileStamp]caller
}

type hashEntry struct {
	hash Hash
	dirs directives
}

// owned returns the entry of a file version that who's wrapper has opened
// before, if known.
func (hc *hashCache) owned(st cc.FileStamp, who caller) (*hashEntry, bool) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	e, ok := hc.m[st]
	if o, known := hc.owners[st]; !ok || !known || o != who {
		return nil, false
	}
	return e, true
}

// lookup returns the entry of a file version, if known.
func (hc *hashCache) lookup(st cc.FileStamp) (*hashEntry, bool) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	e, ok := hc.m[st]
	return e, ok
}

func newHashCache(max int) *hashCache {
	return &hashCache{max: max, now: time.Now, m: make(map[cc.FileStamp]*hashEntry), owners: map[cc.FileStamp]caller{}}
}

// get returns the entry for the file open as fd, whose fstat is st,
// reading it on a miss; who's wrapper passed fd.
func (hc *hashCache) get(fd int, st cc.FileStamp, who caller) (*hashEntry, error) {
	hc.mu.Lock()
	e, ok := hc.m[st]
	if ok {
		hc.owners[st] = who
	}
	hc.mu.Unlock()
	if ok {
		return e, nil
	}
	data, err := readAllAt(fd)
	if err != nil {
		return nil, err
	}
	e = &hashEntry{hash: sha256.Sum256(data), dirs: parseDirectives(data)}
	if settled := hc.now().Add(-absentSettle).UnixNano(); st.MTime > settled || st.CTime > settled {
		return e, nil
	}
	hc.mu.Lock()
	if len(hc.m) >= hc.max {
		// Crude but bounded: forget everything; the next build refills it.
		clear(hc.m)
		clear(hc.owners)
	}
	hc.m[st] = e
	hc.owners[st] = who
	hc.mu.Unlock()
	return e, nil
}
