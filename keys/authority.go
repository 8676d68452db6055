package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Errors returned by Authority's checks, for errors.Is.
var (
	ErrNotCertified = errors.New("key has no distmesh certificate")
	ErrUnknownCA    = errors.New("certificate is signed by another mesh's CA")
	ErrCertType     = errors.New("wrong certificate type")
	ErrNotYetValid  = errors.New("certificate is not yet valid")
	ErrExpired      = errors.New("certificate has expired")
	ErrRevoked      = errors.New("key is revoked")
)

// Member is a node proven to belong to the mesh by its certificate.
type Member struct {
	Name        string
	Fingerprint Fingerprint
	Cert        *ssh.Certificate
}

// Authority decides which certificates belong to the mesh: signed by a key
// in ca.pub, of the expected type, inside their validity window, for a key
// that is not revoked. It reloads the revocation list when its file changes,
// so a revocation written by another process takes effect at the next check.
type Authority struct {
	cas   []ssh.PublicKey
	store Store // zero for an authority that is not backed by files

	// mu protects the following.
	mu      sync.Mutex
	revoked *RevocationList
	seen    fileStamp // of the revocation file last loaded
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewAuthority returns an authority over the given CA keys and list, not
// backed by files (tests, the joining side of an enrollment).
func NewAuthority(cas []ssh.PublicKey, revoked *RevocationList) *Authority {
	return &Authority{cas: cas, revoked: revoked}
}

// LoadAuthority reads ca.pub and the revocation list.
func (s Store) LoadAuthority() (*Authority, error) {
	data, err := os.ReadFile(s.CAPubPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no ca.pub: run `distmesh init` or `distmesh join TOKEN` first", s.Dir)
	}
	if err != nil {
		return nil, err
	}
	cas, err := ParseCAKeys(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w: copy ca.pub again from another node", s.CAPubPath(), err)
	}
	a := &Authority{cas: cas, store: s}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.reloadLocked(); err != nil {
		return nil, err
	}
	return a, nil
}

// CAKeys returns the CA public keys.
func (a *Authority) CAKeys() []ssh.PublicKey { return a.cas }

// CAPub is ca.pub's content.
func (a *Authority) CAPub() []byte {
	var b bytes.Buffer
	for _, k := range a.cas {
		b.Write(ssh.MarshalAuthorizedKey(k))
	}
	return b.Bytes()
}

// MeshID names the mesh: the fingerprint of its first CA key.
func (a *Authority) MeshID() Fingerprint { return FingerprintOf(a.cas[0]) }

// IsCA reports whether k is one of the mesh's CA keys.
func (a *Authority) IsCA(k ssh.PublicKey) bool {
	m := k.Marshal()
	return slices.ContainsFunc(a.cas, func(ca ssh.PublicKey) bool { return bytes.Equal(ca.Marshal(), m) })
}

// Revocations returns the current revocation list (nil when none was ever
// issued).
func (a *Authority) Revocations() *RevocationList {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refreshLocked()
	return a.revoked
}

// RevocationSerial is the current list's serial, 0 when there is none.
func (a *Authority) RevocationSerial() uint64 {
	if l := a.Revocations(); l != nil {
		return l.Serial
	}
	return 0
}

// Adopt verifies raw and makes it the current list when its serial is newer,
// writing it to the store. It reports whether the list was adopted.
func (a *Authority) Adopt(raw []byte) (bool, error) {
	l, err := ParseRevocations(raw, a.cas)
	if err != nil {
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refreshLocked()
	if a.revoked != nil && l.Serial <= a.revoked.Serial {
		return false, nil
	}
	if a.store.Dir != "" {
		if err := writeFileAtomic(a.store.RevokedPath(), raw, 0o644); err != nil {
			return false, err
		}
		a.seen = stampOf(a.store.RevokedPath())
	}
	a.revoked = l
	return true, nil
}

// CheckUser checks a key presented by a connecting client.
func (a *Authority) CheckUser(k ssh.PublicKey, now time.Time) (Member, error) {
	return a.check(k, ssh.UserCert, now)
}

// CheckHost checks a key presented by a server.
func (a *Authority) CheckHost(k ssh.PublicKey, now time.Time) (Member, error) {
	return a.check(k, ssh.HostCert, now)
}

func (a *Authority) check(k ssh.PublicKey, certType uint32, now time.Time) (Member, error) {
	cert, ok := k.(*ssh.Certificate)
	if !ok {
		return Member{}, ErrNotCertified
	}
	if cert.CertType != certType {
		return Member{}, fmt.Errorf("%w: %s certificate where a %s certificate is required", ErrCertType, certTypeName(cert.CertType), certTypeName(certType))
	}
	if !a.IsCA(cert.SignatureKey) {
		return Member{}, fmt.Errorf("%w (signed by %s)", ErrUnknownCA, FingerprintOf(cert.SignatureKey))
	}
	if err := verifyCertSignature(cert); err != nil {
		return Member{}, err
	}
	if len(cert.CriticalOptions) > 0 {
		return Member{}, fmt.Errorf("certificate has critical options distmesh does not support")
	}
	if cert.KeyId == "" || CheckName(cert.KeyId) != nil {
		return Member{}, fmt.Errorf("certificate has no valid node name in its key ID")
	}
	unix := uint64(now.Unix())
	if unix < cert.ValidAfter {
		return Member{}, fmt.Errorf("%w until %s (is this machine's clock right?)", ErrNotYetValid, time.Unix(int64(cert.ValidAfter), 0).UTC().Format(time.RFC3339))
	}
	if cert.ValidBefore != ssh.CertTimeInfinity && unix >= cert.ValidBefore {
		return Member{}, fmt.Errorf("%w at %s (renew it with `distmesh keys renew`)", ErrExpired, time.Unix(int64(cert.ValidBefore), 0).UTC().Format(time.RFC3339))
	}
	m := Member{Name: cert.KeyId, Fingerprint: FingerprintOf(cert.Key), Cert: cert}
	if a.Revocations().Contains(m.Fingerprint) {
		return Member{}, fmt.Errorf("%w: %s (%s)", ErrRevoked, m.Name, m.Fingerprint)
	}
	return m, nil
}

// verifyCertSignature checks the CA's signature over the certificate.
func verifyCertSignature(cert *ssh.Certificate) error {
	if cert.Signature == nil || cert.SignatureKey.Verify(certSignedBytes(cert), cert.Signature) != nil {
		return fmt.Errorf("%w: bad certificate signature", ErrUnknownCA)
	}
	return nil
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size()}
}

// refreshLocked reloads the revocation list when its file changed. A list
// that fails to verify is ignored (and the previous one kept): a corrupt
// file must not unrevoke anybody.
func (a *Authority) refreshLocked() {
	if a.store.Dir == "" {
		return
	}
	if stampOf(a.store.RevokedPath()) == a.seen {
		return
	}
	a.reloadLocked()
}

func (a *Authority) reloadLocked() error {
	path := a.store.RevokedPath()
	st := stampOf(path)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		a.seen = st
		return nil
	}
	if err != nil {
		return err
	}
	l, err := ParseRevocations(raw, a.cas)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if a.revoked == nil || l.Serial >= a.revoked.Serial {
		a.revoked = l
	}
	a.seen = st
	return nil
}
