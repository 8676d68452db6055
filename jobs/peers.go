package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/distmesh/distmesh/keys"
	"github.com/distmesh/distmesh/transport"
)

// NodeInfo is what a node says about itself in the status exchange.
type NodeInfo struct {
	Name      string         `json:"name"`
	Listen    []string       `json:"listen,omitempty"` // addresses it can be dialled at
	Slots     int            `json:"slots"`            // 0: it serves no compiles
	Queue     int            `json:"queue"`            // jobs it accepts beyond its slots, to wait
	Running   int            `json:"running"`
	Queued    int            `json:"queued"`
	Compilers []CompilerInfo `json:"compilers,omitempty"`
	Peers     []string       `json:"peers,omitempty"` // addresses of the members it has verified
	Load      float64        `json:"load"`            // 1-minute load average
	Jobs      []RunningJob   `json:"jobs,omitempty"`  // what it runs and queues now
	Served    int64          `json:"served"`          // jobs it finished for others, ever
	Failed    int64          `json:"failed"`          // … that the compiler failed
	Refused   int64          `json:"refused"`         // jobs it refused or could not run
	Arch      string         `json:"arch,omitempty"`
}

// CompilerInfo is how a node advertises a compiler.
type CompilerInfo struct {
	ID     string `json:"id"`
	Native string `json:"native,omitempty"`
	Path   string `json:"path"`
	Banner string `json:"banner"`
	Target string `json:"target"`
}

// Peer states.
const (
	StateUp      = "up"
	StateDown    = "down"
	StateBackoff = "backoff"
)

// peer is one node this agent sends work to.
type peer struct {
	addr string
	stop context.CancelFunc
	wake chan struct{} // a source was added: a standby address rechecks now

	// mu protects the following.
	mu        sync.Mutex
	sources   []string           // who named the address: config, mdns, gossip
	wants     []keys.Fingerprint // keys announced there (mdns); none: any member
	conn      *transport.Conn
	member    keys.Member
	info      NodeInfo
	state     string
	why       string // last failure
	inflight  int
	failures  int
	jobErrors int     // consecutive jobs the peer answered with an error
	avgMillis float64 // moving average of its compiles' duration (0: none yet)
	retryAt   time.Time
	rtt       time.Duration
	stats     PeerStats
	idle      []keptStream // compile streams kept for the next jobs, newest last
}

// keptStream is a compile stream between jobs.
type keptStream struct {
	st    *transport.ClientStream
	since time.Time
}

// A peer keeps at most maxKeptStreams streams between jobs, each for at
// most keptStreamIdle: less than a node keeps them (DefaultStreamIdle), so
// a job seldom goes out on a stream the node is closing (and when it does,
// runRemote sends it again on a new one).
const (
	maxKeptStreams = 16
	keptStreamIdle = 20 * time.Second
)

// stream returns a compile stream to p over conn, bound to ctx: the
// newest kept one when there is one (reused), else a new one. Kept streams
// are in the order they were kept, so those kept too long are the first.
func (p *peer) stream(ctx context.Context, conn *transport.Conn) (st *transport.ClientStream, reused bool, err error) {
	now := time.Now()
	p.mu.Lock()
	old := 0
	for old < len(p.idle) && now.Sub(p.idle[old].since) >= keptStreamIdle {
		old++
	}
	stale := slices.Clone(p.idle[:old])
	p.idle = slices.Delete(p.idle, 0, old)
	if n := len(p.idle); n > 0 {
		st = p.idle[n-1].st
		p.idle = slices.Delete(p.idle, n-1, n)
	}
	p.mu.Unlock()
	closeKept(stale)
	if st != nil {
		st.Bind(ctx)
		return st, true, nil
	}
	st, err = conn.Open(ctx, transport.SubsystemCompile, compileMinVersion, compileVersion)
	if err == nil {
		p.mu.Lock()
		p.stats.Streams++
		p.mu.Unlock()
	}
	return st, false, err
}

