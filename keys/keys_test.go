package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func newMesh(t *testing.T) (Store, *CA, *Authority) {
	t.Helper()
	s := Store{Dir: filepath.Join(t.TempDir(), "home")}
	if _, err := s.Init("issuer", t0); err != nil {
		t.Fatal(err)
	}
	ca, err := s.LoadCA()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := s.LoadAuthority()
	if err != nil {
		t.Fatal(err)
	}
	return s, ca, auth
}

func newKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInitWritesOpenSSHFiles(t *testing.T) {
	s, _, _ := newMesh(t)
	id, err := s.LoadIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "issuer" {
		t.Errorf("name = %q, want issuer", id.Name)
	}
	for path, want := range map[string]os.FileMode{
		s.NodeKeyPath(): 0o600, s.CAKeyPath(): 0o600, filepath.Join(s.Dir, "keys"): 0o700,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", path, got, want)
		}
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not installed: cannot check that OpenSSH reads the files")
	}
	out, err := exec.Command("ssh-keygen", "-L", "-f", s.UserCertPath()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "user certificate") || !strings.Contains(string(out), `Key ID: "issuer"`) {
		t.Errorf("ssh-keygen -L user cert: %v\n%s", err, out)
	}
	out, err = exec.Command("ssh-keygen", "-L", "-f", s.HostCertPath()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "host certificate") {
		t.Errorf("ssh-keygen -L host cert: %v\n%s", err, out)
	}
	out, err = exec.Command("ssh-keygen", "-y", "-f", s.NodeKeyPath()).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ssh-ed25519 ") {
		t.Errorf("ssh-keygen -y: %v\n%s", err, out)
	}
	if _, err := s.Init("again", t0); err == nil {
		t.Error("second init in the same home succeeded")
	}
}

func TestCheckUser(t *testing.T) {
	s, ca, auth := newMesh(t)
	key := newKey(t)
	certs, err := s.Certify(ca, auth, key.PublicKey(), "node1", time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	otherCA := &CA{signer: newKey(t)}
	foreign, _, err := otherCA.Certify(key.PublicKey(), "node1", time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  ssh.PublicKey
		now  time.Time
		want error
	}{
		{"valid", certs.User, t0, nil},
		{"plain key", key.PublicKey(), t0, ErrNotCertified},
		{"host cert as user", certs.Host, t0, ErrCertType},
		{"other CA", foreign, t0, ErrUnknownCA},
		{"expired", certs.User, t0.Add(2 * time.Hour), ErrExpired},
		{"clock behind", certs.User, t0.Add(-2 * time.Hour), ErrNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := auth.CheckUser(tt.key, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("CheckUser = %v, want %v", err, tt.want)
			}
			if err == nil && (m.Name != "node1" || m.Fingerprint != FingerprintOf(key.PublicKey())) {
				t.Errorf("member = %+v", m)
			}
		})
	}

	// A certificate whose signature was tampered with.
	forged := *certs.User
	forged.KeyId = "root"
	if _, err := auth.CheckUser(&forged, t0); !errors.Is(err, ErrUnknownCA) {
		t.Errorf("forged certificate: %v, want ErrUnknownCA", err)
	}
}

