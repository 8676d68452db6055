package keys

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Fingerprint identifies a public key: the SHA-256 of its SSH wire form. It
// prints as OpenSSH prints it ("SHA256:…"), so it can be compared with the
// output of ssh-keygen -l.
type Fingerprint [sha256.Size]byte

// FingerprintOf returns the fingerprint of k. For a certificate it is the
// fingerprint of the certified key, not of the certificate.
func FingerprintOf(k ssh.PublicKey) Fingerprint {
	if c, ok := k.(*ssh.Certificate); ok {
		k = c.Key
	}
	return sha256.Sum256(k.Marshal())
}

// ParseFingerprint parses the form String returns.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	b64, ok := strings.CutPrefix(s, "SHA256:")
	if !ok {
		return f, fmt.Errorf("parse fingerprint %q: want SHA256:… as ssh-keygen -l prints it", s)
	}
	b, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(b) != len(f) {
		return f, fmt.Errorf("parse fingerprint %q: not a SHA256 fingerprint", s)
	}
	copy(f[:], b)
	return f, nil
}

func (f Fingerprint) String() string {
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(f[:])
}

// Short is a prefix of String long enough to tell keys apart in a table.
func (f Fingerprint) Short() string { return f.String()[:7+12] }

// IsZero reports whether f is the zero value.
func (f Fingerprint) IsZero() bool { return f == Fingerprint{} }

func (f Fingerprint) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f *Fingerprint) UnmarshalText(b []byte) error {
	p, err := ParseFingerprint(string(b))
	if err != nil {
		return err
	}
	*f = p
	return nil
}
