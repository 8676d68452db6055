package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
	"github.com/distmesh/distmesh/jobs/wrap"
	"github.com/distmesh/distmesh/keys"
	"github.com/distmesh/distmesh/transport"
)

// AgentConfig configures an Agent.
type AgentConfig struct {
	Home       string // the agent's socket and caches live here
	Identity   *keys.Identity
	Authority  *keys.Authority
	Peers      []string // static peer addresses
	Listen     []string // this node's own addresses: announced to peers, never dialled
	LocalSlots int      // compiles this machine runs for its own wrappers at once
	Node       *Node    // this machine's compile service; nil on a client-only machine
	// NoFileWatch turns the inotify watch off (see fileWatch): every job
	// then looks up every name it needs, and its wrapper stats its inputs.
	NoFileWatch bool
	// OnRevocation is called when a peer handed over a newer revocation list.
	OnRevocation func()
	Logger       *slog.Logger
}

// Agent is the client side of a machine: it serves the wrappers of this
// machine on a Unix socket, holds one verified SSH connection per peer,
// picks a peer for each job, and keeps the per-file caches that make a job
// cheap to send.
//
// The agent opens a caller's inputs by path only for a wrapper that runs
// as the agent's user with the agent's view of the file system (ownView),
// which could open nothing the agent could not. Anyone else's wrapper opens
// every input and passes the descriptor. Either way the agent checks that
// each descriptor is the file its own path walk finds, and reads contents
// only through descriptors.
type Agent struct {
	cfg       AgentConfig
	log       *slog.Logger
	name      string
	client    *transport.Client
	compilers Compilers
	hashes    *hashCache
	manifests *manifestCache
	absent    *absentCache
	search    searchCache
	paths     pathChecks
	locales   localeSet
	// watch is the file watch while Run runs (nil when off); view is set
	// before it is.
	watch atomic.Pointer[fileWatch]
	view  ownView

	// candidates are peer addresses learned from peers, added by Run.
	candidates chan candidate
	waiting    atomic.Int32 // wrappers waiting for a place
	// lastInputs is how many inputs the last scanned job recorded: the
	// next scan's map of them starts that big instead of growing step by
	// step.
	lastInputs atomic.Int64
	workers    *workers // serve connections and run tries

	// mu protects the following.
	mu        sync.Mutex
	peers     map[string]*peer
	wake      chan struct{} // closed and replaced when a slot frees
	localUsed int
	stats     AgentStats
	recent    []JobRecord
	durations histogram // of remote jobs, seconds

	wg sync.WaitGroup
}

// AgentStats counts what this machine's wrappers did.
type AgentStats struct {
	Sent       int64 `json:"jobs_sent"`   // compiles sent to other nodes
	Remote     int64 `json:"jobs_remote"` // … that came back with a result used as is
	Local      int64 `json:"jobs_local"`  // compiles run on this machine
	Retries    int64 `json:"retries"`
	Speculated int64 `json:"speculated"` // long jobs also started on another peer
	// Of the jobs whose inputs were gathered: those whose cached manifest
	// still held (no scan), of which some with edited inputs whose include
	// directives had not changed, and those scanned, of which some took
	// the inputs of headers another unit's scan followed.
	ManifestHits      int64            `json:"manifest_hits"`
	ManifestRefreshes int64            `json:"manifest_refreshes"`
	ManifestMisses    int64            `json:"manifest_misses"`
	ManifestTemplates int64            `json:"manifest_templates"` // scanned jobs that took a template's inputs (see scanTemplate)
	Fallbacks         map[string]int64 `json:"fallbacks"`          // local compiles by reason
	// Jobs whose wrapper shares the agent's view of the file system, whose
	// inputs the agent checked itself (with the file watch).
	CheckedHere int64        `json:"checked_here"`
	Watch       *WatchStatus `json:"file_watch,omitempty"` // nil when off
}

