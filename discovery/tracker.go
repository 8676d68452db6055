package discovery

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/distmesh/distmesh/keys"
)

// Limits on what browsing keeps, against floods.
const (
	maxInstances      = 256 // advertisements tracked at once
	maxAddrsPerRecord = 8   // addresses taken from one advertisement
)

// action is what the tracker asks of the agent: suggest an address (with
// the key advertised there) or withdraw it.
type action struct {
	Lost bool
	Addr string // host:port
	Want keys.Fingerprint
	Name string // the advertised node name, for the log
}

// problem is something wrong with an advertisement, for the rate-limited
// log: Key identifies it (one line per key), Err says what.
type problem struct {
	Key      string
	Instance string
	Err      error
}

var (
	errOtherMesh = errors.New("advertisement for another mesh")
	errFlood     = errors.New("too many advertisements: ignoring new ones until some expire")
	errNoAddr    = errors.New("advertisement with no usable address")
)

// tracker turns browse events into suggestions and withdrawals. It keeps,
// per advertised instance, the addresses it suggested, and counts how many
// instances name each address, so that an address is withdrawn only when
// no advertisement names it any more. It is not safe for concurrent use.
type tracker struct {
	mesh keys.Fingerprint // ours: other meshes' advertisements are ignored
	self keys.Fingerprint // our key: our own advertisement is ignored
	// zone names the interface to reach a link-local IPv6 address on; ""
	// when it cannot tell.
	zone func() string

	instances map[string]tracked
	refs      map[string]int // address -> instances naming it
}

type tracked struct {
	rec   Record
	addrs []string
}

func newTracker(mesh, self keys.Fingerprint, zone func() string) *tracker {
	if zone == nil {
		zone = func() string { return "" }
	}
	return &tracker{mesh: mesh, self: self, zone: zone, instances: map[string]tracked{}, refs: map[string]int{}}
}

// update handles an advertisement that was added or changed.
func (t *tracker) update(instance string, txt []string, ips []netip.Addr, port uint16) ([]action, *problem) {
	rec, err := ParseRecord(txt)
	switch {
	case err != nil:
		return t.remove(instance), &problem{Key: "malformed " + instance, Instance: instance, Err: err}
	case rec.Mesh != t.mesh:
		return t.remove(instance), &problem{Key: "mesh " + rec.Mesh.String(), Instance: instance,
			Err: fmt.Errorf("%w (%s, node %q)", errOtherMesh, rec.Mesh, rec.Name)}
	case rec.Key == t.self:
		return t.remove(instance), nil // ourselves
	}
	old, known := t.instances[instance]
	if !known && len(t.instances) >= maxInstances {
		return nil, &problem{Key: "flood", Instance: instance, Err: errFlood}
	}
	addrs := t.dialAddrs(ips, port)
	if len(addrs) == 0 {
		return t.remove(instance), &problem{Key: "noaddr " + instance, Instance: instance, Err: errNoAddr}
	}
	var acts []action
	for _, a := range old.addrs {
		if !slices.Contains(addrs, a) {
			acts = append(acts, t.unref(a, old.rec.Name)...)
		}
	}
	for _, a := range addrs {
		if !slices.Contains(old.addrs, a) || old.rec.Key != rec.Key {
			if !slices.Contains(old.addrs, a) {
				t.refs[a]++
			}
			acts = append(acts, action{Addr: a, Want: rec.Key, Name: rec.Name})
		}
	}
	t.instances[instance] = tracked{rec: rec, addrs: addrs}
	return acts, nil
}

// remove handles an advertisement that said goodbye or expired.
func (t *tracker) remove(instance string) []action {
	old, ok := t.instances[instance]
	if !ok {
		return nil
	}
	delete(t.instances, instance)
	var acts []action
	for _, a := range old.addrs {
		acts = append(acts, t.unref(a, old.rec.Name)...)
	}
	return acts
}

func (t *tracker) unref(addr, name string) []action {
	t.refs[addr]--
	if t.refs[addr] > 0 {
		return nil
	}
	delete(t.refs, addr)
	return []action{{Lost: true, Addr: addr, Name: name}}
}

// current repeats the suggestions for every tracked advertisement.
func (t *tracker) current() []action {
	var acts []action
	for _, in := range t.instances {
		for _, a := range in.addrs {
			acts = append(acts, action{Addr: a, Want: in.rec.Key, Name: in.rec.Name})
		}
	}
	slices.SortFunc(acts, func(a, b action) int {
		if a.Addr < b.Addr {
			return -1
		} else if a.Addr > b.Addr {
			return 1
		}
		return 0
	})
	return acts
}

// dialAddrs turns advertised addresses into addresses to dial: IPv4 and
// global IPv6 ones as they are; a link-local IPv6 address only when there
// is nothing else, and only with the zone of the one interface it can be
// on. Loopback, multicast and unspecified addresses are never dialled: no
// remote node is there.
func (t *tracker) dialAddrs(ips []netip.Addr, port uint16) []string {
	if port == 0 {
		return nil
	}
	var out, ll []string
	seen := map[netip.Addr]bool{}
	for _, ip := range ips {
		ip = ip.Unmap()
		if seen[ip] || len(out)+len(ll) >= maxAddrsPerRecord {
			continue
		}
		seen[ip] = true
		switch {
		case ip.IsLoopback() || ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast():
		case ip.Is6() && ip.IsLinkLocalUnicast():
			if zone := t.zone(); zone != "" {
				ll = append(ll, netip.AddrPortFrom(ip.WithZone(zone), port).String())
			}
		default:
			out = append(out, netip.AddrPortFrom(ip.WithZone(""), port).String())
		}
	}
	if len(out) == 0 {
		out = ll
	}
	slices.Sort(out)
	return out
}
