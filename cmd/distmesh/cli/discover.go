package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"

	"github.com/distmesh/distmesh/discovery"
	"github.com/distmesh/distmesh/jobs"
	"github.com/distmesh/distmesh/keys"
)

// discoveryParams is what discovery needs of the running node.
type discoveryParams struct {
	Config    Config
	Identity  *keys.Identity
	Authority *keys.Authority
	Bound     net.Addr // the address the SSH server is bound to
	Addrs     []string // the addresses it can be dialled at
	Agent     *jobs.Agent
	Node      *jobs.Node // nil on a client-only machine
	Log       *slog.Logger
}

// runDiscovery advertises this node and browses for others over
// mDNS/DNS-SD, handing what it finds to the agent (Agent.Suggest and
// Agent.Withdraw), until ctx is cancelled. An advertisement is only ever a
// hint: the agent dials the address and the transport checks the host
// certificate, and the key the advertisement names must be the one there.
func runDiscovery(ctx context.Context, p discoveryParams) error {
	d, err := discovery.New(discovery.Config{
		Bound:      p.Bound,
		Interfaces: p.Config.Interfaces,
		Mesh:       p.Authority.MeshID(),
		Self:       p.Identity.Fingerprint(),
		Record:     func() discovery.Record { return advertisement(p) },
		Agent:      p.Agent,
		Logger:     p.Log,
	})
	if err != nil {
		// Discovery is a convenience: a node without it still serves and
		// reaches its configured peers.
		p.Log.Warn("mdns discovery off", "error", err)
		<-ctx.Done()
		return nil
	}
	return d.Run(ctx)
}

// advertisement is what this node says about itself now.
func advertisement(p discoveryParams) discovery.Record {
	rec := discovery.Record{
		Mesh: p.Authority.MeshID(),
		Name: p.Identity.Name,
		Key:  p.Identity.Fingerprint(),
		Arch: runtime.GOARCH,
		Load: loadAverage(),
	}
	if n := p.Node; n != nil {
		rec.Slots = n.Slots()
		for _, c := range n.Compilers() {
			rec.Compilers = append(rec.Compilers, c.Short())
		}
	}
	return rec
}

// loadAverage is the 1-minute load average, 0 when unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscanf(string(b), "%f", &l)
	return l
}
