package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/distmesh/distmesh/jobs/cc"
	"github.com/distmesh/distmesh/landlock"
	"github.com/distmesh/distmesh/transport"
)

// Limits on what one job may ask of a node.
const (
	maxEntries    = 100_000
	maxFileSize   = 256 << 20
	maxJobInput   = 2 << 30
	maxOutputSize = 1 << 30
	maxStdio      = 4 << 20
)

// NodeConfig configures a Node.
type NodeConfig struct {
	Name      string
	WorkDir   string // job trees; must be on the store's file system
	Store     *Store
	Compilers []*Compiler
	Slots     int
	Queue     int               // jobs that may wait for a slot (their trees built, so a slot never idles between jobs); more are refused as busy
	Limits    landlock.Limits   // per job
	UID, GID  int               // the unprivileged ids compilers run as (0: the daemon's)
	Spawner   *landlock.Spawner // starts the jobs' launchers while it serves; nil: the node does
	// StreamIdle is how long a client's stream may wait for its next job
	// before the node closes it (DefaultStreamIdle if zero).
	StreamIdle time.Duration
	Logger     *slog.Logger
}

// DefaultStreamIdle is how long a node keeps a client's idle stream: long
// enough to span the gaps of a build (a link, a configure step), short
// enough that a client's streams do not pile up. Clients keep theirs for
// less (keptStreamIdle), so they seldom send a job on a stream the node
// is closing.
const DefaultStreamIdle = time.Minute

// Node runs other machines' compiles, each in a private root of its own,
// confined by package landlock.
type Node struct {
	cfg     NodeConfig
	log     *slog.Logger
	slots   chan struct{} // held while a job's compiler runs
	trees   *treePool
	paths   Compilers // the served compilers by path: probed again when they change
	locales localeSet
	jobs    atomic.Int32 // jobs admitted and not finished: running, or waiting for a slot with their tree built
	seq     atomic.Int64 // numbers the jobs in the log

	// mu protects the following.
	mu         sync.Mutex
	compilers  map[string]*Compiler  // by identity
	served     map[string]*Compiler  // by the path each was found at: as it is now, nil while it cannot be served
	installSum map[string]installSum // node files' hashes, for manifest entries over them
	footprints map[string]*footprint // by compiler identity
	stats      NodeStats
	active     map[*nodeJob]RunningJob
	durations  histogram // of compiles, seconds
	setups     histogram // of the sandbox's setup before each compiler, seconds
}

// NodeStats counts what a node did for others.
type NodeStats struct {
	Served   int64 `json:"jobs_served"`
	Failed   int64 `json:"jobs_failed"`  // the compiler exited non-zero
	Refused  int64 `json:"jobs_refused"` // invalid or over a limit
	Busy     int64 `json:"jobs_busy"`    // refused because every slot and queue place was taken
	Running  int   `json:"jobs_running"`
	BlobsIn  int64 `json:"blobs_received"`
	BlobHits int64 `json:"blob_hits"`
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
}

