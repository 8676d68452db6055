package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"
)

// RevocationList is the CA-signed list of revoked node keys. Its serial
// grows with every revocation; nodes pass the newer list to each other
// whenever they connect, so a revocation made on the issuer reaches the
// whole mesh without restarts.
type RevocationList struct {
	Serial uint64    `json:"serial"`
	Issued time.Time `json:"issued"`
	Keys   []Revoked `json:"keys"`

	raw []byte // the signed file, as received or written
}

// Revoked is one entry of a revocation list.
type Revoked struct {
	Name        string      `json:"name"`
	Fingerprint Fingerprint `json:"fingerprint"`
	At          time.Time   `json:"at"`
}

// Contains reports whether the key with fingerprint f is revoked.
func (l *RevocationList) Contains(f Fingerprint) bool {
	if l == nil {
		return false
	}
	return slices.ContainsFunc(l.Keys, func(r Revoked) bool { return r.Fingerprint == f })
}

// Raw is the signed encoding, for passing the list on unchanged.
func (l *RevocationList) Raw() []byte {
	if l == nil {
		return nil
	}
	return l.raw
}

// The signature covers this prefix and the body, so that no other signature
// by the CA (a certificate, say) can pass for a revocation list.
const revocationDomain = "distmesh revocation list v1\x00"

type signedList struct {
	Body      []byte `json:"body"`
	Signature []byte `json:"signature"`
}

// SignRevocations signs l with the CA and returns its encoding.
func (ca *CA) SignRevocations(l RevocationList) (*RevocationList, error) {
	body, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	sig, err := ca.signer.Sign(rand.Reader, append([]byte(revocationDomain), body...))
	if err != nil {
		return nil, fmt.Errorf("sign revocation list: %w", err)
	}
	raw, err := json.MarshalIndent(signedList{Body: body, Signature: ssh.Marshal(sig)}, "", "  ")
	if err != nil {
		return nil, err
	}
	l.raw = append(raw, '\n')
	return &l, nil
}

// ParseRevocations verifies a signed revocation list against the CA keys.
func ParseRevocations(raw []byte, cas []ssh.PublicKey) (*RevocationList, error) {
	var sl signedList
	if err := json.Unmarshal(raw, &sl); err != nil {
		return nil, fmt.Errorf("parse revocation list: %w", err)
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(sl.Signature, &sig); err != nil {
		return nil, fmt.Errorf("parse revocation list signature: %w", err)
	}
	msg := append([]byte(revocationDomain), sl.Body...)
	if !slices.ContainsFunc(cas, func(ca ssh.PublicKey) bool { return ca.Verify(msg, &sig) == nil }) {
		return nil, fmt.Errorf("revocation list is not signed by this mesh's CA")
	}
	var l RevocationList
	dec := json.NewDecoder(bytes.NewReader(sl.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("parse revocation list body: %w", err)
	}
	l.raw = raw
	return &l, nil
}