// WatchStatus is the state of the agent's file watch (watch_files).
type WatchStatus struct {
	Remembered int    `json:"remembered"` // lookups' answers held
	Hits       int64  `json:"hits"`       // lookups answered from memory
	Misses     int64  `json:"misses"`     // lookups made to the file system
	Flushes    int64  `json:"flushes"`    // times it forgot everything: a mount changed, events were lost
	Error      string `json:"error,omitempty"`
}

// JobRecord is one finished job, for status.
type JobRecord struct {
	Source string        `json:"source"`
	Where  string        `json:"where"` // node name, or "local"
	Why    string        `json:"why,omitempty"`
	Exit   int           `json:"exit"`
	Took   time.Duration `json:"took_ns"`
	At     time.Time     `json:"at"`
}

// NewAgent builds an agent; Run runs it.
func NewAgent(cfg AgentConfig) *Agent {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LocalSlots < 1 {
		cfg.LocalSlots = 1
	}
	return &Agent{
		cfg:        cfg,
		log:        cfg.Logger,
		name:       cfg.Identity.Name,
		client:     &transport.Client{Identity: cfg.Identity, Authority: cfg.Authority},
		hashes:     newHashCache(200_000),
		manifests:  newManifestCache(20_000),
		absent:     newAbsentCache(500_000),
		wake:       make(chan struct{}),
		candidates: make(chan candidate, 64),
		stats:      AgentStats{Fallbacks: map[string]int64{}},
		durations:  newHistogram(durationBounds),
		workers:    newWorkers(),
	}
}

// Run serves the socket and maintains the peers until ctx is cancelled; it
// removes the socket before it returns.
func (a *Agent) Run(ctx context.Context) error {
	path := wrap.SocketPath(a.cfg.Home)
	// A socket left by a killed node: the caller holds the home's lock, so
	// nobody else is serving it.
	os.Remove(path)
	old := syscall.Umask(0o007)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return fmt.Errorf("agent socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return fmt.Errorf("agent socket: %w", err)
	}
	if n, err := a.hashes.load(cachePath(a.cfg.Home)); err == nil {
		a.log.Debug("file cache loaded", "entries", n)
	} else if !errors.Is(err, fs.ErrNotExist) {
		a.log.Info("file cache ignored, rebuilding it", "error", err)
	}
	defer func() {
		if err := a.hashes.save(cachePath(a.cfg.Home)); err != nil {
			a.log.Warn("file cache not saved", "error", err)
		}
	}()
	if !a.cfg.NoFileWatch {
		fw := newFileWatch(1_000_000)
		if fw.lastErr != nil {
			a.log.Info("file watch off: every job looks up its files again", "error", fw.lastErr)
		}
		a.view = readOwnView()
		a.watch.Store(fw)
		defer func() {
			a.watch.Store(nil)
			fw.close()
		}()
	}
	a.mu.Lock()
	a.peers = map[string]*peer{}
	a.mu.Unlock()
	for _, addr := range a.cfg.Peers {
		a.addPeer(ctx, addr, "config", keys.Fingerprint{})
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-a.candidates:
				if c.withdraw {
					a.withdraw(c.addr, c.source)
				} else {
					a.addPeer(ctx, c.addr, c.source, c.want)
				}
			}
		}
	}()
	if n := a.cfg.Node; n != nil {
		// A compiler upgraded under the running node: its peers learn the
		// new identity at the next status exchange.
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			t := time.NewTicker(pollInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					n.Refresh(ctx)
				}
			}
		}()
	}
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() == nil {
				a.log.Error("agent socket", "error", err)
			}
			break
		}
		a.workers.Go(func() {
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			a.serveConn(ctx, c)
		})
	}
	ln.Close()
	a.workers.close()
	a.wg.Wait()
	return nil
}

