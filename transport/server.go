package transport

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gliderssh "github.com/gliderlabs/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/cpu"

	"github.com/distmesh/distmesh/keys"
)

// Algorithms both ends of a distmesh connection use; nothing older.
var (
	kexAlgorithms  = []string{ssh.KeyExchangeMLKEM768X25519, ssh.KeyExchangeCurve25519, "curve25519-sha256@libssh.org"}
	cipherSuites   = ciphers(hasAESGCM)
	macAlgorithms  = []string{ssh.HMACSHA256ETM, ssh.HMACSHA512ETM}
	hostKeyAlgos   = []string{ssh.CertAlgoED25519v01}
	clientKeyAlgos = []string{ssh.CertAlgoED25519v01, ssh.KeyAlgoED25519}
)

// hasAESGCM reports processor instructions for AES-GCM, with which Go's
// AES-GCM runs several times faster than ChaCha20-Poly1305, which
// x/crypto/ssh computes in portable code.
var hasAESGCM = cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ || cpu.ARM64.HasAES && cpu.ARM64.HasPMULL

// ciphers is the cipher preference: the fastest first. The agent is the
// client of every job connection, and a client's order decides.
func ciphers(aesgcm bool) []string {
	if aesgcm {
		return []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM, ssh.CipherChaCha20Poly1305}
	}
	return []string{ssh.CipherChaCha20Poly1305, ssh.CipherAES128GCM, ssh.CipherAES256GCM}
}

// Subsystem names.
const (
	SubsystemCompile = "distmesh-compile"
	SubsystemStatus  = "distmesh-status"
	SubsystemEnroll  = "distmesh-enroll"
)

// Limits bound what one client can make a node hold. Zero fields take the
// defaults in DefaultLimits.
type Limits struct {
	GraceTime          time.Duration // to complete authentication
	IdleTimeout        time.Duration // an authenticated connection with no traffic
	MaxAuthTries       int
	MaxUnauthenticated int // connections still authenticating, in total
	MaxUnauthPerSource int // … from one IP address
	MaxConns           int // authenticated connections
	MaxChannels        int // open channels per connection
	MaxMessage         int64
}

// DefaultLimits are generous for a build farm and small for an attacker.
var DefaultLimits = Limits{
	GraceTime:          20 * time.Second,
	IdleTimeout:        10 * time.Minute,
	MaxAuthTries:       6,
	MaxUnauthenticated: 64,
	MaxUnauthPerSource: 10,
	MaxConns:           1024,
	MaxChannels:        256,
	MaxMessage:         256 << 20,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&l.MaxAuthTries, d.MaxAuthTries)
	pick(&l.MaxUnauthenticated, d.MaxUnauthenticated)
	pick(&l.MaxUnauthPerSource, d.MaxUnauthPerSource)
	pick(&l.MaxConns, d.MaxConns)
	pick(&l.MaxChannels, d.MaxChannels)
	if l.GraceTime <= 0 {
		l.GraceTime = d.GraceTime
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxMessage <= 0 {
		l.MaxMessage = d.MaxMessage
	}
	return l
}

// Peer is the authenticated other end of a connection.
type Peer struct {
	// Member is set for an enrolled machine.
	Member keys.Member
	// Invitation is set instead for a machine joining with a token; it may
	// use the enroll subsystem only.
	Invitation *keys.Invitation
	Addr       net.Addr
}

// Name is the peer's node name, or "(joining)" for an invitation.
func (p Peer) Name() string {
	if p.Invitation != nil {
		return "(joining)"
	}
	return p.Member.Name
}

// Handler serves one subsystem stream. It returns when the exchange is over
// or ctx is cancelled (the channel closed, the connection dropped, or the
// server stopped). A returned error is sent to the peer as an error message.
type Handler func(ctx context.Context, s *Stream, p Peer) error

// Subsystem is a named service with the protocol versions it speaks.
type Subsystem struct {
	Name     string
	Min, Max int
	Handle   Handler
}

// TokenChecker verifies a join token's password on the issuer.
type TokenChecker func(password string, now time.Time) (keys.Invitation, error)

// ServerConfig configures a Server.
type ServerConfig struct {
	Identity   *keys.Identity  // required: the host certificate presented
	Authority  *keys.Authority // required: who is a member
	Tokens     TokenChecker    // nil: this node does not enroll by token
	Subsystems []Subsystem
	Status     StatusFunc // answers distmesh-status; the revocation exchange happens regardless
	Limits     Limits
	Logger     *slog.Logger
	Now        func() time.Time // for tests; time.Now if nil
}

