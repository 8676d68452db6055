package jobs

// Helpers of node_security_test.go: a mesh with one node serving the
// compile subsystem through the real SSH transport, a client that sends
// hand-made jobs over it, and manifests built by hand.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/crypto/ssh"

	"github.com/distmesh/distmesh/keys"
	"github.com/distmesh/distmesh/landlock"
	"github.com/distmesh/distmesh/transport"
)

// TestMain makes the test binary the sandbox launcher when landlock.Run
// re-executes it (as the daemon's main does).
func TestMain(m *testing.M) {
	if landlock.IsLauncher() {
		landlock.Main()
	}
	os.Exit(m.Run())
}

// secUID is the unused uid compilers run as when the tests run as root,
// as cmd/distmesh/cli's runAs picks on a machine without a distmesh user.
const secUID = 2147000000

func secJobIDs() (uid, gid int) {
	if os.Geteuid() == 0 {
		return secUID, secUID
	}
	return 0, 0
}

var secProbe = sync.OnceValue(func() landlock.Report {
	uid, gid := secJobIDs()
	return landlock.Probe(context.Background(), uid, gid)
})

// needConfinement skips a test on a machine that cannot fully confine
// jobs: a node there refuses to serve by default, and the escape tests
// would prove nothing.
func needConfinement(t *testing.T) {
	t.Helper()
	if r := secProbe(); r.Level < landlock.LevelFull {
		t.Skipf("this machine does not fully confine jobs (level %v), so a node would not serve them; run `distmesh doctor`:\n%v", r.Level, r)
	}
}

var nodeCompilers sync.Map // path → *Compiler or error

// lookupCompiler returns the real compiler at p as a node probes it.
func lookupCompiler(p string) (*Compiler, error) {
	v, ok := nodeCompilers.Load(p)
	if !ok {
		c, err := ProbeCompiler(context.Background(), p)
		if err != nil {
			v = err
		} else {
			v = c
		}
		nodeCompilers.Store(p, v)
	}
	if err, ok := v.(error); ok {
		return nil, err
	}
	return v.(*Compiler), nil
}

// nodeCompiler is lookupCompiler for a test that needs the compiler: it
// skips the test when p is missing.
func nodeCompiler(t *testing.T, p string) *Compiler {
	t.Helper()
	c, err := lookupCompiler(p)
	if err != nil {
		t.Skipf("%s is not usable here, so a node cannot serve it: %v", p, err)
	}
	return c
}