// allowed checks the caller's credentials: the agent's own user, root, or a
// member of the socket's group (the socket's mode already says as much;
// this makes it independent of the file's mode).
func (a *Agent) allowed(c *net.UnixConn) (syscall.Ucred, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return syscall.Ucred{}, false
	}
	var cred *syscall.Ucred
	raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil || cred == nil {
		return syscall.Ucred{}, false
	}
	if cred.Uid == 0 || int(cred.Uid) == os.Getuid() {
		return *cred, true
	}
	fi, err := os.Stat(wrap.SocketPath(a.cfg.Home))
	if err != nil {
		return *cred, false
	}
	gid := fi.Sys().(*syscall.Stat_t).Gid
	if cred.Gid == gid {
		return *cred, true
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cred.Pid))
	for _, line := range strings.Split(string(status), "\n") {
		if groups, ok := strings.CutPrefix(line, "Groups:"); ok {
			for _, g := range strings.Fields(groups) {
				if g == fmt.Sprint(gid) {
					return *cred, true
				}
			}
		}
	}
	return *cred, false
}

func (a *Agent) serveConn(ctx context.Context, c *net.UnixConn) {
	cred, ok := a.allowed(c)
	if !ok {
		a.log.Warn("agent socket: caller refused", "uid", cred.Uid, "pid", cred.Pid)
		return
	}
	lc := cc.NewLocalConn(c)
	defer lc.Close()
	typ, payload, files, err := lc.Recv()
	cc.CloseFiles(files)
	if err != nil {
		return
	}
	switch typ {
	case "status":
		lc.SendJSON("status", a.Status())
	case "job":
		j, err := wrap.DecodeJob(payload)
		if err != nil {
			lc.Send("local", []byte(err.Error()+": the wrapper and the agent are of different releases (restart distmesh join)"))
			return
		}
		sameView := a.watch.Load() != nil && a.view.shares(cred)
		if sameView {
			a.mu.Lock()
			a.stats.CheckedHere++
			a.mu.Unlock()
		}
		a.compile(ctx, lc, j, caller{cred.Uid, cred.Gid}, sameView)
	default:
		lc.Send("error", []byte("unknown request "+typ))
	}
}

// peerList is a snapshot of the peers.
func (a *Agent) peerList() []*peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*peer, 0, len(a.peers))
	for _, p := range a.peers {
		out = append(out, p)
	}
	return out
}

// notify wakes every job waiting for a slot.
func (a *Agent) notify() {
	a.mu.Lock()
	close(a.wake)
	a.wake = make(chan struct{})
	a.mu.Unlock()
}

func (a *Agent) changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.wake
}

func (a *Agent) tryLocal() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.localUsed < a.cfg.LocalSlots {
		a.localUsed++
		return true
	}
	return false
}

func (a *Agent) releaseLocal() {
	a.mu.Lock()
	a.localUsed--
	a.mu.Unlock()
	a.notify()
}

