// Package discovery finds the nodes of a mesh on the local network over
// multicast DNS and DNS-SD (RFC 6762, RFC 6763), and tells the others that
// this node is there.
//
// # What an advertisement is worth
//
// Nothing, until a handshake proves it. An mDNS answer is unauthenticated
// multicast: anyone on the link can send one, claiming any name, key or
// address. Discovery therefore produces candidates, never peers: for every
// address an advertisement names, it calls Agent.Suggest(addr, "mdns",
// key), and the agent dials the address over SSH, where the transport
// checks the host certificate against the mesh CA, and the agent checks
// that the certified key is the advertised one ("spoofed advertisement
// ignored" otherwise). The mesh id in the record only filters out other
// meshes' advertisements cheaply; a record that lies about it fails the
// handshake like any other. Identity comes from the certificate, as in
// syncthing's discovery: an address is a hint.
//
// When an advertisement is withdrawn (the mDNS goodbye of a node that
// stops, or the expiry of its records, 120 s after the last answer) the
// address is given back with Agent.Withdraw. A goodbye names an instance,
// not a key, so anyone can send one: after a goodbye discovery queries
// again, and a node that is still there answers and is suggested anew.
//
// # Service, names and TXT record
//
// Service type _distmesh._tcp, domain local. The instance name is the node
// name followed by the first 6 bytes of its key fingerprint in hex,
// "build1 (3fa2…)", so that nodes of the same name in two meshes do not
// collide; the SRV target is a host name of the node's own,
// distmesh-<same hex>.local, not the machine's (which belongs to the
// machine's own responder, Avahi, and may be shared by several nodes); the
// port is the SSH port. TXT strings, all short (the largest record, with 16
// compilers and a 63-character name, is about 430 bytes; one string is at
// most 255 bytes, a record at most 1300, 32 strings):
//
//	v=1                  format version; records of another version are ignored
//	mesh=SHA256:…        the mesh id: the CA key's fingerprint (ssh-keygen -l form)
//	name=build1          the node's name, its certificate's key ID
//	key=SHA256:…         the node's key fingerprint: the certificate there must certify it
//	slots=8              compiles it runs at once; 0 when it serves none
//	arch=amd64           GOARCH of the node
//	load=1.3             1-minute load average, one decimal
//	cc=0123456789ab,…    up to 16 compiler identities, 12 hex digits each (the
//	                     status exchange has them all, with paths and banners)
//
// v, mesh, name and key are required. Keys are case-insensitive, only the
// first occurrence of a key counts and unknown keys are ignored (RFC 6763,
// 6.4), so later versions may add some; order is not significant (Avahi
// lists the strings in reverse). A record that is malformed or too large
// is ignored and logged once (logs are rate-limited: one line per problem
// and instance, at most 32 lines per 10 minutes).
//
// The record is renewed when slots or compilers change or the load moves
// by 0.5 or more, at most every 10 s. The zeroconf library cannot change a
// published TXT record: a renewal starts a new responder and closes the old
// one without its goodbye (its interface list is emptied first), so that
// browsers see an update, not a departure.
//
// # Interfaces
//
// A node advertises, and browses, on the interfaces that carry the
// addresses it listens on: with a wildcard listener (the default :3633),
// every up, multicast-capable, non-loopback interface; with one address,
// the interface that has it, and only that address; with a loopback
// address, nowhere. Config `interfaces = [...]` limits this to the named
// interfaces. On each interface it advertises at most one IPv4, one global
// IPv6 and one link-local IPv6 address of that interface, so an answer
// sent on one link names addresses of that link. Interfaces are read again
// every 2 s; a change makes the library rejoin, announce and query anew (a
// laptop that moves keeps working). Browsing also queries again every 5
// minutes.
//
// A link-local IPv6 address needs a zone to be dialled, and the library
// does not say on which interface an answer arrived: such an address is
// used only when an advertisement has no IPv4 or global IPv6 address, and
// only when mDNS runs on a single IPv6 interface, whose name becomes the
// zone.
//
// # The library
//
// github.com/betamos/zeroconf v0.1.7, chosen over github.com/grandcat/zeroconf
// (master, v1.0.1-0.20230119201135-e4f60f8407b1) and its fork
// github.com/libp2p/zeroconf/v2 v2.2.0 for what the tests need:
//
//   - Goodbyes and expiry. grandcat's and libp2p's Browse drop a TTL-0
//     record without telling the caller (grandcat issue 122) and report an
//     instance only the first time it is seen, never its removal or a new
//     TXT record; betamos keeps a cache with TTLs and live-check queries
//     and reports added, updated and removed instances, a goodbye within
//     50 ms.
//   - Addresses per interface. grandcat's responder puts every address of
//     the machine in answers on every interface (issue 43); betamos answers
//     on each interface with that interface's addresses, which the
//     InterfaceAddrs option lets us choose.
//   - IPv6 zones (issue 51): none of the three attaches the zone of a
//     link-local answer; see Interfaces for what this package does.
//   - No blocking: grandcat and libp2p send entries on a channel the
//     caller must drain, and stall when it does not; betamos calls a
//     callback, and this package's does no more than bookkeeping and
//     non-blocking calls into the agent.
//   - Both sides on one design: the spoofing advertiser of the tests uses
//     the same library.
//
// It lacks TXT updates (worked around as described above), name conflict
// resolution (the instance names carry the key, so two nodes do not
// share one) and any bound on its cache (this package tracks at most 256
// advertisements and 8 addresses each, and ignores more, logging once).
//
// # What it does not guarantee
//
// That a node is found: multicast stays on its link, and some networks
// filter it; `peers = [...]` in config.toml and the peers learned from
// peers cover routed networks. That an advertisement is true: see above.
// That a node which vanished without a goodbye (a crash, a pulled cable)
// leaves the table before its records expire: the agent's status
// exchanges mark it down within seconds, and expiry removes it.
package discovery
