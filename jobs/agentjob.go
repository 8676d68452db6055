package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/distmesh/distmesh/jobs/cc"
	"github.com/distmesh/distmesh/jobs/wrap"
	"github.com/distmesh/distmesh/transport"
)

// Timeouts of the agent's side of a job.
const (
	jobTimeout  = 30 * time.Minute // a remote compile, transfers included
	strictWait  = 10 * time.Minute // DISTMESH_FALLBACK=0: waiting for a remote slot
	noPeerGrace = 30 * time.Second // DISTMESH_FALLBACK=0: waiting for any suitable peer
)

// reasonNotUTF8 is why a job with a file name or argument that is not UTF-8
// compiles locally (a reason, so without the name itself).
const reasonNotUTF8 = "a file name or argument is not UTF-8, which a job cannot carry unchanged"

// sameView says that the wrapper sees the file system as the agent does
// (see ownView): then the agent's own lookups stand in for its stats.
func (a *Agent) compile(ctx context.Context, lc *cc.LocalConn, j *wrap.Job, who caller, sameView bool) {
	rec := JobRecord{At: time.Now()}
	log := a.log
	// local sends the job back to the wrapper's machine. The compiler it
	// runs inherits the connection, which closes when the compile ends:
	// that is when it is recorded, with how long it took.
	local := func(why string) {
		log.Debug("compiling locally", "why", why)
		rec.Where, rec.Why = "local", why
		if lc.Send("local", []byte(why)) == nil {
			lc.Recv()
		}
		rec.Took = time.Since(rec.At)
		a.record(rec, false)
	}
	fail := func(err error) {
		rec.Where, rec.Why, rec.Exit, rec.Took = "failed", err.Error(), -1, time.Since(rec.At)
		a.record(rec, false)
		lc.Send("error", []byte(err.Error()))
	}

	comp, err := a.compilers.Get(ctx, j.Compiler)
	if err != nil {
		local("compiler: " + err.Error())
		return
	}
	if fi, err := os.Stat(j.Compiler); err != nil || cc.StampOf(fi) != j.Stamp {
		local("the wrapper sees another compiler file than the agent")
		return
	}
	if why := a.paths.differs(comp, j.Env, j.Dir); why != "" {
		local(why)
		return
	}
	var opened []int
	defer func() { cc.CloseFDs(opened) }()
	h, why := cc.NewHello(comp.Family, j, func(name string) (b []byte, err error) {
		fds, err := openThrough(lc, []string{name}, func(_ string, fd int) error {
			if fd < 0 {
				return fmt.Errorf("cannot open %s", name)
			}
			b, err = readRegular(fd)
			return err
		})
		opened = append(opened, fds...)
		return b, err
	})
	if why != "" {
		// Not a compile the mesh could take (a link, -E, a configure
		// probe): the wrapper decided these alone before it asked the
		// agent, so they are not recorded as local jobs.
		lc.Send("local", []byte(why))
		return
	}
	rec.Source = h.Source
	log = log.With("source", h.Source)
	h.Env = a.locales.missingToC(h.Env)
	if err := cc.CheckArgs(comp.Family, h.Args); err != nil {
		local(err.Error())
		return
	}
	native := ""
	if h.Native {
		if comp.Native == "" {
			local("-march=native: cannot tell what it expands to")
			return
		}
		native = comp.Native
	}

	p, slot, why, err := a.reserve(ctx, comp.ID, native, h.Fallback)
	switch {
	case err != nil && !h.Fallback:
		fail(err)
		return
	case err != nil:
		local(err.Error())
		return
	case p == nil:
		// A local slot is ours while the wrapper's compiler runs.
		local(why)
		if slot {
			a.releaseLocal()
		}
		return
	}
	released := false
	defer func() {
		if !released {
			a.release(p)
		}
	}()

	m, err := a.gatherInputs(ctx, lc, comp, h, who, sameView)
	if m != nil {
		defer m.close()
	}
	if err != nil {
		if h.Fallback {
			local(err.Error())
		} else {
			fail(err)
		}
		return
	}
	args := h.Args
	if h.Color {
		// What a local compile would do on the user's terminal.
		args = append(slices.Clone(args), "-fdiagnostics-color=always")
	}
	req := &JobRequest{Compiler: comp.ID, Name: h.Name, Native: native, Args: args, Env: h.Env, Dir: h.Dir, Entries: m.entries, entriesJSON: m.entriesJSON}
	if s, bad := req.notUTF8(); bad {
		a.release(p)
		released = true
		log.Debug("not UTF-8", "string", fmt.Sprintf("%q", s))
		local(reasonNotUTF8)
		return
	}

	released = true // dispatch releases every place it holds
	res, outs, err := a.dispatchWatched(ctx, lc, p, req, m, comp.ID, native, log)
	if err != nil {
		if h.Fallback {
			local("remote failure: " + err.Error())
		} else {
			fail(fmt.Errorf("remote compile failed: %w", err))
		}
		return
	}
	if res.Exit != 0 && h.Fallback {
		// The local compiler's verdict is the one the user sees.
		local(fmt.Sprintf("failed on %s with exit status %d", res.Node, res.Exit))
		return
	}
	rec.Where, rec.Exit, rec.Took = res.Node, res.Exit, time.Since(rec.At)
	a.record(rec, true)
	log.Debug("compiled remotely", "node", res.Node, "exit", res.Exit, "ms", rec.Took.Milliseconds())
	if h.Debug {
		lc.Send("log", []byte("compiled "+h.Source+" on "+res.Node))
	}
	if err := sendResult(lc, h, &res, outs, log); err != nil {
		log.Debug("wrapper gone before the result", "error", err)
	}
}

