package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/betamos/zeroconf"

	"github.com/distmesh/distmesh/keys"
)

// Source is the source name discovery gives the agent.
const Source = "mdns"

// Agent is what discovery hands its findings to; jobs.Agent has these
// methods. Neither may block.
type Agent interface {
	// Suggest offers an address where an advertisement says the node with
	// key want listens. It is a hint: the agent verifies who answers there.
	Suggest(addr, source string, want keys.Fingerprint)
	// Withdraw says that no advertisement names addr any more.
	Withdraw(addr, source string)
}

// Config configures discovery.
type Config struct {
	// Bound is the address the node's SSH server is bound to: it decides
	// the interfaces and addresses advertised, and the port.
	Bound net.Addr
	// Interfaces, when set, limits mDNS to these interfaces.
	Interfaces []string
	// Mesh is this mesh's id: advertisements for other meshes are ignored.
	Mesh keys.Fingerprint
	// Self is this node's key: its own advertisement is ignored.
	Self keys.Fingerprint
	// Record returns what to advertise now; it is called every few seconds
	// and the advertisement is renewed when it changed (slots, compilers,
	// a load that moved by LoadStep or more), at most every Refresh. Nil:
	// browse only.
	Record func() Record
	// Agent receives the candidates.
	Agent Agent
	// Logger; nil discards.
	Logger *slog.Logger

	// For tests; zero values mean the defaults.
	Refresh  time.Duration // least time between two advertisements (10 s)
	Recheck  time.Duration // how often interfaces and the record are re-read (2 s)
	LoadStep float64       // load change that renews the advertisement (0.5)
}

// Discovery advertises a node and browses for others. Build it with New,
// run it with Run.
type Discovery struct {
	cfg    Config
	log    *slog.Logger
	libLog *slog.Logger
	scope  listenScope
	port   uint16
	typ    zeroconf.Type
	limit  *logLimiter

	browser     atomic.Pointer[zeroconf.Client] // for the callback's re-query
	lastRequery atomic.Int64                    // unix nanoseconds

	// mu protects the following.
	mu      sync.Mutex
	links   []link
	checked bool // links has been read once
	track   *tracker
	lost    map[string]time.Time // addresses withdrawn recently, withdrawn again once
}

// New checks cfg and returns a Discovery.
func New(cfg Config) (*Discovery, error) {
	if cfg.Agent == nil {
		return nil, errors.New("discovery: no agent")
	}
	if cfg.Mesh.IsZero() || cfg.Self.IsZero() {
		return nil, errors.New("discovery: mesh id and own key are required")
	}
	scope, ok := scopeOf(cfg.Bound)
	if !ok {
		return nil, fmt.Errorf("discovery: cannot advertise listener address %v", cfg.Bound)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 10 * time.Second
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = 2 * time.Second
	}
	if cfg.LoadStep <= 0 {
		cfg.LoadStep = 0.5
	}
	d := &Discovery{
		cfg:    cfg,
		log:    cfg.Logger,
		libLog: slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn}),
		scope:  scope,
		port:   uint16(cfg.Bound.(*net.TCPAddr).Port),
		typ:    zeroconf.NewType(ServiceType),
		limit:  newLogLimiter(10 * time.Minute),
		lost:   map[string]time.Time{},
	}
	d.track = newTracker(cfg.Mesh, cfg.Self, d.zone)
	return d, nil
}