// NewNode prepares a node; it serves through Subsystem.
func NewNode(cfg NodeConfig) (*Node, error) {
	if cfg.Slots < 1 {
		cfg.Slots = 1
	}
	if cfg.Queue < 0 {
		cfg.Queue = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StreamIdle <= 0 {
		cfg.StreamIdle = DefaultStreamIdle
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", cfg.WorkDir, err)
	}
	// Job trees left by a crash.
	if ents, err := os.ReadDir(cfg.WorkDir); err == nil {
		for _, e := range ents {
			os.RemoveAll(filepath.Join(cfg.WorkDir, e.Name()))
		}
	}
	n := &Node{cfg: cfg, log: cfg.Logger, compilers: map[string]*Compiler{}, slots: make(chan struct{}, cfg.Slots), installSum: map[string]installSum{}, served: map[string]*Compiler{}, footprints: map[string]*footprint{},
		active: map[*nodeJob]RunningJob{}, durations: newHistogram(durationBounds), setups: newHistogram(setupBounds),
		trees: newTreePool(cfg.WorkDir, cfg.Slots+cfg.Queue)}
	for _, c := range cfg.Compilers {
		n.paths.put(c)
		n.update(c.Path, c, nil)
	}
	return n, nil
}

// Compilers lists the compilers this node runs.
func (n *Node) Compilers() []*Compiler {
	n.mu.Lock()
	out := make([]*Compiler, 0, len(n.compilers))
	for _, c := range n.compilers {
		out = append(out, c)
	}
	n.mu.Unlock()
	slices.SortFunc(out, func(a, b *Compiler) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Stats returns the node's counters.
func (n *Node) Stats() NodeStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.stats
	s.Running = len(n.slots)
	return s
}

// RunningJob is a job on a node, for status and top.
type RunningJob struct {
	Source  string    `json:"source"`
	Client  string    `json:"client"`
	Started time.Time `json:"started"`
}

// Jobs lists the jobs the node holds now, oldest first.
func (n *Node) Jobs() []RunningJob {
	n.mu.Lock()
	out := make([]RunningJob, 0, len(n.active))
	for _, j := range n.active {
		out = append(out, j)
	}
	n.mu.Unlock()
	slices.SortFunc(out, func(a, b RunningJob) int { return a.Started.Compare(b.Started) })
	return out
}

// Slots is how many jobs the node runs at once, Queue how many more may
// wait; Running is how many run now, Queued how many wait.
func (n *Node) Slots() int   { return n.cfg.Slots }
func (n *Node) Queue() int   { return n.cfg.Queue }
func (n *Node) Running() int { return len(n.slots) }
func (n *Node) Queued() int  { return max(0, int(n.jobs.Load())-len(n.slots)) }

func (n *Node) count(f func(*NodeStats)) {
	n.mu.Lock()
	f(&n.stats)
	n.mu.Unlock()
}

// Subsystem is the compile subsystem, for transport.ServerConfig.
func (n *Node) Subsystem() transport.Subsystem {
	return transport.Subsystem{Name: transport.SubsystemCompile, Min: compileMinVersion, Max: compileVersion, Handle: n.serve}
}

// ErrBusy is the refusal of a node whose slots and queue are full.
var ErrBusy = errors.New("node busy")

// nodeJob is a validated job.
type nodeJob struct {
	req      *JobRequest
	comp     *Compiler
	analysis cc.Analysis
	entries  []Entry        // what to create, install duplicates dropped
	outputs  []string       // physical paths of the outputs, in analysis order
	named    []string       // the outputs as named in the arguments
	writable []string       // physical output directories
	sizes    map[Hash]int64 // expected sizes of contents
}

// serve runs the jobs a client sends on one stream: one in version 1, one
// after another from version 2 (see compileVersion) until the client
// closes the stream, leaves it idle for StreamIdle (before its first job
// too), or a job fails.
func (n *Node) serve(ctx context.Context, st *transport.Stream, peer transport.Peer) error {
	for {
		idle := time.AfterFunc(n.cfg.StreamIdle, func() { st.Close() })
		more, _ := st.Wait()
		if !idle.Stop() || !more {
			return nil // idle, or closed by the client or the node's shutdown
		}
		if err := n.serveJob(ctx, st, peer); err != nil || st.Version < streamReuse {
			return err
		}
	}
}

// serveJob runs one job.
func (n *Node) serveJob(ctx context.Context, st *transport.Stream, peer transport.Peer) error {
	start := time.Now()
	var req JobRequest
	if err := st.RecvJSON("job", &req); err != nil {
		return err
	}
	if int(n.jobs.Add(1)) > n.cfg.Slots+n.cfg.Queue {
		n.jobs.Add(-1)
		n.count(func(s *NodeStats) { s.Busy++ })
		return fmt.Errorf("%w: %d slots and %d queue places taken", ErrBusy, n.cfg.Slots, n.cfg.Queue)
	}
	// The place is given back as soon as the compiler is done, before the
	// outputs travel: a client that sends its next job on the result is
	// not told the node is busy.
	release := sync.OnceFunc(func() { n.jobs.Add(-1) })
	defer release()
	job, err := n.admit(ctx, &req)
	if err != nil {
		n.count(func(s *NodeStats) { s.Refused++ })
		n.log.Info("job refused", "peer", peer.Name(), "error", err)
		return err
	}
	log := n.log.With("peer", peer.Name(), "job", n.seq.Add(1), "source", job.analysis.Source)
	n.mu.Lock()
	n.active[job] = RunningJob{Source: job.analysis.Source, Client: peer.Name(), Started: start}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.active, job)
		n.mu.Unlock()
	}()

	var need []Hash
	for h := range job.sizes {
		if !n.cfg.Store.Has(h) {
			need = append(need, h)
		}
	}
	n.count(func(s *NodeStats) { s.BlobHits += int64(len(job.sizes) - len(need)) })
	if err := st.SendJSON("need", Need{Hashes: need}); err != nil {
		return err
	}
	if err := n.receiveBlobs(st, need, job.sizes); err != nil {
		if errors.Is(err, errBadBlob) {
			n.count(func(s *NodeStats) { s.Refused++ })
			log.Info("job refused", "error", err)
		}
		return err
	}

	res, outs, err := n.run(ctx, job, log)
	release()
	// Once the client has the result, the spawner may start the launchers
	// it put off starting while this job set up, ran and answered.
	defer n.cfg.Spawner.JobDone()
	if err != nil {
		n.count(func(s *NodeStats) { s.Refused++ })
		log.Warn("job failed to run", "error", err)
		return err
	}
	res.Node = n.cfg.Name
	// Counted before the result is sent: a client that disappears now has
	// still been served.
	n.count(func(s *NodeStats) {
		s.Served++
		if res.Exit != 0 {
			s.Failed++
		}
	})
	n.mu.Lock()
	n.durations.observe(float64(res.Millis) / 1000)
	n.setups.observe(res.Setup.Seconds())
	n.mu.Unlock()
	if err := st.SendJSON("result", res); err != nil {
		return err
	}
	enc := encoderPool.Get().(*zstd.Encoder)
	defer encoderPool.Put(enc)
	var out int64
	for _, data := range outs {
		z := enc.EncodeAll(data, nil)
		out += int64(len(z))
		if err := st.Send("file", z); err != nil {
			return err
		}
	}
	n.count(func(s *NodeStats) { s.BytesOut += out })
	log.Info("job done", "exit", res.Exit, "ms", res.Millis, "setup_ms", float64(res.Setup.Microseconds())/1000, "total_ms", time.Since(start).Milliseconds())
	return nil
}

