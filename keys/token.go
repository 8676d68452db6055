package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Token is a single-use join token: where the issuer listens, which CA it
// must prove to hold, and a secret that proves the bearer was invited.
type Token struct {
	Addrs   []string    `json:"a"`           // host:port of the running issuer node
	CA      Fingerprint `json:"c"`           // the mesh CA the issuer's host certificate must be signed by
	ID      string      `json:"i"`           // names the token on the issuer
	Secret  []byte      `json:"s"`           // 32 random bytes
	Expires int64       `json:"e"`           // Unix seconds
	Name    string      `json:"n,omitempty"` // the name chosen on the issuer, if any
}

const tokenPrefix = "dmj1_"

// ErrToken is returned for tokens that are malformed, unknown, used or
// expired.
var ErrToken = errors.New("invalid join token")

// String encodes t for a command line: one word, no shell metacharacters.
func (t Token) String() string {
	b, _ := json.Marshal(t)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ParseToken decodes the form String returns.
func ParseToken(s string) (Token, error) {
	var t Token
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), tokenPrefix)
	if !ok {
		return t, fmt.Errorf("%w: it should start with %q; copy the whole line `distmesh keys add` printed", ErrToken, tokenPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || len(t.Secret) != 32 || t.ID == "" || len(t.Addrs) == 0 || t.CA.IsZero() {
		return Token{}, fmt.Errorf("%w: truncated or damaged; copy the whole line `distmesh keys add` printed", ErrToken)
	}
	return t, nil
}

// Password is what the joining node presents in SSH password
// authentication: the token's ID and secret.
func (t Token) Password() string {
	return t.ID + "." + base64.RawURLEncoding.EncodeToString(t.Secret)
}

// ExpiresAt is the token's expiry.
func (t Token) ExpiresAt() time.Time { return time.Unix(t.Expires, 0) }

// pendingToken is the issuer's record of a token: only a hash of the secret
// is kept, so the file does not let its reader join.
type pendingToken struct {
	ID         string    `json:"id"`
	SecretHash []byte    `json:"secret_sha256"`
	Name       string    `json:"name,omitempty"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
}

func (s Store) tokenDir() string { return filepath.Join(s.issuerDir(), "tokens") }

// CreateToken records a new token on the issuer. addrs are where the running
// node listens; ca is the mesh's ID.
func (s Store) CreateToken(name string, addrs []string, ca Fingerprint, ttl time.Duration, now time.Time) (Token, error) {
	if name != "" {
		if err := CheckName(name); err != nil {
			return Token{}, err
		}
	}
	if err := os.MkdirAll(s.tokenDir(), 0o700); err != nil {
		return Token{}, fmt.Errorf("create %s: %w", s.tokenDir(), err)
	}
	id := make([]byte, 8)
	secret := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return Token{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return Token{}, err
	}
	t := Token{Addrs: addrs, CA: ca, ID: hex.EncodeToString(id), Secret: secret, Expires: now.Add(ttl).Unix(), Name: name}
	sum := sha256.Sum256(secret)
	p := pendingToken{ID: t.ID, SecretHash: sum[:], Name: name, Created: now.UTC(), Expires: t.ExpiresAt().UTC()}
	b, _ := json.MarshalIndent(p, "", "  ")
	if err := writeFileAtomic(filepath.Join(s.tokenDir(), t.ID+".json"), b, 0o600); err != nil {
		return Token{}, err
	}
	return t, nil
}

// Invitation is a verified, unexpired token on the issuer.
type Invitation struct {
	ID   string
	Name string // chosen on the issuer, or "" to let the joining node name itself
}

// CheckToken verifies a password presented by a joining node. It reads the
// token directory each time, so tokens created after the node started are
// honoured without a restart.
func (s Store) CheckToken(password string, now time.Time) (Invitation, error) {
	id, secretB64, ok := strings.Cut(password, ".")
	if !ok || len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		return Invitation{}, ErrToken
	}
	secret, err := base64.RawURLEncoding.DecodeString(secretB64)
	if err != nil {
		return Invitation{}, ErrToken
	}
	b, err := os.ReadFile(filepath.Join(s.tokenDir(), id+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Invitation{}, fmt.Errorf("%w: unknown or already used; ask for a new one with `distmesh keys add`", ErrToken)
	}
	if err != nil {
		return Invitation{}, err
	}
	var p pendingToken
	if err := json.Unmarshal(b, &p); err != nil {
		return Invitation{}, fmt.Errorf("read token %s: %w", id, err)
	}
	sum := sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(sum[:], p.SecretHash) != 1 {
		return Invitation{}, fmt.Errorf("%w: wrong secret", ErrToken)
	}
	if !now.Before(p.Expires) {
		return Invitation{}, fmt.Errorf("%w: expired at %s; ask for a new one with `distmesh keys add`", ErrToken, p.Expires.Format(time.RFC3339))
	}
	return Invitation{ID: p.ID, Name: p.Name}, nil
}

// claimToken makes a token unusable by anybody else. Exactly one of several
// concurrent claims succeeds. release undoes the claim (the enrollment
// failed); done removes the token for good.
func (s Store) claimToken(id string) (release, done func(), err error) {
	path := filepath.Join(s.tokenDir(), id+".json")
	claimed := path + ".claimed"
	if err := os.Rename(path, claimed); err != nil {
		return nil, nil, fmt.Errorf("%w: already used; ask for a new one with `distmesh keys add`", ErrToken)
	}
	return func() { os.Rename(claimed, path) }, func() { os.Remove(claimed) }, nil
}

// PruneTokens removes expired tokens.
func (s Store) PruneTokens(now time.Time) {
	ents, _ := os.ReadDir(s.tokenDir())
	for _, e := range ents {
		path := filepath.Join(s.tokenDir(), e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var p pendingToken
		if json.Unmarshal(b, &p) == nil && now.After(p.Expires) {
			os.Remove(path)
		}
	}
}
