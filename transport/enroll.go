package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/distmesh/distmesh/keys"
)

// The enroll subsystem: a joining machine authenticated by a token's secret
// sends "enroll" with its public key and preferred name; a member sends
// "renew". The issuer answers "certs".
type enrollRequest struct {
	Name      string `json:"name,omitempty"`
	PublicKey string `json:"public_key,omitempty"`
}

// EnrollSubsystem serves distmesh-enroll on the issuer: it certifies joining
// machines that present a valid token, and renews members' certificates.
func EnrollSubsystem(store keys.Store, auth *keys.Authority, now func() time.Time) Subsystem {
	return Subsystem{Name: SubsystemEnroll, Min: 1, Max: 1, Handle: func(ctx context.Context, s *Stream, p Peer) error {
		ca, err := store.LoadCA()
		if err != nil {
			return errors.New("this node cannot sign certificates: enroll with the mesh's issuer")
		}
		typ, payload, err := s.Recv()
		if err != nil {
			return err
		}
		var certs keys.Certs
		switch {
		case typ == "enroll" && p.Invitation != nil:
			var req enrollRequest
			if err := jsonUnmarshal(payload, &req); err != nil {
				return err
			}
			pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(req.PublicKey))
			if err != nil {
				return fmt.Errorf("enroll: bad public key: %w", err)
			}
			certs, err = store.EnrollWithToken(ca, auth, *p.Invitation, pub, req.Name, now())
			if err != nil {
				return err
			}
		case typ == "renew" && p.Invitation == nil:
			certs, err = store.Certify(ca, auth, p.Member.Cert.Key, p.Member.Name, keys.DefaultCertTTL, now())
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("enroll: unexpected %s message", typ)
		}
		return s.SendJSON("certs", certs)
	}}
}

// Enroll joins a mesh with a token: it reaches the issuer at one of the
// token's addresses, accepts it only if its host certificate is signed by
// the CA the token names, presents the token's secret and returns the
// certificates for key.
func Enroll(ctx context.Context, tok keys.Token, key ssh.Signer, name string) (keys.Certs, string, error) {
	if time.Now().After(tok.ExpiresAt()) {
		return keys.Certs{}, "", fmt.Errorf("%w: expired at %s; ask for a new one with `distmesh keys add`", keys.ErrToken, tok.ExpiresAt().Format(time.RFC3339))
	}
	var errs []error
	for _, addr := range tok.Addrs {
		certs, err := enrollAt(ctx, addr, tok, key, name)
		if err == nil {
			return certs, addr, nil
		}
		var re *RemoteError
		if errors.As(err, &re) || errors.Is(err, ErrHostNotMember) || ctx.Err() != nil {
			return keys.Certs{}, addr, err // the issuer answered: no point trying its other addresses
		}
		errs = append(errs, err)
	}
	return keys.Certs{}, "", fmt.Errorf("cannot reach the issuer at %v: %w (is `distmesh join` running there, and is the port open?)", tok.Addrs, errors.Join(errs...))
}

func enrollAt(ctx context.Context, addr string, tok keys.Token, key ssh.Signer, name string) (keys.Certs, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var issuerCA ssh.PublicKey
	var banner string
	cfg := &ssh.ClientConfig{
		BannerCallback:    func(msg string) error { banner = strings.TrimSpace(msg); return nil },
		Config:            ssh.Config{KeyExchanges: kexAlgorithms, Ciphers: cipherSuites, MACs: macAlgorithms},
		User:              name,
		Auth:              []ssh.AuthMethod{ssh.Password(tok.Password())},
		HostKeyAlgorithms: hostKeyAlgos,
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			cert, ok := k.(*ssh.Certificate)
			if !ok || keys.FingerprintOf(cert.SignatureKey) != tok.CA {
				return fmt.Errorf("%w: its host key is not certified by the CA in the token (%s)", ErrHostNotMember, tok.CA)
			}
			if _, err := keys.NewAuthority([]ssh.PublicKey{cert.SignatureKey}, nil).CheckHost(k, time.Now()); err != nil {
				return fmt.Errorf("%w: %w", ErrHostNotMember, err)
			}
			issuerCA = cert.SignatureKey
			return nil
		},
	}
	sc, err := dialSSH(ctx, addr, cfg)
	if err != nil && banner != "" {
		return keys.Certs{}, &RemoteError{Msg: banner} // the issuer said why
	}
	if err != nil {
		return keys.Certs{}, err
	}
	defer sc.Close()
	conn := &Conn{Addr: addr, client: sc, maxMsg: DefaultLimits.MaxMessage, Peer: keys.Member{Name: "issuer"}}
	st, err := conn.Open(ctx, SubsystemEnroll, 1, 1)
	if err != nil {
		return keys.Certs{}, err
	}
	defer st.Close()
	req := enrollRequest{Name: name, PublicKey: string(ssh.MarshalAuthorizedKey(key.PublicKey()))}
	if err := st.SendJSON("enroll", req); err != nil {
		return keys.Certs{}, err
	}
	certs, err := receiveCerts(st, key.PublicKey())
	if err != nil {
		return certs, err
	}
	// ca.pub must hold the CA that signed the issuer's host certificate.
	cas, err := keys.ParseCAKeys(certs.CAPub)
	if err != nil || !keys.NewAuthority(cas, nil).IsCA(issuerCA) {
		return keys.Certs{}, errors.New("enroll: the issuer sent a ca.pub without its own CA")
	}
	return certs, nil
}

// Renew asks the issuer on conn for fresh certificates for this node.
func (c *Conn) Renew(ctx context.Context, key ssh.PublicKey) (keys.Certs, error) {
	st, err := c.Open(ctx, SubsystemEnroll, 1, 1)
	if err != nil {
		return keys.Certs{}, err
	}
	defer st.Close()
	if err := st.SendJSON("renew", struct{}{}); err != nil {
		return keys.Certs{}, err
	}
	return receiveCerts(st, key)
}

func receiveCerts(st *ClientStream, key ssh.PublicKey) (keys.Certs, error) {
	var c keys.Certs
	if err := st.RecvJSON("certs", &c); err != nil {
		return keys.Certs{}, fmt.Errorf("enroll: %w", err)
	}
	if keys.FingerprintOf(c.User.Key) != keys.FingerprintOf(key) {
		return keys.Certs{}, errors.New("enroll: the issuer sent certificates for another key")
	}
	return c, nil
}