// Run advertises and browses until ctx is cancelled; it then sends the
// mDNS goodbye, so that browsers drop this node at once, and returns nil.
// A listener bound to loopback advertises nowhere and browses nowhere.
func (d *Discovery) Run(ctx context.Context) error {
	if d.scope.loopbackOnly() {
		d.log.Info("mdns off: the node listens on loopback only", "listen", d.cfg.Bound.String())
		<-ctx.Done()
		return nil
	}
	var (
		pub     *publisher
		browser *zeroconf.Client
		adv     Record // what pub advertises
		advAt   time.Time
		lastRe  = time.Now()
		lastQ   = time.Now()
	)
	defer func() {
		d.browser.Store(nil)
		if browser != nil {
			browser.Close()
		}
		if pub != nil {
			pub.close(true) // the goodbye
			d.log.Info("mdns goodbye sent")
		}
	}()
	tick := time.NewTicker(d.cfg.Recheck)
	defer tick.Stop()
	for {
		if d.recheckLinks() {
			// Other interfaces or addresses: the library reads them again,
			// announces and queries anew.
			if browser != nil {
				browser.Reload()
			}
			if pub != nil {
				pub.client.Reload()
			}
		}
		d.mu.Lock()
		have := len(d.links) > 0
		d.mu.Unlock()
		if have && browser == nil {
			var err error
			if browser, err = d.openBrowser(); err != nil {
				if d.limit.allow("browse") {
					d.log.Warn("mdns: cannot browse", "error", err)
				}
				browser = nil
			}
			d.browser.Store(browser)
		}
		if have && d.cfg.Record != nil {
			rec := d.cfg.Record()
			now := time.Now()
			if pub == nil {
				if pub = d.openPublisher(rec); pub != nil {
					adv, advAt = rec, now
				}
			} else if differs(adv, rec, d.cfg.LoadStep) && now.Sub(advAt) >= d.cfg.Refresh {
				if np := d.replacePublisher(pub, rec); np != nil {
					pub, adv, advAt = np, rec, now
				}
			}
		}
		if time.Since(lastRe) >= 30*time.Second {
			// The agent may have dropped a suggestion in a burst: repeat
			// them (it ignores the ones it has), and the recent withdrawals.
			lastRe = time.Now()
			d.repeat()
		}
		if browser != nil && time.Since(lastQ) >= 5*time.Minute {
			// Query again now and then: the library's queries back off to
			// an hour, and a network that healed should not wait that long.
			lastQ = time.Now()
			browser.Reload()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// recheckLinks reads the interfaces again and reports whether the
// selection changed.
func (d *Discovery) recheckLinks() bool {
	ifaces, err := hostIfaces()
	if err != nil {
		if d.limit.allow("ifaces") {
			d.log.Warn("mdns: cannot list network interfaces", "error", err)
		}
		return false
	}
	links := chooseLinks(d.scope, d.cfg.Interfaces, ifaces)
	d.mu.Lock()
	same := linksEqual(d.links, links) && d.checked
	d.links, d.checked = links, true
	d.mu.Unlock()
	if same {
		return false
	}
	if len(links) == 0 {
		d.log.Info("mdns: no interface to advertise on", "listen", d.cfg.Bound.String(), "interfaces", d.cfg.Interfaces)
	} else {
		d.log.Info("mdns: advertising and browsing", "links", describeLinks(links))
	}
	for _, name := range d.cfg.Interfaces {
		if !slices.ContainsFunc(links, func(l link) bool { return l.Iface.Name == name }) && d.limit.allow("iface "+name) {
			d.log.Warn("mdns: configured interface is not usable (missing, down, not multicast-capable, or without the listen address)", "interface", name)
		}
	}
	return true
}

// ifacesFn and addrsFn feed the current selection to the zeroconf
// library, which calls them when it opens and on Reload.
func (d *Discovery) ifacesFn() ([]net.Interface, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]net.Interface, len(d.links))
	for i, l := range d.links {
		out[i] = l.Iface
	}
	return out, nil
}

func (d *Discovery) addrsFn(ifi *net.Interface) ([]net.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.links {
		if l.Iface.Index == ifi.Index {
			var out []net.Addr
			for _, a := range l.Addrs {
				out = append(out, &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())})
			}
			return out, nil
		}
	}
	return nil, nil
}