func TestRevocationReachesOtherAuthorities(t *testing.T) {
	s, ca, auth := newMesh(t)
	key := newKey(t)
	certs, err := s.Certify(ca, auth, key.PublicKey(), "laptop", time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	other := Store{Dir: filepath.Join(t.TempDir(), "other")}
	if err := other.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := other.Install(certs); err != nil {
		t.Fatal(err)
	}
	otherAuth, err := other.LoadAuthority()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := otherAuth.CheckUser(certs.User, t0); err != nil {
		t.Fatal(err)
	}

	if _, err := s.Revoke(ca, auth, "laptop", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CheckUser(certs.User, t0); !errors.Is(err, ErrRevoked) {
		t.Fatalf("issuer after revoke: %v, want ErrRevoked", err)
	}
	// A second authority over the same files (the running daemon while the
	// CLI revokes) sees the change without being told.
	again, _ := s.LoadAuthority()
	_ = again
	if _, err := auth.CheckUser(certs.User, t0); !errors.Is(err, ErrRevoked) {
		t.Fatal("reload")
	}

	raw := auth.Revocations().Raw()
	if ok, err := otherAuth.Adopt(raw); err != nil || !ok {
		t.Fatalf("Adopt = %v, %v", ok, err)
	}
	if ok, _ := otherAuth.Adopt(raw); ok {
		t.Error("adopted the same serial twice")
	}
	if _, err := otherAuth.CheckUser(certs.User, t0); !errors.Is(err, ErrRevoked) {
		t.Fatalf("other node after adopt: %v, want ErrRevoked", err)
	}
	// The adopted list was persisted.
	reloaded, err := other.LoadAuthority()
	if err != nil {
		t.Fatal(err)
	}
	if !reloaded.Revocations().Contains(FingerprintOf(key.PublicKey())) {
		t.Error("adopted list not persisted")
	}

	// A list signed by another CA is refused.
	otherCA := &CA{signer: newKey(t)}
	bogus, _ := otherCA.SignRevocations(RevocationList{Serial: 99})
	if _, err := otherAuth.Adopt(bogus.Raw()); err == nil {
		t.Error("adopted a list from another CA")
	}
	if _, err := s.Certify(ca, auth, key.PublicKey(), "laptop2", time.Hour, t0); err == nil {
		t.Error("re-certified a revoked key")
	}
}

func TestTokens(t *testing.T) {
	s, ca, auth := newMesh(t)
	tok, err := s.CreateToken("", []string{"127.0.0.1:3633"}, auth.MeshID(), time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseToken(tok.String())
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Password() != tok.Password() || parsed.CA != auth.MeshID() {
		t.Fatal("token did not round-trip")
	}
	for _, bad := range []string{"", "dmj1_", tok.String()[:40], "xyz" + tok.String()} {
		if _, err := ParseToken(bad); !errors.Is(err, ErrToken) {
			t.Errorf("ParseToken(%q) = %v, want ErrToken", bad, err)
		}
	}

	if _, err := s.CheckToken(tok.Password(), t0.Add(2*time.Hour)); !errors.Is(err, ErrToken) {
		t.Errorf("expired token accepted: %v", err)
	}
	wrong := tok
	wrong.Secret = make([]byte, 32)
	if _, err := s.CheckToken(wrong.Password(), t0); !errors.Is(err, ErrToken) {
		t.Errorf("wrong secret accepted: %v", err)
	}
	inv, err := s.CheckToken(tok.Password(), t0)
	if err != nil {
		t.Fatal(err)
	}

	// Concurrent use: exactly one enrollment wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := newKey(t)
			if _, err := s.EnrollWithToken(ca, auth, inv, key.PublicKey(), "n"+string(rune('a'+i)), t0); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d enrollments with one token, want 1", wins)
	}
	if _, err := s.CheckToken(tok.Password(), t0); !errors.Is(err, ErrToken) {
		t.Errorf("used token accepted again: %v", err)
	}

	// A failed enrollment (name taken) leaves the token usable.
	tok2, _ := s.CreateToken("issuer", []string{"x:1"}, auth.MeshID(), time.Hour, t0)
	inv2, err := s.CheckToken(tok2.Password(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnrollWithToken(ca, auth, inv2, newKey(t).PublicKey(), "ignored", t0); err == nil {
		t.Fatal("enrolled a second key under a taken name")
	}
	if _, err := s.CheckToken(tok2.Password(), t0); err != nil {
		t.Errorf("token lost after a failed enrollment: %v", err)
	}
}

func TestPermissionsRefused(t *testing.T) {
	s, _, _ := newMesh(t)
	if err := os.Chmod(s.NodeKeyPath(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.LoadIdentity()
	if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), "chmod 600 "+s.NodeKeyPath()) {
		t.Fatalf("LoadIdentity with 0644 key: %v", err)
	}
	os.Chmod(s.NodeKeyPath(), 0o600)
	os.Chmod(s.Dir, 0o777)
	if _, err := s.LoadIdentity(); !errors.Is(err, ErrPermissions) {
		t.Fatalf("LoadIdentity with world-writable home: %v", err)
	}
}

func TestCorruptKeyLeavesEnrollment(t *testing.T) {
	s, _, _ := newMesh(t)
	data, _ := os.ReadFile(s.NodeKeyPath())
	os.WriteFile(s.NodeKeyPath(), data[:len(data)/2], 0o600)
	_, err := s.LoadIdentity()
	if err == nil || !strings.Contains(err.Error(), "corrupt or truncated") {
		t.Fatalf("truncated key: %v", err)
	}
	if _, err := s.NodeKey(); err == nil {
		t.Fatal("NodeKey replaced a corrupt key instead of reporting it")
	}
}

func TestFingerprintText(t *testing.T) {
	k := newKey(t).PublicKey()
	f := FingerprintOf(k)
	if want := ssh.FingerprintSHA256(k); f.String() != want {
		t.Fatalf("String = %s, want %s (as ssh-keygen prints)", f, want)
	}
	var g Fingerprint
	if err := g.UnmarshalText([]byte(f.String())); err != nil || g != f {
		t.Fatalf("round trip: %v", err)
	}
}
