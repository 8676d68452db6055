package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/distmesh/distmesh/jobs"
	"github.com/distmesh/distmesh/jobs/wrap"
	"github.com/distmesh/distmesh/keys"
	"github.com/distmesh/distmesh/landlock"
	"github.com/distmesh/distmesh/transport"
)

func runJoin(ctx context.Context, e *env, args []string) error {
	ensureTimerSlack() // may execute this program again, with the same arguments
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

// newLogger logs to stderr at level (DISTMESH_LOG overrides it); the
// returned LevelVar changes it later (SIGHUP).
func newLogger(e *env, level string) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	setLevel(lv, level)
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: lv})), lv
}

func setLevel(lv *slog.LevelVar, level string) {
	if v := os.Getenv("DISTMESH_LOG"); v != "" {
		level = v
	}
	var l slog.Level
	l.UnmarshalText([]byte(level))
	lv.Set(l)
}

// runNode is the composition root: it wires keys, transport and the job
// services into a running node and runs it until ctx is cancelled.
func runNode(ctx context.Context, e *env, cfg Config) error {
	log, logLevel := newLogger(e, cfg.LogLevel)
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		// The node keeps little (its caches are tens of MB) and every job
		// allocates its messages anew: at Go's default the collector took
		// a tenth of the agent's CPU per job. The soft limit keeps the
		// larger target from growing where memory runs short.
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(1 << 30)
	}
	if path := os.Getenv("DISTMESH_CPUPROFILE"); path != "" {
		// For developers: a CPU profile of the node, written when it stops.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
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

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another program using the port? set listen in config.toml or --listen)", cfg.Listen, err)
	}
	defer ln.Close()
	addrs := dialableAddrs(ln.Addr())

	var subs []transport.Subsystem
	var tokens transport.TokenChecker
	if store.IsIssuer() {
		subs = append(subs, transport.EnrollSubsystem(store, auth, time.Now))
		tokens = store.CheckToken
	}
	var node *jobs.Node
	spawner := new(landlock.Spawner)
	if !cfg.ClientOnly {
		if node, err = newNode(ctx, e.home, id.Name, cfg, spawner, log); err != nil {
			return err
		}
		if node != nil {
			subs = append(subs, node.Subsystem())
		}
	}
	var srv *transport.Server
	agent := jobs.NewAgent(jobs.AgentConfig{
		Home:         e.home,
		Identity:     id,
		Authority:    auth,
		Peers:        cfg.Peers,
		Listen:       addrs,
		LocalSlots:   cfg.Slots,
		Node:         node,
		NoFileWatch:  !cfg.WatchFiles,
		OnRevocation: func() { srv.Enforce() },
		Logger:       log,
	})
	srv, err = transport.NewServer(transport.ServerConfig{
		Identity:   id,
		Authority:  auth,
		Tokens:     tokens,
		Subsystems: subs,
		Status:     agent.HandleStatus,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	if err := writeState(e.home, nodeState{PID: os.Getpid(), Listen: addrs, Started: time.Now()}); err != nil {
		return err
	}
	log.Info("node running", "mesh", auth.MeshID(), "listen", strings.Join(addrs, ","), "issuer", store.IsIssuer(), "serving", node != nil)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(ctx, ln) })
	g.Go(func() error { return agent.Run(ctx) })
	if node != nil {
		g.Go(func() error {
			if err := spawner.Serve(ctx); err != nil {
				log.Warn("sandbox spawner stopped: the node starts jobs' launchers itself, at a higher CPU cost per job", "error", err)
			}
			return nil
		})
	}
	if cfg.Discovery {
		g.Go(func() error {
			return runDiscovery(ctx, discoveryParams{Config: cfg, Identity: id, Authority: auth, Bound: ln.Addr(), Addrs: addrs, Agent: agent, Node: node, Log: log})
		})
	}
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics_listen %s: %w", cfg.MetricsListen, err)
		}
		g.Go(func() error { return serveMetrics(ctx, mln, agent) })
	}
	g.Go(func() error {
		// SIGHUP: config.toml or the revocation list changed on disk. What
		// can change live does (log level, static peers, revocations);
		// the rest is reported as needing a restart. No connection drops.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				cfg = reload(e.home, cfg, logLevel, agent, log)
				log.Info("reloaded on SIGHUP", "revocation_serial", auth.RevocationSerial())
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

// chooseLauncher makes jobs start their sandbox launcher from the
// distmesh-launcher installed beside this binary, which starts in a third
// of the time this whole program takes, and says which launcher jobs use.
func chooseLauncher(ctx context.Context) string {
	launcher, err := wrap.Beside(wrap.LauncherName)
	if err == nil {
		err = landlock.UseLauncher(ctx, launcher)
	}
	if err != nil {
		return "this binary (" + err.Error() + ")"
	}
	return launcher
}

// newNode prepares this machine's compile service: the sandbox check, the
// compilers it serves and the content store. It returns nil (and says why
// in the log) when the machine cannot confine compiles as configured.
func newNode(ctx context.Context, home, name string, cfg Config, spawner *landlock.Spawner, log *slog.Logger) (*jobs.Node, error) {
	uid, gid, who, err := runAs(cfg.User)
	if err != nil {
		return nil, err
	}
	launcher := chooseLauncher(ctx)
	report := landlock.Probe(ctx, uid, gid)
	if !report.Meets(cfg.MinConfinement) {
		log.Error("not serving compiles: this machine cannot confine them as required (run `distmesh doctor`)",
			"confinement", report.Level, "required", cfg.MinConfinement, "problems", strings.Join(report.Problems, "; "))
		return nil, nil
	}
	if report.Level < landlock.LevelFull {
		log.Warn("serving compiles with reduced confinement, as min_confinement allows", "confinement", report.Level)
	}
	log.Info("sandbox", "confinement", report.Level, "landlock_abi", report.LandlockABI, "compilers_run_as", who, "launcher", launcher)
	comps := probeCompilers(ctx, cfg.Compilers, log)
	store, err := jobs.OpenStore(filepath.Join(home, "store"), int64(cfg.StoreSize), log)
	if err != nil {
		return nil, err
	}
	return jobs.NewNode(jobs.NodeConfig{
		Name:      name,
		WorkDir:   filepath.Join(home, "jobs"),
		Store:     store,
		Compilers: comps,
		Slots:     cfg.Slots,
		Queue:     cfg.Slots,
		Limits:    landlock.DefaultLimits(),
		UID:       uid,
		GID:       gid,
		Spawner:   spawner,
		Logger:    log,
	})
}

// probeCompilers finds and identifies the compilers this node serves.
func probeCompilers(ctx context.Context, extra []string, log *slog.Logger) []*jobs.Compiler {
	paths := jobs.FindCompilers(extra)
	out := make([]*jobs.Compiler, len(paths))
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	for i, p := range paths {
		g.Go(func() error {
			c, err := jobs.ProbeCompiler(ctx, p)
			if err != nil {
				log.Warn("compiler not served", "path", p, "error", err)
				return nil
			}
			out[i] = c
			return nil
		})
	}
	g.Wait()
	seen := map[string]bool{}
	var comps []*jobs.Compiler
	for _, c := range out {
		if c != nil && !seen[c.ID] {
			seen[c.ID] = true
			comps = append(comps, c)
			log.Debug("serving compiler", "path", c.Path, "id", c.Short(), "banner", c.Banner)
		}
	}
	log.Info("compilers found", "count", len(comps))
	return comps
}

// reload rereads config.toml and applies what can change while the node
// runs; a file that does not load keeps the running configuration.
func reload(home string, old Config, lv *slog.LevelVar, agent *jobs.Agent, log *slog.Logger) Config {
	cfg, err := loadConfig(home)
	if err != nil {
		log.Error("config not reloaded", "error", err)
		return old
	}
	setLevel(lv, cfg.LogLevel)
	for _, p := range cfg.Peers {
		if !slices.Contains(old.Peers, p) {
			agent.Suggest(p, "config", keys.Fingerprint{})
		}
	}
	for _, p := range old.Peers {
		if !slices.Contains(cfg.Peers, p) {
			agent.Withdraw(p, "config")
		}
	}
	for key, changed := range map[string]bool{
		"listen":          cfg.Listen != old.Listen,
		"client_only":     cfg.ClientOnly != old.ClientOnly,
		"slots":           cfg.Slots != old.Slots,
		"compilers":       !slices.Equal(cfg.Compilers, old.Compilers),
		"store_size":      cfg.StoreSize != old.StoreSize,
		"user":            cfg.User != old.User,
		"min_confinement": cfg.MinConfinement != old.MinConfinement,
		"metrics_listen":  cfg.MetricsListen != old.MetricsListen,
		"watch_files":     cfg.WatchFiles != old.WatchFiles,
		"discovery":       cfg.Discovery != old.Discovery || !slices.Equal(cfg.Interfaces, old.Interfaces),
	} {
		if changed {
			log.Warn("config changed, takes effect at the next start", "key", key)
		}
	}
	return cfg
}

// serveMetrics serves Prometheus metrics at /metrics until ctx ends.
func serveMetrics(ctx context.Context, ln net.Listener, agent *jobs.Agent) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		agent.WriteMetrics(w)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