// sendResult sends the wrapper a remote compile's result: the outputs its
// arguments name (anything else a node returned is dropped and logged),
// the compiler's messages and its exit status.
func sendResult(lc *cc.LocalConn, h *cc.Hello, res *Result, outs [][]byte, log *slog.Logger) error {
	for i, o := range res.Outputs {
		kind := ""
		for _, want := range h.Outputs {
			if want.Path == o.Path {
				kind = "w"
				if want.Kind == cc.KindDepsAppend {
					kind = "a"
				}
			}
		}
		if kind == "" || i >= len(outs) {
			log.Warn("ignoring an output the compile does not write", "path", o.Path, "node", res.Node)
			continue
		}
		if err := lc.Send("out", append(wrap.AppendList(nil, o.Path, kind), outs[i]...)); err != nil {
			return err
		}
	}
	if err := lc.Send("stdout", res.Stdout); err != nil {
		return err
	}
	if err := lc.Send("stderr", res.Stderr); err != nil {
		return err
	}
	return lc.Send("exit", []byte(strconv.Itoa(res.Exit)))
}

// readRegular reads a regular file from a descriptor the wrapper opened.
func readRegular(fd int) ([]byte, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, errors.New("not a regular file")
	}
	b := make([]byte, st.Size)
	n, err := syscall.Pread(fd, b, 0)
	if err != nil {
		return nil, err
	}
	return b[:n], nil
}

// reserve finds a place for a job: a remote slot (returned reserved), or,
// when fallback is allowed and no remote slot is free, a local slot (slot
// true, p nil). With no suitable peer at all it returns p nil and slot
// false: the wrapper compiles locally under its own -j.
func (a *Agent) reserve(ctx context.Context, compiler, native string, fallback bool) (p *peer, slot bool, why string, err error) {
	wait := strictWait
	if fallback {
		wait = jobTimeout
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	a.waiting.Add(1)
	defer a.waiting.Add(-1)
	noPeerSince := time.Now()
	for {
		changed := a.changed()
		// A machine that serves too keeps its own share: with a slot of its
		// node idle, its own job runs here, with nothing to transfer.
		if n := a.cfg.Node; fallback && n != nil && n.Running()+n.Queued() < n.Slots() && a.tryLocal() {
			return nil, true, "this machine had an idle slot", nil
		}
		if p := a.pick(compiler, native, nil); p != nil {
			return p, false, "", nil
		}
		if !a.anyPeerHas(compiler, native) {
			if fallback {
				return nil, false, "", errors.New("no peer has this compiler")
			}
			if time.Since(noPeerSince) > noPeerGrace {
				return nil, false, "", errors.New("no peer with this compiler is up (DISTMESH_FALLBACK=0)")
			}
		} else {
			noPeerSince = time.Now()
		}
		if fallback && a.tryLocal() {
			return nil, true, "no free remote slot", nil
		}
		poll := time.NewTimer(pollInterval)
		select {
		case <-changed:
		case <-poll.C:
		case <-deadline.C:
			poll.Stop()
			return nil, false, "", errors.New("timed out waiting for a remote slot")
		case <-ctx.Done():
			poll.Stop()
			return nil, false, "", ctx.Err()
		}
		poll.Stop()
	}
}

// manifest is a job's inputs as the node will see them, and where to read
// each content from.
type manifest struct {
	entries     []Entry
	entriesJSON []byte       // entries encoded, when a cached manifest has it
	content     map[Hash]int // descriptors to read each content from

	// mu protects what follows once the job is dispatched: the tries on
	// several peers may each ask for contents not yet open.
	mu sync.Mutex
	// unopened are inputs whose files were stat'ed, not opened (a cached
	// manifest of the same caller): they are opened when a node asks for
	// their contents, and each must still be the version stat'ed. Those
	// in content are open already. It may be a cached manifest's own
	// slice: read only.
	unopened []cachedInput
	open     func(names []string, got func(name string, fd int) error) ([]int, error) // through the wrapper; nil when the job is over
	here     string                                                                   // the wrapper's working directory when the agent opens for it (inputs.sameView)
	opened   []int                                                                    // descriptors the wrapper passed, closed after the job
}

// contents returns a descriptor for each hash, asking the wrapper to open
// the files it has only stat'ed.
func (m *manifest) contents(hashes []Hash) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	var want map[string]cachedInput // by name: what the wrapper opens
	for _, h := range hashes {
		if _, ok := m.content[h]; ok {
			continue
		}
		i := slices.IndexFunc(m.unopened, func(f cachedInput) bool { return f.hash == h })
		if i < 0 {
			return nil, fmt.Errorf("node asked for content %s that is not in the job", h)
		}
		f := m.unopened[i]
		if want == nil {
			want = map[string]cachedInput{}
		}
		if _, dup := want[f.name]; !dup {
			names = append(names, f.name)
			want[f.name] = f
		}
	}
	if len(names) > 0 {
		if m.open == nil {
			return nil, errors.New("the job is over")
		}
		fds, err := m.open(names, func(name string, fd int) error {
			f := want[name]
			var st syscall.Stat_t
			if fd < 0 || syscall.Fstat(fd, &st) != nil || stampOfStat(&st) != f.stamp {
				return errInputChanged
			}
			m.content[f.hash] = fd
			return nil
		})
		m.opened = append(m.opened, fds...)
		if err != nil {
			return nil, err
		}
	}
	fds := make([]int, len(hashes))
	for i, h := range hashes {
		fds[i] = m.content[h]
	}
	return fds, nil
}

