package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/distmesh/distmesh/jobs"
)

// runTop shows the mesh live, as distccmon-text and icemon do: every node
// this one knows, its slots, the jobs it runs (file, client, elapsed),
// finished jobs per second, failures and this machine's local compiles.
// It redraws every second until interrupted; it works over plain ssh.
func runTop(ctx context.Context, e *env, args []string) error {
	fs := e.flags("top", "[--once] [--interval 1s]")
	once := fs.Bool("once", false, "print one screen and exit")
	interval := fs.Duration("interval", time.Second, "how often to redraw")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "top [--once] [--interval 1s]"); err != nil {
		return err
	}
	if *interval < 100*time.Millisecond {
		*interval = 100 * time.Millisecond
	}
	tty := isTTY(e.stdout)
	served := map[string]int64{} // node -> served at the previous screen
	var prev time.Time
	for {
		var st jobs.Status
		if err := agentRequest(e.home, "status", &st); err != nil {
			return err
		}
		now := time.Now()
		var b strings.Builder
		renderTop(&b, st, served, now.Sub(prev), now)
		prev = now
		if tty && !*once {
			fmt.Fprint(e.stdout, "\033[H\033[2J") // home, clear
		}
		fmt.Fprint(e.stdout, b.String())
		if *once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// topRow is one node on the screen.
type topRow struct {
	name, state    string
	slots, running int
	served, failed int64
	refused        int64
	jobs           []jobs.RunningJob
}

func renderTop(w io.Writer, st jobs.Status, served map[string]int64, dt time.Duration, now time.Time) {
	rows := []topRow{}
	if st.Served != nil {
		rows = append(rows, topRow{name: st.Node + " (this node)", state: "up", slots: st.Slots, running: st.Served.Running,
			served: st.Served.Served, failed: st.Served.Failed, refused: st.Served.Refused + st.Served.Busy, jobs: st.Jobs})
	}
	for _, p := range st.Peers {
		rows = append(rows, topRow{name: p.Name, state: p.State, slots: p.Slots, running: p.Running,
			served: p.Served, failed: p.Failed, refused: p.Refused, jobs: p.Jobs})
	}
	fmt.Fprintf(w, "distmesh top — mesh %s — %s\n", st.Mesh, now.Format(time.TimeOnly))
	fmt.Fprintf(w, "this machine: %d sent, %d remote results, %d local (%d retries)\n\n", st.JobsSent, st.Agent.Remote, st.Agent.Local, st.Agent.Retries)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tSLOTS\tJOBS/S\tSERVED\tFAILED\tREFUSED")
	for _, r := range rows {
		rate := "-"
		if last, ok := served[r.name]; ok && dt > 0 {
			rate = fmt.Sprintf("%.1f", float64(r.served-last)/dt.Seconds())
		}
		served[r.name] = r.served
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%d\t%d\t%d\n", r.name, r.state, r.running, r.slots, rate, r.served, r.failed, r.refused)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tFILE\tCLIENT\tELAPSED")
	n := 0
	for _, r := range rows {
		for _, j := range r.jobs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.name, shortPath(j.Source, 48), j.Client, now.Sub(j.Started).Round(100*time.Millisecond))
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(tw, "(no jobs running)")
	}
	tw.Flush()
	if len(st.Agent.Fallbacks) > 0 {
		fmt.Fprintln(w, "\nlocal compiles by reason:")
		for why, c := range st.Agent.Fallbacks {
			fmt.Fprintf(w, "  %6d  %s\n", c, why)
		}
	}
}

func shortPath(p string, n int) string {
	if len(p) <= n {
		return p
	}
	return "…" + filepath.Base(p)
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