// keep takes back a stream that carried a job on conn to its end, for p's
// next job; one that cannot carry another is closed, and so is one whose
// connection p no longer uses (dropStreams closed the others).
func (p *peer) keep(st *transport.ClientStream, conn *transport.Conn) {
	if st.Version < streamReuse || !st.Unbind() {
		st.Close()
		return
	}
	p.mu.Lock()
	if p.conn == conn && len(p.idle) < maxKeptStreams {
		p.idle = append(p.idle, keptStream{st, time.Now()})
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	st.Close()
}

// dropStreams closes the streams p keeps (its connection is gone).
func (p *peer) dropStreams() {
	p.mu.Lock()
	kept := p.idle
	p.idle = nil
	p.mu.Unlock()
	closeKept(kept)
}

func closeKept(kept []keptStream) {
	for _, k := range kept {
		k.st.Close()
	}
}

// PeerStats counts the work sent to one peer.
type PeerStats struct {
	Sent      int64 `json:"jobs_sent"`
	OK        int64 `json:"jobs_ok"`
	Failed    int64 `json:"jobs_failed"` // the compile failed there (and was redone locally)
	Errors    int64 `json:"errors"`      // the job did not complete there
	BytesOut  int64 `json:"bytes_out"`
	BytesIn   int64 `json:"bytes_in"`
	BlobsSent int64 `json:"blobs_sent"`
	BlobHits  int64 `json:"blob_hits"`
	Streams   int64 `json:"streams_opened"` // compile streams opened (the rest of the jobs reused one)
}

// backoff grows with consecutive failures: 1s, 2s, 4s … up to a minute.
func backoff(failures int) time.Duration {
	d := time.Second << min(failures-1, 6)
	d = min(d, time.Minute)
	return d/2 + rand.N(d/2+1)
}

// jobFailed records a job the peer answered with an error (it refused
// the job, or could not run it). One such error is about the job; a run of
// them is about the peer, which is then backed off.
func (p *peer) jobFailed(err error) {
	p.mu.Lock()
	p.stats.Errors++
	p.jobErrors++
	n := p.jobErrors
	p.mu.Unlock()
	if n >= 3 {
		p.fail(err)
	}
}

// fail records a failure of p and backs it off.
func (p *peer) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures++
	p.why = err.Error()
	p.retryAt = time.Now().Add(backoff(p.failures))
	p.state = StateBackoff
}

func (p *peer) has(compiler, native string) bool {
	return slices.ContainsFunc(p.info.Compilers, func(c CompilerInfo) bool {
		return c.ID == compiler && (native == "" || c.Native == native)
	})
}

// maintain keeps a verified connection to p: it dials, exchanges status
// every interval, and redials with backoff after failures, until ctx ends.
func (a *Agent) maintain(ctx context.Context, p *peer) {
	log := a.log.With("peer", p.addr)
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		conn, err := a.client.Dial(dctx, p.addr)
		cancel()
		if err != nil {
			p.fail(err)
			log.Debug("peer unreachable", "error", err)
			p.mu.Lock()
			hearsay := slices.Equal(p.sources, []string{"gossip"}) && p.failures >= 3
			p.mu.Unlock()
			if hearsay {
				// Only others said it was here, and it does not answer:
				// they will say so again when it is back.
				a.forget(p)
				return
			}
			if !sleep(ctx, time.Until(p.retryAt)) {
				return
			}
			continue
		}
		if conn.Peer.Name == a.name {
			// Ourselves, reached through a gossiped or configured address.
			conn.Close()
			a.forget(p)
			return
		}
		p.mu.Lock()
		wants := slices.Clone(p.wants)
		p.mu.Unlock()
		if len(wants) > 0 && !slices.Contains(wants, conn.Peer.Fingerprint) {
			// A valid member answered, but not the one advertised there:
			// someone announced a name or address that is not theirs.
			conn.Close()
			err := fmt.Errorf("advertised key %s, but %s (%s) answered", wants[0], conn.Peer.Name, conn.Peer.Fingerprint)
			log.Warn("spoofed advertisement ignored", "error", err)
			p.fail(err)
			if !sleep(ctx, time.Until(p.retryAt)) {
				return
			}
			continue
		}
		if twin := a.claim(p, conn); twin != "" {
			// One node, several addresses (IPv4, IPv6, a second
			// interface): it is used through one of them only, so its
			// slots count once; this address stands by.
			conn.Close()
			p.mu.Lock()
			p.member, p.state, p.failures = conn.Peer, StateBackoff, 0
			p.why = fmt.Sprintf("%s is reached at %s already", conn.Peer.Name, twin)
			p.retryAt = time.Now().Add(twinRecheck)
			p.mu.Unlock()
			t := time.NewTimer(twinRecheck)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-p.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		log.Info("peer up", "node", conn.Peer.Name)
		done := make(chan struct{})
		go func() { conn.Wait(); close(done) }()
		err = a.poll(ctx, p, conn, done)
		conn.Close()
		p.mu.Lock()
		p.conn = nil
		p.mu.Unlock()
		p.dropStreams()
		if ctx.Err() != nil {
			return
		}
		p.fail(err)
		p.mu.Lock()
		p.state = StateDown
		p.mu.Unlock()
		log.Info("peer down", "node", conn.Peer.Name, "error", err)
		if !sleep(ctx, time.Until(p.retryAt)) {
			return
		}
	}
}