// acquire waits for a slot.
func (n *Node) acquire(ctx context.Context) (func(), error) {
	select {
	case n.slots <- struct{}{}:
		return func() { <-n.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// errBadBlob marks content that does not match what the manifest promised.
var errBadBlob = errors.New("bad content")

func (n *Node) receiveBlobs(st *transport.Stream, need []Hash, sizes map[Hash]int64) error {
	want := make(map[Hash]bool, len(need))
	for _, h := range need {
		want[h] = true
	}
	var in int64
	for range need {
		typ, payload, err := st.Recv()
		if err != nil {
			return err
		}
		if typ != "blob" {
			return fmt.Errorf("protocol: got %s, want blob", typ)
		}
		if len(payload) < len(Hash{}) {
			return fmt.Errorf("protocol: a blob of %d bytes is shorter than its hash", len(payload))
		}
		var h Hash
		copy(h[:], payload)
		if !want[h] {
			return fmt.Errorf("protocol: blob %s was not asked for", h)
		}
		delete(want, h)
		data, err := decompress(payload[len(h):], sizes[h])
		if err != nil {
			return fmt.Errorf("%w: blob %s: %w", errBadBlob, h, err)
		}
		if err := n.cfg.Store.Put(h, data); err != nil {
			if errors.Is(err, ErrCorrupt) {
				return fmt.Errorf("%w: %w", errBadBlob, err)
			}
			return err
		}
		in += int64(len(payload))
	}
	n.count(func(s *NodeStats) { s.BlobsIn += int64(len(need)); s.BytesIn += in })
	return nil
}

// sandboxPATH is the PATH a job's compiler runs with.
const sandboxPATH = "/usr/local/bin:/usr/bin:/bin"

// servable says why the node cannot serve c, or "": a program its driver
// finds through PATH (GCC's assembler) must be the one it was identified
// with under the PATH of the sandbox too.
func servable(c *Compiler) string {
	return c.PathDiffers(sandboxPATH, "/")
}

// compiler returns this node's compiler with the identity id. When one of
// its files has changed since it was identified (an upgrade under the
// running node), it is identified again (jobs that come meanwhile wait for
// that); a job for an identity that is gone is refused, so that its client
// compiles elsewhere.
func (n *Node) compiler(ctx context.Context, id string) (*Compiler, error) {
	n.mu.Lock()
	c := n.compilers[id]
	n.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("no compiler with identity %s here", short(id))
	}
	if !c.Changed() {
		return c, nil
	}
	if nc := n.identify(ctx, c.Path); nc != nil && nc.ID == id {
		return nc, nil // a file touched, not changed
	}
	return nil, fmt.Errorf("compiler %s (%s) changed on this node since it was identified", c.Path, c.Short())
}

// Refresh identifies again the compilers that changed and retries the ones
// that failed to (n.paths decides which need it), so that what the node
// tells its peers is what it runs. The agent calls it every few seconds.
func (n *Node) Refresh(ctx context.Context) {
	n.mu.Lock()
	paths := slices.Collect(maps.Keys(n.served))
	n.mu.Unlock()
	for _, p := range paths {
		n.identify(ctx, p)
	}
}

// identify returns the compiler at path as it is now (probed again if it
// changed), serving it under its identity, or nil if it cannot be served.
func (n *Node) identify(ctx context.Context, path string) *Compiler {
	c, err := n.paths.Get(ctx, path)
	if ctx.Err() != nil {
		return nil // cut short (the job ended, the node stops): the next caller tries again
	}
	return n.update(path, c, err)
}

// update serves c (found at path, or failed with err) in place of what
// path served before, and says so in the log when that changes.
func (n *Node) update(path string, c *Compiler, err error) *Compiler {
	if err == nil {
		if why := servable(c); why != "" {
			err = errors.New(why)
		}
	}
	if err != nil {
		c = nil
	}
	n.mu.Lock()
	old, known := n.served[path]
	if known && old == c {
		n.mu.Unlock()
		return c
	}
	if old != nil && n.compilers[old.ID] == old {
		delete(n.compilers, old.ID)
	}
	if c != nil {
		n.compilers[c.ID] = c
	}
	n.served[path] = c
	n.mu.Unlock()
	switch {
	case c == nil && !known:
		n.log.Warn("compiler not served", "path", path, "error", err)
	case c == nil:
		n.log.Warn("compiler changed and does not work now: not served until it does (tried every 10 s)", "path", path, "error", err)
	case old == nil && known:
		n.log.Info("compiler works again", "path", path, "id", c.Short())
	case old != nil && old.ID != c.ID:
		n.log.Info("compiler changed since it was identified", "path", path, "was", old.Short(), "now", c.Short())
	}
	return c
}

// admit validates a job against this node: its compiler, arguments,
// environment and manifest. Nothing a client sends chooses what runs.
func (n *Node) admit(ctx context.Context, req *JobRequest) (*nodeJob, error) {
	comp, err := n.compiler(ctx, req.Compiler)
	if err != nil {
		return nil, err
	}
	if req.Native != "" && req.Native != comp.Native {
		return nil, errors.New("-march=native expands differently here")
	}
	if err := cc.CheckEnv(req.Env); err != nil {
		return nil, err
	}
	for _, l := range cc.Locales(req.Env) {
		if !n.locales.has(l) {
			return nil, fmt.Errorf("locale %s is not installed on this node, whose messages would differ: generate it there (locale-gen) or build with LANG=C.UTF-8", l)
		}
	}
	if err := cc.CheckArgs(comp.Family, req.Args); err != nil {
		return nil, err
	}
	a := cc.Analyze(comp.Family, req.Args, req.Env)
	if a.Local != "" {
		return nil, fmt.Errorf("not a distributable compile: %s", a.Local)
	}
	if a.Native && req.Native == "" {
		return nil, errors.New("-march=native without the client's expansion")
	}
	if !isCleanAbs(req.Dir) {
		return nil, fmt.Errorf("working directory %q is not a clean absolute path", req.Dir)
	}
	job := &nodeJob{req: req, comp: comp, analysis: a, sizes: map[Hash]int64{}}
	if err := n.checkEntries(job); err != nil {
		return nil, err
	}
	// Resolve the outputs inside the manifest: their directories become the
	// job's only writable places.
	byPath := make(map[string]Entry, len(req.Entries))
	for _, e := range req.Entries {
		byPath[e.Path] = e
	}
	w := newWalker(req.Dir)
	w.lookup = manifestLookup(byPath)
	if _, fi, err := w.resolve(req.Dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("working directory %s is not in the manifest", req.Dir)
	}
	for _, o := range a.Outputs {
		dir, fi, err := w.resolve(path.Dir(o.Path))
		if err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("output %s: its directory is not in the manifest", o.Path)
		}
		if isSystemPath(dir) || n.underInstall(comp, dir) {
			return nil, fmt.Errorf("output %s: may not be written in %s", o.Path, dir)
		}
		if dir == "/tmp" {
			// The sandbox's /tmp is its own (landlock.Spec.Limits.TmpSize):
			// what the compiler writes there is gone with the job.
			return nil, fmt.Errorf("output %s: may not be written in /tmp itself, which is private to the job", o.Path)
		}
		phys := path.Join(dir, path.Base(o.Path))
		if _, ok := byPath[phys]; ok {
			return nil, fmt.Errorf("output %s would overwrite an input", o.Path)
		}
		job.named = append(job.named, o.Path)
		job.outputs = append(job.outputs, phys)
		if !slices.Contains(job.writable, dir) {
			job.writable = append(job.writable, dir)
		}
	}
	return job, nil
}

// checkEntries validates the manifest: clean absolute paths, each inside a
// directory it lists (so building the tree never follows a symlink),
// nothing over the compiler installation unless identical (then dropped),
// nothing in the places the sandbox provides, bounded counts and sizes.
func (n *Node) checkEntries(job *nodeJob) error {
	entries := job.req.Entries
	if len(entries) > maxEntries {
		return fmt.Errorf("manifest has %d entries, more than %d", len(entries), maxEntries)
	}
	dirs := map[string]bool{"/": true}
	for _, e := range entries {
		if e.Kind == KindDir {
			dirs[e.Path] = true
		}
	}
	var total int64
	seen := map[string]bool{}
	for _, e := range entries {
		if !isCleanAbs(e.Path) || e.Path == "/" {
			return fmt.Errorf("manifest path %q is not a clean absolute path", e.Path)
		}
		if seen[e.Path] {
			return fmt.Errorf("manifest lists %s twice", e.Path)
		}
		seen[e.Path] = true
		if !dirs[path.Dir(e.Path)] {
			return fmt.Errorf("manifest path %s: its directory is not listed as a directory", e.Path)
		}
		if isSystemPath(e.Path) {
			return fmt.Errorf("manifest path %s: the sandbox provides it", e.Path)
		}
		switch e.Kind {
		case KindDir:
		case KindSymlink:
			if e.Target == "" || strings.ContainsRune(e.Target, 0) || len(e.Target) > 4096 {
				return fmt.Errorf("manifest symlink %s: bad target", e.Path)
			}
		case KindFile:
			if e.Size < 0 || e.Size > maxFileSize {
				return fmt.Errorf("manifest file %s: size %d over the limit of %d", e.Path, e.Size, maxFileSize)
			}
			if e.Mode&^0o7777 != 0 || e.Mode&0o6000 != 0 {
				return fmt.Errorf("manifest file %s: mode %o not allowed", e.Path, e.Mode)
			}
			total += e.Size
		default:
			return fmt.Errorf("manifest entry %s: unknown kind %q", e.Path, e.Kind)
		}
		if n.overInstall(job.comp, e) {
			// The node's own compiler files always win: an identical file is
			// simply not created; anything else is refused.
			if e.Kind == KindFile && n.installHash(e.Path) == e.Hash {
				continue
			}
			if e.Kind == KindDir {
				// Lstat: a directory where the node has a symlink is refused.
				if fi, err := os.Lstat(e.Path); err == nil && fi.IsDir() {
					continue
				}
			}
			if e.Kind == KindSymlink {
				if t, err := os.Readlink(e.Path); err == nil && t == e.Target {
					continue
				}
			}
			return fmt.Errorf("manifest entry %s differs from this node's compiler installation", e.Path)
		}
		job.entries = append(job.entries, e)
		if e.Kind == KindFile {
			job.sizes[e.Hash] = e.Size
		}
	}
	if total > maxJobInput {
		return fmt.Errorf("job inputs total %d bytes, more than %d", total, maxJobInput)
	}
	return nil
}

// A footprint is where a compiler installation lives on this node: the
// paths the sandbox binds (as named, and where they physically end) and
// every symlink met on the way to them. A manifest may not put anything
// of its own there, whichever spelling it uses.
type footprint struct {
	roots []string        // install paths, as named and physical
	links map[string]bool // symlinks on the way to them
}

func (n *Node) footprint(c *Compiler) *footprint {
	n.mu.Lock()
	fp := n.footprints[c.ID]
	n.mu.Unlock()
	if fp != nil {
		return fp
	}
	fp = &footprint{links: map[string]bool{}}
	w := newWalker("/")
	for _, p := range c.Install {
		fp.roots = append(fp.roots, p)
		if phys, _, err := w.resolve(p); err == nil && phys != p {
			fp.roots = append(fp.roots, phys)
		}
	}
	for p, e := range w.entries {
		if e.Kind == KindSymlink {
			fp.links[p] = true
		}
	}
	n.mu.Lock()
	n.footprints[c.ID] = fp
	n.mu.Unlock()
	return fp
}

// overInstall reports whether e sits on or inside the compiler's
// installation, or replaces a symlink or directory on the way to it.
func (n *Node) overInstall(c *Compiler, e Entry) bool {
	fp := n.footprint(c)
	if fp.links[e.Path] {
		return true
	}
	for _, p := range fp.roots {
		if within(e.Path, p) {
			return true
		}
		// A symlink or file where the installation needs a directory.
		if e.Kind != KindDir && below(p, e.Path) {
			return true
		}
	}
	if e.Kind != KindDir {
		for l := range fp.links {
			if below(l, e.Path) {
				return true
			}
		}
	}
	return false
}

// underInstall reports whether an output directory is in, above or on the
// way to the compiler's installation.
func (n *Node) underInstall(c *Compiler, dir string) bool {
	fp := n.footprint(c)
	near := func(p string) bool {
		return within(dir, p) || below(p, dir)
	}
	for _, p := range fp.roots {
		if near(p) {
			return true
		}
	}
	for l := range fp.links {
		if near(l) {
			return true
		}
	}
	return false
}

// installSum is the hash of one version of a file of this node's.
type installSum struct {
	stamp cc.FileStamp
	hash  Hash
}

// installHash is the hash of a file of this node's, computed once per
// version of it.
func (n *Node) installHash(p string) Hash {
	fi, err := os.Stat(p)
	if err != nil {
		return Hash{}
	}
	st := cc.StampOf(fi)
	n.mu.Lock()
	s, ok := n.installSum[p]
	n.mu.Unlock()
	if ok && s.stamp == st {
		return s.hash
	}
	sum, err := hashFile(p)
	if err != nil {
		return Hash{}
	}
	n.mu.Lock()
	n.installSum[p] = installSum{st, sum}
	n.mu.Unlock()
	return sum
}

// isSystemPath reports whether p is where the sandbox puts its own /proc
// and /dev.
func isSystemPath(p string) bool {
	for _, sys := range []string{"/proc", "/dev"} {
		if within(p, sys) {
			return true
		}
	}
	return false
}

// within reports whether p is dir or below it; below, whether p is
// strictly below dir. Both take clean absolute paths and never allocate:
// the node asks them for every manifest entry against every installation
// path. They mean p == dir || strings.HasPrefix(p, dir+"/"), which puts
// nothing below "/".
func within(p, dir string) bool { return p == dir || below(p, dir) }

func below(p, dir string) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir
}