// zone is the interface a link-local IPv6 address from an advertisement
// is reached on: known only when mDNS runs on a single IPv6 interface (the
// library does not say on which interface an answer came).
func (d *Discovery) zone() string {
	// Called with d.mu held (from the browse callback).
	name := ""
	for _, l := range d.links {
		if slices.ContainsFunc(l.Addrs, netip.Addr.Is6) {
			if name != "" {
				return ""
			}
			name = l.Iface.Name
		}
	}
	return name
}

func (d *Discovery) openBrowser() (*zeroconf.Client, error) {
	open := func(network string) (*zeroconf.Client, error) {
		return zeroconf.New().
			Browse(d.browsed, d.typ).
			Network(network).
			Interfaces(d.ifacesFn).
			InterfaceAddrs(d.addrsFn).
			Logger(d.libLog).
			Open()
	}
	c, err := open(d.scope.network())
	if err != nil && d.scope.network() == "udp" {
		// IPv6 may be disabled on this machine.
		c, err = open("udp4")
	}
	return c, err
}

// browsed is the browse callback: it runs in the library's loop and must
// not block.
func (d *Discovery) browsed(e zeroconf.Event) {
	d.mu.Lock()
	var acts []action
	var prob *problem
	if e.Op == zeroconf.OpRemoved {
		acts = d.track.remove(e.Name)
	} else {
		acts, prob = d.track.update(e.Name, e.Text, e.Addrs, e.Port)
	}
	now := time.Now()
	for _, a := range acts {
		if a.Lost {
			d.lost[a.Addr] = now
		} else {
			delete(d.lost, a.Addr)
		}
	}
	d.mu.Unlock()
	if prob != nil && d.limit.allow(prob.Key) {
		level := slog.LevelWarn
		if errors.Is(prob.Err, errOtherMesh) {
			level = slog.LevelInfo
		}
		d.log.Log(context.Background(), level, "mdns: ignoring advertisement (logged once)", "instance", prob.Instance, "error", prob.Err)
	}
	d.apply(acts, e.Op == zeroconf.OpRemoved)
	if e.Op == zeroconf.OpRemoved {
		d.requery()
	}
}

// requery asks the network again a second after an advertisement went
// away. A goodbye names an instance, not a key, and anyone can send one: a
// node that is still there answers the query and is found again. The
// second lets every browser on the link process the goodbye first: the
// library merges all records of an instance, and an answer that arrived
// with the goodbye would keep the departed records alive until they expire.
func (d *Discovery) requery() {
	now := time.Now().UnixNano()
	last := d.lastRequery.Load()
	if now-last < int64(time.Second) || !d.lastRequery.CompareAndSwap(last, now) {
		return
	}
	time.AfterFunc(time.Second, func() {
		if b := d.browser.Load(); b != nil {
			b.Reload() // a no-op on a closed client
		}
	})
}

func (d *Discovery) apply(acts []action, removed bool) {
	for _, a := range acts {
		if a.Lost {
			why := "changed"
			if removed {
				why = "goodbye or expiry"
			}
			d.log.Info("mdns: advertisement gone", "peer", a.Addr, "name", a.Name, "why", why)
			d.cfg.Agent.Withdraw(a.Addr, Source)
		} else {
			d.log.Info("mdns: candidate", "peer", a.Addr, "name", a.Name, "key", a.Want)
			d.cfg.Agent.Suggest(a.Addr, Source, a.Want)
		}
	}
}

// repeat gives the agent the current suggestions again, and withdrawals
// of the last minute.
func (d *Discovery) repeat() {
	d.mu.Lock()
	acts := d.track.current()
	for addr, at := range d.lost {
		if time.Since(at) > time.Minute {
			delete(d.lost, addr)
			continue
		}
		acts = append(acts, action{Lost: true, Addr: addr})
	}
	d.mu.Unlock()
	for _, a := range acts {
		if a.Lost {
			d.cfg.Agent.Withdraw(a.Addr, Source)
		} else {
			d.cfg.Agent.Suggest(a.Addr, Source, a.Want)
		}
	}
}