// twinRecheck is how often an address of a node already reached through
// another checks whether it is needed.
const twinRecheck = 30 * time.Second

// claim makes p the peer through which conn's node is used, unless another
// address of the same node already is: then it returns that address and
// p is left as it was. An address named more directly (config, then mDNS,
// then gossip) takes over from one heard second-hand, whose connection is
// closed so that it stands by in turn.
func (a *Agent) claim(p *peer, conn *transport.Conn) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	p.mu.Lock()
	mine := sourceRank(p.sources)
	p.mu.Unlock()
	var demote []*transport.Conn
	for _, q := range a.peers {
		if q == p {
			continue
		}
		q.mu.Lock()
		twin := q.conn != nil && q.member.Fingerprint == conn.Peer.Fingerprint
		theirs := sourceRank(q.sources)
		qc := q.conn
		q.mu.Unlock()
		if !twin {
			continue
		}
		if theirs <= mine {
			return q.addr
		}
		demote = append(demote, qc)
	}
	p.mu.Lock()
	p.conn, p.member, p.state, p.failures, p.why = conn, conn.Peer, StateUp, 0, ""
	p.mu.Unlock()
	for _, c := range demote {
		c.Close()
	}
	return ""
}

func sourceRank(sources []string) int {
	switch mainSource(sources) {
	case "config":
		return 0
	case "mdns":
		return 1
	case "gossip":
		return 2
	}
	return 3
}

// dialTimeout bounds a connection attempt: an address that accepts and
// never speaks SSH must not hold a peer forever.
const dialTimeout = 10 * time.Second

// mainSource is the most direct of the sources that named a peer:
// configured, then advertised on the link, then heard from peers.
func mainSource(sources []string) string {
	for _, s := range []string{"config", "mdns", "gossip"} {
		if slices.Contains(sources, s) {
			return s
		}
	}
	if len(sources) > 0 {
		return sources[0]
	}
	return ""
}

// pollInterval is how often the agent exchanges status with each peer;
// a peer that does not answer within pollTimeout is marked down.
const (
	pollInterval = 2 * time.Second
	pollTimeout  = 4 * time.Second
)

func (a *Agent) poll(ctx context.Context, p *peer, conn *transport.Conn, done <-chan struct{}) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if err := a.exchange(ctx, p, conn); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return errors.New("connection closed")
		case <-t.C:
		}
	}
}

