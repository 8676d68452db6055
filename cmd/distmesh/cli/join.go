package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/distmesh/distmesh/keys"
	"github.com/distmesh/distmesh/transport"
)

func runJoin(ctx context.Context, e *env, args []string) error {
	const synopsis = "join [TOKEN|BUNDLE] [--name NAME] [--listen ADDR] [--client-only]"
	fs := e.flags("join", "[TOKEN|BUNDLE] [--name NAME] [--listen ADDR] [--client-only]")
	name := fs.String("name", "", "this node's `NAME` when enrolling (default: the token's, else the host name)")
	listen := fs.String("listen", "", "`ADDR` to serve on (default from config.toml, else "+DefaultListen+")")
	clientOnly := fs.Bool("client-only", false, "only send work: run the agent, serve no compiles")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 1, synopsis); err != nil {
		return err
	}
	store := keys.Store{Dir: e.home}
	if len(pos) == 1 {
		if err := enroll(ctx, e, store, pos[0], *name); err != nil {
			return err
		}
	}
	cfg, err := loadConfig(e.home)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *clientOnly {
		cfg.ClientOnly = true
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return runNode(ctx, e, cfg)
}

// enroll installs certificates from a join token (over the network) or a
// bundle (offline). An enrolled home is never overwritten.
func enroll(ctx context.Context, e *env, store keys.Store, arg, name string) error {
	if store.Enrolled() {
		auth, _ := store.LoadAuthority()
		mesh := ""
		if auth != nil {
			mesh = " " + auth.MeshID().String()
		}
		return fmt.Errorf("%s is already enrolled in mesh%s: run `distmesh join` without a token to start it, or use another --home", store.Dir, mesh)
	}
	if keys.IsBundle(arg) {
		certs, err := keys.ParseBundle(arg)
		if err != nil {
			return err
		}
		signer, err := store.NodeKey()
		if err != nil {
			return err
		}
		if keys.FingerprintOf(certs.User.Key) != keys.FingerprintOf(signer.PublicKey()) {
			return fmt.Errorf("the bundle certifies key %s, but this home's key is %s: sign the key `distmesh keys show` prints here", keys.FingerprintOf(certs.User.Key), keys.FingerprintOf(signer.PublicKey()))
		}
		if err := store.Install(certs); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "enrolled as %q from a certificate bundle\n", certs.User.KeyId)
		return nil
	}
	tok, err := keys.ParseToken(arg)
	if err != nil {
		return err
	}
	if name == "" {
		name = hostName()
	}
	if err := keys.CheckName(name); err != nil {
		return err
	}
	if err := store.Prepare(); err != nil {
		return err
	}
	signer, err := store.NodeKey()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	certs, issuer, err := transport.Enroll(ctx, tok, signer, name)
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	if err := store.Install(certs); err != nil {
		return err
	}
	// Remember the issuer: for renewals, and as the first peer.
	cfg, err := loadConfig(store.Dir)
	if err != nil {
		return err
	}
	peers := cfg.Peers
	if !contains(peers, issuer) {
		peers = append(peers, issuer)
	}
	if err := updateConfig(store.Dir, map[string]any{"issuer": issuer, "peers": peers}); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "enrolled as %q in mesh %s via %s\n", certs.User.KeyId, tok.CA, issuer)
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func newLogger(e *env, level string) *slog.Logger {
	var l slog.Level
	if v := os.Getenv("DISTMESH_LOG"); v != "" {
		level = v
	}
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: l}))
}

// runNode is the composition root: it wires keys, transport and the job
// services into a running node and runs it until ctx is cancelled.
func runNode(ctx context.Context, e *env, cfg Config) error {
	log := newLogger(e, cfg.LogLevel)
	store := keys.Store{Dir: e.home}
	id, err := store.LoadIdentity()
	if err != nil {
		return err
	}
	unlock, err := lockHome(e.home)
	if err != nil {
		return err
	}
	defer unlock()
	auth, err := store.LoadAuthority()
	if err != nil {
		return err
	}
	if _, err := auth.CheckUser(id.UserCert, time.Now()); err != nil {
		return fmt.Errorf("this node's certificate does not pass: %w", err)
	}
	log = log.With("node", id.Name)

	var subs []transport.Subsystem
	var tokens transport.TokenChecker
	if store.IsIssuer() {
		subs = append(subs, transport.EnrollSubsystem(store, auth, time.Now))
		tokens = store.CheckToken
	}
	srv, err := transport.NewServer(transport.ServerConfig{
		Identity:   id,
		Authority:  auth,
		Tokens:     tokens,
		Subsystems: subs,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another program using the port? set listen in config.toml or --listen)", cfg.Listen, err)
	}
	addrs := dialableAddrs(ln.Addr())
	if err := writeState(e.home, nodeState{PID: os.Getpid(), Listen: addrs, Started: time.Now()}); err != nil {
		ln.Close()
		return err
	}
	log.Info("node running", "mesh", auth.MeshID(), "listen", strings.Join(addrs, ","), "issuer", store.IsIssuer())

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(ctx, ln) })
	g.Go(func() error {
		// SIGHUP: the revocation list (and, later, config) changed on disk.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				log.Info("reloading on SIGHUP", "revocation_serial", auth.RevocationSerial())
				srv.Enforce()
			}
		}
	})
	err = g.Wait()
	log.Info("node stopped")
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// notifyNode tells the node running in home, if any, that its trust files
// changed.
func notifyNode(ctx context.Context, home string) {
	if st, ok := readState(home); ok {
		syscall.Kill(st.PID, syscall.SIGHUP)
	}
}
