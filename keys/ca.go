package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultCertTTL is how long certificates are valid unless asked otherwise.
const DefaultCertTTL = 365 * 24 * time.Hour

// clockSkew is how far before "now" a new certificate starts to be valid, so
// that a machine whose clock is a little behind the issuer's accepts it.
const clockSkew = time.Hour

// CA is the mesh's certificate authority. Only the issuer has one.
type CA struct {
	signer ssh.Signer
}

// PublicKey is the CA's public key.
func (ca *CA) PublicKey() ssh.PublicKey { return ca.signer.PublicKey() }

// CreateCA creates the mesh's CA key and writes ca.pub. It refuses to replace
// an existing CA.
func (s Store) CreateCA() (*CA, error) {
	if _, err := os.Stat(s.CAKeyPath()); err == nil {
		return nil, fmt.Errorf("%s already holds a mesh CA: use another --home to start a second mesh", s.Dir)
	}
	if err := s.Prepare(); err != nil {
		return nil, err
	}
	signer, err := createPrivateKey(s.CAKeyPath(), "distmesh mesh CA")
	if err != nil {
		return nil, err
	}
	os.Remove(s.CAKeyPath() + ".pub") // ca.pub is the published form
	if err := writeFileAtomic(s.CAPubPath(), ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		return nil, err
	}
	return &CA{signer: signer}, nil
}

// LoadCA reads the CA private key.
func (s Store) LoadCA() (*CA, error) {
	if err := s.CheckPermissions(); err != nil {
		return nil, err
	}
	signer, err := loadPrivateKey(s.CAKeyPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not the mesh's issuer (no CA key): run this command on the machine where `distmesh init` ran", s.Dir)
	}
	if err != nil {
		return nil, err
	}
	return &CA{signer: signer}, nil
}

// Certify signs a user and a host certificate for pub under name.
func (ca *CA) Certify(pub ssh.PublicKey, name string, ttl time.Duration, now time.Time) (user, host *ssh.Certificate, err error) {
	if err := CheckName(name); err != nil {
		return nil, nil, err
	}
	if pub.Type() != ssh.KeyAlgoED25519 {
		return nil, nil, fmt.Errorf("certify %s: key type %s, want ssh-ed25519", name, pub.Type())
	}
	if ttl <= 0 {
		ttl = DefaultCertTTL
	}
	mk := func(t uint32, principals []string) (*ssh.Certificate, error) {
		var serial [8]byte
		if _, err := rand.Read(serial[:]); err != nil {
			return nil, err
		}
		c := &ssh.Certificate{
			Key:             pub,
			Serial:          binary.BigEndian.Uint64(serial[:]),
			CertType:        t,
			KeyId:           name,
			ValidPrincipals: principals,
			ValidAfter:      uint64(now.Add(-clockSkew).Unix()),
			ValidBefore:     uint64(now.Add(ttl).Unix()),
		}
		if err := signCert(c, ca.signer); err != nil {
			return nil, fmt.Errorf("sign %s certificate for %s: %w", certTypeName(t), name, err)
		}
		return c, nil
	}
	// The user certificate names the node as its principal, for people
	// reading ssh-keygen -L; distmesh itself ignores principals. The host
	// certificate has none: nodes are known by key, not by address.
	if user, err = mk(ssh.UserCert, []string{name}); err != nil {
		return nil, nil, err
	}
	if host, err = mk(ssh.HostCert, nil); err != nil {
		return nil, nil, err
	}
	return user, host, nil
}

// ParseCAKeys parses ca.pub: one or more CA public keys, one per line (the
// CA can be rotated by adding a key before retiring the old one).
func ParseCAKeys(data []byte) ([]ssh.PublicKey, error) {
	var cas []ssh.PublicKey
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		pub, _, _, r, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			return nil, fmt.Errorf("parse CA keys: %w", err)
		}
		if pub.Type() != ssh.KeyAlgoED25519 {
			return nil, fmt.Errorf("parse CA keys: key type %s, want ssh-ed25519", pub.Type())
		}
		cas = append(cas, pub)
		rest = bytes.TrimSpace(r)
	}
	if len(cas) == 0 {
		return nil, errors.New("parse CA keys: no key")
	}
	return cas, nil
}

// SaveCAKeys installs ca.pub as received from the issuer, byte for byte.
func (s Store) SaveCAKeys(data []byte) error {
	if _, err := ParseCAKeys(data); err != nil {
		return err
	}
	return writeFileAtomic(s.CAPubPath(), data, 0o644)
}

// signCert signs c as OpenSSH's PROTOCOL.certkeys defines. x/crypto's
// Certificate.SignCert refuses certificates without principals, which host
// certificates deliberately are (any address may reach a node; its key says
// who it is), so the signature is made here.
func signCert(c *ssh.Certificate, ca ssh.Signer) error {
	c.Nonce = make([]byte, 32)
	if _, err := rand.Read(c.Nonce); err != nil {
		return err
	}
	c.SignatureKey = ca.PublicKey()
	c.Signature = nil
	sig, err := ca.Sign(rand.Reader, certSignedBytes(c))
	if err != nil {
		return err
	}
	c.Signature = sig
	return nil
}

// certSignedBytes is the certificate's encoding without its trailing
// signature field: what the CA signs.
func certSignedBytes(cert *ssh.Certificate) []byte {
	c := *cert
	c.Signature = nil
	b := c.Marshal()
	return b[:len(b)-4] // the empty signature's length prefix
}
