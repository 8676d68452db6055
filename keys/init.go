package keys

import (
	"fmt"
	"time"
)

// Init creates a new mesh in this home: the CA, this node's identity key and
// its certificates, recorded as the issuer's first enrollment.
func (s Store) Init(name string, now time.Time) (*Identity, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if s.Enrolled() {
		return nil, fmt.Errorf("%s is already enrolled in a mesh: run `distmesh join` to start it, or use another --home", s.Dir)
	}
	ca, err := s.CreateCA()
	if err != nil {
		return nil, err
	}
	signer, err := s.NodeKey()
	if err != nil {
		return nil, err
	}
	auth, err := s.LoadAuthority()
	if err != nil {
		return nil, err
	}
	certs, err := s.Certify(ca, auth, signer.PublicKey(), name, DefaultCertTTL, now)
	if err != nil {
		return nil, err
	}
	if err := s.SaveCerts(certs.User, certs.Host); err != nil {
		return nil, err
	}
	return s.LoadIdentity()
}

// Install writes what an enrollment returned: ca.pub, the revocation list
// and, last, the certificates (whose presence marks the home as enrolled).
func (s Store) Install(c Certs) error {
	if err := s.SaveCAKeys(c.CAPub); err != nil {
		return err
	}
	if len(c.Revoked) > 0 {
		cas, _ := ParseCAKeys(c.CAPub)
		if _, err := ParseRevocations(c.Revoked, cas); err != nil {
			return err
		}
		if err := writeFileAtomic(s.RevokedPath(), c.Revoked, 0o644); err != nil {
			return err
		}
	}
	return s.SaveCerts(c.User, c.Host)
}