// Server is an SSH server that admits only mesh members. Create it with
// NewServer; an insecure Server cannot be built.
type Server struct {
	cfg    ServerConfig
	lim    Limits
	log    *slog.Logger
	subs   map[string]Subsystem
	ssh    *gliderssh.Server
	signer ssh.Signer

	handlers sync.WaitGroup // subsystem handlers running

	// mu protects the following.
	mu        sync.Mutex
	conns     map[*trackedConn]struct{}
	unauth    int
	perSource map[string]int
	baseCtx   context.Context
}

// NewServer checks cfg and builds the server.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Identity == nil || cfg.Authority == nil {
		return nil, errors.New("transport: a server needs an identity and an authority")
	}
	signer, err := cfg.Identity.HostSigner()
	if err != nil {
		return nil, fmt.Errorf("transport: host certificate: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:       cfg,
		lim:       cfg.Limits.withDefaults(),
		log:       cfg.Logger,
		subs:      make(map[string]Subsystem),
		signer:    signer,
		conns:     make(map[*trackedConn]struct{}),
		perSource: make(map[string]int),
	}
	for _, sub := range append(cfg.Subsystems, s.statusSubsystem(cfg.Status)) {
		if sub.Handle == nil || sub.Min < 1 || sub.Max < sub.Min {
			return nil, fmt.Errorf("transport: subsystem %q: bad definition", sub.Name)
		}
		s.subs[sub.Name] = sub
	}
	deny := func(gliderssh.Context, string, uint32) bool { return false }
	s.ssh = &gliderssh.Server{
		Version:     "distmesh_1",
		HostSigners: []gliderssh.Signer{signer},
		// A non-nil handler keeps gliderlabs/ssh from switching on "none"
		// authentication. It answers only "could this key be a member?";
		// the identity is decided in VerifiedPublicKeyCallback.
		PublicKeyHandler:     func(_ gliderssh.Context, k gliderssh.PublicKey) bool { return s.couldBeMember(k) },
		ServerConfigCallback: s.sshConfig,
		ConnCallback:         s.admit,
		// Only session channels, served by s.session, which accepts one
		// subsystem request and refuses everything else (shell, exec, pty,
		// env, forwarding of agents and X11). No direct-tcpip handler
		// (ssh -L), no global request handlers (ssh -R), and the library's
		// own session and subsystem handlers are never reached.
		ChannelHandlers:               map[string]gliderssh.ChannelHandler{"session": s.session},
		RequestHandlers:               map[string]gliderssh.RequestHandler{},
		SubsystemHandlers:             map[string]gliderssh.SubsystemHandler{},
		LocalPortForwardingCallback:   deny,
		ReversePortForwardingCallback: deny,
		IdleTimeout:                   s.lim.IdleTimeout,
	}
	return s, nil
}

// ShutdownWait bounds how long Serve waits, once cancelled, for running
// subsystem handlers (which see their context cancelled) to return.
const ShutdownWait = 5 * time.Second

// Serve accepts connections on ln until ctx is cancelled, then closes every
// connection, waits (at most ShutdownWait) for the subsystem handlers to
// return, and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.baseCtx = ctx
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { s.ssh.Close() })
	defer stop()
	// Certificates expire and lists change while connections stay open.
	enforcer := time.NewTicker(30 * time.Second)
	defer enforcer.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-enforcer.C:
				s.Enforce()
			}
		}
	}()
	err := s.ssh.Serve(ln)
	s.ssh.Close()
	done := make(chan struct{})
	go func() { s.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(ShutdownWait):
		s.log.Warn("subsystem handlers still running after shutdown", "wait", ShutdownWait)
	}
	if ctx.Err() != nil || errors.Is(err, gliderssh.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve ssh: %w", err)
}