func isCleanAbs(p string) bool {
	return path.IsAbs(p) && path.Clean(p) == p && !strings.ContainsRune(p, 0)
}

// run builds the job's tree, waits for a slot, runs the compiler in the
// sandbox and reads back the outputs.
func (n *Node) run(ctx context.Context, job *nodeJob, log *slog.Logger) (Result, [][]byte, error) {
	t, err := n.trees.get(job.comp.ID)
	if err != nil {
		return Result{}, nil, err
	}
	reusable := false
	defer func() { n.trees.put(t, reusable) }()
	want := make(map[string]Entry, len(job.entries))
	for _, e := range job.entries {
		want[e.Path] = e
	}
	link := func(e Entry, p string) error { return n.cfg.Store.Link(e.Hash, fs.FileMode(e.Mode), e.MTime, p) }
	copy := func(e Entry, p string) error { return n.cfg.Store.Copy(e.Hash, fs.FileMode(e.Mode), e.MTime, p) }
	if err := t.sync(want, job.writable, link, copy); err != nil {
		// A tree that cannot be brought to this job (a directory that holds
		// the sandbox's placeholders, say) is replaced by a fresh one.
		log.Debug("job tree replaced", "error", err)
		n.trees.put(t, false)
		if t, err = n.trees.get(""); err != nil {
			return Result{}, nil, err
		}
		if err := t.sync(want, job.writable, link, copy); err != nil {
			return Result{}, nil, err
		}
	}
	t.install = job.comp.ID
	root := t.root
	release, err := n.acquire(ctx)
	if err != nil {
		return Result{}, nil, err
	}
	defer release()
	env := append([]string{"PATH=" + sandboxPATH}, job.req.Env...)
	spec := landlock.Spec{
		Root:     root,
		Install:  job.comp.Install,
		Exec:     job.comp.Exec,
		Writable: job.writable,
		Dir:      job.req.Dir,
		Argv:     append([]string{job.comp.Path}, job.req.Args...),
		Env:      env,
		Limits:   n.cfg.Limits,
		UID:      n.cfg.UID,
		GID:      n.cfg.GID,
	}
	var stdout, stderr cappedBuffer
	stdout.max, stderr.max = maxStdio, maxStdio
	start := time.Now()
	r, err := n.cfg.Spawner.Run(ctx, spec, &stdout, &stderr)
	if err != nil {
		return Result{}, nil, fmt.Errorf("sandbox: %w", err)
	}
	// Whatever happens below, the writable directories are emptied before
	// the tree serves another job.
	defer func() { reusable = reusable && t.clean(job.writable) == nil }()
	res := Result{Exit: r.ExitCode, Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Millis: time.Since(start).Milliseconds(), LimitHit: r.LimitHit, Setup: r.Setup}
	if r.LimitHit != "" {
		return Result{}, nil, fmt.Errorf("job over the node's %s limit", r.LimitHit)
	}
	// A failed compile may still have written some outputs (GCC keeps the
	// dependency file): return whatever is there, as a local run leaves it.
	var outs [][]byte
	for i, phys := range job.outputs {
		data, err := readOutput(filepath.Join(root, phys))
		if errors.Is(err, fs.ErrNotExist) {
			continue // not every compile writes every possible output
		}
		if err != nil {
			return Result{}, nil, fmt.Errorf("output %s: %w", job.named[i], err)
		}
		res.Outputs = append(res.Outputs, cc.OutputFile{Path: job.named[i], Size: int64(len(data))})
		outs = append(outs, data)
	}
	reusable = true
	return res, outs, nil
}

// readOutput reads a compiler output safely: a regular file, not a symlink,
// of bounded size.
func readOutput(p string) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	if fi.Size() > maxOutputSize {
		return nil, fmt.Errorf("%d bytes, over the limit of %d", fi.Size(), maxOutputSize)
	}
	return io.ReadAll(io.LimitReader(f, maxOutputSize+1))
}

// cappedBuffer keeps the first max bytes and marks what it dropped.
type cappedBuffer struct {
	bytes.Buffer
	max       int
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		if !b.truncated {
			b.truncated = true
			b.Buffer.WriteString("\n[distmesh: output truncated]\n")
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

var encoderPool = sync.Pool{New: func() any {
	e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	return e
}}

var decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxFileSize+1<<20))

// decompress decodes a zstd payload that must expand to exactly size bytes.
func decompress(z []byte, size int64) ([]byte, error) {
	data, err := decoder.DecodeAll(z, make([]byte, 0, size))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != size {
		return nil, fmt.Errorf("expands to %d bytes, want %d", len(data), size)
	}
	return data, nil
}