// anyPeerHas reports whether some peer that is up, or coming back, has the
// compiler: if none has, waiting for a remote slot is pointless.
func (a *Agent) anyPeerHas(compiler, native string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.peers {
		p.mu.Lock()
		ok := p.state == StateUp && p.has(compiler, native)
		p.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

func (a *Agent) record(r JobRecord, remote bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Where == "local" {
		a.stats.Local++
		a.stats.Fallbacks[r.Why]++
	} else if remote {
		a.stats.Remote++
		a.durations.observe(r.Took.Seconds())
	}
	a.recent = append(a.recent, r)
	if len(a.recent) > 1000 {
		a.recent = slices.Clone(a.recent[len(a.recent)-500:])
	}
}

// Status is the agent's view for `distmesh status`.
type Status struct {
	Node       string           `json:"node"`
	Mesh       string           `json:"mesh"`
	JobsServed int64            `json:"jobs_served"` // compiles this node ran for others
	JobsSent   int64            `json:"jobs_sent"`   // compiles it sent away
	Agent      AgentStats       `json:"agent"`
	Served     *NodeStats       `json:"served,omitempty"`
	Peers      []PeerStatus     `json:"peers"`
	Recent     []JobRecord      `json:"recent,omitempty"`
	Compilers  []CompilerInfo   `json:"compilers,omitempty"`
	Slots      int              `json:"slots"`
	LocalSlots int              `json:"local_slots"`
	Jobs       []RunningJob     `json:"jobs,omitempty"` // what this node runs and queues for others now
	Extra      map[string]int64 `json:"-"`
}

// Status reports the agent's counters and peers.
func (a *Agent) Status() Status {
	st := Status{Node: a.name, Mesh: a.cfg.Authority.MeshID().String(), Peers: a.peerStatus(), LocalSlots: a.cfg.LocalSlots}
	a.mu.Lock()
	st.Agent = a.stats
	st.Agent.Fallbacks = make(map[string]int64, len(a.stats.Fallbacks))
	for k, v := range a.stats.Fallbacks {
		st.Agent.Fallbacks[k] = v
	}
	st.JobsSent = a.stats.Sent
	st.Recent = slices.Clone(a.recent)
	a.mu.Unlock()
	st.Agent.Watch = a.watch.Load().status()
	if n := a.cfg.Node; n != nil {
		ns := n.Stats()
		st.Served = &ns
		st.JobsServed = ns.Served
		st.Slots = n.Slots()
		st.Compilers = compilerInfos(n.Compilers())
		st.Jobs = n.Jobs()
	}
	return st
}

func compilerInfos(cs []*Compiler) []CompilerInfo {
	var out []CompilerInfo
	for _, c := range cs {
		out = append(out, CompilerInfo{ID: c.ID, Native: c.Native, Path: c.Path, Banner: c.Banner, Target: c.Target})
	}
	return out
}

// selfInfo is what this node tells its peers about itself.
func (a *Agent) selfInfo() NodeInfo {
	info := NodeInfo{Name: a.name, Listen: a.cfg.Listen, Load: loadAverage(), Arch: runtime.GOARCH}
	if n := a.cfg.Node; n != nil {
		info.Slots, info.Queue, info.Running, info.Queued = n.Slots(), n.Queue(), n.Running(), n.Queued()
		info.Compilers = compilerInfos(n.Compilers())
		info.Jobs = n.Jobs()
		st := n.Stats()
		info.Served, info.Failed, info.Refused = st.Served, st.Failed, st.Refused+st.Busy
	}
	for _, ps := range a.peerStatus() {
		if ps.Verified {
			info.Peers = append(info.Peers, ps.Addresses...)
		}
	}
	sort.Strings(info.Peers)
	return info
}

// HandleStatus answers a peer's status request (transport.StatusFunc): it
// learns where the peer can be reached and answers with this node's
// information, including the peers it has verified, so that one address is
// enough to find a whole mesh.
func (a *Agent) HandleStatus(ctx context.Context, p transport.Peer, raw json.RawMessage) (any, error) {
	var info NodeInfo
	if len(raw) > 0 && json.Unmarshal(raw, &info) == nil {
		for _, addr := range info.Listen {
			a.suggest(addr, "gossip")
		}
	}
	return a.selfInfo(), nil
}

type candidate struct {
	addr, source string
	want         keys.Fingerprint // the key the source says is there; zero: any member
	withdraw     bool
}

// Suggest offers an address learned from somewhere (source is "config",
// "gossip" or "mdns"); it is only a hint until a handshake proves who is
// there. When want is set (an advertisement named the node's key), a
// server there with another key is not used, and is logged as a spoof.
func (a *Agent) Suggest(addr, source string, want keys.Fingerprint) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return
	}
	select {
	case a.candidates <- candidate{addr: addr, source: source, want: want}:
	default: // a flood of suggestions: the next exchange repeats them
	}
}

// Withdraw says that the source that suggested addr no longer does (an
// mDNS goodbye, an expired advertisement): a peer known only from there is
// dropped at once.
func (a *Agent) Withdraw(addr, source string) {
	select {
	case a.candidates <- candidate{addr: addr, source: source, withdraw: true}:
	default:
	}
}

func (a *Agent) suggest(addr, source string) { a.Suggest(addr, source, keys.Fingerprint{}) }

func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscanf(string(b), "%f", &l)
	return l
}

var errForeignView = errors.New("the wrapper sees a different file than the agent")