// differs reports whether an advertisement of b is worth sending after
// one of a.
func differs(a, b Record, loadStep float64) bool {
	if a.Name != b.Name || a.Slots != b.Slots || a.Arch != b.Arch || !slices.Equal(a.Compilers, b.Compilers) {
		return true
	}
	return math.Abs(a.Load-b.Load) >= loadStep
}

// publisher is one advertisement. The zeroconf library cannot change a
// published TXT record, so a new record means a new publisher; the old one
// is closed without its goodbye (a goodbye would make every browser drop
// the node and the new announcement add it again).
type publisher struct {
	client *zeroconf.Client
	log    *slog.Logger
	silent atomic.Bool   // the interface list is empty from now on
	quiet  chan struct{} // closed once the library read the empty list
	once   sync.Once
}

func (d *Discovery) openPublisher(rec Record) *publisher {
	txt, err := rec.TXT()
	if err != nil {
		if d.limit.allow("txt") {
			d.log.Error("mdns: cannot advertise this node", "error", err)
		}
		return nil
	}
	p := &publisher{quiet: make(chan struct{}), log: d.log}
	svc := zeroconf.NewService(d.typ, InstanceName(rec.Name, rec.Key), d.port)
	svc.Hostname = HostName(rec.Key)
	svc.Text = txt
	ifaces := func() ([]net.Interface, error) {
		if p.silent.Load() {
			p.once.Do(func() { close(p.quiet) })
			return nil, nil
		}
		return d.ifacesFn()
	}
	open := func(network string) (*zeroconf.Client, error) {
		return zeroconf.New().
			Publish(svc).
			Network(network).
			Interfaces(ifaces).
			InterfaceAddrs(d.addrsFn).
			Logger(d.libLog).
			Open()
	}
	c, err := open(d.scope.network())
	if err != nil && d.scope.network() == "udp" {
		c, err = open("udp4")
	}
	if err != nil {
		if d.limit.allow("publish") {
			d.log.Warn("mdns: cannot advertise this node", "error", err)
		}
		return nil
	}
	p.client = c
	d.log.Debug("mdns: advertising", "instance", svc.Name, "txt", txt)
	return p
}

// replacePublisher advertises rec in place of old's record: the new
// publisher first, then the old one closes silently. When the new one
// cannot start, the old one goes on and nil is returned.
func (d *Discovery) replacePublisher(old *publisher, rec Record) *publisher {
	p := d.openPublisher(rec)
	if p != nil {
		old.close(false)
	}
	return p
}

// close stops the publisher; with goodbye, browsers are told the node left.
func (p *publisher) close(goodbye bool) {
	if !goodbye {
		p.silent.Store(true)
		p.client.Reload()
		select {
		case <-p.quiet:
		case <-time.After(time.Second):
			// The library's loop did not get to it: a goodbye and a new
			// announcement follow, which browsers survive.
			p.log.Debug("mdns: the replaced advertisement was not silenced in time")
		}
	}
	p.client.Close()
}

// minLevel drops records below a level: the zeroconf library logs every
// packet at debug level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}

// logLimiter lets a message through once per key and period, and at most
// limiterCap messages per period in all, so that a flood of bad
// advertisements makes a few log lines, not one per packet.
type logLimiter struct {
	period time.Duration
	mu     sync.Mutex
	last   map[string]time.Time
	start  time.Time // of the current period
	count  int       // messages let through in it
}

const limiterCap = 32

func newLogLimiter(period time.Duration) *logLimiter {
	return &logLimiter{period: period, last: map[string]time.Time{}}
}

func (l *logLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.start) >= l.period {
		l.start, l.count = now, 0
		clear(l.last)
	}
	if _, ok := l.last[key]; ok || l.count >= limiterCap {
		return false
	}
	l.last[key] = now
	l.count++
	return true
}
