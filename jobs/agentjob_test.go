package jobs

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/distmesh/distmesh/jobs/cc"
	"github.com/distmesh/distmesh/jobs/wrap"
	"github.com/distmesh/distmesh/keys"
)

// localPair returns the two ends of a connected Unix stream socket.
func localPair(t *testing.T) (*cc.LocalConn, *cc.LocalConn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *cc.LocalConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return cc.NewLocalConn(c.(*net.UnixConn))
	}
	a, b := conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestResultCarriesOnlyExpectedOutputs: a node that returns a file the
// compile does not write (an attempt to write outside its outputs) has it
// dropped; the wrapper gets the outputs the arguments name, with their
// kinds, then the messages and the exit status.
func TestResultCarriesOnlyExpectedOutputs(t *testing.T) {
	agentEnd, wrapperEnd := localPair(t)
	h, why := cc.NewHello(cc.FamilyGCC, &wrap.Job{Compiler: "/usr/bin/gcc", Name: "gcc", Dir: "/src",
		Args: []string{"-c", "x.c", "-o", "x.o"}, Env: []string{"DEPENDENCIES_OUTPUT=x.d"}}, nil)
	if why != "" {
		t.Fatal(why)
	}
	res := &Result{Exit: 3, Stdout: []byte("out"), Stderr: []byte("warning: remote\n"), Node: "n",
		Outputs: []cc.OutputFile{{Path: "/src/evil", Size: 3}, {Path: "x.o", Size: 6}, {Path: "x.d", Size: 4}}}
	done := make(chan error, 1)
	go func() {
		done <- sendResult(agentEnd, h, res, [][]byte{[]byte("bad"), []byte("object"), []byte("deps")}, secLogger(t))
	}()
	var got []string
	for len(got) == 0 || got[len(got)-1] != "exit 3" {
		typ, payload, fds, err := wrapperEnd.RecvFDs()
		cc.CloseFDs(fds)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, typ+" "+string(payload))
	}
	want := []string{"out x.o\x00w\x00object", "out x.d\x00a\x00deps", "stdout out", "stderr warning: remote\n", "exit 3"}
	if len(got) != len(want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d = %q, want %q", i, got[i], want[i])
		}
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestInputChangedAfterHashing: an input whose contents change after the
// agent hashed it is never compiled under the old hash. The agent reads
// each content it sends through the descriptor it hashed, checks the hash
// again, and fails the job with errInputChanged (which compiles it locally,
// on no other peer) before the node runs anything. Control: the same
// steps with the file as hashed compile.
func TestInputChangedAfterHashing(t *testing.T) {
	c := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{c}, nil)
	a := NewAgent(AgentConfig{Identity: &keys.Identity{Name: "laptop"}, Logger: secLogger(t)})
	p := &peer{addr: "node", conn: n.conn}
	dir := t.TempDir()
	// send runs job j with its one file's content read from a file holding
	// onDisk, as runRemote does after gatherInputs hashed it.
	send := func(j *secJob, onDisk string) (Result, error) {
		t.Helper()
		name := filepath.Join(dir, "x.c")
		if err := os.WriteFile(name, []byte(onDisk), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m := &manifest{entries: j.req.Entries, content: map[Hash]int{}}
		for h := range j.contents {
			m.content[h] = int(f.Fd())
		}
		res, _, err := a.runRemote(t.Context(), p, &j.req, m)
		return res, err
	}

	if res, err := send(goodJob(c), secSrc); err != nil || res.Exit != 0 {
		t.Fatalf("control, the file as hashed: %+v, %v", res, err)
	}
	served := n.node.Stats().Served

	hashed := "int answer(void) { return 7; }\n"
	j := newManifest().file(secDir+"/x.c", []byte(hashed)).job(c, secDir, "-c", "x.c", "-o", "x.o")
	res, err := send(j, "int answer(void) { return 8; }\n")
	if !errors.Is(err, errInputChanged) {
		t.Fatalf("an input changed after hashing: %+v, %v; want errInputChanged", res, err)
	}
	if got := n.node.Stats().Served; got != served {
		t.Errorf("the node ran %d jobs for a job whose input changed", got-served)
	}
}
