package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// Enrollment is the issuer's record of one machine it certified.
type Enrollment struct {
	Name        string      `json:"name"`
	Fingerprint Fingerprint `json:"fingerprint"`
	PublicKey   string      `json:"public_key"`
	Issued      time.Time   `json:"issued"`
	Expires     time.Time   `json:"expires"`
	Revoked     *time.Time  `json:"revoked,omitempty"`
}

// Certs is what an enrolled machine receives.
type Certs struct {
	User, Host *ssh.Certificate
	CAPub      []byte // ca.pub, byte for byte
	Revoked    []byte // the signed revocation list, or nil
}

func (s Store) registryPath() string { return filepath.Join(s.issuerDir(), "enrolled.json") }

// withRegistry runs fn with the registry loaded, under an exclusive lock, and
// writes it back atomically when fn changed it. The daemon (enrolling over
// the network) and the CLI (revoking) share the file.
func (s Store) withRegistry(fn func(reg *[]Enrollment) (changed bool, err error)) error {
	if err := os.MkdirAll(s.issuerDir(), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", s.issuerDir(), err)
	}
	lock, err := os.OpenFile(filepath.Join(s.issuerDir(), "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("lock issuer registry: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock issuer registry: %w", err)
	}
	reg, err := s.readRegistry()
	if err != nil {
		return err
	}
	changed, err := fn(&reg)
	if err != nil || !changed {
		return err
	}
	b, err := json.MarshalIndent(reg, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.registryPath(), append(b, '\n'), 0o600)
}

func (s Store) readRegistry() ([]Enrollment, error) {
	b, err := os.ReadFile(s.registryPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var reg []Enrollment
	if err := json.Unmarshal(b, &reg); err != nil {
		return nil, fmt.Errorf("read %s: %w: restore it from a backup", s.registryPath(), err)
	}
	return reg, nil
}

// Enrollments lists every machine the issuer enrolled, in enrollment order.
func (s Store) Enrollments() ([]Enrollment, error) {
	var out []Enrollment
	err := s.withRegistry(func(reg *[]Enrollment) (bool, error) {
		out = slices.Clone(*reg)
		return false, nil
	})
	return out, err
}

// Certify signs certificates for pub as name and records the enrollment. A
// name that belongs to another, unrevoked key is refused; the same key under
// the same name is a renewal.
func (s Store) Certify(ca *CA, auth *Authority, pub ssh.PublicKey, name string, ttl time.Duration, now time.Time) (Certs, error) {
	var certs Certs
	fp := FingerprintOf(pub)
	if auth.Revocations().Contains(fp) {
		return certs, fmt.Errorf("key %s is revoked: generate a new key (enroll from a new --home)", fp)
	}
	err := s.withRegistry(func(reg *[]Enrollment) (bool, error) {
		i := slices.IndexFunc(*reg, func(e Enrollment) bool { return e.Name == name && e.Revoked == nil })
		if i >= 0 && (*reg)[i].Fingerprint != fp {
			return false, fmt.Errorf("name %q is already enrolled with key %s: revoke it first (`distmesh keys revoke %s`) or choose another name", name, (*reg)[i].Fingerprint, name)
		}
		user, host, err := ca.Certify(pub, name, ttl, now)
		if err != nil {
			return false, err
		}
		_, until := Window(user)
		e := Enrollment{Name: name, Fingerprint: fp, PublicKey: string(ssh.MarshalAuthorizedKey(pub)), Issued: now.UTC(), Expires: until.UTC()}
		if i >= 0 {
			(*reg)[i] = e
		} else {
			*reg = append(*reg, e)
		}
		certs = Certs{User: user, Host: host, CAPub: auth.CAPub(), Revoked: auth.Revocations().Raw()}
		return true, nil
	})
	return certs, err
}

// EnrollWithToken certifies pub with a token presented over the network:
// the token is claimed first, so it can serve one enrollment only, and
// released again if the enrollment fails.
func (s Store) EnrollWithToken(ca *CA, auth *Authority, inv Invitation, pub ssh.PublicKey, name string, now time.Time) (Certs, error) {
	if inv.Name != "" {
		name = inv.Name
	}
	release, done, err := s.claimToken(inv.ID)
	if err != nil {
		return Certs{}, err
	}
	certs, err := s.Certify(ca, auth, pub, name, DefaultCertTTL, now)
	if err != nil {
		release()
		return Certs{}, err
	}
	done()
	return certs, nil
}

// Revoke revokes the enrolled machine named by its name or fingerprint,
// signs a new revocation list with a higher serial and installs it.
func (s Store) Revoke(ca *CA, auth *Authority, nameOrFP string, now time.Time) (Enrollment, error) {
	var revoked Enrollment
	err := s.withRegistry(func(reg *[]Enrollment) (bool, error) {
		fp, fpErr := ParseFingerprint(nameOrFP)
		i := slices.IndexFunc(*reg, func(e Enrollment) bool {
			return e.Revoked == nil && (e.Name == nameOrFP || (fpErr == nil && e.Fingerprint == fp))
		})
		if i < 0 {
			return false, fmt.Errorf("no enrolled, unrevoked machine %q: see `distmesh keys list`", nameOrFP)
		}
		e := &(*reg)[i]
		t := now.UTC()
		e.Revoked = &t
		revoked = *e

		l := RevocationList{Issued: t}
		if cur := auth.Revocations(); cur != nil {
			l.Serial = cur.Serial
			l.Keys = slices.Clone(cur.Keys)
		}
		l.Serial++
		l.Keys = append(l.Keys, Revoked{Name: e.Name, Fingerprint: e.Fingerprint, At: t})
		signed, err := ca.SignRevocations(l)
		if err != nil {
			return false, err
		}
		if _, err := auth.Adopt(signed.Raw()); err != nil {
			return false, err
		}
		return true, nil
	})
	return revoked, err
}
