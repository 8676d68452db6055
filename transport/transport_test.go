package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/distmesh/distmesh/keys"
)

// mesh is an issuer's key store with helpers to certify machines.
type mesh struct {
	t     *testing.T
	store keys.Store
	ca    *keys.CA
	auth  *keys.Authority
}

func newMesh(t *testing.T) *mesh {
	t.Helper()
	store := keys.Store{Dir: filepath.Join(t.TempDir(), "issuer")}
	if _, err := store.Init("issuer", time.Now()); err != nil {
		t.Fatal(err)
	}
	ca, err := store.LoadCA()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := store.LoadAuthority()
	if err != nil {
		t.Fatal(err)
	}
	return &mesh{t: t, store: store, ca: ca, auth: auth}
}

func newSigner(t *testing.T) ssh.Signer {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// member certifies a fresh key as name, valid for ttl.
func (m *mesh) member(name string, ttl time.Duration) *keys.Identity {
	m.t.Helper()
	signer := newSigner(m.t)
	c, err := m.store.Certify(m.ca, m.auth, signer.PublicKey(), name, ttl, time.Now())
	if err != nil {
		m.t.Fatal(err)
	}
	return &keys.Identity{Name: name, Signer: signer, UserCert: c.User, HostCert: c.Host}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// serve starts a node on 127.0.0.1:0 and returns its address. The server
// stops when the test ends.
func serve(t *testing.T, cfg ServerConfig) (string, *Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), srv
}

func echoStatus(_ context.Context, p Peer, info json.RawMessage) (any, error) {
	return map[string]string{"you": p.Name()}, nil
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestMemberReachesStatus(t *testing.T) {
	m := newMesh(t)
	node := m.member("node", time.Hour)
	addr, _ := serve(t, ServerConfig{Identity: node, Authority: m.auth, Status: echoStatus})

	client := m.member("laptop", time.Hour)
	c := &Client{Identity: client, Authority: m.auth}
	conn, err := c.Dial(ctxT(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Peer.Name != "node" {
		t.Errorf("peer = %q, want node", conn.Peer.Name)
	}
	var reply map[string]string
	if _, err := conn.Status(ctxT(t), m.auth, nil, nil, &reply); err != nil {
		t.Fatal(err)
	}
	if reply["you"] != "laptop" {
		t.Errorf("server saw %q, want laptop", reply["you"])
	}
	if _, err := conn.Ping(ctxT(t)); err != nil {
		t.Errorf("ping: %v", err)
	}
}

func TestRefusedKeys(t *testing.T) {
	m := newMesh(t)
	node := m.member("node", time.Hour)
	addr, _ := serve(t, ServerConfig{Identity: node, Authority: m.auth, Status: echoStatus})

	other := newMesh(t)
	expired := m.member("old", time.Hour)
	revoked := m.member("stolen", time.Hour)
	if _, err := m.store.Revoke(m.ca, m.auth, "stolen", time.Now()); err != nil {
		t.Fatal(err)
	}
	plain := newSigner(t)

	dialWith := func(signer ssh.Signer, now time.Time) error {
		cfg := &ssh.ClientConfig{
			User:            "anyone",
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		}
		c, err := ssh.Dial("tcp", addr, cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	certSigner := func(id *keys.Identity) ssh.Signer {
		s, err := id.UserSigner()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The expired case is a certificate that was valid an hour before its
	// window: make one that is already over.
	past, _, err := m.ca.Certify(expired.Signer.PublicKey(), "old", time.Minute, time.Now().Add(-3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expiredSigner, _ := ssh.NewCertSigner(past, expired.Signer)

	tests := []struct {
		name   string
		signer ssh.Signer
	}{
		{"unenrolled key", plain},
		{"certificate from another CA", certSigner(other.member("intruder", time.Hour))},
		{"revoked", certSigner(revoked)},
		{"expired", expiredSigner},
		{"host certificate as user", func() ssh.Signer { s, _ := ssh.NewCertSigner(node.HostCert, node.Signer); return s }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dialWith(tt.signer, time.Now())
			if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
				t.Fatalf("dial = %v, want authentication failure", err)
			}
		})
	}

	// No "none" authentication, no password without tokens.
	for _, auth := range [][]ssh.AuthMethod{nil, {ssh.Password("x")}} {
		c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "x", Auth: auth, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
		if err == nil {
			c.Close()
			t.Errorf("auth %v admitted", auth)
		}
	}
}

// TestOnlySubsystems checks that every other kind of session request and
// channel is refused to a member.
func TestOnlySubsystems(t *testing.T) {
	m := newMesh(t)
	node := m.member("node", time.Hour)
	addr, _ := serve(t, ServerConfig{Identity: node, Authority: m.auth, Status: echoStatus})
	laptop := m.member("laptop", time.Hour)
	signer, _ := laptop.UserSigner()
	c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "u", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	for _, req := range []struct {
		typ     string
		payload []byte
	}{
		{"shell", nil},
		{"exec", ssh.Marshal(struct{ Cmd string }{"id"})},
		{"pty-req", ssh.Marshal(struct {
			Term   string
			W, H   uint32
			PW, PH uint32
			Modes  string
		}{"xterm", 80, 24, 0, 0, ""})},
		{"env", ssh.Marshal(struct{ Name, Value string }{"LD_PRELOAD", "/tmp/x.so"})},
		{"x11-req", ssh.Marshal(struct {
			Single        bool
			Proto, Cookie string
			Screen        uint32
		}{false, "MIT-MAGIC-COOKIE-1", "00", 0})},
		{"auth-agent-req@openssh.com", nil},
		{"subsystem", ssh.Marshal(struct{ Name string }{"sftp"})},
	} {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			t.Fatal(err)
		}
		go ssh.DiscardRequests(reqs)
		ok, err := ch.SendRequest(req.typ, true, req.payload)
		if ok {
			t.Errorf("%s request accepted", req.typ)
		}
		if err != nil {
			t.Errorf("%s: %v (the server should refuse, not crash)", req.typ, err)
		}
		ch.Close()
	}

	if _, _, err := c.OpenChannel("direct-tcpip", ssh.Marshal(struct {
		Host  string
		Port  uint32
		OHost string
		OPort uint32
	}{"127.0.0.1", 22, "127.0.0.1", 1})); err == nil {
		t.Error("direct-tcpip (ssh -L) channel accepted")
	}
	if _, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		t.Error("tcpip-forward (ssh -R) accepted")
	}
	// The connection survived all of it.
	if _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil {
		t.Errorf("connection died: %v", err)
	}
}

// offerOnly offers a public key (the victim's enrolled certificate) whose
// private key it does not have: its signatures are in a format the server
// refuses without closing the connection, so the client goes on to its next
// method. This is the shape of CVE-2024-45337.
type offerOnly struct{ pub ssh.PublicKey }

func (o offerOnly) PublicKey() ssh.PublicKey { return o.pub }
func (o offerOnly) Sign(io.Reader, []byte) (*ssh.Signature, error) {
	return &ssh.Signature{Format: "rsa-sha2-512", Blob: []byte("not a signature")}, nil
}

func TestCVE2024_45337(t *testing.T) {
	m := newMesh(t)
	node := m.member("node", time.Hour)
	victim := m.member("victim", time.Hour)

	t.Run("then an unenrolled key", func(t *testing.T) {
		addr, _ := serve(t, ServerConfig{Identity: node, Authority: m.auth, Status: echoStatus})
		attacker := newSigner(t)
		c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
			User:            "victim",
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(offerOnly{victim.UserCert}, attacker)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		})
		if err == nil {
			c.Close()
			t.Fatal("admitted after offering an enrolled key it could not sign with")
		}
	})

	t.Run("then a join token", func(t *testing.T) {
		tok, err := m.store.CreateToken("", []string{"x:1"}, m.auth.MeshID(), time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		addr, _ := serve(t, ServerConfig{Identity: node, Authority: m.auth, Status: echoStatus, Tokens: m.store.CheckToken,
			Subsystems: []Subsystem{EnrollSubsystem(m.store, m.auth, time.Now)}})
		c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
			User:            "victim",
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(offerOnly{victim.UserCert}), ssh.Password(tok.Password())},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		})
		if err != nil {
			t.Fatal(err) // the token is valid: the connection is admitted, as a joining machine
		}
		defer c.Close()
		conn := &Conn{client: c, maxMsg: 1 << 20, Peer: keys.Member{Name: "node"}}
		if _, err := conn.Status(ctxT(t), m.auth, nil, nil, nil); err == nil {
			t.Fatal("a token connection reached the member-only status subsystem: it took the offered key's identity")
		}
	})
}

func TestEnrollAndRenew(t *testing.T) {
	m := newMesh(t)
	issuer, err := m.store.LoadIdentity()
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serve(t, ServerConfig{Identity: issuer, Authority: m.auth, Tokens: m.store.CheckToken,
		Subsystems: []Subsystem{EnrollSubsystem(m.store, m.auth, time.Now)}})
	tok, err := m.store.CreateToken("", []string{"127.0.0.1:1", addr}, m.auth.MeshID(), time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key := newSigner(t)
	certs, used, err := Enroll(ctxT(t), tok, key, "newbie")
	if err != nil {
		t.Fatal(err)
	}
	if used != addr || certs.User.KeyId != "newbie" {
		t.Errorf("enrolled as %q via %s", certs.User.KeyId, used)
	}
	if _, _, err := Enroll(ctxT(t), tok, newSigner(t), "second"); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("reused token: %v", err)
	}

	// A token for another mesh: the issuer's host certificate does not match.
	other := newMesh(t)
	foreign := tok
	foreign.CA = other.auth.MeshID()
	if _, _, err := Enroll(ctxT(t), foreign, newSigner(t), "x"); !errors.Is(err, ErrHostNotMember) {
		t.Errorf("token for another mesh: %v, want ErrHostNotMember", err)
	}
	// A forged secret.
	forged := tok
	forged.Secret = make([]byte, 32)
	if _, _, err := Enroll(ctxT(t), forged, newSigner(t), "x"); err == nil {
		t.Error("forged token accepted")
	}
	// Expired.
	expired, _ := m.store.CreateToken("", []string{addr}, m.auth.MeshID(), -time.Minute, time.Now())
	if _, _, err := Enroll(ctxT(t), expired, newSigner(t), "x"); !errors.Is(err, keys.ErrToken) {
		t.Errorf("expired token: %v", err)
	}
	// Unreachable issuer.
	gone := tok
	gone.Addrs = []string{"127.0.0.1:1"}
	if _, _, err := Enroll(ctxT(t), gone, newSigner(t), "x"); err == nil || !strings.Contains(err.Error(), "cannot reach the issuer") {
		t.Errorf("unreachable issuer: %v", err)
	}

	id := &keys.Identity{Name: "newbie", Signer: key, UserCert: certs.User, HostCert: certs.Host}
	conn, err := (&Client{Identity: id, Authority: m.auth}).Dial(ctxT(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	renewed, err := conn.Renew(ctxT(t), key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if renewed.User.KeyId != "newbie" || renewed.User.Serial == certs.User.Serial {
		t.Errorf("renewal returned %q serial %d", renewed.User.KeyId, renewed.User.Serial)
	}
}

// TestRevocationTravels: a key revoked on the issuer is refused by a third
// node after that node talked to a second one that talked to the issuer.
func TestRevocationTravels(t *testing.T) {
	m := newMesh(t)
	// Three nodes, each with its own copy of the trust files.
	authFor := func(name string) (*keys.Identity, *keys.Authority) {
		id := m.member(name, time.Hour)
		st := keys.Store{Dir: filepath.Join(t.TempDir(), name)}
		if err := st.Prepare(); err != nil {
			t.Fatal(err)
		}
		if err := st.Install(keys.Certs{User: id.UserCert, Host: id.HostCert, CAPub: m.auth.CAPub()}); err != nil {
			t.Fatal(err)
		}
		a, err := st.LoadAuthority()
		if err != nil {
			t.Fatal(err)
		}
		return id, a
	}
	issuer, _ := m.store.LoadIdentity()
	b, authB := authFor("b")
	c, authC := authFor("c")
	laptop := m.member("laptop", time.Hour)

	addrA, _ := serve(t, ServerConfig{Identity: issuer, Authority: m.auth})
	addrC, _ := serve(t, ServerConfig{Identity: c, Authority: authC})

	// The laptop is connected to c before the revocation.
	lc, err := (&Client{Identity: laptop, Authority: authC}).Dial(ctxT(t), addrC)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()

	if _, err := m.store.Revoke(m.ca, m.auth, "laptop", time.Now()); err != nil {
		t.Fatal(err)
	}

	// b contacts the issuer, then c.
	clientB := &Client{Identity: b, Authority: authB}
	for _, addr := range []string{addrA, addrC} {
		conn, err := clientB.Dial(ctxT(t), addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Status(ctxT(t), authB, authB.Revocations().Raw(), nil, nil); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	if !authC.Revocations().Contains(keys.FingerprintOf(laptop.Signer.PublicKey())) {
		t.Fatal("revocation did not reach c through b")
	}
	// c closed the laptop's existing connection and refuses new ones.
	waitErr := make(chan error, 1)
	go func() { waitErr <- lc.Wait() }()
	select {
	case <-waitErr:
	case <-time.After(20 * time.Second):
		t.Fatal("revoked laptop's connection to c still open")
	}
	if _, err := (&Client{Identity: laptop, Authority: authC}).Dial(ctxT(t), addrC); err == nil {
		t.Fatal("revoked laptop admitted by c")
	}
}

func TestVersionExchange(t *testing.T) {
	m := newMesh(t)
	node := m.member("node", time.Hour)
	sub := Subsystem{Name: SubsystemCompile, Min: 2, Max: 3, Handle: func(ctx context.Context, s *Stream, p Peer) error {
		return s.SendJSON("hi", map[string]int{"v": s.Version})
	}}
	addr, _ := serve(t, ServerConfig{Identity: node, Authority: m.auth, Subsystems: []Subsystem{sub}})
	conn, err := (&Client{Identity: m.member("c", time.Hour), Authority: m.auth}).Dial(ctxT(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	st, err := conn.Open(ctxT(t), SubsystemCompile, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := st.RecvJSON("hi", &got); err != nil || got["v"] != 3 || st.Version != 3 {
		t.Errorf("negotiated %v (%v), want 3", got, err)
	}
	st.Close()

	st, err = conn.Open(ctxT(t), SubsystemCompile, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var re *RemoteError
	if err := st.RecvJSON("hi", &got); !errors.As(err, &re) || !strings.Contains(re.Msg, "upgrade") {
		t.Errorf("old client: %v, want a remote error asking for an upgrade", err)
	}
}

func TestUnauthenticatedCap(t *testing.T) {
	m := newMesh(t)
	node := m.member("node", time.Hour)
	addr, _ := serve(t, ServerConfig{Identity: node, Authority: m.auth,
		Limits: Limits{MaxUnauthPerSource: 2, GraceTime: 500 * time.Millisecond}})
	// Two silent connections fill the per-source allowance; a third is
	// closed at once; after the grace time the first two are closed too.
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
		readBanner(t, c)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := third.Read(make([]byte, 64)); err == nil {
		t.Errorf("third unauthenticated connection got %d bytes, want it closed", n)
	}
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("silent connection not closed after the grace time: %v", err)
		}
	}
}

func readBanner(t *testing.T, c net.Conn) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 64)
	n, err := c.Read(b)
	if err != nil || !strings.HasPrefix(string(b[:n]), "SSH-2.0-distmesh") {
		t.Fatalf("banner %q, %v", b[:n], err)
	}
	c.SetReadDeadline(time.Time{})
}

// TestCiphers checks that nodes of every kind agree on a cipher: a node
// whose processor has AES instructions prefers AES-GCM, one without
// prefers ChaCha20-Poly1305, and a server takes each of the ciphers either
// offers, and nothing older.
func TestCiphers(t *testing.T) {
	fast, portable := ciphers(true), ciphers(false)
	if fast[0] != ssh.CipherAES128GCM || portable[0] != ssh.CipherChaCha20Poly1305 {
		t.Errorf("preferences %v, %v: want AES-GCM first with AES instructions, ChaCha20-Poly1305 first without", fast, portable)
	}
	m := newMesh(t)
	node := m.member("node", time.Hour)
	addr, _ := serve(t, ServerConfig{Identity: node, Authority: m.auth, Status: echoStatus})
	signer, err := m.member("laptop", time.Hour).UserSigner()
	if err != nil {
		t.Fatal(err)
	}
	dial := func(cipher string) error {
		c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
			Config:          ssh.Config{Ciphers: []string{cipher}},
			User:            "laptop",
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		})
		if err == nil {
			c.Close()
		}
		return err
	}
	for _, c := range append(fast, portable...) {
		if err := dial(c); err != nil {
			t.Errorf("a client offering only %s: %v", c, err)
		}
	}
	if err := dial("aes128-ctr"); err == nil {
		t.Error("a client offering only aes128-ctr was admitted")
	}
}