// later records an input whose file was only stat'ed.
func (m *manifest) later(f cachedInput) {
	m.unopened = append(m.unopened, f)
}

// count is the number of distinct contents the job reads.
func (m *manifest) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	rest := make([]Hash, 0, len(m.unopened))
	for _, f := range m.unopened {
		if _, ok := m.content[f.hash]; !ok {
			rest = append(rest, f.hash)
		}
	}
	slices.SortFunc(rest, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	return len(m.content) + len(slices.Compact(rest))
}

// close ends the job's use of the wrapper and closes every descriptor it
// passed.
func (m *manifest) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open = nil
	cc.CloseFDs(m.opened)
	m.opened = nil
}

// inputs gathers a job's inputs: it walks paths (recording the directories
// and symlinks on the way), asks the wrapper to open files, checks each
// descriptor against the walk, and hashes contents (cached per file
// version).
type inputs struct {
	a   *Agent
	lc  *cc.LocalConn
	who caller
	// sameView: the wrapper sees the file system as the agent does, so
	// the agent's lookups (kept true by its watch) stand in for the
	// wrapper's stats, and its opens for the wrapper's.
	sameView bool
	dir      string // the wrapper's working directory
	w        *walker
	m        *manifest
	known    map[string]knownInput // physical path → the version hashed
	// pre holds descriptors the wrapper already passed for names, not yet
	// added (a cached manifest that turned out stale).
	pre map[string]int
}

// knownInput is an input recorded for a job: its hash entry and the
// version hashed.
type knownInput struct {
	he    *hashEntry
	stamp cc.FileStamp
}

// request asks the wrapper to open names and calls got with each name and
// its descriptor (-1 when it did not open: gone since the walk, so the
// compile will not find it either).
func (in *inputs) request(names []string, got func(name string, fd int) error) error {
	var fds []int
	var err error
	if in.sameView {
		fds, err = openHere(in.dir, names, got)
	} else {
		fds, err = openThrough(in.lc, names, got)
	}
	in.m.opened = append(in.m.opened, fds...)
	return err
}

// openThrough asks the wrapper to open names and calls got with each name
// and its descriptor (-1 when it did not open). It returns every
// descriptor received, for the caller to close.
func openThrough(lc *cc.LocalConn, names []string, got func(name string, fd int) error) (all []int, err error) {
	if len(names) == 0 {
		return nil, nil
	}
	if err := lc.Send("open", wrap.AppendList(nil, names...)); err != nil {
		return nil, err
	}
	for len(names) > 0 {
		ok, fds, err := lc.RecvType("opened")
		all = append(all, fds...)
		if err != nil {
			return all, err
		}
		if len(ok) == 0 || len(ok) > len(names) {
			return all, errors.New("agent protocol: bad answer to open")
		}
		i := 0
		for j, name := range names[:len(ok)] {
			fd := -1
			switch ok[j] {
			case '1':
				if i >= len(fds) {
					return all, errors.New("agent protocol: descriptors missing")
				}
				fd = fds[i]
				i++
			case '0':
			default:
				return all, errors.New("agent protocol: bad answer to open")
			}
			if err := got(name, fd); err != nil {
				return all, err
			}
		}
		if i != len(fds) {
			return all, errors.New("agent protocol: descriptors left over")
		}
		names = names[len(ok):]
	}
	return all, nil
}

// openHere does what openThrough asks the wrapper to do, in the agent, for
// a wrapper that sees the file system as the agent does and runs as the
// agent's user (see ownView): each name opened from the wrapper's working
// directory dir, read-only and non-blocking (a FIFO named as a header must
// not hang the agent). What it opens is checked against the walk as the
// wrapper's descriptors are.
func openHere(dir string, names []string, got func(name string, fd int) error) (all []int, err error) {
	for _, name := range names {
		p := name
		if !path.IsAbs(p) {
			p = dir + "/" + p
		}
		fd, oerr := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if oerr != nil {
			fd = -1
		} else {
			all = append(all, fd)
		}
		if err := got(name, fd); err != nil {
			return all, err
		}
	}
	return all, nil
}

// open asks the wrapper to open names (those it has not already passed)
// and adds each file that opened.
func (in *inputs) open(names []string) error {
	var ask []string
	for _, name := range names {
		if fd, ok := in.pre[name]; ok {
			delete(in.pre, name)
			if err := in.add(name, fd); err != nil {
				return err
			}
			continue
		}
		ask = append(ask, name)
	}
	return in.request(ask, func(name string, fd int) error {
		if fd < 0 {
			return nil
		}
		return in.add(name, fd)
	})
}

// add records the file name resolves to, open as fd.
func (in *inputs) add(name string, fd int) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	return in.record(name, stampOfStat(&st), fd, nil)
}

