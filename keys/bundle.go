package keys

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// certsJSON is the encoding of Certs on the wire and in bundles:
// certificates as authorized_keys lines, as ssh-keygen prints them.
type certsJSON struct {
	User    string `json:"user_cert"`
	Host    string `json:"host_cert"`
	CAPub   string `json:"ca_pub"`
	Revoked []byte `json:"revoked,omitempty"`
}

func (c Certs) MarshalJSON() ([]byte, error) {
	if c.User == nil || c.Host == nil {
		return nil, fmt.Errorf("encode certificates: missing certificate")
	}
	return json.Marshal(certsJSON{
		User:    string(ssh.MarshalAuthorizedKey(c.User)),
		Host:    string(ssh.MarshalAuthorizedKey(c.Host)),
		CAPub:   string(c.CAPub),
		Revoked: c.Revoked,
	})
}

func (c *Certs) UnmarshalJSON(b []byte) error {
	var j certsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	parse := func(s string, t uint32) (*ssh.Certificate, error) {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("bad %s certificate: %w", certTypeName(t), err)
		}
		cert, ok := pub.(*ssh.Certificate)
		if !ok || cert.CertType != t {
			return nil, fmt.Errorf("not a %s certificate", certTypeName(t))
		}
		return cert, nil
	}
	var err error
	if c.User, err = parse(j.User, ssh.UserCert); err != nil {
		return err
	}
	if c.Host, err = parse(j.Host, ssh.HostCert); err != nil {
		return err
	}
	if FingerprintOf(c.User.Key) != FingerprintOf(c.Host.Key) {
		return fmt.Errorf("user and host certificates are for different keys")
	}
	c.CAPub, c.Revoked = []byte(j.CAPub), j.Revoked
	return nil
}

const bundlePrefix = "dmb1_"

// Bundle encodes certificates for a machine that cannot reach the issuer:
// `distmesh keys add --key` prints it, `distmesh join BUNDLE` installs it.
func (c Certs) Bundle() (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return bundlePrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// IsBundle reports whether s looks like a bundle rather than a join token.
func IsBundle(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), bundlePrefix) }

// ParseBundle decodes a bundle and checks that its certificates are signed
// by a CA in its ca.pub.
func ParseBundle(s string) (Certs, error) {
	var c Certs
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), bundlePrefix))
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		return Certs{}, fmt.Errorf("invalid certificate bundle (%v): copy the whole line `distmesh keys add --key` printed", err)
	}
	cas, err := ParseCAKeys(c.CAPub)
	if err != nil {
		return Certs{}, err
	}
	auth := NewAuthority(cas, nil)
	for _, cert := range []*ssh.Certificate{c.User, c.Host} {
		if !auth.IsCA(cert.SignatureKey) || verifyCertSignature(cert) != nil {
			return Certs{}, fmt.Errorf("invalid certificate bundle: certificate not signed by the bundle's CA")
		}
	}
	return c, nil
}