// exchange runs one status exchange with p: revocation lists both ways,
// this node's information out, the peer's in.
func (a *Agent) exchange(ctx context.Context, p *peer, conn *transport.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	start := time.Now()
	var info NodeInfo
	adopted, err := conn.Status(ctx, a.cfg.Authority, a.cfg.Authority.Revocations().Raw(), a.selfInfo(), &info)
	if err != nil {
		return err
	}
	if adopted && a.cfg.OnRevocation != nil {
		a.cfg.OnRevocation()
	}
	if _, err := a.cfg.Authority.CheckHost(conn.Peer.Cert, time.Now()); err != nil {
		return err // revoked or expired since we connected
	}
	p.mu.Lock()
	p.info, p.rtt = info, time.Since(start)
	p.mu.Unlock()
	for _, addr := range info.Peers {
		a.suggest(addr, "gossip")
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// addPeer starts maintaining a peer at addr unless it is known already.
func (a *Agent) addPeer(ctx context.Context, addr, source string, want keys.Fingerprint) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.peers == nil || slices.Contains(a.cfg.Listen, addr) {
		return
	}
	if p, ok := a.peers[addr]; ok {
		p.mu.Lock()
		if !slices.Contains(p.sources, source) {
			p.sources = append(p.sources, source)
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
		if !want.IsZero() && !slices.Contains(p.wants, want) && len(p.wants) < 8 {
			p.wants = append(p.wants, want)
		}
		p.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &peer{addr: addr, sources: []string{source}, state: StateDown, stop: cancel, wake: make(chan struct{}, 1)}
	if !want.IsZero() {
		p.wants = []keys.Fingerprint{want}
	}
	a.peers[addr] = p
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.maintain(ctx, p)
	}()
}

func (a *Agent) forget(p *peer) {
	a.mu.Lock()
	if a.peers[p.addr] == p {
		delete(a.peers, p.addr)
	}
	a.mu.Unlock()
}

// withdraw says that source no longer names addr. The peer goes when no
// source names it any more, and on an mDNS withdrawal (a goodbye, an
// expiry) unless it is configured: what peers said about it is second-hand,
// and they will say it again if it is still there. For the same reason a
// goodbye also takes the node's other addresses that only gossip named.
func (a *Agent) withdraw(addr, source string) {
	a.mu.Lock()
	var stop []*peer
	if p, ok := a.peers[addr]; ok {
		p.mu.Lock()
		had := slices.Contains(p.sources, source)
		p.sources = slices.DeleteFunc(p.sources, func(s string) bool { return s == source })
		drop := had && (len(p.sources) == 0 || source == "mdns" && !slices.Contains(p.sources, "config"))
		node := p.member.Fingerprint
		p.mu.Unlock()
		if drop {
			delete(a.peers, addr)
			stop = append(stop, p)
			if source == "mdns" && !node.IsZero() {
				for qa, q := range a.peers {
					q.mu.Lock()
					hearsay := q.member.Fingerprint == node && slices.Equal(q.sources, []string{"gossip"})
					q.mu.Unlock()
					if hearsay {
						delete(a.peers, qa)
						stop = append(stop, q)
					}
				}
			}
		}
	}
	a.mu.Unlock()
	for _, p := range stop {
		p.stop()
	}
	if len(stop) > 0 {
		a.notify()
	}
}

// pick chooses the peer most likely to finish a job on compiler (and
// native expansion) first, and reserves a place there; the caller
// releases it. A peer's expected finish is its measured compile time
// (moving average; the mean of the others until it has one), stretched by
// the jobs already queued ahead of this one per slot, plus the round trip.
// A peer with no idle slot is used only while it has queue places left,
// so that a slot never idles between two jobs.
func (a *Agent) pick(compiler, native string, exclude map[*peer]bool) *peer {
	peers := a.peerList()
	var sum float64
	var n int
	for _, p := range peers {
		p.mu.Lock()
		if p.avgMillis > 0 {
			sum += p.avgMillis
			n++
		}
		p.mu.Unlock()
	}
	typical := 1000.0 // ms, before anything was measured
	if n > 0 {
		typical = sum / float64(n)
	}
	var best *peer
	bestETA := 0.0
	for _, p := range peers {
		if exclude[p] {
			continue
		}
		p.mu.Lock()
		room := p.info.Slots + p.info.Queue - p.inflight
		ok := p.state == StateUp && p.conn != nil && room > 0 && p.has(compiler, native)
		eta := p.eta(typical)
		p.mu.Unlock()
		if ok && (best == nil || eta < bestETA) {
			best, bestETA = p, eta
		}
	}
	if best == nil {
		return nil
	}
	best.mu.Lock()
	defer best.mu.Unlock()
	if best.info.Slots+best.info.Queue-best.inflight <= 0 {
		return nil // taken meanwhile
	}
	best.inflight++
	return best
}

// eta is when p would finish one more job, in milliseconds. p.mu is held.
func (p *peer) eta(typical float64) float64 {
	avg := p.avgMillis
	if avg == 0 {
		avg = typical
	}
	slots := max(p.info.Slots, 1)
	ahead := max(p.inflight-slots+1, 0) // jobs that would wait before this one
	return avg*(1+float64(ahead)/float64(slots)) + float64(p.rtt.Microseconds())/1000
}

// measured records a job that p finished in ms milliseconds.
func (p *peer) measured(ms int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.avgMillis == 0 {
		p.avgMillis = float64(ms)
	} else {
		p.avgMillis = 0.8*p.avgMillis + 0.2*float64(ms)
	}
	p.jobErrors = 0
}

// idleSlot reports whether p has a slot free right now.
func (p *peer) idleSlot() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == StateUp && p.conn != nil && p.info.Slots-p.inflight > 0
}

// release gives back a slot reserved by pick.
func (a *Agent) release(p *peer) {
	p.mu.Lock()
	p.inflight--
	p.mu.Unlock()
	a.notify()
}

// PeerStatus describes a peer for status and peers commands.
type PeerStatus struct {
	Name      string       `json:"name"`
	Addresses []string     `json:"addresses"`
	Source    string       `json:"source"`  // the most direct: config, mdns, gossip
	Sources   []string     `json:"sources"` // every source that named it
	Verified  bool         `json:"verified"`
	State     string       `json:"state"`
	Why       string       `json:"why,omitempty"`
	Slots     int          `json:"slots"`
	Running   int          `json:"running"`
	Inflight  int          `json:"inflight"`
	Load      float64      `json:"load"`
	RTTMillis float64      `json:"rtt_ms"`
	Compilers []string     `json:"compilers,omitempty"`
	Stats     PeerStats    `json:"stats"`
	Jobs      []RunningJob `json:"jobs,omitempty"`
	Served    int64        `json:"served"`
	Failed    int64        `json:"failed"`
	Refused   int64        `json:"refused"`
	AvgMillis float64      `json:"avg_ms"` // its compiles' moving average, as this node measured
}

func (a *Agent) peerStatus() []PeerStatus {
	a.mu.Lock()
	peers := make([]*peer, 0, len(a.peers))
	for _, p := range a.peers {
		peers = append(peers, p)
	}
	a.mu.Unlock()
	out := make([]PeerStatus, 0, len(peers))
	for _, p := range peers {
		p.mu.Lock()
		ps := PeerStatus{
			Name: p.member.Name, Addresses: []string{p.addr}, Source: mainSource(p.sources), Sources: slices.Clone(p.sources),
			Verified: p.state == StateUp && p.conn != nil, State: p.state, Why: p.why,
			Slots: p.info.Slots, Running: p.info.Running, Inflight: p.inflight, Load: p.info.Load,
			RTTMillis: float64(p.rtt.Microseconds()) / 1000, Stats: p.stats,
			Jobs: p.info.Jobs, Served: p.info.Served, Failed: p.info.Failed, Refused: p.info.Refused, AvgMillis: p.avgMillis,
		}
		for _, c := range p.info.Compilers {
			ps.Compilers = append(ps.Compilers, c.Path+" "+short(c.ID))
		}
		if ps.Name == "" {
			ps.Name = "?"
		}
		p.mu.Unlock()
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b PeerStatus) int {
		if a.Name != b.Name {
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		if a.Addresses[0] < b.Addresses[0] {
			return -1
		}
		return 1
	})
	return out
}