func (s *Server) sshConfig(ctx gliderssh.Context) *ssh.ServerConfig {
	tc, _ := ctx.Value(trackedConnKey).(*trackedConn)
	cfg := &ssh.ServerConfig{
		Config: ssh.Config{
			KeyExchanges: kexAlgorithms,
			Ciphers:      cipherSuites,
			MACs:         macAlgorithms,
		},
		PublicKeyAuthAlgorithms: clientKeyAlgos,
		MaxAuthTries:            s.lim.MaxAuthTries,
		NoClientAuth:            false,
		VerifiedPublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey, _ *ssh.Permissions, _ string) (*ssh.Permissions, error) {
			m, err := s.cfg.Authority.CheckUser(key, s.cfg.Now())
			if err != nil {
				return nil, err
			}
			tc.authenticated(m)
			// Fresh permissions for this key alone, never shared with an
			// earlier attempt.
			return &ssh.Permissions{Extensions: map[string]string{
				extMember: base64.StdEncoding.EncodeToString(m.Cert.Marshal()),
			}}, nil
		},
		AuthLogCallback: func(c ssh.ConnMetadata, method string, err error) {
			if err != nil && method != "none" {
				s.log.Debug("ssh authentication failed", "addr", c.RemoteAddr(), "method", method, "error", err)
			}
		},
	}
	if s.cfg.Tokens != nil {
		cfg.PasswordCallback = func(_ ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			if _, err := s.cfg.Tokens(string(password), s.cfg.Now()); err != nil {
				s.log.Info("join token refused", "addr", tc.RemoteAddr(), "error", err)
				// Tell the joining machine why, in the banner: the
				// password method itself has no way to.
				return nil, &ssh.BannerError{Err: err, Message: err.Error() + "\n"}
			}
			tc.authenticated(keys.Member{})
			return &ssh.Permissions{Extensions: map[string]string{extToken: string(password)}}, nil
		}
	}
	return cfg
}

// Extensions in the Permissions of an authenticated connection.
const (
	extMember = "distmesh-member-cert"
	extToken  = "distmesh-join-token"
)

// couldBeMember is the cheap first check of an offered key.
func (s *Server) couldBeMember(k ssh.PublicKey) bool {
	_, err := s.cfg.Authority.CheckUser(k, s.cfg.Now())
	return err == nil
}

// peerOf derives the peer from the permissions of the method that actually
// authenticated the connection, and checks it again now.
func (s *Server) peerOf(conn *ssh.ServerConn) (Peer, error) {
	p := Peer{Addr: conn.RemoteAddr()}
	if conn.Permissions == nil {
		return p, errors.New("not authenticated")
	}
	if b64, ok := conn.Permissions.Extensions[extMember]; ok {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return p, err
		}
		pub, err := ssh.ParsePublicKey(raw)
		if err != nil {
			return p, err
		}
		m, err := s.cfg.Authority.CheckUser(pub, s.cfg.Now())
		if err != nil {
			return p, err
		}
		p.Member = m
		return p, nil
	}
	if pw, ok := conn.Permissions.Extensions[extToken]; ok && s.cfg.Tokens != nil {
		inv, err := s.cfg.Tokens(pw, s.cfg.Now())
		if err != nil {
			return p, err
		}
		p.Invitation = &inv
		return p, nil
	}
	return p, errors.New("not authenticated as a member")
}

// session serves a session channel: one subsystem request, nothing else.
func (s *Server) session(_ *gliderssh.Server, conn *ssh.ServerConn, nc ssh.NewChannel, gctx gliderssh.Context) {
	tc, _ := gctx.Value(trackedConnKey).(*trackedConn)
	peer, err := s.peerOf(conn)
	if err != nil {
		s.log.Info("channel refused", "addr", conn.RemoteAddr(), "error", err)
		nc.Reject(ssh.Prohibited, err.Error())
		conn.Close()
		return
	}
	if tc != nil && !tc.openChannel(s.lim.MaxChannels) {
		nc.Reject(ssh.ResourceShortage, "too many open channels on this connection")
		return
	}
	if tc != nil {
		defer tc.closeChannel()
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()

	s.mu.Lock()
	base := s.baseCtx
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(base)
	defer cancel()
	stop := context.AfterFunc(gctx, cancel) // the connection closed
	defer stop()

	done := make(chan struct{})
	started := false
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				cancel()
				if started {
					<-done
				}
				return
			}
			if req.Type != "subsystem" || started {
				// shell, exec, pty-req, env, x11-req, auth-agent-req@openssh.com,
				// signal, window-change, a second subsystem…
				s.log.Debug("session request refused", "peer", peer.Name(), "request", req.Type)
				req.Reply(false, nil)
				continue
			}
			var name struct{ Name string }
			if err := ssh.Unmarshal(req.Payload, &name); err != nil {
				req.Reply(false, nil)
				continue
			}
			sub, ok := s.subs[name.Name]
			if !ok || (peer.Invitation != nil && sub.Name != SubsystemEnroll) {
				s.log.Info("subsystem refused", "peer", peer.Name(), "subsystem", name.Name)
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			started = true
			s.handlers.Add(1)
			go func() {
				defer s.handlers.Done()
				defer close(done)
				status := s.run(ctx, ch, sub, peer)
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
				ch.CloseWrite()
				ch.Close()
			}()
		case <-done:
			return
		}
	}
}

