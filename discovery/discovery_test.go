package discovery

import (
	"crypto/sha256"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distmesh/distmesh/keys"
)

func fp(s string) keys.Fingerprint { return keys.Fingerprint(sha256.Sum256([]byte(s))) }

var (
	meshA = fp("mesh a")
	meshB = fp("mesh b")
	keyX  = fp("node x")
	keyY  = fp("node y")
	self  = fp("self")
)

func TestDiscoveryRecordRoundTrip(t *testing.T) {
	recs := []Record{
		{Mesh: meshA, Name: "alpha", Key: keyX, Slots: 8, Arch: "amd64", Load: 1.27, Compilers: []string{"0123456789ab", "ABCDEF012345"}},
		{Mesh: meshA, Name: "b", Key: keyY},
		{Mesh: meshA, Name: strings.Repeat("n", 63), Key: keyY, Slots: 1 << 16, Arch: "riscv64", Load: 1000,
			Compilers: slices.Repeat([]string{"0123456789abcdef0123"}, 40)},
	}
	for _, r := range recs {
		txt, err := r.TXT()
		if err != nil {
			t.Fatalf("TXT(%+v): %v", r, err)
		}
		total := 0
		for _, s := range txt {
			if len(s) > 255 {
				t.Errorf("%q: longer than 255 bytes", s)
			}
			total += 1 + len(s)
		}
		if total > 512 {
			t.Errorf("record of %d bytes: %q", total, txt)
		}
		got, err := ParseRecord(txt)
		if err != nil {
			t.Fatalf("ParseRecord(%q): %v", txt, err)
		}
		want := r
		want.Version = Version
		want.Load = float64(int(r.Load*10+0.5)) / 10
		want.Compilers = nil
		for _, c := range r.Compilers {
			if len(want.Compilers) < maxCompilers {
				want.Compilers = append(want.Compilers, strings.ToLower(c[:12]))
			}
		}
		if got.Name != want.Name || got.Mesh != want.Mesh || got.Key != want.Key || got.Slots != want.Slots ||
			got.Arch != want.Arch || got.Load != want.Load || got.Version != want.Version || !slices.Equal(got.Compilers, want.Compilers) {
			t.Errorf("round trip of %+v:\n got %+v\nwant %+v", r, got, want)
		}
	}
}

func TestDiscoveryRecordTXTRefuses(t *testing.T) {
	for _, r := range []Record{
		{Mesh: meshA, Name: "bad name", Key: keyX},
		{Mesh: meshA, Name: "", Key: keyX},
		{Name: "alpha", Key: keyX},
		{Mesh: meshA, Name: "alpha"},
	} {
		if txt, err := r.TXT(); err == nil {
			t.Errorf("TXT(%+v) = %q, want an error", r, txt)
		}
	}
}

