package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/distmesh/distmesh/jobs"
	"github.com/distmesh/distmesh/jobs/wrap"
)

func runMasquerade(ctx context.Context, e *env, args []string) error {
	fs := e.flags("masquerade", "DIR")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "masquerade DIR"); err != nil {
		return err
	}
	dir, err := filepath.Abs(pos[0])
	if err != nil {
		return err
	}
	// The links point at the wrapper, installed beside this node binary.
	self, err := wrap.Beside(wrap.FrontName)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := []string{"cc", "c++", "gcc", "g++", "clang", "clang++"}
	for _, p := range jobs.FindCompilers(nil) {
		if filepath.Dir(p) != dir {
			names = append(names, filepath.Base(p))
		}
	}
	sort.Strings(names)
	names = slices.Compact(names)
	var made []string
	for _, n := range names {
		link := filepath.Join(dir, n)
		if target, err := os.Readlink(link); err == nil && target == self {
			made = append(made, n)
			continue
		}
		if _, err := os.Lstat(link); err == nil {
			return fmt.Errorf("%s exists and is not a distmesh link: remove it or choose another directory", link)
		}
		if err := os.Symlink(self, link); err != nil {
			return err
		}
		made = append(made, n)
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", dir, strings.Join(made, " "))
	fmt.Fprintf(e.stderr, "put it first in PATH: export PATH=%s:$PATH\n", dir)
	return nil
}

// agentRequest sends one request to the agent of home and decodes the
// answer.
func agentRequest(home, typ string, v any) error {
	c, err := net.DialTimeout("unix", wrap.SocketPath(home), 2*time.Second)
	if err != nil {
		return fmt.Errorf("no node is running in %s: start it with `distmesh join` (%v)", home, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%s 0 0\n", typ); err != nil {
		return err
	}
	var hdr string
	var size, nfds int
	if _, err := fmt.Fscanf(c, "%s %d %d\n", &hdr, &size, &nfds); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if hdr != typ {
		return fmt.Errorf("agent answered %s", hdr)
	}
	buf := make([]byte, size)
	if _, err := readFull(c, buf); err != nil {
		return err
	}
	return json.Unmarshal(buf, v)
}

func readFull(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := e.flags("status", "[--json] [--since 10m]")
	asJSON := fs.Bool("json", false, "print JSON")
	since := fs.Duration("since", 0, "summarise this machine's jobs over the last `DURATION` (a build): where they ran, local compiles and why, the slowest")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "status [--json] [--since 10m]"); err != nil {
		return err
	}
	var st jobs.Status
	if err := agentRequest(e.home, "status", &st); err != nil {
		return err
	}
	if *since > 0 {
		return printSince(e, st, *since, *asJSON)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(e.stdout, "node %s in mesh %s: %d slots, %d jobs served, %d sent, %d compiled locally\n",
		st.Node, st.Mesh, st.Slots, st.JobsServed, st.JobsSent, st.Agent.Local)
	if a := st.Agent; a.ManifestHits+a.ManifestMisses > 0 {
		fmt.Fprintf(e.stdout, "inputs: %d jobs from the manifest cache (%d with edited inputs), %d scanned (%d with another unit's headers)\n", a.ManifestHits, a.ManifestRefreshes, a.ManifestMisses, a.ManifestTemplates)
	}
	if w := st.Agent.Watch; w != nil {
		if w.Hits+w.Misses > 0 {
			fmt.Fprintf(e.stdout, "file watch: %d answers held, %.0f%% of lookups from memory, forgot everything %d times\n", w.Remembered, 100*float64(w.Hits)/float64(w.Hits+w.Misses), w.Flushes)
		}
		if w.Error != "" {
			fmt.Fprintf(e.stdout, "file watch: %s; jobs look files up again meanwhile\n", w.Error)
		}
	}
	if len(st.Agent.Fallbacks) > 0 {
		fmt.Fprintln(e.stdout, "local compiles by reason:")
		for why, n := range st.Agent.Fallbacks {
			fmt.Fprintf(e.stdout, "  %6d  %s\n", n, why)
		}
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tADDRESS\tSTATE\tSLOTS\tSENT\tOK\tFAILED\tERRORS\tBYTES OUT\tBYTES IN\tBLOB HITS\tRTT")
	for _, p := range st.Peers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1fms\n", p.Name, strings.Join(p.Addresses, ","), p.State,
			p.Running, p.Slots, p.Stats.Sent, p.Stats.OK, p.Stats.Failed, p.Stats.Errors, p.Stats.BytesOut, p.Stats.BytesIn, p.Stats.BlobHits, p.RTTMillis)
	}
	return tw.Flush()
}

// buildSummary is `status --since`: what this machine's compiles did over
// a window.
type buildSummary struct {
	Since     time.Duration   `json:"since_ns"`
	Jobs      int             `json:"jobs"`
	Where     map[string]int  `json:"where"`     // node name, or "local"
	Fallbacks map[string]int  `json:"fallbacks"` // local compiles by reason
	Slowest   *jobs.JobRecord `json:"slowest,omitempty"`
}

func printSince(e *env, st jobs.Status, since time.Duration, asJSON bool) error {
	sum := buildSummary{Since: since, Where: map[string]int{}, Fallbacks: map[string]int{}}
	cut := time.Now().Add(-since)
	for _, r := range st.Recent {
		if r.At.Before(cut) {
			continue
		}
		r := r
		sum.Jobs++
		sum.Where[r.Where]++
		if r.Where == "local" {
			sum.Fallbacks[r.Why]++
		}
		if sum.Slowest == nil || r.Took > sum.Slowest.Took {
			sum.Slowest = &r
		}
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	fmt.Fprintf(e.stdout, "%d compiles in the last %v\n", sum.Jobs, since)
	names := make([]string, 0, len(sum.Where))
	for w := range sum.Where {
		names = append(names, w)
	}
	sort.Strings(names)
	for _, w := range names {
		fmt.Fprintf(e.stdout, "  %6d  on %s\n", sum.Where[w], w)
	}
	for why, n := range sum.Fallbacks {
		fmt.Fprintf(e.stdout, "  %6d  locally: %s\n", n, why)
	}
	if s := sum.Slowest; s != nil {
		fmt.Fprintf(e.stdout, "slowest: %s on %s, %v\n", s.Source, s.Where, s.Took.Round(time.Millisecond))
	}
	return nil
}
