package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/betamos/zeroconf"

	"github.com/distmesh/distmesh/discovery"
	"github.com/distmesh/distmesh/keys"
)

// The discovery tests run real nodes in network namespaces joined by veth
// pairs to bridges in a "hub" namespace, which also routes between two
// subnets (198.18.0.0/15 is the range set aside for network tests):
//
//	br1 198.18.1.0/24: alpha .1, beta .2, gamma .3, delta .4, zulu .5, mallory .6
//	br2 198.18.2.0/24: echo .1
//
// Multicast stays on its bridge; unicast is routed by the hub.

// spoofEnv turns this test binary into an mDNS advertiser that lies: the
// spoofer of TestDiscoveryMesh, built on the same zeroconf library as the
// nodes.
const spoofEnv = "DISTMESH_TEST_MDNS_SPOOF"

type spoofSpec struct {
	Adverts []spoofAdvert `json:"adverts"`
	Junk    string        `json:"junk,omitempty"` // a TCP address to answer on with junk
}

type spoofAdvert struct {
	Instance string   `json:"instance"`
	Host     string   `json:"host"`
	Addrs    []string `json:"addrs"`
	Port     uint16   `json:"port"`
	TXT      []string `json:"txt"`
}

// advertiseEnv turns this test binary into a discovery.Discovery whose
// record changes every second, renewed at most every second: what a node
// does when its load changes, faster.
const advertiseEnv = "DISTMESH_TEST_MDNS_ADVERTISE"

type advertiseSpec struct {
	Mesh keys.Fingerprint `json:"mesh"`
	Key  keys.Fingerprint `json:"key"`
	Name string           `json:"name"`
}

func init() {
	if spec := os.Getenv(spoofEnv); spec != "" {
		os.Exit(runSpoofer(spec))
	}
	if spec := os.Getenv(advertiseEnv); spec != "" {
		os.Exit(runAdvertiser(spec))
	}
}

type nopAgent struct{}

func (nopAgent) Suggest(addr, source string, want keys.Fingerprint) {}
func (nopAgent) Withdraw(addr, source string)                       {}

func runAdvertiser(spec string) int {
	var s advertiseSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, "advertiser:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	start := time.Now()
	d, err := discovery.New(discovery.Config{
		Bound: &net.TCPAddr{IP: net.IPv4zero, Port: 3633},
		Mesh:  s.Mesh,
		Self:  s.Key,
		Record: func() discovery.Record {
			return discovery.Record{Mesh: s.Mesh, Name: s.Name, Key: s.Key, Slots: 1, Load: float64(int(time.Since(start).Seconds()))}
		},
		Agent:    nopAgent{},
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Refresh:  time.Second,
		Recheck:  200 * time.Millisecond,
		LoadStep: 1,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "advertiser:", err)
		return 2
	}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "advertiser:", err)
		return 1
	}
	return 0
}

func runSpoofer(spec string) int {
	var s spoofSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, "spoofer:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if s.Junk != "" {
		ln, err := net.Listen("tcp", s.Junk)
		if err != nil {
			fmt.Fprintln(os.Stderr, "spoofer:", err)
			return 2
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\nnot ssh\r\n"))
				c.Close()
			}
		}()
	}
	var clients []*zeroconf.Client
	for _, a := range s.Adverts {
		svc := zeroconf.NewService(zeroconf.NewType(discovery.ServiceType), a.Instance, a.Port)
		svc.Hostname = a.Host
		svc.Text = a.TXT
		for _, ip := range a.Addrs {
			svc.Addrs = append(svc.Addrs, netip.MustParseAddr(ip))
		}
		c, err := zeroconf.New().Publish(svc).Network("udp4").Logger(slog.New(slog.DiscardHandler)).Open()
		if err != nil {
			fmt.Fprintln(os.Stderr, "spoofer:", err)
			return 2
		}
		clients = append(clients, c)
	}
	fmt.Println("spoofing")
	<-ctx.Done()
	for _, c := range clients {
		c.Close()
	}
	return 0
}

// needNetns skips the test unless network namespaces can be made here.
func needNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the discovery tests create network namespaces: run them as root (CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed: the discovery tests need `ip netns`")
	}
	probe := fmt.Sprintf("dmt%dprobe", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("`ip netns add` fails here (%v: %s): the discovery tests need network namespaces", err, bytes.TrimSpace(out))
	}
	exec.Command("ip", "netns", "del", probe).Run()
}

// labProc is a process the lab started, in its own process group.
type labProc struct {
	name string
	cmd  *exec.Cmd
	log  *procLog
	done chan struct{}
}

func (p *labProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop signals the process group and waits; after timeout it kills it.
func (p *labProc) stop(sig syscall.Signal, timeout time.Duration) (time.Duration, bool) {
	start := time.Now()
	if p.exited() {
		return 0, true
	}
	syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
		return time.Since(start), true
	case <-time.After(timeout):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return time.Since(start), false
	}
}