func TestDiscoveryParseRecord(t *testing.T) {
	good, _ := Record{Mesh: meshA, Name: "alpha", Key: keyX, Slots: 4}.TXT()
	with := func(extra ...string) []string { return append(slices.Clone(good), extra...) }
	without := func(key string) []string {
		return slices.DeleteFunc(slices.Clone(good), func(s string) bool { return strings.HasPrefix(s, key+"=") })
	}
	replace := func(key, value string) []string {
		out := without(key)
		return append([]string{key + "=" + value}, out...)
	}
	tests := []struct {
		name string
		txt  []string
		ok   bool
		want string // in the error
	}{
		{"good", good, true, ""},
		{"unknown keys are ignored", with("future=1", "flag"), true, ""},
		{"keys are case-insensitive", append([]string{"NAME=beta"}, without("name")...), true, ""},
		{"first occurrence counts", with("name=mallory"), true, ""},
		{"empty", nil, false, "no v"},
		{"no mesh", without("mesh"), false, "no mesh"},
		{"no key", without("key"), false, "no key"},
		{"no name", without("name"), false, "no name"},
		{"other version", replace("v", "2"), false, "version 2"},
		{"bad version", replace("v", "x"), false, "v="},
		{"bad mesh", replace("mesh", "SHA256:short"), false, "mesh="},
		{"bad key", replace("key", "MD5:00"), false, "key="},
		{"bad name", replace("name", "../etc"), false, "name="},
		{"negative slots", replace("slots", "-1"), false, "slots="},
		{"huge slots", replace("slots", "99999999"), false, "slots="},
		{"bad load", replace("load", "NaN"), false, "load="},
		{"bad arch", replace("arch", "AMD 64"), false, "arch="},
		{"bad compiler", with("cc=xyz"), false, "cc="},
		{"too many compilers", with("cc=" + strings.TrimSuffix(strings.Repeat("0123456789ab,", 17), ",")), false, "cc="},
		{"too many strings", with(slices.Repeat([]string{"x=1"}, 40)...), false, "strings"},
		{"oversized string", with("x=" + strings.Repeat("a", 300)), false, "bytes"},
		{"oversized record", with(slices.Repeat([]string{"x=" + strings.Repeat("a", 200)}, 8)...), false, "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRecord(tt.txt)
			if tt.ok {
				if err != nil {
					t.Fatalf("ParseRecord: %v", err)
				}
				if r.Name != "alpha" && r.Name != "beta" {
					t.Errorf("name %q", r.Name)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseRecord = %v, want an ErrMalformed error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestDiscoveryNames(t *testing.T) {
	if got := InstanceName("alpha", keyX); !strings.HasPrefix(got, "alpha (") || len(got) > 63 {
		t.Errorf("InstanceName = %q", got)
	}
	long := InstanceName(strings.Repeat("n", 63), keyX)
	if len(long) != 63 || !strings.HasSuffix(long, ")") {
		t.Errorf("InstanceName of a long name = %q (%d bytes)", long, len(long))
	}
	if InstanceName("alpha", keyX) == InstanceName("alpha", keyY) {
		t.Errorf("two keys, one instance name")
	}
	if got := HostName(keyX); !strings.HasPrefix(got, "distmesh-") || !strings.HasSuffix(got, ".local") {
		t.Errorf("HostName = %q", got)
	}
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestDiscoveryChooseLinks(t *testing.T) {
	up := net.FlagUp | net.FlagMulticast | net.FlagBroadcast
	ifaces := []hostIface{
		{Interface: net.Interface{Index: 1, Name: "lo", Flags: net.FlagUp | net.FlagLoopback}, Addrs: addrs("127.0.0.1", "::1")},
		{Interface: net.Interface{Index: 2, Name: "eth0", Flags: up}, Addrs: addrs("192.0.2.10", "192.0.2.11", "2001:db8::10", "fe80::10")},
		{Interface: net.Interface{Index: 3, Name: "wlan0", Flags: up}, Addrs: addrs("198.51.100.7", "fe80::7")},
		{Interface: net.Interface{Index: 4, Name: "down0", Flags: net.FlagMulticast}, Addrs: addrs("203.0.113.1")},
		{Interface: net.Interface{Index: 5, Name: "tun0", Flags: net.FlagUp | net.FlagPointToPoint}, Addrs: addrs("10.8.0.2")},
		{Interface: net.Interface{Index: 6, Name: "lomc", Flags: up | net.FlagLoopback}, Addrs: addrs("127.0.0.2")},
	}
	tcp := func(s string) net.Addr {
		ap := netip.MustParseAddrPort(s)
		return &net.TCPAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port()), Zone: ap.Addr().Zone()}
	}
	tests := []struct {
		name  string
		bound net.Addr
		names []string
		want  string
	}{
		{"dual-stack wildcard", tcp("[::]:3633"), nil, "eth0=192.0.2.10+2001:db8::10+fe80::10 wlan0=198.51.100.7+fe80::7"},
		{"IPv4 wildcard", &net.TCPAddr{IP: net.IPv4zero, Port: 3633}, nil, "eth0=192.0.2.10 wlan0=198.51.100.7"},
		{"one address", tcp("198.51.100.7:3633"), nil, "wlan0=198.51.100.7"},
		{"a secondary address", tcp("192.0.2.11:3633"), nil, "eth0=192.0.2.11"},
		{"a global IPv6 address", tcp("[2001:db8::10]:3633"), nil, "eth0=2001:db8::10"},
		{"a link-local address with zone", tcp("[fe80::7%wlan0]:3633"), nil, "wlan0=fe80::7"},
		{"loopback only", tcp("127.0.0.1:3633"), nil, "none"},
		{"IPv6 loopback", tcp("[::1]:3633"), nil, "none"},
		{"an address on no interface", tcp("192.0.2.99:3633"), nil, "none"},
		{"configured interfaces", tcp("[::]:3633"), []string{"wlan0", "down0", "tun0", "nosuch"}, "wlan0=198.51.100.7+fe80::7"},
		{"a configured multicast loopback", tcp("[::]:3633"), []string{"lomc"}, "none"},
		{"configured, without the listen address", tcp("192.0.2.10:3633"), []string{"wlan0"}, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scope, ok := scopeOf(tt.bound)
			if !ok {
				t.Fatalf("scopeOf(%v) failed", tt.bound)
			}
			if got := describeLinks(chooseLinks(scope, tt.names, ifaces)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if s, _ := scopeOf(tcp("[::]:3633")); s.network() != "udp" {
		t.Errorf("network of [::] = %s", s.network())
	}
	if s, _ := scopeOf(&net.TCPAddr{IP: net.IPv4zero}); s.network() != "udp4" {
		t.Errorf("network of 0.0.0.0 = %s", s.network())
	}
	if _, ok := scopeOf(&net.UnixAddr{Name: "x"}); ok {
		t.Errorf("scopeOf a unix address succeeded")
	}
}

func TestDiscoveryTracker(t *testing.T) {
	txt := func(mesh, key keys.Fingerprint, name string) []string {
		s, err := Record{Mesh: mesh, Name: name, Key: key}.TXT()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	zone := ""
	tr := newTracker(meshA, self, func() string { return zone })
	show := func(acts []action) string {
		var s []string
		for _, a := range acts {
			if a.Lost {
				s = append(s, "-"+a.Addr)
			} else {
				s = append(s, "+"+a.Addr+"@"+a.Name)
			}
		}
		return strings.Join(s, " ")
	}
	steps := []struct {
		name    string
		remove  bool
		inst    string
		txt     []string
		ips     []string
		port    uint16
		want    string
		problem string
	}{
		{"a node", false, "x", txt(meshA, keyX, "x"), []string{"192.0.2.1"}, 3633, "+192.0.2.1:3633@x", ""},
		{"the same again", false, "x", txt(meshA, keyX, "x"), []string{"192.0.2.1"}, 3633, "", ""},
		{"a second address", false, "x", txt(meshA, keyX, "x"), []string{"192.0.2.1", "2001:db8::1"}, 3633, "+[2001:db8::1]:3633@x", ""},
		{"an address goes", false, "x", txt(meshA, keyX, "x"), []string{"2001:db8::1"}, 3633, "-192.0.2.1:3633", ""},
		{"another mesh", false, "z", txt(meshB, keyY, "z"), []string{"192.0.2.9"}, 3633, "", "another mesh"},
		{"ourselves", false, "me", txt(meshA, self, "me"), []string{"192.0.2.5"}, 3633, "", ""},
		{"malformed", false, "m", []string{"v=1", "name=m"}, []string{"192.0.2.6"}, 3633, "", "malformed"},
		{"useless addresses", false, "u", txt(meshA, keyY, "u"), []string{"127.0.0.1", "224.0.0.251", "0.0.0.0", "::1"}, 3633, "", "no usable address"},
		{"no port", false, "p", txt(meshA, keyY, "p"), []string{"192.0.2.7"}, 0, "", "no usable address"},
		{"link-local without a known zone", false, "l", txt(meshA, keyY, "l"), []string{"fe80::1"}, 3633, "", "no usable address"},
		{"a spoofer names x's address", false, "s", txt(meshA, keyY, "y"), []string{"2001:db8::1"}, 3633, "+[2001:db8::1]:3633@y", ""},
		{"the spoofer leaves: x still names it", true, "s", nil, nil, 0, "", ""},
		{"x turns malformed", false, "x", []string{"v=1"}, []string{"2001:db8::1"}, 3633, "-[2001:db8::1]:3633", "malformed"},
		{"x back", false, "x", txt(meshA, keyX, "x"), []string{"192.0.2.1"}, 3633, "+192.0.2.1:3633@x", ""},
		{"x moves to another mesh", false, "x", txt(meshB, keyX, "x"), []string{"192.0.2.1"}, 3633, "-192.0.2.1:3633", "another mesh"},
		{"an unknown goodbye", true, "nobody", nil, nil, 0, "", ""},
	}
	for _, st := range steps {
		var acts []action
		var prob *problem
		if st.remove {
			acts = tr.remove(st.inst)
		} else {
			acts, prob = tr.update(st.inst, st.txt, addrs(st.ips...), st.port)
		}
		if got := show(acts); got != st.want {
			t.Errorf("%s: got %q, want %q", st.name, got, st.want)
		}
		switch {
		case st.problem == "" && prob != nil:
			t.Errorf("%s: problem %v", st.name, prob.Err)
		case st.problem != "" && (prob == nil || !strings.Contains(prob.Err.Error(), st.problem)):
			t.Errorf("%s: problem %v, want one about %q", st.name, prob, st.problem)
		}
	}
	if len(tr.instances) != 0 || len(tr.refs) != 0 {
		t.Errorf("left over: %v %v", tr.instances, tr.refs)
	}

	// Link-local addresses: with the zone when it is known, and only when
	// the advertisement has nothing better.
	zone = "eth0"
	acts, _ := tr.update("l", txt(meshA, keyY, "l"), addrs("fe80::1"), 3633)
	if got := show(acts); got != "+[fe80::1%eth0]:3633@l" {
		t.Errorf("link-local with a zone: %q", got)
	}
	acts, _ = tr.update("l", txt(meshA, keyY, "l"), addrs("fe80::1", "192.0.2.3"), 3633)
	if got := show(acts); got != "-[fe80::1%eth0]:3633 +192.0.2.3:3633@l" {
		t.Errorf("link-local next to IPv4: %q", got)
	}
	if got := show(tr.current()); got != "+192.0.2.3:3633@l" {
		t.Errorf("current: %q", got)
	}
	tr.remove("l")

	// A flood: new names beyond the limit are refused, known ones are not.
	var refused int
	for i := range maxInstances + 50 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
		_, prob := tr.update("flood"+string(rune('a'+i%26))+strings.Repeat("x", i/26), txt(meshA, keyY, "f"), []netip.Addr{ip}, 3633)
		if prob != nil && errors.Is(prob.Err, errFlood) {
			refused++
		}
	}
	if refused != 50 || len(tr.instances) != maxInstances {
		t.Errorf("flood: %d refused, %d kept", refused, len(tr.instances))
	}
	// Too many addresses in one advertisement: the first few are taken.
	var many []netip.Addr
	for i := range 100 {
		many = append(many, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}))
	}
	acts, _ = tr.update("flooda", txt(meshA, keyY, "f"), many, 3633)
	if len(tr.instances["flooda"].addrs) != maxAddrsPerRecord {
		t.Errorf("%d addresses kept from one advertisement (%d actions)", len(tr.instances["flooda"].addrs), len(acts))
	}
}

func TestDiscoveryDiffers(t *testing.T) {
	base := Record{Name: "a", Slots: 4, Arch: "amd64", Compilers: []string{"0123456789ab"}, Load: 1}
	tests := []struct {
		name string
		b    func(r Record) Record
		want bool
	}{
		{"same", func(r Record) Record { return r }, false},
		{"small load change", func(r Record) Record { r.Load = 1.4; return r }, false},
		{"load change", func(r Record) Record { r.Load = 1.5; return r }, true},
		{"load drop", func(r Record) Record { r.Load = 0.2; return r }, true},
		{"slots", func(r Record) Record { r.Slots = 8; return r }, true},
		{"compilers", func(r Record) Record { r.Compilers = nil; return r }, true},
	}
	for _, tt := range tests {
		if got := differs(base, tt.b(base), 0.5); got != tt.want {
			t.Errorf("%s: differs = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDiscoveryLogLimiter(t *testing.T) {
	l := newLogLimiter(time.Hour)
	if !l.allow("a") || l.allow("a") || !l.allow("b") {
		t.Errorf("want one line per key")
	}
	n := 0
	for i := range 1000 {
		if l.allow(strings.Repeat("k", i+1)) {
			n++
		}
	}
	if n != limiterCap-2 {
		t.Errorf("%d lines let through in a flood, want %d", n, limiterCap-2)
	}
	l.start = l.start.Add(-2 * time.Hour)
	if !l.allow("a") {
		t.Errorf("a new period lets a key through again")
	}
}

func TestDiscoveryNew(t *testing.T) {
	ok := Config{Bound: &net.TCPAddr{IP: net.IPv6unspecified, Port: 3633}, Mesh: meshA, Self: self, Agent: nopAgent{}}
	if _, err := New(ok); err != nil {
		t.Errorf("New: %v", err)
	}
	for name, c := range map[string]Config{
		"no agent": {Bound: ok.Bound, Mesh: meshA, Self: self},
		"no mesh":  {Bound: ok.Bound, Self: self, Agent: nopAgent{}},
		"no key":   {Bound: ok.Bound, Mesh: meshA, Agent: nopAgent{}},
		"unix":     {Bound: &net.UnixAddr{Name: "x"}, Mesh: meshA, Self: self, Agent: nopAgent{}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New with %s succeeded", name)
		}
	}
}

type nopAgent struct{}

func (nopAgent) Suggest(addr, source string, want keys.Fingerprint) {}
func (nopAgent) Withdraw(addr, source string)                       {}
