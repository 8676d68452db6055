package discovery

import (
	"net"
	"net/netip"
	"slices"
	"strings"
)

// hostIface is a network interface as the selection sees it: a snapshot, so
// that the selection is a pure function of it.
type hostIface struct {
	net.Interface
	Addrs []netip.Addr // unicast addresses, without zones
}

// link is an interface chosen for mDNS and the addresses advertised on it:
// at most one IPv4, one global IPv6 and one link-local IPv6 address.
type link struct {
	Iface net.Interface
	Addrs []netip.Addr
}

// listenScope describes what the SSH listener serves.
type listenScope struct {
	IP   netip.Addr // unspecified: every address of the families below
	V4   bool       // it serves IPv4
	V6   bool       // it serves IPv6
	Zone string     // of a link-local IP
}

// scopeOf turns the listener's bound address into a listenScope. A
// 0.0.0.0 listener serves IPv4 only; [::] serves both (Go listens
// dual-stack); a specific address serves itself.
func scopeOf(bound net.Addr) (listenScope, bool) {
	tcp, ok := bound.(*net.TCPAddr)
	if !ok {
		return listenScope{}, false
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return listenScope{}, false
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() {
		if ip.Is4() {
			return listenScope{IP: ip, V4: true}, true
		}
		return listenScope{IP: ip, V4: true, V6: true}, true
	}
	return listenScope{IP: ip, V4: ip.Is4(), V6: ip.Is6(), Zone: tcp.Zone}, true
}

// network is the zeroconf network for the scope: "udp4" for an IPv4-only
// listener, "udp6" for an IPv6 address, "udp" for both.
func (s listenScope) network() string {
	switch {
	case s.V4 && s.V6:
		return "udp"
	case s.V6:
		return "udp6"
	default:
		return "udp4"
	}
}

// loopbackOnly reports whether the listener can only be reached from this
// machine: such a node advertises nowhere.
func (s listenScope) loopbackOnly() bool { return s.IP.IsLoopback() }

// chooseLinks picks the interfaces to run mDNS on and the addresses to
// advertise on each. With names (config `interfaces`), only those
// interfaces, if they are up and multicast-capable; otherwise every up,
// multicast-capable, non-loopback interface. A listener bound to one
// address advertises that address on the interface that carries it, and
// nothing elsewhere.
func chooseLinks(scope listenScope, names []string, ifaces []hostIface) []link {
	if scope.loopbackOnly() {
		return nil
	}
	var out []link
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 {
			continue
		}
		if len(names) > 0 {
			if !slices.Contains(names, ifi.Name) {
				continue
			}
		} else if ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if scope.Zone != "" && scope.IP.Is6() && scope.IP.IsLinkLocalUnicast() && scope.Zone != ifi.Name {
			continue
		}
		var v4, v6, ll []netip.Addr
		for _, a := range ifi.Addrs {
			a = a.Unmap().WithZone("")
			if a.IsLoopback() || a.IsMulticast() || a.IsUnspecified() {
				continue
			}
			if !scope.IP.IsUnspecified() && a != scope.IP.WithZone("") {
				continue
			}
			switch {
			case a.Is4() && scope.V4:
				v4 = append(v4, a)
			case a.Is6() && scope.V6 && a.IsLinkLocalUnicast():
				ll = append(ll, a)
			case a.Is6() && scope.V6 && a.IsGlobalUnicast():
				v6 = append(v6, a)
			}
		}
		// One of each kind per interface: enough to reach the node, and
		// what the zeroconf library advertises at most.
		var addrs []netip.Addr
		for _, kind := range [][]netip.Addr{v4, v6, ll} {
			if len(kind) > 0 {
				addrs = append(addrs, kind[0])
			}
		}
		if len(addrs) > 0 {
			out = append(out, link{Iface: ifi.Interface, Addrs: addrs})
		}
	}
	return out
}

// linksEqual compares two selections by interface index, name, flags and
// addresses.
func linksEqual(a, b []link) bool {
	return slices.EqualFunc(a, b, func(x, y link) bool {
		return x.Iface.Index == y.Iface.Index && x.Iface.Name == y.Iface.Name &&
			x.Iface.Flags == y.Iface.Flags && slices.Equal(x.Addrs, y.Addrs)
	})
}

func describeLinks(links []link) string {
	var parts []string
	for _, l := range links {
		var as []string
		for _, a := range l.Addrs {
			as = append(as, a.String())
		}
		parts = append(parts, l.Iface.Name+"="+strings.Join(as, "+"))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// hostIfaces reads the machine's interfaces.
func hostIfaces() ([]hostIface, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]hostIface, 0, len(ifaces))
	for _, ifi := range ifaces {
		h := hostIface{Interface: ifi}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue // gone meanwhile
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
					h.Addrs = append(h.Addrs, ip.Unmap())
				}
			}
		}
		out = append(out, h)
	}
	return out, nil
}