// record records the file name resolves to, as the wrapper sees it (its
// stamp): open as fd, or, with fd -1, stat'ed only, a version this caller
// opened before, whose entry is he.
func (in *inputs) record(name string, stamp cc.FileStamp, fd int, he *hashEntry) error {
	phys, fi, err := in.w.addFile(name)
	if err != nil {
		return fmt.Errorf("input %s: %w", name, err)
	}
	want := fi.Sys().(*syscall.Stat_t)
	if stamp.Dev != want.Dev || stamp.Ino != want.Ino {
		return fmt.Errorf("input %s: %w", name, errForeignView)
	}
	if stampOfStat(want) != stamp {
		// Changed since the walk: the scan may have followed the
		// directives of the version before.
		return fmt.Errorf("input %s: %w", name, errInputChanged)
	}
	if he == nil {
		if he, err = in.a.hashes.get(fd, stamp, in.who); err != nil {
			return fmt.Errorf("input %s: %w", name, err)
		}
	}
	in.w.entries[phys] = Entry{Path: phys, Kind: KindFile, Mode: uint32(fi.Mode().Perm()), MTime: stamp.MTime, Size: stamp.Size, Hash: he.hash}
	if fd >= 0 {
		in.m.content[he.hash] = fd
	} else {
		in.m.later(cachedInput{name: name, stamp: stamp, hash: he.hash})
	}
	in.known[phys] = knownInput{he, stamp}
	return nil
}

// check records the files names resolve to, which the scan has found
// (their directives known): the wrapper stats them, and each that is a
// version this caller's wrapper opened before is recorded as it is, its
// contents opened only if a node asks; it opens the rest.
func (in *inputs) check(names []string) error {
	var ask, open []string
	for _, name := range names {
		if _, ok := in.pre[name]; ok {
			open = append(open, name) // passed already
		} else {
			ask = append(ask, name)
		}
	}
	stamps, found, err := in.stat(ask)
	if err != nil {
		return err
	}
	if in.m.unopened == nil {
		in.m.unopened = make([]cachedInput, 0, len(ask))
	}
	for i, name := range ask {
		he, ok := in.a.hashes.owned(stamps[i], in.who)
		if !found[i] || !ok {
			open = append(open, name)
			continue
		}
		if err := in.record(name, stamps[i], -1, he); err != nil {
			return err
		}
	}
	return in.open(open)
}

// reuse takes a cached manifest whose lookups all still hold: when each
// input is the version cached, or the same file with new contents but the
// same include directives (see manifestCache), that is the job's manifest,
// with the new versions. The wrapper checks the inputs: it stats them for
// the manifest's owner, and opens the edited ones, whose contents must be
// hashed; it opens them all for anyone else. A manifest that turns out
// stale leaves the descriptors passed for the scan.
func (in *inputs) reuse(key Hash, cm *cachedManifest) (ok, refreshed bool, err error) {
	names := make([]string, len(cm.inputs))
	for i, f := range cm.inputs {
		names[i] = f.name
	}
	type change struct {
		i, fd int
		st    syscall.Stat_t
	}
	var changed []change
	// ask is what the wrapper opens, at index[k] in the cached inputs.
	ask, index := names, []int(nil)
	if cm.owner == in.who {
		stamps, found, err := in.stat(names)
		if err != nil {
			return false, false, err
		}
		ask = nil
		for i, f := range cm.inputs {
			if !found[i] {
				return false, false, nil
			}
			if stamps[i] != f.stamp {
				ask, index = append(ask, names[i]), append(index, i)
			}
		}
	}
	in.pre = make(map[string]int, len(ask))
	k, usable := 0, true
	err = in.request(ask, func(name string, fd int) error {
		i := k
		if index != nil {
			i = index[k]
		}
		k++
		if fd < 0 {
			usable = false
			return nil
		}
		in.pre[name] = fd
		var st syscall.Stat_t
		switch {
		case syscall.Fstat(fd, &st) != nil:
			usable = false
		case !cm.current(i, &st):
			changed = append(changed, change{i, fd, st})
		}
		return nil
	})
	if err != nil || !usable || len(changed) > 0 && !cm.scanned {
		return false, false, err
	}
	// Cached entries are never changed, only replaced: the job reads them
	// as they are, and a refresh works on copies.
	inputs, entries := cm.inputs, cm.entries
	if len(changed) > 0 {
		inputs, entries = slices.Clone(cm.inputs), slices.Clone(cm.entries)
		for _, c := range changed {
			old := cm.inputs[c.i]
			// The same file (the lookups found the same one), edited.
			if c.st.Dev != old.stamp.Dev || c.st.Ino != old.stamp.Ino {
				return false, false, nil
			}
			stamp := stampOfStat(&c.st)
			he, err := in.a.hashes.get(c.fd, stamp, in.who)
			if err != nil || !he.dirs.same(old.dirs) {
				return false, false, nil
			}
			e := &entries[old.entry]
			e.Mode, e.MTime, e.Size, e.Hash = c.st.Mode&0o777, c.st.Mtim.Nano(), c.st.Size, he.hash
			inputs[c.i] = cachedInput{name: old.name, entry: old.entry, stamp: stamp, hash: he.hash, dirs: &he.dirs}
		}
		in.a.manifests.refresh(key, cm, in.who, inputs, entries)
	}
	in.m.entries = entries
	if len(changed) == 0 {
		in.m.entriesJSON = cm.json()
	}
	for _, f := range inputs {
		if fd, ok := in.pre[f.name]; ok {
			in.m.content[f.hash] = fd
		}
	}
	// Those in content are skipped; the cap makes an append copy, never
	// write into the cached slice.
	in.m.unopened = inputs[:len(inputs):len(inputs)]
	clear(in.pre)
	return true, len(changed) > 0, nil
}

