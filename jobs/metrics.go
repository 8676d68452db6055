package jobs

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// Version is distmesh's version, reported in metrics and status; the build
// may set it with -ldflags "-X github.com/distmesh/distmesh/jobs.Version=…".
var Version = "dev"

// WriteMetrics writes the agent's and the node's counters in the
// Prometheus text exposition format. Every metric is named distmesh_….
func (a *Agent) WriteMetrics(w io.Writer) {
	st := a.Status()
	m := metricWriter{w: w}
	m.gauge("distmesh_build_info", "Build information.", 1, "version", Version, "goversion", runtime.Version())

	m.header("distmesh_jobs_total", "counter", "Compiles this machine's wrappers ran, by where and how they ended.")
	for _, p := range st.Peers {
		m.sample("distmesh_jobs_total", float64(p.Stats.OK), "peer", p.Name, "result", "ok")
		m.sample("distmesh_jobs_total", float64(p.Stats.Failed), "peer", p.Name, "result", "compile_failed")
		m.sample("distmesh_jobs_total", float64(p.Stats.Errors), "peer", p.Name, "result", "error")
	}
	m.sample("distmesh_jobs_total", float64(st.Agent.Local), "peer", "local", "result", "local")

	m.header("distmesh_fallbacks_total", "counter", "Compiles run locally, by reason.")
	reasons := make([]string, 0, len(st.Agent.Fallbacks))
	for r := range st.Agent.Fallbacks {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		m.sample("distmesh_fallbacks_total", float64(st.Agent.Fallbacks[r]), "reason", r)
	}
	m.counter("distmesh_retries_total", "Jobs tried again on another peer.", float64(st.Agent.Retries))
	m.counter("distmesh_speculated_total", "Long jobs also started on another peer.", float64(st.Agent.Speculated))

	m.header("distmesh_bytes_total", "counter", "Bytes sent to and received from peers (compressed).")
	for _, p := range st.Peers {
		m.sample("distmesh_bytes_total", float64(p.Stats.BytesOut), "peer", p.Name, "direction", "sent")
		m.sample("distmesh_bytes_total", float64(p.Stats.BytesIn), "peer", p.Name, "direction", "received")
	}
	up := 0
	for _, p := range st.Peers {
		if p.Verified {
			up++
		}
	}
	m.gauge("distmesh_peers_up", "Peers verified and answering.", float64(up))
	m.gauge("distmesh_wrappers_waiting", "Compiles of this machine waiting for a place.", float64(a.waiting.Load()))

	a.mu.Lock()
	h := a.durations
	h.counts = append([]uint64(nil), a.durations.counts...)
	a.mu.Unlock()
	m.histogram("distmesh_job_duration_seconds", "Remote compiles of this machine's wrappers, wall time from the wrapper's request to the result.", h)

	if n := a.cfg.Node; n != nil {
		ns := n.Stats()
		m.header("distmesh_jobs_served_total", "counter", "Compiles this node ran or refused for others, by result.")
		m.sample("distmesh_jobs_served_total", float64(ns.Served-ns.Failed), "result", "ok")
		m.sample("distmesh_jobs_served_total", float64(ns.Failed), "result", "compile_failed")
		m.sample("distmesh_jobs_served_total", float64(ns.Refused), "result", "refused")
		m.sample("distmesh_jobs_served_total", float64(ns.Busy), "result", "busy")
		m.counter("distmesh_sandbox_refusals_total", "Jobs the node refused: policy, manifest, limits, sandbox setup.", float64(ns.Refused))
		m.gauge("distmesh_slots", "Compiles this node runs at once.", float64(n.Slots()))
		m.gauge("distmesh_jobs_running", "Compiles running on this node.", float64(n.Running()))
		m.gauge("distmesh_queue_length", "Jobs waiting on this node for a slot.", float64(n.Queued()))
		m.counter("distmesh_blob_hits_total", "Inputs a client did not have to send: the node's store held them.", float64(ns.BlobHits))
		m.counter("distmesh_blobs_received_total", "Inputs received from clients.", float64(ns.BlobsIn))
		n.mu.Lock()
		h, setups := n.durations, n.setups
		h.counts = append([]uint64(nil), n.durations.counts...)
		setups.counts = append([]uint64(nil), n.setups.counts...)
		n.mu.Unlock()
		m.histogram("distmesh_compile_duration_seconds", "Compiles on this node, wall time in the sandbox.", h)
		m.histogram("distmesh_sandbox_setup_seconds", "Compiles on this node, wall time from the sandbox's request to the compiler's start (root, launcher, confinement).", setups)
	}
}

type metricWriter struct {
	w    io.Writer
	seen map[string]bool
}

func (m *metricWriter) header(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (m *metricWriter) sample(name string, v float64, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	fmt.Fprintf(m.w, "%s %s\n", b.String(), strconv.FormatFloat(v, 'g', -1, 64))
}

func (m *metricWriter) gauge(name, help string, v float64, labels ...string) {
	m.header(name, "gauge", help)
	m.sample(name, v, labels...)
}

func (m *metricWriter) counter(name, help string, v float64) {
	m.header(name, "counter", help)
	m.sample(name, v)
}

func (m *metricWriter) histogram(name, help string, h histogram) {
	m.header(name, "histogram", help)
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		m.sample(name+"_bucket", float64(cum), "le", strconv.FormatFloat(b, 'g', -1, 64))
	}
	m.sample(name+"_bucket", float64(h.n), "le", "+Inf")
	m.sample(name+"_sum", h.sum)
	m.sample(name+"_count", float64(h.n))
}