type labHost struct {
	name, ns, ip, home string
}

func (h *labHost) addr() string { return h.ip + ":3633" }

// netLab is a set of network namespaces and the processes in them; all of
// it is removed when the test ends, whatever happened.
type netLab struct {
	t      *testing.T
	prefix string
	dir    string
	bin    string
	hub    string
	made   []string
	hosts  map[string]*labHost
	procs  []*labProc
}

var labSeq atomic.Int32

func newNetLab(t *testing.T) *netLab {
	t.Helper()
	needNetns(t)
	bin, err := distmeshBin()
	if err != nil {
		t.Fatal(err)
	}
	sweepStaleLabs(t)
	l := &netLab{
		t:      t,
		prefix: fmt.Sprintf("dmt%d%c-", os.Getpid(), 'a'+labSeq.Add(1)-1),
		dir:    t.TempDir(),
		bin:    bin,
		hosts:  map[string]*labHost{},
	}
	t.Cleanup(l.close)
	l.hub = l.addNS("hub")
	for i := 1; i <= 2; i++ {
		br := fmt.Sprintf("br%d", i)
		l.ip("-n", l.hub, "link", "add", br, "type", "bridge", "mcast_snooping", "0")
		l.ip("-n", l.hub, "addr", "add", fmt.Sprintf("198.18.%d.254/24", i), "dev", br)
		l.ip("-n", l.hub, "link", "set", br, "up")
	}
	// The hub routes between the subnets (procps' sysctl may be missing).
	l.run("ip", "netns", "exec", l.hub, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	return l
}

// sweepStaleLabs removes namespaces left by a test binary that died
// without its cleanup (a timeout panic).
func sweepStaleLabs(t *testing.T) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	re := regexp.MustCompile(`^dmt(\d+)[a-z]-\S+`)
	for _, line := range strings.Split(string(out), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			killNS(m[0])
			exec.Command("ip", "netns", "del", m[0]).Run()
			t.Logf("removed namespace %s left by an earlier run", m[0])
		}
	}
}

// killNS kills every process in a namespace and reports what it found.
func killNS(ns string) []string {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var found []string
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		args, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		found = append(found, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(args, []byte{0}, []byte{' '})))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return found
}

func (l *netLab) close() {
	for i := len(l.procs) - 1; i >= 0; i-- {
		p := l.procs[i]
		if _, ok := p.stop(syscall.SIGTERM, 15*time.Second); !ok {
			l.t.Errorf("%s did not exit within 15s of SIGTERM", p.name)
		}
	}
	if l.t.Failed() {
		l.dumpLogs()
	}
	for i := len(l.made) - 1; i >= 0; i-- {
		ns := l.made[i]
		if left := killNS(ns); len(left) > 0 {
			l.t.Errorf("left running in %s: %s", ns, strings.Join(left, "; "))
		}
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			l.t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
	// Nothing of this test may outlive it: what ps would list, read from
	// /proc (procps may not be installed).
	for _, line := range processes() {
		if strings.Contains(line, l.dir) || strings.Contains(line, l.prefix) {
			l.t.Errorf("still running after the test: %s", line)
		}
	}
}

// processes lists the live processes as "PID ARGS", zombies left out.
func processes() []string {
	dirs, _ := os.ReadDir("/proc")
	var out []string
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		args, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("%d %s", pid, bytes.TrimSpace(bytes.ReplaceAll(args, []byte{0}, []byte{' '}))))
	}
	return out
}

func (l *netLab) dumpLogs() {
	for _, p := range l.procs {
		l.t.Logf("--- log of %s ---\n%s", p.name, p.log.String())
	}
}

