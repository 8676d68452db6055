package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/distmesh/distmesh/internal/renameio"
)

// nodeState is what a running node publishes in its home for the commands
// run beside it: where it actually listens.
type nodeState struct {
	PID     int       `json:"pid"`
	Listen  []string  `json:"listen"` // addresses a peer can dial, wildcards expanded
	Started time.Time `json:"started"`
}

func statePath(home string) string { return filepath.Join(home, "node.json") }
func lockPath(home string) string  { return filepath.Join(home, "lock") }

// lockHome takes the home's lock for a running node. The lock is an flock:
// it dies with the process, so a node killed with SIGKILL leaves no stale
// lock behind, only a lock file that the next start reuses.
func lockHome(home string) (unlock func(), err error) {
	f, err := os.OpenFile(lockPath(home), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", home, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid := "another process"
			if st, ok := readState(home); ok {
				pid = "process " + strconv.Itoa(st.PID)
			}
			return nil, fmt.Errorf("a node is already running in %s (%s): stop it first, or use another --home", home, pid)
		}
		return nil, fmt.Errorf("lock %s: %w", home, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { os.Remove(statePath(home)); f.Close() }, nil
}

// running reports whether a node holds the home's lock.
func running(home string) bool {
	f, err := os.Open(lockPath(home))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

func writeState(home string, st nodeState) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	return renameio.WriteFile(statePath(home), append(b, '\n'), 0o644)
}

// readState returns the running node's state; ok is false when no node runs
// in home.
func readState(home string) (nodeState, bool) {
	var st nodeState
	b, err := os.ReadFile(statePath(home))
	if err != nil || json.Unmarshal(b, &st) != nil || !running(home) {
		return nodeState{}, false
	}
	return st, true
}

// dialableAddrs turns the address a listener is bound to into addresses a
// peer can dial: a wildcard address becomes the machine's interface
// addresses (global ones first, loopback only when there is nothing else).
func dialableAddrs(bound net.Addr) []string {
	tcp, ok := bound.(*net.TCPAddr)
	if !ok {
		return []string{bound.String()}
	}
	port := strconv.Itoa(tcp.Port)
	if !tcp.IP.IsUnspecified() {
		return []string{net.JoinHostPort(tcp.IP.String(), port)}
	}
	var global, loop []string
	ifaces, _ := net.Interfaces()
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip := ipn.IP
			switch {
			case ip.IsLoopback():
				loop = append(loop, net.JoinHostPort(ip.String(), port))
			case ip.IsLinkLocalUnicast():
				if ip.To4() == nil {
					global = append(global, net.JoinHostPort(ip.String()+"%"+ifi.Name, port))
				}
			case tcp.IP.To4() == nil || ip.To4() != nil: // Go listens dual-stack on a wildcard (reported as [::]); an IPv4 wildcard serves IPv4 only
				global = append(global, net.JoinHostPort(ip.String(), port))
			}
		}
	}
	if len(global) == 0 {
		return loop
	}
	return global
}
