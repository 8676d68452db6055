package cli

import (
	"context"
	"log/slog"
	"net"

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
// Agent.Withdraw), until ctx is cancelled.
func runDiscovery(ctx context.Context, p discoveryParams) error {
	<-ctx.Done()
	return nil
}
