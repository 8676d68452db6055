package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/distmesh/distmesh/keys"
	"github.com/distmesh/distmesh/transport"
)

func runInit(ctx context.Context, e *env, args []string) error {
	fs := e.flags("init", "[--name NAME]")
	name := fs.String("name", hostName(), "this node's `NAME` in the mesh")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "init [--name NAME]"); err != nil {
		return err
	}
	store := keys.Store{Dir: e.home}
	id, err := store.Init(*name, time.Now())
	if err != nil {
		return err
	}
	auth, err := store.LoadAuthority()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created mesh %s in %s; this node is %q (%s)\n", auth.MeshID(), e.home, id.Name, id.Fingerprint())
	fmt.Fprintf(e.stdout, "next: run `distmesh join` here to start the node, then `distmesh keys add` to invite a machine\n")
	fmt.Fprintf(e.stdout, "back up %s: it is the mesh's CA key\n", store.CAKeyPath())
	return nil
}

func runKeys(ctx context.Context, e *env, args []string) error {
	const synopsis = "keys add|list|revoke|renew|show"
	if len(args) == 0 {
		return fmt.Errorf("%w: distmesh %s", errUsage, synopsis)
	}
	sub := map[string]func(context.Context, *env, []string) error{
		"add": keysAdd, "list": keysList, "revoke": keysRevoke, "renew": keysRenew, "show": keysShow,
	}[args[0]]
	if sub == nil {
		return fmt.Errorf("%w: unknown keys command %q: distmesh %s", errUsage, args[0], synopsis)
	}
	return sub(ctx, e, args[1:])
}

func keysAdd(ctx context.Context, e *env, args []string) error {
	fs := e.flags("keys add", "[--name NAME] [--ttl 1h] [--key 'ssh-ed25519 AAAA…']")
	name := fs.String("name", "", "the new machine's `NAME` (default: its host name)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token stays valid")
	pubText := fs.String("key", "", "sign this public `KEY` and print a certificate bundle instead of a token, for a machine that cannot reach this one")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "keys add [--name NAME] [--ttl 1h] [--key KEY]"); err != nil {
		return err
	}
	store := keys.Store{Dir: e.home}
	ca, err := store.LoadCA()
	if err != nil {
		return err
	}
	auth, err := store.LoadAuthority()
	if err != nil {
		return err
	}
	if *pubText != "" {
		pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(*pubText))
		if err != nil {
			return fmt.Errorf("--key: %v: pass the line `distmesh keys show` printed on the other machine", err)
		}
		if *name == "" {
			*name = comment
		}
		if *name == "" {
			return fmt.Errorf("%w: --key needs --name NAME", errUsage)
		}
		certs, err := store.Certify(ca, auth, pub, *name, keys.DefaultCertTTL, time.Now())
		if err != nil {
			return err
		}
		bundle, err := certs.Bundle()
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, bundle)
		fmt.Fprintf(e.stderr, "on %s, run: distmesh join BUNDLE (the line above; it holds certificates, not secrets)\n", *name)
		return nil
	}
	if *ttl <= 0 {
		return fmt.Errorf("%w: --ttl must be positive", errUsage)
	}
	st, ok := readState(e.home)
	addrs := st.Listen
	if !ok {
		cfg, err := loadConfig(e.home)
		if err != nil {
			return err
		}
		addrs = []string{cfg.Listen}
		if h, p, _ := strings.Cut(cfg.Listen, ":"); h == "" {
			addrs = []string{hostName() + ":" + p}
		}
		fmt.Fprintf(e.stderr, "warning: no node is running in %s; start it with `distmesh join` before the token is used\n", e.home)
	}
	store.PruneTokens(time.Now())
	tok, err := store.CreateToken(*name, addrs, auth.MeshID(), *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, tok.String())
	fmt.Fprintf(e.stderr, "on the new machine, run: distmesh join TOKEN (the line above)\nthe token works once, until %s, and reaches this node at %s\n",
		tok.ExpiresAt().Format(time.RFC3339), strings.Join(addrs, ", "))
	return nil
}

