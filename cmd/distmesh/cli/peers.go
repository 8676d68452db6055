package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/distmesh/distmesh/jobs"
)

func runPeers(ctx context.Context, e *env, args []string) error {
	fs := e.flags("peers", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "peers [--json]"); err != nil {
		return err
	}
	var st jobs.Status
	if err := agentRequest(e.home, "status", &st); err != nil {
		return err
	}
	if *asJSON {
		if st.Peers == nil {
			st.Peers = []jobs.PeerStatus{}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st.Peers)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tADDRESSES\tVERIFIED\tSTATE\tSLOTS\tLOAD\tRTT\tCOMPILERS\tWHY")
	for _, p := range st.Peers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%d/%d\t%.2f\t%.1fms\t%d\t%s\n", p.Name, p.Source, strings.Join(p.Addresses, ","),
			p.Verified, p.State, p.Running, p.Slots, p.Load, p.RTTMillis, len(p.Compilers), p.Why)
	}
	return tw.Flush()
}