// stat returns each name's stamp as the wrapper's stat would, and whether
// it was found: from the agent's own walk when the wrapper sees the file
// system as the agent does, from the wrapper otherwise.
func (in *inputs) stat(names []string) ([]cc.FileStamp, []bool, error) {
	if !in.sameView {
		return statThrough(in.lc, names)
	}
	stamps, found := make([]cc.FileStamp, len(names)), make([]bool, len(names))
	for i, name := range names {
		_, fi, err := in.w.resolve(name)
		if err != nil {
			continue // as stat would fail; the caller opens or rescans
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			stamps[i], found[i] = stampOfStat(st), true
		}
	}
	return stamps, found, nil
}

// statThrough asks the wrapper to stat names: each one's stamp, and
// whether it was found.
func statThrough(lc *cc.LocalConn, names []string) ([]cc.FileStamp, []bool, error) {
	if len(names) == 0 {
		return nil, nil, nil
	}
	if err := lc.Send("stat", wrap.AppendList(nil, names...)); err != nil {
		return nil, nil, err
	}
	b, fds, err := lc.RecvType("stated")
	cc.CloseFDs(fds)
	if err != nil {
		return nil, nil, err
	}
	return wrap.ParseStated(b, len(names))
}

// gatherInputs finds and opens every input of a job: from the manifest
// cache, with the include scanner, or, where it cannot be sure (a computed
// #include), from the compiler's own dependency list.
func (a *Agent) gatherInputs(ctx context.Context, lc *cc.LocalConn, comp *Compiler, h *cc.Hello, who caller, sameView bool) (*manifest, error) {
	if !path.IsAbs(h.Dir) {
		return nil, errors.New("working directory is not absolute")
	}
	// Every change made before the wrapper started is in the watch's
	// queue now: account for it before the first lookup.
	watch := a.watch.Load()
	watch.sync()
	in := &inputs{a: a, lc: lc, who: who, sameView: sameView, dir: h.Dir, w: pooledWalker(h.Dir), m: &manifest{content: map[Hash]int{}},
		known: map[string]knownInput{}}
	if sameView {
		in.m.here = h.Dir
	}
	// The walkers and scans of this job go back to their pools at its end:
	// what leaves this function (the manifest, the cache's copy) holds
	// nothing of theirs but strings.
	var scans []*scanState
	walkers := []*walker{in.w}
	defer func() {
		for _, w := range walkers {
			w.recycle()
		}
		for _, s := range scans {
			s.recycle()
		}
	}()
	in.w.absent, in.w.watch = a.absent, watch
	key := manifestKey(comp, h)
	if cm, ok := a.manifests.lookup(key, in.w); ok {
		if ok, refreshed, err := in.reuse(key, cm); ok || err != nil {
			if ok {
				a.mu.Lock()
				a.stats.ManifestHits++
				if refreshed {
					a.stats.ManifestRefreshes++
				}
				a.mu.Unlock()
			}
			return in.m, err
		}
	}
	a.mu.Lock()
	a.stats.ManifestMisses++
	a.mu.Unlock()
	if len(in.known) == 0 {
		in.known = make(map[string]knownInput, a.lastInputs.Load())
	}
	for _, d := range append([]string{h.Dir, h.PWD}, h.Dirs...) {
		if d != "" {
			if err := in.w.addDir(d); err != nil {
				return in.m, err
			}
		}
	}
	for _, arg := range h.Args {
		// A macro from the command line that probes (-DHAS=__has_include(x)):
		// no file's directives say for what.
		if strings.Contains(arg, "__has_include") || strings.Contains(arg, "__has_embed") {
			return in.m, errComputedProbe
		}
	}
	sp, err := a.search.dirs(ctx, comp, h)
	if err != nil {
		return in.m, err
	}
	quote, bracket := sp.quote, sp.bracket
	for _, d := range append(slices.Clone(quote), bracket...) {
		in.w.addDir(d)
	}
	// Looked up so that the manifest's checks include them: a directory
	// that appears on the path later changes what the compiler reads.
	for _, d := range sp.absent {
		in.w.resolve(d)
	}
	lookup := func(phys string, fi fs.FileInfo) (*directives, bool) {
		if k, ok := in.known[phys]; ok {
			return &k.he.dirs, true
		}
		if he, ok := a.hashes.lookup(cc.StampOf(fi)); ok {
			return &he.dirs, true
		}
		return nil, false
	}
	family := scanFamily(comp, h, quote, bracket)
	t := a.fromTemplate(in, family)
	s := newScan(in.w, quote, bracket, lookup)
	if t != nil {
		s.covered = func(name string) bool { return t.followed[name] }
	}
	scans = append(scans, s)
	files, err := a.scanInputs(s, in, comp, h)
	pch := s.pch
	if errors.Is(err, errComputedInclude) {
		t = nil
		// Ask the compiler; then look only for what its list cannot show.
		w := newWalkerLike(in.w)
		walkers = append(walkers, w)
		s = newScan(w, quote, bracket, lookup)
		scans = append(scans, s)
		s.probesOnly = true
		files, err = a.depsInputs(s, in, h)
		// Which #include lines the compiler tried a precompiled header
		// for is not known here: any beside an input keeps the job.
		for i := 0; err == nil && pch == "" && i < len(files); i++ {
			if w.existsBeside(files[i].name, ".gch") {
				pch = files[i].name + ".gch"
			}
		}
	}
	if err != nil {
		return in.m, err
	}
	if pch != "" {
		return in.m, fmt.Errorf("precompiled header %s: the compiler may read it instead of a header", pch)
	}
	var extra []dirCheck
	if t != nil {
		// What the files the scan did not follow would have reached is
		// among the template's inputs, found by its lookups: the job takes
		// them all, and checks them all later.
		for _, f := range t.cm.inputs {
			p := t.cm.entries[f.entry].Path
			if _, ok := s.files[p]; !ok {
				files = append(files, scanFile{name: f.name, phys: p})
			}
		}
		extra = t.cm.dirs
		a.mu.Lock()
		a.stats.ManifestTemplates++
		a.mu.Unlock()
	}
	// Every input the scan reached, opened by the wrapper: the agent reads
	// nothing the caller could not.
	var need []string
	for _, f := range files {
		if _, ok := in.known[f.phys]; !ok {
			need = append(need, f.name)
		}
	}
	if err := in.check(need); err != nil {
		return in.m, err
	}
	a.lastInputs.Store(int64(len(in.known)))
	// The inputs' entries first, in the order of files (distinct physical
	// paths), so that an input's entry is its place there; then the rest.
	in.m.entries = make([]Entry, 0, len(in.w.entries))
	cached := make([]cachedInput, 0, len(files))
	for _, f := range files {
		k, ok := in.known[f.phys]
		if !ok {
			break // gone since the scan
		}
		cached = append(cached, cachedInput{name: f.name, entry: len(in.m.entries), stamp: k.stamp, hash: k.he.hash, dirs: &k.he.dirs})
		in.m.entries = append(in.m.entries, in.w.entries[f.phys])
	}
	placed := func(p string) bool { _, ok := in.known[p]; return ok }
	if len(cached) != len(files) || len(in.known) != len(files) {
		// Not every input placed, or others recorded too (by a scan the
		// compiler's list replaced): ask files itself.
		first := make(map[string]bool, len(cached))
		for _, f := range files[:len(cached)] {
			first[f.phys] = true
		}
		placed = func(p string) bool { return first[p] }
	}
	for p, e := range in.w.entries {
		if !placed(p) {
			in.m.entries = append(in.m.entries, e)
		}
	}
	if len(cached) != len(files) {
		return in.m, nil // an input gone since the scan: nothing to cache
	}
	cm := a.manifests.store(key, who, !s.probesOnly, cached, in.m.entries, extra, walkers...)
	if cm != nil && t == nil && !s.probesOnly {
		a.manifests.setTemplate(family, cm, s.names)
	}
	return in.m, nil
}