func keysList(ctx context.Context, e *env, args []string) error {
	fs := e.flags("keys list", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "keys list [--json]"); err != nil {
		return err
	}
	store := keys.Store{Dir: e.home}
	var list []keys.Enrollment
	if store.IsIssuer() {
		if list, err = store.Enrollments(); err != nil {
			return err
		}
	} else {
		id, err := store.LoadIdentity()
		if err != nil {
			return err
		}
		from, until := keys.Window(id.UserCert)
		list = []keys.Enrollment{{Name: id.Name, Fingerprint: id.Fingerprint(), PublicKey: string(ssh.MarshalAuthorizedKey(id.Signer.PublicKey())), Issued: from, Expires: until}}
		auth, err := store.LoadAuthority()
		if err == nil && auth.Revocations().Contains(id.Fingerprint()) {
			now := time.Now()
			list[0].Revoked = &now
		}
	}
	if *asJSON {
		if list == nil {
			list = []keys.Enrollment{}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFINGERPRINT\tISSUED\tEXPIRES\tREVOKED")
	for _, en := range list {
		rev := "-"
		if en.Revoked != nil {
			rev = en.Revoked.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", en.Name, en.Fingerprint, en.Issued.Local().Format(time.DateTime), en.Expires.Local().Format(time.DateOnly), rev)
	}
	return tw.Flush()
}

func keysRevoke(ctx context.Context, e *env, args []string) error {
	fs := e.flags("keys revoke", "NAME|FINGERPRINT")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "keys revoke NAME|FINGERPRINT"); err != nil {
		return err
	}
	store := keys.Store{Dir: e.home}
	ca, err := store.LoadCA()
	if err != nil {
		return err
	}
	auth, err := store.LoadAuthority()
	if err != nil {
		return err
	}
	en, err := store.Revoke(ca, auth, pos[0], time.Now())
	if err != nil {
		return err
	}
	notifyNode(ctx, e.home)
	fmt.Fprintf(e.stdout, "revoked %s (%s); revocation list serial %d\n", en.Name, en.Fingerprint, auth.RevocationSerial())
	fmt.Fprintln(e.stderr, "nodes receive the new list the next time they contact this one or a node that has it")
	return nil
}

func keysRenew(ctx context.Context, e *env, args []string) error {
	fs := e.flags("keys renew", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "keys renew"); err != nil {
		return err
	}
	store := keys.Store{Dir: e.home}
	id, err := store.LoadIdentity()
	if err != nil {
		return err
	}
	auth, err := store.LoadAuthority()
	if err != nil {
		return err
	}
	var certs keys.Certs
	if store.IsIssuer() {
		ca, err := store.LoadCA()
		if err != nil {
			return err
		}
		if certs, err = store.Certify(ca, auth, id.Signer.PublicKey(), id.Name, keys.DefaultCertTTL, time.Now()); err != nil {
			return err
		}
	} else {
		cfg, err := loadConfig(e.home)
		if err != nil {
			return err
		}
		if cfg.Issuer == "" {
			return errors.New("no issuer address in config.toml: add `issuer = \"host:port\"` or re-enroll with a token")
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		conn, err := (&transport.Client{Identity: id, Authority: auth}).Dial(ctx, cfg.Issuer)
		if err != nil {
			if errors.Is(err, keys.ErrExpired) || strings.Contains(err.Error(), "unable to authenticate") {
				return fmt.Errorf("the issuer refused this node's certificate (%v): it may have expired or been revoked; enroll again with a new token", err)
			}
			return fmt.Errorf("reach the issuer at %s: %w", cfg.Issuer, err)
		}
		defer conn.Close()
		if certs, err = conn.Renew(ctx, id.Signer.PublicKey()); err != nil {
			return err
		}
	}
	if len(certs.CAPub) > 0 {
		// The issuer's ca.pub, which may list a new CA during a rotation.
		if err := store.SaveCAKeys(certs.CAPub); err != nil {
			return err
		}
	}
	if err := store.SaveCerts(certs.User, certs.Host); err != nil {
		return err
	}
	_, until := keys.Window(certs.User)
	fmt.Fprintf(e.stdout, "renewed %s: certificates valid until %s\n", id.Name, until.Local().Format(time.DateOnly))
	notifyNode(ctx, e.home)
	return nil
}

func keysShow(ctx context.Context, e *env, args []string) error {
	fs := e.flags("keys show", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "keys show"); err != nil {
		return err
	}
	store := keys.Store{Dir: e.home}
	if !store.Enrolled() {
		// A machine that cannot reach the issuer shows its key so that the
		// issuer can sign it (keys add --key); create it if needed.
		signer, err := store.NodeKey()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s %s\n", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))), hostName())
		fmt.Fprintf(e.stderr, "not enrolled yet; fingerprint %s\non the issuer, run: distmesh keys add --name %s --key '<the line above>'\n", keys.FingerprintOf(signer.PublicKey()), hostName())
		return nil
	}
	id, err := store.LoadIdentity()
	if err != nil {
		return err
	}
	from, until := keys.Window(id.UserCert)
	fmt.Fprintf(e.stdout, "%s %s\n", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(id.Signer.PublicKey()))), id.Name)
	fmt.Fprintf(e.stdout, "name:        %s\nfingerprint: %s\nvalid:       %s to %s\n", id.Name, id.Fingerprint(), from.Local().Format(time.DateTime), until.Local().Format(time.DateTime))
	if auth, err := store.LoadAuthority(); err == nil {
		fmt.Fprintf(e.stdout, "mesh:        %s\n", auth.MeshID())
		if _, err := auth.CheckUser(id.UserCert, time.Now()); err != nil {
			fmt.Fprintf(e.stdout, "status:      %v\n", err)
		}
	}
	return nil
}

// hostName is this machine's name, made fit for a node name.
func hostName() string {
	h, err := os.Hostname()
	if err != nil {
		return "node"
	}
	h, _, _ = strings.Cut(h, ".")
	var b strings.Builder
	for _, r := range h {
		if r < 128 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 || keys.CheckName(b.String()) != nil {
		return "node"
	}
	return b.String()
}