// run runs a command and returns its stdout, failing the test on error.
func (l *netLab) run(args ...string) string {
	l.t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		l.t.Fatalf("%s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func (l *netLab) ip(args ...string) { l.t.Helper(); l.run(append([]string{"ip"}, args...)...) }

func (l *netLab) addNS(name string) string {
	l.t.Helper()
	ns := l.prefix + name
	l.ip("netns", "add", ns)
	l.made = append(l.made, ns)
	l.ip("-n", ns, "link", "set", "lo", "up")
	return ns
}

// addHost makes a namespace with eth0 on bridge br (1 or 2) at
// 198.18.br.n, routed through the hub, and a home directory for a node.
func (l *netLab) addHost(name string, br, n int) *labHost {
	l.t.Helper()
	h := &labHost{name: name, ns: l.addNS(name), ip: fmt.Sprintf("198.18.%d.%d", br, n), home: filepath.Join(l.dir, name)}
	veth := "v" + name
	l.ip("-n", l.hub, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
	l.ip("-n", l.hub, "link", "set", veth, "master", fmt.Sprintf("br%d", br), "up")
	l.ip("-n", h.ns, "addr", "add", h.ip+"/24", "dev", "eth0")
	l.ip("-n", h.ns, "link", "set", "eth0", "up")
	l.ip("-n", h.ns, "route", "add", "default", "via", fmt.Sprintf("198.18.%d.254", br))
	l.hosts[name] = h
	return h
}

// spawn starts a process in its own process group, logging to a buffer.
func (l *netLab) spawn(name string, env []string, args ...string) *labProc {
	l.t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	p := &labProc{name: name, cmd: cmd, log: &procLog{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.Env = append(os.Environ(), env...)
	// Pdeathsig: a test that panics runs no cleanup; its processes die
	// with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	l.procs = append(l.procs, p)
	return p
}

// startNode runs `distmesh join` in h's namespace, listening on
// 0.0.0.0:3633, and waits until it serves.
func (l *netLab) startNode(h *labHost, extra ...string) *labProc {
	l.t.Helper()
	args := append([]string{"ip", "netns", "exec", h.ns, l.bin, "join", "--home", h.home, "--listen", "0.0.0.0:3633"}, extra...)
	p := l.spawn(h.name, []string{"DISTMESH_LOG=debug"}, args...)
	l.waitFor("node "+h.name+" to start", 60*time.Second, func() (bool, string) {
		if p.exited() {
			l.t.Fatalf("node %s exited:\n%s", h.name, p.log.String())
		}
		var st struct{ PID int }
		b, err := os.ReadFile(filepath.Join(h.home, "node.json"))
		if err != nil || json.Unmarshal(b, &st) != nil || st.PID != p.cmd.Process.Pid {
			return false, "no node.json"
		}
		_, err = os.Stat(filepath.Join(h.home, "agent.sock"))
		return err == nil, "no agent socket"
	})
	return p
}

// waitFor polls cond every 100 ms until it holds, failing the test after
// timeout with cond's last word on what it is waiting for.
func (l *netLab) waitFor(what string, timeout time.Duration, cond func() (bool, string)) time.Duration {
	l.t.Helper()
	start := time.Now()
	for {
		ok, detail := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			l.t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type labPeer struct {
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
	Source    string   `json:"source"`
	Sources   []string `json:"sources"`
	Verified  bool     `json:"verified"`
	State     string   `json:"state"`
	Why       string   `json:"why"`
}

// peers is `distmesh peers --json` of h's node, run in h's namespace.
func (l *netLab) peers(h *labHost) []labPeer {
	l.t.Helper()
	var ps []labPeer
	out := l.run("ip", "netns", "exec", h.ns, l.bin, "peers", "--json", "--home", h.home)
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		l.t.Fatalf("peers --json of %s: %v\n%s", h.name, err, out)
	}
	return ps
}

func labFindPeer(ps []labPeer, addr string) (labPeer, bool) {
	for _, p := range ps {
		for _, a := range p.Addresses {
			if a == addr {
				return p, true
			}
		}
	}
	return labPeer{}, false
}

func labVerified(ps []labPeer) map[string]bool {
	names := map[string]bool{}
	for _, p := range ps {
		if p.Verified {
			names[p.Name] = true
		}
	}
	return names
}

func labDescribe(ps []labPeer) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s@%s(%s,%s,verified=%v)", p.Name, strings.Join(p.Addresses, ","), p.Source, p.State, p.Verified))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// labEditConfig removes the keys drop from h's config.toml and appends add.
func labEditConfig(t *testing.T, h *labHost, drop []string, add ...string) {
	t.Helper()
	path := filepath.Join(h.home, "config.toml")
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		key, _, _ := strings.Cut(line, "=")
		if line == "" || slices.Contains(drop, strings.TrimSpace(key)) {
			continue
		}
		lines = append(lines, line)
	}
	lines = append(lines, add...)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

type labIdent struct {
	name string
	key  keys.Fingerprint
	mesh keys.Fingerprint
}

func labIdentity(t *testing.T, h *labHost) labIdent {
	t.Helper()
	st := keys.Store{Dir: h.home}
	id, err := st.LoadIdentity()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := st.LoadAuthority()
	if err != nil {
		t.Fatal(err)
	}
	return labIdent{name: id.Name, key: id.Fingerprint(), mesh: auth.MeshID()}
}

// logHasLine reports whether some line of log contains every one of parts.
func logHasLine(log string, parts ...string) bool {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		ok := true
		for _, p := range parts {
			if !strings.Contains(sc.Text(), p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// logTime is the time of the first log line containing every one of
// parts.
func logTime(log string, parts ...string) (time.Time, bool) {
	for _, line := range strings.Split(log, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ts, found := strings.CutPrefix(line, "time="); ok && found {
			ts, _, _ = strings.Cut(ts, " ")
			if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// enroll enrolls each host with a token from the issuer's node (running in
// its namespace): `join TOKEN` in the host's namespace, which enrolls and
// starts the node; the node is stopped once it runs.
func (l *netLab) enroll(issuer *labHost, hosts ...*labHost) {
	l.t.Helper()
	var procs []*labProc
	for _, h := range hosts {
		token := strings.TrimSpace(l.run(l.bin, "keys", "add", "--home", issuer.home, "--name", h.name))
		procs = append(procs, l.startNode(h, token))
	}
	for _, p := range procs {
		if _, ok := p.stop(syscall.SIGTERM, 15*time.Second); !ok {
			l.t.Fatalf("%s did not stop after enrolling", p.name)
		}
	}
}

// TestDiscoveryMesh: nodes on one link find each other over mDNS with no
// peer configuration, ignore another mesh and spoofed advertisements, see
// a killed node go down and a stopped one leave, and a node on another
// subnet finds them all through one static address.
func TestDiscoveryMesh(t *testing.T) {
	l := newNetLab(t)
	alpha, beta, gamma := l.addHost("alpha", 1, 1), l.addHost("beta", 1, 2), l.addHost("gamma", 1, 3)
	delta, zulu, mallory := l.addHost("delta", 1, 4), l.addHost("zulu", 1, 5), l.addHost("mallory", 1, 6)
	echo := l.addHost("echo", 2, 1)

	// Enrollment, over the namespaces' addresses (echo's through the hub).
	setup := time.Now()
	l.run(l.bin, "init", "--home", alpha.home, "--name", "alpha")
	issuer := l.startNode(alpha)
	l.enroll(alpha, beta, gamma, delta, echo)
	issuer.stop(syscall.SIGTERM, 15*time.Second)
	l.run(l.bin, "init", "--home", zulu.home, "--name", "zulu") // another mesh
	// No static peers: what join wrote goes, so that only discovery can
	// bring the nodes together. delta does not advertise; echo, on the
	// other subnet, knows only alpha's address.
	for _, h := range []*labHost{beta, gamma} {
		labEditConfig(t, h, []string{"peers", "issuer"})
	}
	labEditConfig(t, delta, []string{"peers", "issuer"}, "discovery = false")
	labEditConfig(t, echo, []string{"peers", "issuer"}, fmt.Sprintf("peers = [%q]", alpha.addr()))
	t.Logf("namespaces made and 5 nodes enrolled in %v", time.Since(setup).Round(time.Millisecond))

	ids := map[string]labIdent{}
	for _, h := range []*labHost{alpha, beta, gamma, delta, zulu, echo} {
		ids[h.name] = labIdentity(t, h)
	}
	trio := []*labHost{alpha, beta, gamma}
	procs := map[string]*labProc{}
	for _, h := range trio {
		procs[h.name] = l.startNode(h)
	}

	t.Run("find each other", func(t *testing.T) {
		// Gossip may introduce two nodes before their own discovery does:
		// wait until each has also found each other over mDNS.
		took := l.waitFor("alpha, beta and gamma to find each other over mDNS and verify each other", 45*time.Second, func() (bool, string) {
			for _, h := range trio {
				ps := l.peers(h)
				for _, o := range trio {
					if o == h {
						continue
					}
					if p, ok := labFindPeer(ps, o.addr()); !ok || !p.Verified || p.Source != "mdns" {
						return false, fmt.Sprintf("%s sees %s", h.name, labDescribe(ps))
					}
					if !logHasLine(procs[h.name].log.String(), `msg="mdns: candidate"`, "peer="+o.addr(), "name="+o.name) {
						return false, fmt.Sprintf("%s's discovery has not offered %s at %s", h.name, o.name, o.addr())
					}
				}
			}
			return true, ""
		})
		t.Logf("three nodes found and verified each other %v after the last one started", took.Round(time.Millisecond))
		for _, h := range trio {
			ps := l.peers(h)
			for _, o := range trio {
				if o == h {
					continue
				}
				// Each node's own discovery found each other node (whoever
				// dialled first), and the mDNS address is in its table.
				if !logHasLine(procs[h.name].log.String(), `msg="mdns: candidate"`, "peer="+o.addr(), "name="+o.name) {
					t.Errorf("%s's discovery never offered %s at %s", h.name, o.name, o.addr())
				}
				p, ok := labFindPeer(ps, o.addr())
				switch {
				case !ok || !p.Verified || p.Name != o.name:
					t.Errorf("%s: %s at %s is not verified: %s", h.name, o.name, o.addr(), labDescribe(ps))
				case p.Source != "mdns":
					t.Errorf("%s knows %s from %s (sources %v), want mdns", h.name, o.name, p.Source, p.Sources)
				}
			}
		}
		mdns := 0
		for _, h := range trio {
			for _, p := range l.peers(h) {
				if p.Source == "mdns" && p.Verified {
					mdns++
				}
			}
		}
		if mdns == 0 {
			t.Errorf("no verified peer with source mdns")
		}
	})

	t.Run("another mesh is ignored", func(t *testing.T) {
		procs["zulu"] = l.startNode(zulu)
		l.waitFor("the trio to see zulu's advertisement and ignore it", 30*time.Second, func() (bool, string) {
			for _, h := range trio {
				if !logHasLine(procs[h.name].log.String(), "advertisement for another mesh", ids["zulu"].mesh.String()) {
					return false, h.name + " has not logged it"
				}
			}
			return true, ""
		})
		for _, h := range trio {
			ps := l.peers(h)
			if _, ok := labFindPeer(ps, zulu.addr()); ok || labVerified(ps)["zulu"] {
				t.Errorf("%s took zulu (another mesh) as a peer: %s", h.name, labDescribe(ps))
			}
			if n := strings.Count(procs[h.name].log.String(), "advertisement for another mesh"); n != 1 {
				t.Errorf("%s logged zulu's advertisement %d times, want once", h.name, n)
			}
		}
		if procs["zulu"].exited() {
			t.Fatalf("zulu exited:\n%s", procs["zulu"].log.String())
		}
		if ps := l.peers(zulu); len(labVerified(ps)) > 0 {
			t.Errorf("zulu verified peers of another mesh: %s", labDescribe(ps))
		}
	})

	t.Run("spoofed advertisements are rejected", func(t *testing.T) {
		procs["delta"] = l.startNode(delta) // a member that does not advertise
		txt := func(id labIdent, mesh keys.Fingerprint) []string {
			s, err := discovery.Record{Mesh: mesh, Name: id.name, Key: id.key, Slots: 64, Arch: "amd64"}.TXT()
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		mesh := ids["alpha"].mesh
		junk := mallory.ip + ":2222"
		spec := spoofSpec{
			Junk: "0.0.0.0:2222",
			Adverts: []spoofAdvert{
				// alpha's very instance, name and key, at delta's SSH server.
				{Instance: discovery.InstanceName("alpha", ids["alpha"].key), Host: discovery.HostName(ids["alpha"].key),
					Addrs: []string{delta.ip}, Port: 3633, TXT: txt(ids["alpha"], mesh)},
				// beta's name and key at a port that does not speak SSH.
				{Instance: "beta (spoof)", Host: "mallory-beta.local", Addrs: []string{mallory.ip}, Port: 2222, TXT: txt(ids["beta"], mesh)},
				// Our mesh id on another mesh's node (its real key and server).
				{Instance: "zulu (spoof)", Host: "mallory-zulu.local", Addrs: []string{zulu.ip}, Port: 3633, TXT: txt(ids["zulu"], mesh)},
			},
		}
		b, _ := json.Marshal(spec)
		spoofer := l.spawn("mallory", []string{spoofEnv + "=" + string(b)}, "ip", "netns", "exec", mallory.ns, os.Args[0])
		// What each spoofed address's failure must say, and who is to see
		// it: a node ignores advertisements of its own key.
		bad := []struct {
			addr, why string
			by        []*labHost
		}{
			{delta.addr(), "advertised key " + ids["alpha"].key.String(), []*labHost{beta, gamma}},
			{junk, "ssh handshake", []*labHost{alpha, gamma}},
			{zulu.addr(), "not a member of this mesh", trio},
		}
		l.waitFor("the trio to try every spoofed address and refuse it", 45*time.Second, func() (bool, string) {
			if spoofer.exited() {
				t.Fatalf("spoofer exited:\n%s", spoofer.log.String())
			}
			for _, h := range trio {
				ps := l.peers(h)
				for _, b := range bad {
					p, ok := labFindPeer(ps, b.addr)
					if ok && p.Verified {
						t.Fatalf("%s verified a spoofed advertisement at %s: %s", h.name, b.addr, labDescribe(ps))
					}
					if slices.Contains(b.by, h) && (!ok || !strings.Contains(p.Why, b.why)) {
						return false, fmt.Sprintf("%s: %s", h.name, labDescribe(ps))
					}
				}
				if o := trio[0]; h != o && !labVerified(ps)[o.name] {
					return false, fmt.Sprintf("%s lost %s: %s", h.name, o.name, labDescribe(ps))
				}
			}
			return true, ""
		})
		for _, h := range []*labHost{beta, gamma} {
			if !logHasLine(procs[h.name].log.String(), "spoofed advertisement ignored", "peer="+delta.addr(), ids["delta"].name) {
				t.Errorf("%s did not log the spoofed advertisement at %s", h.name, delta.addr())
			}
			if p, _ := labFindPeer(l.peers(h), alpha.addr()); !p.Verified || p.Name != "alpha" {
				t.Errorf("%s: the real alpha at %s is not verified", h.name, alpha.addr())
			}
		}
		// The spoofer leaves with goodbyes, one of them for alpha's
		// instance: the spoofed addresses go, and alpha, which is still
		// there, answers the query that follows and stays.
		spoofer.stop(syscall.SIGTERM, 10*time.Second)
		l.waitFor("the spoofed addresses to be withdrawn and alpha verified", 30*time.Second, func() (bool, string) {
			for _, h := range trio {
				ps := l.peers(h)
				for _, b := range bad {
					p, ok := labFindPeer(ps, b.addr)
					if ok && p.Verified {
						t.Fatalf("%s verified a spoofed advertisement at %s: %s", h.name, b.addr, labDescribe(ps))
					}
					// The zeroconf library keeps the records of an instance
					// together: the address that came with alpha's stolen
					// instance may outlive the goodbye until its TTL runs out
					// if alpha answered at the same moment.
					if ok && b.addr != delta.addr() {
						return false, fmt.Sprintf("%s: %s", h.name, labDescribe(ps))
					}
				}
				if p, _ := labFindPeer(ps, alpha.addr()); h != alpha && !p.Verified {
					return false, fmt.Sprintf("%s: %s", h.name, labDescribe(ps))
				}
			}
			return true, ""
		})
		for _, h := range trio {
			if p, ok := labFindPeer(l.peers(h), delta.addr()); ok {
				t.Logf("%s still lists the stolen instance's address %s (%s): it expires with its records", h.name, delta.addr(), p.State)
			}
		}
	})

	t.Run("static address across subnets", func(t *testing.T) {
		procs["echo"] = l.startNode(echo)
		took := l.waitFor("echo to verify alpha, beta and gamma", 45*time.Second, func() (bool, string) {
			ps := l.peers(echo)
			names := labVerified(ps)
			return names["alpha"] && names["beta"] && names["gamma"], labDescribe(ps)
		})
		t.Logf("echo, on 198.18.2.0/24 with one static address, verified the trio in %v", took.Round(time.Millisecond))
		for _, p := range l.peers(echo) {
			if p.Source == "mdns" {
				t.Errorf("echo found %s over mDNS across the router", p.Name)
			}
			if p.Name == "beta" || p.Name == "gamma" {
				if p.Source != "gossip" {
					t.Errorf("echo knows %s from %s, want gossip", p.Name, p.Source)
				}
			}
		}
		l.waitFor("alpha, beta and gamma to verify echo", 30*time.Second, func() (bool, string) {
			for _, h := range trio {
				if ps := l.peers(h); !labVerified(ps)["echo"] {
					return false, fmt.Sprintf("%s: %s", h.name, labDescribe(ps))
				}
			}
			return true, ""
		})
	})

	t.Run("killed node is marked down", func(t *testing.T) {
		start := time.Now()
		procs["gamma"].stop(syscall.SIGKILL, 10*time.Second)
		for _, h := range []*labHost{alpha, beta, echo} {
			l.waitFor(h.name+" to mark gamma down", 30*time.Second, func() (bool, string) {
				ps := l.peers(h)
				return !labVerified(ps)["gamma"], labDescribe(ps)
			})
			t.Logf("SIGKILL: %s marked gamma down %v after the kill", h.name, time.Since(start).Round(time.Millisecond))
		}
	})

	t.Run("frozen node is marked down", func(t *testing.T) {
		// A node that stops answering without closing its connections
		// (frozen, or its machine gone) is found out by the status
		// exchange's timeout: 2 s between exchanges, 4 s to answer.
		pid := procs["echo"].cmd.Process.Pid
		start := time.Now()
		syscall.Kill(pid, syscall.SIGSTOP)
		defer syscall.Kill(pid, syscall.SIGCONT)
		down := false
		for time.Since(start) < 20*time.Second && !down {
			down = !labVerified(l.peers(alpha))["echo"]
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(start)
		syscall.Kill(pid, syscall.SIGCONT)
		if !down {
			t.Fatalf("a frozen peer is still up after %v", took.Round(time.Millisecond))
		}
		t.Logf("SIGSTOP: alpha marked echo down %v after it froze", took.Round(time.Millisecond))
		l.waitFor("alpha to see echo up again", 60*time.Second, func() (bool, string) {
			ps := l.peers(alpha)
			return labVerified(ps)["echo"], labDescribe(ps)
		})
	})

	t.Run("stopped node says goodbye", func(t *testing.T) {
		took, ok := procs["beta"].stop(syscall.SIGTERM, 15*time.Second)
		if !ok {
			t.Fatalf("beta did not exit within 15s of SIGTERM")
		}
		if !strings.Contains(procs["beta"].log.String(), "mdns goodbye sent") {
			t.Errorf("beta did not send its goodbye:\n%s", procs["beta"].log.String())
		}
		gone := l.waitFor("alpha to drop beta", 10*time.Second, func() (bool, string) {
			ps := l.peers(alpha)
			_, listed := labFindPeer(ps, beta.addr())
			named := false
			for _, p := range ps {
				named = named || p.Name == "beta"
			}
			return !listed && !named, labDescribe(ps)
		})
		if !logHasLine(procs["alpha"].log.String(), "mdns: advertisement gone", "peer="+beta.addr(), `why="goodbye or expiry"`) {
			t.Errorf("alpha did not drop beta on its goodbye")
		}
		t.Logf("SIGTERM: beta exited in %v; alpha dropped it %v after the signal", took.Round(time.Millisecond), (took + gone).Round(time.Millisecond))
		sent, okS := logTime(procs["beta"].log.String(), "mdns goodbye sent")
		seen, okR := logTime(procs["alpha"].log.String(), "mdns: advertisement gone", "peer="+beta.addr())
		if okS && okR {
			t.Logf("goodbye: sent by beta at %s, processed by alpha %v later", sent.Format("15:04:05.000"), seen.Sub(sent).Round(time.Millisecond))
		}
	})
}

// TestDiscoveryAvahi: Avahi, the stock mDNS daemon of Linux desktops and
// servers, sees a node's advertisement as the discovery package documents
// it, and its goodbye.
func TestDiscoveryAvahi(t *testing.T) {
	for _, tool := range []string{"avahi-daemon", "avahi-browse", "dbus-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: the interop test needs Debian's avahi-daemon, avahi-utils and dbus", tool)
		}
	}
	l := newNetLab(t)
	alpha, hotel, obs := l.addHost("alpha", 1, 1), l.addHost("hotel", 1, 8), l.addHost("obs", 1, 9)

	// Avahi in obs, on a D-Bus system bus of its own.
	dir := filepath.Join(l.dir, "avahi")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bus := filepath.Join(dir, "bus")
	busConf := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=` + bus + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`
	avahiConf := "[server]\nuse-ipv4=yes\nuse-ipv6=yes\nallow-interfaces=eth0\nenable-dbus=yes\n" +
		"[wide-area]\nenable-wide-area=no\n[publish]\ndisable-publishing=yes\n"
	for name, content := range map[string]string{"bus.conf": busConf, "avahi-daemon.conf": avahiConf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	busEnv := "DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + bus
	l.spawn("dbus-daemon", nil, "ip", "netns", "exec", obs.ns, "dbus-daemon", "--config-file="+filepath.Join(dir, "bus.conf"), "--nofork", "--nopidfile")
	l.waitFor("the D-Bus socket", 10*time.Second, func() (bool, string) {
		_, err := os.Stat(bus)
		return err == nil, bus
	})
	// `ip netns exec` gives the command a mount namespace of its own: a
	// tmpfs on /run there keeps Avahi's pid file and socket away from the
	// machine's own Avahi.
	avahi := l.spawn("avahi-daemon", []string{busEnv}, "ip", "netns", "exec", obs.ns, "sh", "-c",
		`mount -t tmpfs tmpfs /run && mkdir /run/avahi-daemon && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$0"`,
		filepath.Join(dir, "avahi-daemon.conf"))
	l.waitFor("avahi-daemon to start", 15*time.Second, func() (bool, string) {
		if avahi.exited() {
			t.Fatalf("avahi-daemon exited:\n%s", avahi.log.String())
		}
		return strings.Contains(avahi.log.String(), "Server startup complete"), avahi.log.String()
	})

	l.run(l.bin, "init", "--home", alpha.home, "--name", "alpha")
	id := labIdentity(t, alpha)
	node := l.startNode(alpha)

	browse := func() []avahiService {
		cmd := exec.Command("ip", "netns", "exec", obs.ns, "avahi-browse", "-rpt", discovery.ServiceType)
		cmd.Env = append(os.Environ(), busEnv)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("avahi-browse: %v\n%s", err, out)
		}
		return parseAvahiBrowse(string(out))
	}
	var got avahiService
	l.waitFor("avahi-browse to resolve alpha", 30*time.Second, func() (bool, string) {
		for _, s := range browse() {
			if s.Resolved && s.Proto == "IPv4" && s.Name == discovery.InstanceName("alpha", id.key) {
				got = s
				return true, ""
			}
		}
		return false, "not yet"
	})
	if got.Host != discovery.HostName(id.key) || got.Address != alpha.ip || got.Port != "3633" {
		t.Errorf("avahi resolved %s at %s (%s) port %s; want %s at %s port 3633", got.Name, got.Host, got.Address, got.Port, discovery.HostName(id.key), alpha.ip)
	}
	rec, err := discovery.ParseRecord(got.TXT)
	if err != nil {
		t.Fatalf("avahi's TXT %q does not parse: %v", got.TXT, err)
	}
	if rec.Name != "alpha" || rec.Key != id.key || rec.Mesh != id.mesh || rec.Version != discovery.Version || rec.Arch == "" {
		t.Errorf("avahi's TXT %q decodes to %+v", got.TXT, rec)
	}
	for _, s := range got.TXT {
		if len(s) > 255 {
			t.Errorf("TXT string of %d bytes: %q", len(s), s)
		}
	}
	t.Logf("avahi-browse -rpt: %s", got.Line)

	// A record that changes is advertised anew, without a goodbye: Avahi
	// sees the new load, and alpha never sees hotel leave.
	hotelKey := keys.Fingerprint(sha256.Sum256([]byte("hotel")))
	spec, _ := json.Marshal(advertiseSpec{Mesh: id.mesh, Key: hotelKey, Name: "hotel"})
	hotelProc := l.spawn("hotel", []string{advertiseEnv + "=" + string(spec)}, "ip", "netns", "exec", hotel.ns, os.Args[0])
	loads := map[float64]bool{}
	l.waitFor("avahi to see hotel's load change three times", 30*time.Second, func() (bool, string) {
		if hotelProc.exited() {
			t.Fatalf("advertiser exited:\n%s", hotelProc.log.String())
		}
		for _, s := range browse() {
			if s.Resolved && s.Proto == "IPv4" && s.Name == discovery.InstanceName("hotel", hotelKey) {
				if rec, err := discovery.ParseRecord(s.TXT); err == nil {
					loads[rec.Load] = true
				}
			}
		}
		return len(loads) >= 3, fmt.Sprintf("loads seen: %v", loads)
	})
	alphaLog := node.log.String()
	if n := strings.Count(alphaLog, "name=hotel"); !logHasLine(alphaLog, `msg="mdns: candidate"`, "peer="+hotel.addr(), "name=hotel") || logHasLine(alphaLog, "advertisement gone", "name=hotel") {
		t.Errorf("alpha saw hotel come and go while it renewed its record (%d lines):\n%s", n, alphaLog)
	}
	hotelProc.stop(syscall.SIGTERM, 10*time.Second)
	t.Logf("hotel advertised %d records; avahi saw loads %v", strings.Count(hotelProc.log.String(), `msg="mdns: advertising"`), loads)
	if strings.Contains(hotelProc.log.String(), "not silenced") {
		t.Errorf("a replaced advertisement said goodbye:\n%s", hotelProc.log.String())
	}
	l.waitFor("alpha to see hotel's goodbye", 10*time.Second, func() (bool, string) {
		return logHasLine(node.log.String(), "advertisement gone", "name=hotel", "goodbye"), "not yet"
	})

	// The goodbye reaches Avahi too.
	node.stop(syscall.SIGTERM, 15*time.Second)
	l.waitFor("avahi-browse to forget alpha", 15*time.Second, func() (bool, string) {
		for _, s := range browse() {
			if s.Name == discovery.InstanceName("alpha", id.key) {
				return false, s.Line
			}
		}
		return true, ""
	})
}

type avahiService struct {
	Resolved bool
	Iface    string
	Proto    string
	Name     string
	Host     string
	Address  string
	Port     string
	TXT      []string
	Line     string
}

// parseAvahiBrowse reads avahi-browse -p output: "+;iface;proto;name;type;
// domain" for a service seen, "=;…;host;address;port;txt" once resolved,
// with names escaped as \DDD and TXT strings quoted.
func parseAvahiBrowse(out string) []avahiService {
	var ss []avahiService
	for _, line := range strings.Split(out, "\n") {
		f := strings.SplitN(line, ";", 10)
		if len(f) < 6 || (f[0] != "+" && f[0] != "=") {
			continue
		}
		s := avahiService{Resolved: f[0] == "=", Iface: f[1], Proto: f[2], Name: unescapeAvahi(f[3]), Line: line}
		if s.Resolved && len(f) == 10 {
			s.Host, s.Address, s.Port = f[6], f[7], f[8]
			for _, m := range regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(f[9], -1) {
				s.TXT = append(s.TXT, m[1])
			}
		}
		ss = append(ss, s)
	}
	return ss
}

func unescapeAvahi(s string) string {
	return regexp.MustCompile(`\\(\d{3}|.)`).ReplaceAllStringFunc(s, func(m string) string {
		if len(m) == 4 {
			n, _ := strconv.Atoi(m[1:])
			return string(rune(n))
		}
		return m[1:]
	})
}
