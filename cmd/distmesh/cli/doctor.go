package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/distmesh/distmesh/jobs"
	"github.com/distmesh/distmesh/landlock"
)

// unusedUID is the uid a root daemon runs compilers as when config names no
// user and there is no distmesh system user: an id no account has, mapped
// into each job's user namespace, so nothing on the node belongs to it.
const unusedUID = 2147000000

// runAs returns the ids compilers run as: 0, 0 (the daemon's own) for an
// unprivileged daemon; for root, config's user, else a "distmesh" system
// user, else an unused id.
func runAs(name string) (uid, gid int, who string, err error) {
	if os.Geteuid() != 0 {
		return 0, 0, "the daemon's own user", nil
	}
	lookup := func(n string) (int, int, error) {
		u, err := user.Lookup(n)
		if err != nil {
			return 0, 0, err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if uid == 0 || gid == 0 {
			return 0, 0, fmt.Errorf("user %s is root; compilers never run as root", n)
		}
		return uid, gid, nil
	}
	if name != "" {
		uid, gid, err := lookup(name)
		if err != nil {
			return 0, 0, "", fmt.Errorf("user = %q in config.toml: %v", name, err)
		}
		return uid, gid, "user " + name, nil
	}
	if uid, gid, err := lookup("distmesh"); err == nil {
		return uid, gid, "system user distmesh", nil
	}
	if idTaken(unusedUID) {
		return 0, 0, "", fmt.Errorf("uid %d is in use on this machine: set user = \"...\" in config.toml to an unprivileged account for compilers", unusedUID)
	}
	return unusedUID, unusedUID, fmt.Sprintf("unused uid %d", unusedUID), nil
}

// idTaken reports whether id belongs to an account or a subordinate id
// range on this machine.
func idTaken(id int) bool {
	if _, err := user.LookupId(strconv.Itoa(id)); err == nil {
		return true
	}
	for _, path := range []string{"/etc/subuid", "/etc/subgid"} {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			parts := strings.Split(sc.Text(), ":")
			if len(parts) != 3 {
				continue
			}
			start, err1 := strconv.Atoi(parts[1])
			n, err2 := strconv.Atoi(parts[2])
			if err1 == nil && err2 == nil && id >= start && id < start+n {
				f.Close()
				return true
			}
		}
		f.Close()
	}
	return false
}

func runDoctor(ctx context.Context, e *env, args []string) error {
	fs := e.flags("doctor", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "doctor"); err != nil {
		return err
	}
	cfg, err := loadConfig(e.home)
	if err != nil {
		return err
	}
	uid, gid, who, err := runAs(cfg.User)
	if err != nil {
		return err
	}
	launcher := chooseLauncher(ctx)
	report := landlock.Probe(ctx, uid, gid)
	fmt.Fprint(e.stdout, report.String())
	fmt.Fprintf(e.stdout, "  launcher:    %s\n", launcher)
	fmt.Fprintf(e.stdout, "  compilers run as: %s\n", who)
	fmt.Fprintln(e.stdout, "compilers:")
	for _, p := range jobs.FindCompilers(cfg.Compilers) {
		c, err := jobs.ProbeCompiler(ctx, p)
		if err != nil {
			fmt.Fprintf(e.stdout, "  %-28s not served: %v\n", p, err)
			continue
		}
		fmt.Fprintf(e.stdout, "  %-28s %s  %s, %s\n", p, c.Short(), c.Banner, c.Target)
	}
	if !report.Meets(cfg.MinConfinement) {
		fmt.Fprintf(e.stdout, "this node would not serve compiles: confinement %s is below min_confinement = %q\n", report.Level, cfg.MinConfinement)
		return exitError{1}
	}
	fmt.Fprintf(e.stdout, "this node serves compiles with %s confinement (min_confinement = %q)\n", report.Level, cfg.MinConfinement)
	return nil
}