func (s *Server) run(ctx context.Context, ch ssh.Channel, sub Subsystem, peer Peer) uint32 {
	stop := context.AfterFunc(ctx, func() { ch.Close() })
	defer stop()
	st := newStream(ch, s.lim.MaxMessage)
	v, err := serverHello(st, sub.Min, sub.Max)
	if err != nil {
		s.log.Info("subsystem version exchange failed", "peer", peer.Name(), "subsystem", sub.Name, "error", err)
		return 1
	}
	st.Version = v
	if err := sub.Handle(ctx, st, peer); err != nil {
		if ctx.Err() == nil {
			st.SendError(err)
		}
		s.log.Debug("subsystem ended with an error", "peer", peer.Name(), "subsystem", sub.Name, "error", err)
		return 1
	}
	return 0
}

// Enforce closes the connections of members whose certificates no longer
// pass (revoked since they connected, or expired). Call it after the
// revocation list changes; Serve calls it periodically as well.
func (s *Server) Enforce() {
	s.mu.Lock()
	var drop []*trackedConn
	for tc := range s.conns {
		if tc.member.Cert == nil {
			continue
		}
		if _, err := s.cfg.Authority.CheckUser(tc.member.Cert, s.cfg.Now()); err != nil {
			drop = append(drop, tc)
		}
	}
	s.mu.Unlock()
	for _, tc := range drop {
		s.log.Info("closing connection: certificate no longer valid", "node", tc.member.Name, "key", tc.member.Fingerprint, "addr", tc.RemoteAddr())
		tc.Close()
	}
}

// Members counts authenticated connections, for status.
func (s *Server) Members() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

type ctxKey struct{ string }

var trackedConnKey = &ctxKey{"tracked-conn"}

// trackedConn follows one TCP connection from accept to close: it enforces
// the login grace time and the caps on unauthenticated connections, and
// lets Enforce find the connection of a revoked key.
type trackedConn struct {
	net.Conn
	srv      *Server
	source   string
	grace    *time.Timer
	channels atomic.Int32

	// srv.mu protects the following.
	authed, closed bool
	member         keys.Member // zero for a joining machine
}

// admit is gliderlabs' ConnCallback: it refuses connections over the caps
// and wraps the rest.
func (s *Server) admit(ctx gliderssh.Context, c net.Conn) net.Conn {
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	s.mu.Lock()
	if s.unauth >= s.lim.MaxUnauthenticated || s.perSource[host] >= s.lim.MaxUnauthPerSource || len(s.conns) >= s.lim.MaxConns {
		s.mu.Unlock()
		s.log.Warn("connection refused: too many connections", "addr", c.RemoteAddr())
		return nil
	}
	s.unauth++
	s.perSource[host]++
	s.mu.Unlock()
	tc := &trackedConn{Conn: c, source: host, srv: s}
	tc.grace = time.AfterFunc(s.lim.GraceTime, func() {
		s.mu.Lock()
		authed := tc.authed
		s.mu.Unlock()
		if !authed {
			s.log.Info("closing connection: login grace time exceeded", "addr", c.RemoteAddr())
			tc.Close()
		}
	})
	ctx.SetValue(trackedConnKey, tc)
	return tc
}

// releaseUnauthLocked gives back tc's place among unauthenticated
// connections.
func (s *Server) releaseUnauthLocked(tc *trackedConn) {
	s.unauth--
	if s.perSource[tc.source]--; s.perSource[tc.source] <= 0 {
		delete(s.perSource, tc.source)
	}
}

func (tc *trackedConn) authenticated(m keys.Member) {
	s := tc.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if tc.authed || tc.closed {
		return
	}
	tc.grace.Stop()
	tc.authed = true
	tc.member = m
	s.releaseUnauthLocked(tc)
	s.conns[tc] = struct{}{}
}

func (tc *trackedConn) Close() error {
	err := tc.Conn.Close()
	s := tc.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if tc.closed {
		return err
	}
	tc.closed = true
	tc.grace.Stop()
	if tc.authed {
		delete(s.conns, tc)
	} else {
		s.releaseUnauthLocked(tc)
	}
	return err
}

func (tc *trackedConn) openChannel(max int) bool {
	if tc.channels.Add(1) > int32(max) {
		tc.channels.Add(-1)
		return false
	}
	return true
}

func (tc *trackedConn) closeChannel() { tc.channels.Add(-1) }