// scanFamily is what decides where a scan looks for a name: the compiler,
// the working directory, the search path and the -include files. Jobs of
// one family differ in their sources and in what does not change a
// lookup (macros, outputs, options).
func scanFamily(comp *Compiler, h *cc.Hello, quote, bracket []string) Hash {
	return keyOf([]string{"f1", comp.ID, comp.Name, h.Dir}, quote, bracket, h.Includes)
}

// fromTemplate returns the template of a job's family when the job can
// take from it (see scanTemplate): its wrapper shares the agent's view, so
// that the agent checks the inputs itself, as it does a rebuild's; every
// lookup the template made still holds; and each of its inputs is the
// version scanned then, or one with the same include directives.
func (a *Agent) fromTemplate(in *inputs, family Hash) *scanTemplate {
	if !in.sameView {
		return nil
	}
	t := a.manifests.template(family)
	if t == nil || !t.cm.holds(in.w) {
		return nil
	}
	names := make([]string, len(t.cm.inputs))
	for i, f := range t.cm.inputs {
		names[i] = f.name
	}
	stamps, found, err := in.stat(names)
	if err != nil {
		return nil
	}
	for i, f := range t.cm.inputs {
		if !found[i] {
			return nil
		}
		if stamps[i] != f.stamp {
			if he, ok := a.hashes.lookup(stamps[i]); !ok || !he.dirs.same(f.dirs) {
				return nil
			}
		}
	}
	return t
}

// newWalkerLike is a fresh walker for the same working directory, keeping
// the directories already recorded.
func newWalkerLike(w *walker) *walker {
	n := pooledWalker(w.cwd)
	n.absent, n.watch = w.absent, w.watch
	for p, e := range w.entries {
		n.entries[p] = e
	}
	return n
}

// scanInputs runs the include scanner to its closure, asking the wrapper
// for the files whose directives it has not seen.
func (a *Agent) scanInputs(s *scanState, in *inputs, comp *Compiler, h *cc.Hello) ([]scanFile, error) {
	if !s.addRoots(comp.Family, h) {
		return nil, fmt.Errorf("source %s not found", h.Source)
	}
	reachZone(s, h.Env)
	return a.closure(s, in)
}

// reachZone adds the time zone files the C library reads for localtime,
// for __TIMESTAMP__ (a local time): /etc/localtime, and the file TZ names.
func reachZone(s *scanState, env []string) {
	s.reach("/etc/localtime", true)
	for _, e := range env {
		if tz, ok := strings.CutPrefix(e, "TZ="); ok {
			if f := cc.ZoneFile(tz); f != "" {
				s.reach(f, true)
			}
		}
	}
}

