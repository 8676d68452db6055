package transport

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/distmesh/distmesh/keys"
)

// sshClient runs the stock OpenSSH client against a node, with nothing from
// the user's own configuration, agent or known hosts.
type sshClient struct {
	t          *testing.T
	knownHosts string
	port       string
}

func newSSHClient(t *testing.T, addr string, auth *keys.Authority) *sshClient {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("OpenSSH client (ssh) not installed: install openssh-client to run the interop tests")
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	var b bytes.Buffer
	for _, ca := range auth.CAKeys() {
		fmt.Fprintf(&b, "@cert-authority * %s", ssh.MarshalAuthorizedKey(ca))
	}
	if err := os.WriteFile(kh, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	return &sshClient{t: t, knownHosts: kh, port: port}
}

// run runs ssh with identity file key (its certificate beside it, as
// key-cert.pub) and the given arguments, feeding stdin.
func (c *sshClient) run(key, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := []string{
		"-F", "/dev/null", "-o", "UserKnownHostsFile=" + c.knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none", "-o", "ConnectTimeout=20", "-p", c.port, "-i", key,
	}
	cmd := exec.CommandContext(ctx, "ssh", append(base, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestOpenSSHInterop(t *testing.T) {
	m := newMesh(t)
	node := m.member("node", time.Hour)
	addr, _ := serve(t, ServerConfig{Identity: node, Authority: m.auth, Status: echoStatus})
	c := newSSHClient(t, addr, m.auth)

	// certify creates a key file in a fresh home and certifies it with ca.
	certify := func(ca *keys.CA, name string, ttl time.Duration, now time.Time) (string, keys.Fingerprint) {
		st := keys.Store{Dir: filepath.Join(t.TempDir(), name)}
		signer, err := st.NodeKey()
		if err != nil {
			t.Fatal(err)
		}
		if ca != nil {
			user, _, err := ca.Certify(signer.PublicKey(), name, ttl, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(st.UserCertPath(), ssh.MarshalAuthorizedKey(user), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return st.NodeKeyPath(), keys.FingerprintOf(signer.PublicKey())
	}
	enrolled, _ := certify(m.ca, "laptop", time.Hour, time.Now())
	// The registry must know revoked machines by name: enroll through it.
	revokedKey := func() string {
		st := keys.Store{Dir: filepath.Join(t.TempDir(), "stolen")}
		signer, err := st.NodeKey()
		if err != nil {
			t.Fatal(err)
		}
		certs, err := m.store.Certify(m.ca, m.auth, signer.PublicKey(), "stolen", time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(st.UserCertPath(), ssh.MarshalAuthorizedKey(certs.User), 0o644)
		if _, err := m.store.Revoke(m.ca, m.auth, "stolen", time.Now()); err != nil {
			t.Fatal(err)
		}
		return st.NodeKeyPath()
	}()
	other := newMesh(t)
	foreign, _ := certify(other.ca, "intruder", time.Hour, time.Now())
	expired, _ := certify(m.ca, "old", time.Minute, time.Now().Add(-3*time.Hour))
	unenrolled, _ := certify(nil, "nobody", 0, time.Time{})

	t.Run("enrolled certificate opens the status subsystem", func(t *testing.T) {
		out, err := c.run(enrolled, "distmesh 1 1\nstatus 2\n{}", "anyname@127.0.0.1", "-s", SubsystemStatus)
		if err != nil || !strings.HasPrefix(out, "distmesh 1\nstatus ") || !strings.Contains(out, `"you":"laptop"`) {
			t.Fatalf("ssh -s %s: %v\n%s", SubsystemStatus, err, out)
		}
	})
	for _, tt := range []struct{ name, key string }{
		{"unenrolled key", unenrolled},
		{"certificate from another CA", foreign},
		{"revoked certificate", revokedKey},
		{"expired certificate", expired},
	} {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			out, err := c.run(tt.key, "", "anyname@127.0.0.1", "-s", SubsystemStatus)
			if err == nil || !strings.Contains(out, "Permission denied") {
				t.Fatalf("want permission denied, got %v\n%s", err, out)
			}
		})
	}
	t.Run("exec is refused", func(t *testing.T) {
		out, err := c.run(enrolled, "", "anyname@127.0.0.1", "id")
		if err == nil || strings.Contains(out, "uid=") || !strings.Contains(out, "exec request failed") {
			t.Fatalf("ssh node id: %v\n%s", err, out)
		}
	})
	t.Run("shell is refused", func(t *testing.T) {
		out, err := c.run(enrolled, "echo hello\n", "-tt", "anyname@127.0.0.1")
		if err == nil || strings.Contains(out, "hello\r\nhello") {
			t.Fatalf("ssh -tt node: %v\n%s", err, out)
		}
		out, err = c.run(enrolled, "echo hello\n", "-T", "anyname@127.0.0.1")
		if err == nil {
			t.Fatalf("ssh -T node (shell without pty): %v\n%s", err, out)
		}
	})
	t.Run("remote forwarding is refused", func(t *testing.T) {
		out, err := c.run(enrolled, "", "-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9", "anyname@127.0.0.1")
		if err == nil || !strings.Contains(out, "remote port forwarding failed") {
			t.Fatalf("ssh -R: %v\n%s", err, out)
		}
	})
	t.Run("local forwarding is refused", func(t *testing.T) {
		// A target the node could reach: it must never see a connection.
		target, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		arrived := make(chan struct{}, 1)
		go func() {
			if c, err := target.Accept(); err == nil {
				c.Close()
				arrived <- struct{}{}
			}
		}()
		// ssh -W connects stdin/stdout to the forwarded channel and exits
		// when the server refuses to open it.
		out, err := c.run(enrolled, "", "-W", target.Addr().String(), "anyname@127.0.0.1")
		if err == nil {
			t.Fatalf("ssh -W: forwarding accepted\n%s", out)
		}
		select {
		case <-arrived:
			t.Fatal("the forwarding target received a connection through the node")
		default:
		}
	})
}
