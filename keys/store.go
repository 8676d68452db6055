package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/distmesh/distmesh/internal/renameio"
)

// writeFileAtomic is how every key file is written: a crash never leaves a
// truncated key or certificate behind.
var writeFileAtomic = renameio.WriteFile

// Store is a node's home directory seen as a key store. The zero value is not
// usable; set Dir.
type Store struct {
	Dir string
}

// File names inside DIR/keys.
const (
	nodeKeyFile  = "node_ed25519"
	userCertFile = "node_ed25519-cert.pub"
	hostCertFile = "node_ed25519-host-cert.pub"
	caPubFile    = "ca.pub"
	caKeyFile    = "ca_ed25519"
	revokedFile  = "revoked"
)

func (s Store) keysDir() string         { return filepath.Join(s.Dir, "keys") }
func (s Store) path(name string) string { return filepath.Join(s.keysDir(), name) }

// NodeKeyPath is the identity key's path, for ssh -i.
func (s Store) NodeKeyPath() string  { return s.path(nodeKeyFile) }
func (s Store) UserCertPath() string { return s.path(userCertFile) }
func (s Store) HostCertPath() string { return s.path(hostCertFile) }
func (s Store) CAPubPath() string    { return s.path(caPubFile) }
func (s Store) CAKeyPath() string    { return s.path(caKeyFile) }
func (s Store) RevokedPath() string  { return s.path(revokedFile) }
func (s Store) issuerDir() string    { return filepath.Join(s.Dir, "issuer") }

// IsIssuer reports whether this home holds the mesh's CA private key.
func (s Store) IsIssuer() bool {
	_, err := os.Stat(s.CAKeyPath())
	return err == nil
}

// Enrolled reports whether this home holds a certificate, that is whether
// init or join has completed here.
func (s Store) Enrolled() bool {
	_, err := os.Stat(s.UserCertPath())
	return err == nil
}

// ErrPermissions is returned when a home, key directory or private key is
// accessible to others.
var ErrPermissions = errors.New("permissions too open")

// Prepare creates the home and its key directory with safe modes, or checks
// existing ones. It is called before anything is written.
func (s Store) Prepare() error {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return fmt.Errorf("create home %s: %w (choose a writable --home or DISTMESH_HOME)", s.Dir, err)
	}
	if err := os.Mkdir(s.keysDir(), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", s.keysDir(), err)
	}
	if err := s.CheckPermissions(); err != nil {
		return err
	}
	// Fail early and clearly on a read-only home, before generating keys.
	f, err := os.CreateTemp(s.keysDir(), ".probe-*")
	if err != nil {
		return fmt.Errorf("home %s is not writable: %w (choose a writable --home or DISTMESH_HOME)", s.Dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// CheckPermissions refuses a home that others may write to, a key directory
// that others may enter, and private keys that others may read, naming the
// file and the fix as OpenSSH does.
func (s Store) CheckPermissions() error {
	if err := checkMode(s.Dir, 0o022, "chmod go-w"); err != nil {
		return err
	}
	if err := checkMode(s.keysDir(), 0o077, "chmod 700"); err != nil {
		return err
	}
	for _, name := range []string{nodeKeyFile, caKeyFile} {
		if err := checkMode(s.path(name), 0o077, "chmod 600"); err != nil {
			return err
		}
	}
	return nil
}

func checkMode(path string, forbidden fs.FileMode, fix string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&forbidden != 0 {
		return fmt.Errorf("%w: %s has mode %04o; run: %s %s", ErrPermissions, path, perm, fix, path)
	}
	return nil
}