// closure drives a scan until it is complete.
func (a *Agent) closure(s *scanState, in *inputs) ([]scanFile, error) {
	for {
		done, err := s.run()
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		unknown := s.unknown
		s.unknown = nil
		names := make([]string, len(unknown))
		for i, f := range unknown {
			names[i] = f.name
		}
		if err := in.open(names); err != nil {
			return nil, err
		}
		for _, f := range unknown {
			k, ok := in.known[f.phys]
			if !ok {
				return nil, fmt.Errorf("input %s could not be opened", f.name)
			}
			if err := s.learn(f, &k.he.dirs); err != nil {
				return nil, err
			}
		}
	}
	files := make([]scanFile, 0, len(s.order))
	for _, p := range s.order {
		files = append(files, s.files[p])
	}
	return files, nil
}

// depsInputs asks the wrapper to run the compiler's dependency scan and
// adds what it lists, then what __has_include may find.
func (a *Agent) depsInputs(s *scanState, in *inputs, h *cc.Hello) ([]scanFile, error) {
	if err := in.lc.Send("scan", wrap.AppendList(nil, h.ScanArgs...)); err != nil {
		return nil, err
	}
	out, fds, err := in.lc.RecvType("deps")
	cc.CloseFDs(fds)
	if err != nil {
		return nil, err
	}
	deps, err := cc.ParseDeps(out)
	if err != nil {
		return nil, err
	}
	s.addRoot(h.Source)
	for _, p := range deps {
		s.addRoot(p)
	}
	reachZone(s, h.Env)
	return a.closure(s, in)
}

// Speculation: a job running speculateFactor times longer than its peer's
// usual compile (and at least minSpeculate) while another peer has an idle
// slot and no job of this machine waits, is started there too; the first
// result wins. At the tail of a build this keeps one slow peer from
// holding everything up.
const (
	speculateFactor  = 3
	minSpeculate     = 2 * time.Second
	unknownSpeculate = 30 * time.Second
)

func isRemote(err error) bool {
	_, ok := errors.AsType[*transport.RemoteError](err)
	return ok
}

// isBusy reports a node's refusal for want of slots and queue places: a
// reason to go elsewhere, not a fault of the peer.
func isBusy(err error) bool {
	re, ok := errors.AsType[*transport.RemoteError](err)
	return ok && strings.HasPrefix(re.Msg, ErrBusy.Error())
}

// dispatch runs req on first (whose place is reserved): after a failure
// once more on another peer (as often as needed when nodes are busy), and,
// when the job runs long, speculatively on a peer with an idle slot. It
// releases every place it reserved.
func (a *Agent) dispatch(ctx context.Context, first *peer, req *JobRequest, m *manifest, compiler, native string, log *slog.Logger) (Result, [][]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		p    *peer
		res  Result
		outs [][]byte
		err  error
	}
	results := make(chan outcome, 4)
	running := 0
	tried := map[*peer]bool{}
	launch := func(p *peer) {
		tried[p] = true
		running++
		a.workers.Go(func() {
			res, outs, err := a.runRemote(ctx, p, req, m)
			results <- outcome{p, res, outs, err}
		})
	}
	// On return the jobs still running are cancelled; their places are
	// given back as they end.
	defer func() {
		if running == 0 {
			return
		}
		go func(n int) {
			for ; n > 0; n-- {
				a.release((<-results).p)
			}
		}(running)
	}()
	speculate := func(p *peer) <-chan time.Time {
		p.mu.Lock()
		d := time.Duration(p.avgMillis*speculateFactor) * time.Millisecond
		p.mu.Unlock()
		if d == 0 {
			d = unknownSpeculate
		}
		return time.After(max(d, minSpeculate))
	}
	launch(first)
	spec := speculate(first)
	retried := false
	var lastErr error
	for running > 0 {
		select {
		case o := <-results:
			running--
			a.release(o.p)
			if o.err == nil {
				o.p.measured(o.res.Millis)
				return o.res, o.outs, nil
			}
			lastErr = o.err
			busy := isBusy(o.err)
			switch {
			case busy:
			case isRemote(o.err):
				o.p.jobFailed(o.err)
			default:
				o.p.fail(o.err) // the connection or the node itself failed
			}
			log.Info("remote job failed", "peer", o.p.addr, "error", o.err)
			if running > 0 || ctx.Err() != nil || errors.Is(o.err, errInputChanged) || retried && !busy {
				continue
			}
			retried = retried || !busy
			if next := a.pick(compiler, native, tried); next != nil {
				a.mu.Lock()
				a.stats.Retries++
				a.mu.Unlock()
				launch(next)
				spec = speculate(next)
			}
		case <-spec:
			spec = nil
			if a.waiting.Load() > 0 {
				continue // idle slots will get this machine's waiting jobs
			}
			for _, p := range a.peerList() {
				if tried[p] || !p.idleSlot() {
					continue
				}
				if next := a.pick(compiler, native, tried); next != nil {
					log.Debug("job runs long: started on another peer too", "peer", next.addr)
					a.mu.Lock()
					a.stats.Speculated++
					a.mu.Unlock()
					launch(next)
				}
				break
			}
		}
	}
	return Result{}, nil, lastErr
}

