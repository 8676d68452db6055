package jobs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/distmesh/distmesh/keys"
	"github.com/distmesh/distmesh/transport"
)

// ended waits (at most 30 s) for the node to end st, and reports whether it
// did, cleanly (Wait's false) or with an error.
func ended(t *testing.T, st *transport.ClientStream) bool {
	t.Helper()
	done := make(chan bool, 1)
	go func() {
		more, _ := st.Wait()
		done <- !more
	}()
	select {
	case ok := <-done:
		return ok
	case <-time.After(30 * time.Second):
		return false
	}
}

// TestStreamCarriesJobs: in version 2 a stream carries one job after
// another; a job the node refuses ends the stream, and so does a client
// that speaks version 1 after its one job. Jobs on a kept stream compile
// as on a new one.
func TestStreamCarriesJobs(t *testing.T) {
	c := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{c}, nil)
	open := func(lo, hi int) *transport.ClientStream {
		st, err := n.conn.Open(t.Context(), transport.SubsystemCompile, lo, hi)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	var first []byte
	st := open(compileMinVersion, compileVersion)
	for i := range 3 {
		a, err := tryOn(st, goodJob(c))
		if err != nil || a.Err != nil || a.Result.Exit != 0 {
			t.Fatalf("job %d on one stream: %v, %v", i+1, a, err)
		}
		if i == 0 {
			first = a.Outputs["x.o"]
		} else if !bytes.Equal(a.Outputs["x.o"], first) {
			t.Fatalf("job %d on a kept stream: an object different from the first job's", i+1)
		}
	}
	if st.Version != streamReuse {
		t.Fatalf("negotiated version %d, want %d", st.Version, streamReuse)
	}
	if got := n.node.Stats().Served; got != 3 {
		t.Fatalf("the node served %d jobs, want 3", got)
	}

	// A refused job ends the stream with its error.
	bad := goodJob(c)
	bad.req.Compiler = "not-a-compiler"
	if a, err := tryOn(st, bad); err != nil || a.Err == nil {
		t.Fatalf("a job for an unknown compiler: %v, %v; want the node's error", a, err)
	}
	if !ended(t, st) {
		t.Error("the stream outlived a refused job")
	}

	// Version 1: one job per stream.
	old := open(1, 1)
	if a, err := tryOn(old, goodJob(c)); err != nil || a.Result.Exit != 0 || !bytes.Equal(a.Outputs["x.o"], first) {
		t.Fatalf("a job in version 1: %v, %v", a, err)
	}
	if !ended(t, old) {
		t.Error("a version 1 stream outlived its job")
	}
}

// TestIdleStreamBeforeFirstJob: a stream opened and left without a job is
// closed after StreamIdle, as one left idle between jobs is.
func TestIdleStreamBeforeFirstJob(t *testing.T) {
	c := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{c}, func(cfg *NodeConfig) { cfg.StreamIdle = 200 * time.Millisecond })
	st, err := n.conn.Open(t.Context(), transport.SubsystemCompile, compileMinVersion, compileVersion)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !ended(t, st) {
		t.Error("the node kept a stream that never carried a job")
	}
}

// TestKeptStreamClosedByNode: the agent keeps a stream after each job and
// sends the next job on it; the node closes a stream left idle (here after
// 200 ms, less than the agent keeps it), and the next job, sent on that
// closed stream, goes again on a new one: it compiles, and the peer is not
// charged with an error. A stream the agent kept too long is closed instead
// of reused.
func TestKeptStreamClosedByNode(t *testing.T) {
	c := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{c}, func(cfg *NodeConfig) { cfg.StreamIdle = 200 * time.Millisecond })
	a := NewAgent(AgentConfig{Identity: &keys.Identity{Name: "laptop"}, Logger: secLogger(t)})
	p := &peer{addr: "node", conn: n.conn}
	t.Cleanup(p.dropStreams)
	name := filepath.Join(t.TempDir(), "x.c")
	if err := os.WriteFile(name, []byte(secSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	send := func() Result {
		t.Helper()
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		j := goodJob(c)
		m := &manifest{entries: j.req.Entries, content: map[Hash]int{}}
		for h := range j.contents {
			m.content[h] = int(f.Fd())
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		res, _, err := a.runRemote(ctx, p, &j.req, m)
		if err != nil || res.Exit != 0 {
			t.Fatalf("job: %+v, %v", res, err)
		}
		return res
	}
	stats := func() (PeerStats, int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stats, len(p.idle)
	}

	send()
	send()
	if s, kept := stats(); s.Streams != 1 || kept != 1 {
		t.Fatalf("two jobs in turn: %d streams opened, %d kept; want 1 and 1", s.Streams, kept)
	}
	p.mu.Lock()
	st := p.idle[0].st
	p.mu.Unlock()
	if !ended(t, st) {
		t.Fatal("the node did not close a stream left idle")
	}
	send()
	if s, kept := stats(); s.Streams != 2 || kept != 1 || s.Errors != 0 || s.OK != 3 {
		t.Errorf("a job after the node closed the kept stream: %d streams opened, %d kept, %d errors, %d ok; want 2, 1, 0, 3",
			s.Streams, kept, s.Errors, s.OK)
	}

	// A stream kept for keptStreamIdle is closed, not reused.
	p.mu.Lock()
	st = p.idle[0].st
	p.idle[0].since = time.Now().Add(-keptStreamIdle)
	p.mu.Unlock()
	send()
	if s, kept := stats(); s.Streams != 3 || kept != 1 {
		t.Errorf("a job after the kept stream aged: %d streams opened, %d kept; want 3 and 1", s.Streams, kept)
	}
	if !ended(t, st) {
		t.Error("a stream kept too long was not closed")
	}
}
