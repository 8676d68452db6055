package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Identity is a node's key with its two certificates.
type Identity struct {
	Name     string // the certificates' key ID
	Signer   ssh.Signer
	UserCert *ssh.Certificate // presented when this node connects to others
	HostCert *ssh.Certificate // presented when others connect to this node
}

// Fingerprint is the identity key's fingerprint.
func (id *Identity) Fingerprint() Fingerprint { return FingerprintOf(id.Signer.PublicKey()) }

// UserSigner signs client authentication with the user certificate.
func (id *Identity) UserSigner() (ssh.Signer, error) {
	return ssh.NewCertSigner(id.UserCert, id.Signer)
}

// HostSigner signs the server side of a handshake with the host certificate.
func (id *Identity) HostSigner() (ssh.Signer, error) {
	return ssh.NewCertSigner(id.HostCert, id.Signer)
}

var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`) })

// CheckName reports whether name can name a node: letters, digits, dot,
// dash and underscore, at most 63 characters, as a host name would be.
func CheckName(name string) error {
	if !validName().MatchString(name) {
		return fmt.Errorf("invalid node name %q: use letters, digits, '.', '-' or '_' (at most 63, starting with a letter or digit)", name)
	}
	return nil
}

// NodeKey returns the identity key, creating it when the home has none. An
// existing key is never replaced.
func (s Store) NodeKey() (ssh.Signer, error) {
	signer, err := loadPrivateKey(s.NodeKeyPath())
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return signer, err
	}
	if err := s.Prepare(); err != nil {
		return nil, err
	}
	return createPrivateKey(s.NodeKeyPath(), "distmesh node")
}

// LoadIdentity reads the identity key and both certificates.
func (s Store) LoadIdentity() (*Identity, error) {
	if err := s.CheckPermissions(); err != nil {
		return nil, err
	}
	signer, err := loadPrivateKey(s.NodeKeyPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not enrolled in a mesh: run `distmesh init` to start a mesh or `distmesh join TOKEN` to join one", s.Dir)
	}
	if err != nil {
		return nil, err
	}
	user, err := loadCert(s.UserCertPath(), ssh.UserCert)
	if err != nil {
		return nil, err
	}
	host, err := loadCert(s.HostCertPath(), ssh.HostCert)
	if err != nil {
		return nil, err
	}
	for _, c := range []*ssh.Certificate{user, host} {
		if FingerprintOf(c.Key) != FingerprintOf(signer.PublicKey()) {
			return nil, fmt.Errorf("certificate for key %s does not match %s (%s): re-enroll with `distmesh keys renew`", FingerprintOf(c.Key), s.NodeKeyPath(), FingerprintOf(signer.PublicKey()))
		}
	}
	return &Identity{Name: user.KeyId, Signer: signer, UserCert: user, HostCert: host}, nil
}

// SaveCerts installs a node's certificates, each written atomically.
func (s Store) SaveCerts(user, host *ssh.Certificate) error {
	if err := writeFileAtomic(s.UserCertPath(), ssh.MarshalAuthorizedKey(user), 0o644); err != nil {
		return err
	}
	return writeFileAtomic(s.HostCertPath(), ssh.MarshalAuthorizedKey(host), 0o644)
}

func createPrivateKey(path, comment string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	// The public half first: a crash between the two writes leaves no
	// private key without its .pub, and a rerun regenerates both.
	if err := writeFileAtomic(path+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return signer, nil
}

func loadPrivateKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := checkMode(path, 0o077, "chmod 600"); err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: corrupt or truncated key (%v): restore it from a backup or enroll a new home", path, err)
	}
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("read %s: key type %s, want ssh-ed25519: restore the original key", path, signer.PublicKey().Type())
	}
	return signer, nil
}

func loadCert(path string, certType uint32) (*ssh.Certificate, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: missing certificate: finish enrolling with `distmesh join TOKEN`", path)
	}
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: corrupt or truncated certificate (%v): run `distmesh keys renew`", path, err)
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok || cert.CertType != certType {
		return nil, fmt.Errorf("read %s: not a %s certificate: run `distmesh keys renew`", path, certTypeName(certType))
	}
	return cert, nil
}

func certTypeName(t uint32) string {
	if t == ssh.HostCert {
		return "host"
	}
	return "user"
}

// Window describes a certificate's validity for people.
func Window(c *ssh.Certificate) (from, until time.Time) {
	from = time.Unix(int64(c.ValidAfter), 0)
	if c.ValidBefore == ssh.CertTimeInfinity {
		return from, time.Time{}
	}
	return from, time.Unix(int64(c.ValidBefore), 0)
}