// logWriter passes a node's log to the test until the test ends (a
// handler may still log while the server shuts down).
type logWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func secLogger(t *testing.T) *slog.Logger {
	w := &logWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// secNode is a node serving the compile subsystem on 127.0.0.1 through the
// real SSH transport, and a member's connection to it.
type secNode struct {
	node *Node
	cfg  NodeConfig
	home keys.Store // the node's home: its identity key (and the mesh's CA)
	conn *transport.Conn
}

// startNode starts a node with compilers comps, one slot and one queue
// place unless tune changes its config (a node's default is Queue =
// Slots; TestSecurityBusyAfterResult shows why a client that sends one job
// after another needs the queue place). Everything it starts ends with the
// test, and the test fails if a job is still running then.
func startNode(t *testing.T, comps []*Compiler, tune func(*NodeConfig)) *secNode {
	t.Helper()
	needConfinement(t)
	log := secLogger(t)
	dir := t.TempDir()
	home := keys.Store{Dir: filepath.Join(dir, "home")}
	id, err := home.Init("node", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := home.LoadCA()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := home.LoadAuthority()
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := home.Certify(ca, auth, signer.PublicKey(), "laptop", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client := &keys.Identity{Name: "laptop", Signer: signer, UserCert: certs.User, HostCert: certs.Host}

	store, err := OpenStore(filepath.Join(dir, "store"), 1<<30, log)
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := secJobIDs()
	cfg := NodeConfig{
		Name:      "node",
		WorkDir:   filepath.Join(dir, "jobs"),
		Store:     store,
		Compilers: comps,
		Slots:     1,
		Queue:     1,
		Limits:    landlock.Limits{Wall: time.Minute},
		UID:       uid,
		GID:       gid,
		Logger:    log,
	}
	if tune != nil {
		tune(&cfg)
	}
	node, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := transport.NewServer(transport.ServerConfig{Identity: id, Authority: auth, Subsystems: []transport.Subsystem{node.Subsystem()}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		// Shutting down cancels every job; each ends with its sandbox.
		if !waitFor(30*time.Second, func() bool { return node.jobs.Load() == 0 }) {
			t.Errorf("%d jobs still running 30 s after the node stopped", node.jobs.Load())
		}
	})
	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer dcancel()
	conn, err := (&transport.Client{Identity: client, Authority: auth}).Dial(dctx, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &secNode{node: node, cfg: cfg, home: home, conn: conn}
}

// waitFor polls cond until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		select {
		case <-poll.C:
		case <-deadline.C:
			return cond()
		}
	}
	return true
}

// secJob is a hand-made job: the request, the contents of its files, and
// optionally the blob messages to send instead of the right ones.
type secJob struct {
	req      JobRequest
	contents map[Hash][]byte
	blobs    func(need []Hash) []wireMsg
}

type wireMsg struct {
	typ     string
	payload []byte
}

// answer is how a node answered a job.
type answer struct {
	// Err is the node's error message, or nil. Stage says when it came:
	// "admission" (instead of need: nothing was received, built or run)
	// or "run" (after the blobs).
	Err     *transport.RemoteError
	Stage   string
	Need    []Hash
	Result  Result
	Outputs map[string][]byte // by the path the arguments name
}

func (a answer) String() string {
	if a.Err != nil {
		return fmt.Sprintf("error at %s: %s", a.Stage, a.Err.Msg)
	}
	return fmt.Sprintf("exit %d, outputs %v, stdout %q, stderr %q", a.Result.Exit, a.Result.Outputs, a.Result.Stdout, a.Result.Stderr)
}

var (
	secEncoder = sync.OnceValue(func() *zstd.Encoder { e, _ := zstd.NewWriter(nil); return e })
	secDecoder = sync.OnceValue(func() *zstd.Decoder { d, _ := zstd.NewReader(nil); return d })
)

// blob is the message carrying content: its hash, then the content
// compressed.
func blob(h Hash, content []byte) []byte {
	return secEncoder().EncodeAll(content, append([]byte(nil), h[:]...))
}

// send runs j on the node as Agent.runRemote does, and returns the node's
// answer. Transport failures fail the test.
func (n *secNode) send(t *testing.T, j *secJob) answer {
	t.Helper()
	a, err := n.try(j)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// try is send for goroutines: it returns transport failures.
func (n *secNode) try(j *secJob) (answer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := n.conn.Open(ctx, transport.SubsystemCompile, compileVersion, compileVersion)
	if err != nil {
		return answer{}, fmt.Errorf("open the compile subsystem: %w", err)
	}
	defer st.Close()
	return tryOn(st, j)
}

// tryOn runs j on an open stream.
func tryOn(st *transport.ClientStream, j *secJob) (answer, error) {
	var a answer
	if err := st.SendJSON("job", &j.req); err != nil {
		return a, fmt.Errorf("send job: %w", err)
	}
	remote := func(err error, stage string) bool {
		if re, ok := errors.AsType[*transport.RemoteError](err); ok {
			a.Err, a.Stage = re, stage
			return true
		}
		return false
	}
	var need Need
	if err := st.RecvJSON("need", &need); err != nil {
		if remote(err, "admission") {
			return a, nil
		}
		return a, fmt.Errorf("receive need: %w", err)
	}
	a.Need = need.Hashes
	var msgs []wireMsg
	if j.blobs != nil {
		msgs = j.blobs(need.Hashes)
	} else {
		for _, h := range need.Hashes {
			content, ok := j.contents[h]
			if !ok {
				return a, fmt.Errorf("the node asked for content %s, which is not in the job", h)
			}
			msgs = append(msgs, wireMsg{"blob", blob(h, content)})
		}
	}
	for _, m := range msgs {
		if err := st.Send(m.typ, m.payload); err != nil {
			return a, fmt.Errorf("send %s: %w", m.typ, err)
		}
	}
	if err := st.RecvJSON("result", &a.Result); err != nil {
		if remote(err, "run") {
			return a, nil
		}
		return a, fmt.Errorf("receive result: %w", err)
	}
	a.Outputs = map[string][]byte{}
	for _, o := range a.Result.Outputs {
		typ, payload, err := st.Recv()
		if err != nil || typ != "file" {
			return a, fmt.Errorf("receive output %s: %s, %v", o.Path, typ, err)
		}
		data, err := secDecoder().DecodeAll(payload, nil)
		if err != nil || int64(len(data)) != o.Size {
			return a, fmt.Errorf("output %s: %d bytes, want %d (%v)", o.Path, len(data), o.Size, err)
		}
		a.Outputs[o.Path] = data
	}
	return a, nil
}

// manifestBuilder builds a job's entries by hand.
type manifestBuilder struct {
	entries  []Entry
	contents map[Hash][]byte
	listed   map[string]bool
}

func newManifest() *manifestBuilder {
	return &manifestBuilder{contents: map[Hash][]byte{}, listed: map[string]bool{}}
}

// mtime is every file's modification time.
const mtime = 1_700_000_000_000_000_000

// dir lists p and the directories above it.
func (m *manifestBuilder) dir(p string) *manifestBuilder {
	if p == "/" || m.listed[p] {
		return m
	}
	m.dir(path.Dir(p))
	m.listed[p] = true
	m.entries = append(m.entries, Entry{Path: p, Kind: KindDir})
	return m
}

// file lists a file with content, and the directories above it.
func (m *manifestBuilder) file(p string, content []byte) *manifestBuilder {
	m.dir(path.Dir(p))
	h := Hash(sha256.Sum256(content))
	m.contents[h] = content
	m.listed[p] = true
	m.entries = append(m.entries, Entry{Path: p, Kind: KindFile, Mode: 0o644, MTime: mtime, Size: int64(len(content)), Hash: h})
	return m
}

// symlink lists a symlink, and the directories above it.
func (m *manifestBuilder) symlink(p, target string) *manifestBuilder {
	m.dir(path.Dir(p))
	m.listed[p] = true
	m.entries = append(m.entries, Entry{Path: p, Kind: KindSymlink, Target: target})
	return m
}

// add lists e as it is.
func (m *manifestBuilder) add(e Entry) *manifestBuilder {
	m.entries = append(m.entries, e)
	return m
}

// job is a job for compiler c in dir with this manifest and args.
func (m *manifestBuilder) job(c *Compiler, dir string, args ...string) *secJob {
	return &secJob{
		req:      JobRequest{Compiler: c.ID, Name: c.Name, Args: args, Dir: dir, Entries: m.entries},
		contents: m.contents,
	}
}

// The client's tree of the ordinary jobs.
const (
	secDir = "/home/u/p"
	secSrc = "int answer(void) { return 42; }\n"
)

// goodJob is an ordinary compile: x.c in secDir, to x.o.
func goodJob(c *Compiler) *secJob {
	return newManifest().file(secDir+"/x.c", []byte(secSrc)).job(c, secDir, "-c", "x.c", "-o", "x.o")
}

// checkServes fails the test unless the node compiles goodJob correctly.
func (n *secNode) checkServes(t *testing.T, c *Compiler) {
	t.Helper()
	a := n.send(t, goodJob(c))
	if a.Err != nil || a.Result.Exit != 0 || !bytes.HasPrefix(a.Outputs["x.o"], []byte("\x7fELF")) {
		t.Fatalf("the node no longer compiles an ordinary job: %v", a)
	}
}

// processesWith lists the processes whose command line or environment
// holds marker.
func processesWith(marker string) []string {
	var found []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, _ := os.ReadFile(d + "/cmdline")
		env, _ := os.ReadFile(d + "/environ")
		if bytes.Contains(cmdline, []byte(marker)) || bytes.Contains(env, []byte(marker)) {
			found = append(found, d+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}

// treeDirs lists the job trees in the node's work directory.
func (n *secNode) treeDirs(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(n.cfg.WorkDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