// dispatchWatched is dispatch, cancelled if the wrapper goes away (the
// build was interrupted): the node then kills the job instead of finishing
// it for nobody. The wrapper sends nothing while its job runs, so any read
// that returns means it is gone. The watch pauses while a try asks the
// wrapper to open contents a node needs (manifest.contents).
func (a *Agent) dispatchWatched(ctx context.Context, lc *cc.LocalConn, p *peer, req *JobRequest, m *manifest, compiler, native string, log *slog.Logger) (Result, [][]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := lc.UnixConn()
	var gone chan struct{}
	watch := func() {
		gone = make(chan struct{})
		go func() {
			defer close(gone)
			var b [1]byte
			if _, err := c.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				cancel()
			}
		}()
	}
	unwatch := func() {
		c.SetReadDeadline(time.Now())
		<-gone
		c.SetReadDeadline(time.Time{})
	}
	m.mu.Lock()
	m.open = func(names []string, got func(name string, fd int) error) ([]int, error) {
		if m.here != "" {
			return openHere(m.here, names, got)
		}
		unwatch()
		defer watch()
		return openThrough(lc, names, got)
	}
	watch()
	m.mu.Unlock()
	res, outs, err := a.dispatch(ctx, p, req, m, compiler, native, log)
	m.mu.Lock()
	m.open = nil
	unwatch()
	m.mu.Unlock()
	return res, outs, err
}

// errInputChanged reports an input whose content changed during the job:
// the hash sent must be the hash compiled.
var errInputChanged = errors.New("an input changed while the job ran")

// runRemote runs the job on p.
func (a *Agent) runRemote(ctx context.Context, p *peer, req *JobRequest, m *manifest) (Result, [][]byte, error) {
	p.mu.Lock()
	conn := p.conn
	p.stats.Sent++
	p.mu.Unlock()
	a.mu.Lock()
	a.stats.Sent++
	a.mu.Unlock()
	if conn == nil {
		return Result{}, nil, errors.New("not connected")
	}
	ctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	buf := encodeBuffers.Get().(*[]byte)
	b, err := req.encode(*buf)
	if err != nil {
		return Result{}, nil, err
	}
	if cap(b) <= maxKeptEncoding {
		*buf = b[:0]
		defer encodeBuffers.Put(buf)
	}
	for {
		st, reused, err := p.stream(ctx, conn)
		if err != nil {
			return Result{}, nil, err
		}
		res, outs, answered, err := a.runOn(st, p, b, m)
		if err == nil {
			p.keep(st, conn)
			return res, outs, nil
		}
		st.Close()
		// A kept stream the node closed meanwhile (idle, or shutting
		// down) fails before any answer: the job goes again on the next
		// kept stream, or a new one.
		if !reused || answered || ctx.Err() != nil {
			return Result{}, nil, err
		}
	}
}

// runOn sends the job (encoded: b) on st and reads its result. answered
// reports whether the node said anything about the job.
func (a *Agent) runOn(st *transport.ClientStream, p *peer, b []byte, m *manifest) (res Result, outs [][]byte, answered bool, err error) {
	if err := st.Send("job", b); err != nil {
		return Result{}, nil, false, err
	}
	var need Need
	if err := st.RecvJSON("need", &need); err != nil {
		_, remote := errors.AsType[*transport.RemoteError](err)
		return Result{}, nil, remote, err
	}
	enc := encoderPool.Get().(*zstd.Encoder)
	defer encoderPool.Put(enc)
	var out int64
	fds, err := m.contents(need.Hashes)
	if err != nil {
		return Result{}, nil, true, err
	}
	for i, h := range need.Hashes {
		data, err := readAllAt(fds[i])
		if err != nil {
			return Result{}, nil, true, err
		}
		if sha256.Sum256(data) != h {
			return Result{}, nil, true, errInputChanged
		}
		msg := enc.EncodeAll(data, append(make([]byte, 0, len(h)+len(data)/3), h[:]...))
		out += int64(len(msg))
		if err := st.Send("blob", msg); err != nil {
			return Result{}, nil, true, err
		}
	}
	if err := st.RecvJSON("result", &res); err != nil {
		return Result{}, nil, true, err
	}
	var in int64
	for _, o := range res.Outputs {
		typ, payload, err := st.Recv()
		if err != nil {
			return Result{}, nil, true, err
		}
		if typ != "file" || o.Size < 0 || o.Size > maxOutputSize {
			return Result{}, nil, true, fmt.Errorf("protocol: bad output %s", o.Path)
		}
		data, err := decompress(payload, o.Size)
		if err != nil {
			return Result{}, nil, true, fmt.Errorf("output %s: %w", o.Path, err)
		}
		in += int64(len(payload))
		outs = append(outs, data)
	}
	p.mu.Lock()
	p.stats.BytesOut += out
	p.stats.BytesIn += in
	p.stats.BlobsSent += int64(len(need.Hashes))
	p.stats.BlobHits += int64(m.count() - len(need.Hashes))
	if res.Exit == 0 {
		p.stats.OK++
	} else {
		p.stats.Failed++
	}
	p.mu.Unlock()
	return res, outs, true, nil
}

// readAllAt reads a whole file through its descriptor, from the start.
func readAllAt(fd int) ([]byte, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	data := make([]byte, st.Size)
	n := 0
	for n < len(data) {
		m, err := syscall.Pread(fd, data[n:], int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	if n != len(data) {
		return nil, errInputChanged
	}
	return data, nil
}

func stampOfStat(st *syscall.Stat_t) cc.FileStamp {
	return cc.FileStamp{Dev: st.Dev, Ino: st.Ino, Size: st.Size, MTime: st.Mtim.Nano(), CTime: st.Ctim.Nano()}
}
