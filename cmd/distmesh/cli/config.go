package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/distmesh/distmesh/internal/renameio"
	"github.com/distmesh/distmesh/landlock"
)

// Config is DIR/config.toml. Every field has a default; unknown keys are an
// error naming the key, so a typo is never silently ignored.
type Config struct {
	// Listen is where the node's SSH server listens.
	Listen string `toml:"listen"`
	// ClientOnly runs the agent without serving compiles (a laptop).
	ClientOnly bool `toml:"client_only"`
	// Peers are static peer addresses (host:port), for networks where
	// discovery does not reach.
	Peers []string `toml:"peers"`
	// Discovery advertises this node and finds others over mDNS/DNS-SD.
	Discovery bool `toml:"discovery"`
	// Interfaces limits mDNS to these network interfaces (default: those
	// that carry the listen addresses).
	Interfaces []string `toml:"interfaces"`
	// Issuer is the address of the issuer node, for `keys renew`.
	Issuer string `toml:"issuer"`
	// Slots is how many compiles this node runs at once (default: CPUs).
	Slots int `toml:"slots"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	// MetricsListen, when set, serves Prometheus metrics at /metrics there
	// (such as "127.0.0.1:9633").
	MetricsListen string `toml:"metrics_listen"`
	// Compilers are compilers to serve besides those found in PATH.
	Compilers []string `toml:"compilers"`
	// StoreSize bounds the store of file contents received from clients.
	StoreSize ByteSize `toml:"store_size"`
	// User is the account compilers run as when the node runs as root
	// (default: a "distmesh" system user, else an unused uid).
	User string `toml:"user"`
	// MinConfinement is the least sandboxing this node serves compiles
	// with: "full" (the default), "partial" or "none".
	MinConfinement landlock.Level `toml:"min_confinement"`
	// WatchFiles keeps what the agent looked up true with inotify, so
	// that jobs do not look up and stat their inputs again.
	WatchFiles bool `toml:"watch_files"`
}

// ByteSize is a size in bytes, written as 1073741824, "1GiB", "512MiB" or
// "500MB".
type ByteSize int64

func (b *ByteSize) UnmarshalText(t []byte) error {
	s := strings.TrimSpace(string(t))
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			var n float64
			if _, err := fmt.Sscanf(strings.TrimSpace(num), "%g", &n); err != nil || n < 0 {
				break
			}
			*b = ByteSize(n * float64(u.mult))
			return nil
		}
	}
	return fmt.Errorf("size %q: want a number of bytes, or one with a unit such as 4GiB or 500MB", s)
}

// DefaultListen is the default SSH port of a node.
const DefaultListen = ":3633"

func defaultConfig() Config {
	return Config{Listen: DefaultListen, Slots: runtime.NumCPU(), LogLevel: "info", StoreSize: 4 << 30, MinConfinement: landlock.LevelFull, Discovery: true, WatchFiles: true}
}

// Validate checks the values that decoding cannot.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen = %q: want host:port, such as %q", c.Listen, DefaultListen)
	}
	for _, p := range c.Peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			return fmt.Errorf("peers: %q: want host:port", p)
		}
	}
	if c.Slots < 1 {
		return fmt.Errorf("slots = %d: want at least 1", c.Slots)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("metrics_listen = %q: want host:port, such as \"127.0.0.1:9633\"", c.MetricsListen)
		}
	}
	if c.StoreSize < 64<<20 {
		return fmt.Errorf("store_size = %d: want at least 64MiB", c.StoreSize)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level = %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

func configPath(home string) string { return filepath.Join(home, "config.toml") }

// loadConfig reads DIR/config.toml; a missing file means all defaults.
func loadConfig(home string) (Config, error) {
	cfg := defaultConfig()
	path := configPath(home)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, err
	}
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var names []string
		for _, k := range und {
			names = append(names, k.String())
		}
		sort.Strings(names)
		return cfg, fmt.Errorf("%s: unknown key %s: check the spelling against the README's configuration section", path, strings.Join(names, ", "))
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// updateConfig rewrites the keys given in set, keeping the rest of the file
// (and its comments) as it is when the key already exists there; otherwise
// the key is appended. It is used at enrollment to record the issuer.
func updateConfig(home string, set map[string]any) error {
	path := configPath(home)
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(data) == 0 {
		lines = nil
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(map[string]any{k: set[k]}); err != nil {
			return err
		}
		line := strings.TrimSpace(b.String())
		replaced := false
		for i, l := range lines {
			if f := strings.Fields(strings.ReplaceAll(l, "=", " = ")); len(f) > 0 && f[0] == k {
				lines[i], replaced = line, true
				break
			}
		}
		if !replaced {
			lines = append(lines, line)
		}
	}
	out := strings.Join(lines, "\n") + "\n"
	var probe Config
	if _, err := toml.Decode(out, &probe); err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	return renameio.WriteFile(path, []byte(out), 0o644)
}
