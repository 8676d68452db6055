package jobs

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newTestWatch is a watch for a test, or a skip where inotify cannot vouch
// for the test's temporary directory.
func newTestWatch(t *testing.T, dir string) *fileWatch {
	t.Helper()
	fw := newFileWatch(1 << 20)
	t.Cleanup(fw.close)
	if fw.fd < 0 {
		t.Skipf("no inotify here: %v", fw.lastErr)
	}
	fw.mu.Lock()
	d := fw.dir(dir)
	fw.mu.Unlock()
	if d.wd < 0 {
		t.Skipf("%s is not on a file system the watch trusts (or a directory above it is not)", dir)
	}
	return fw
}

// sameAnswer compares two lstat answers as the caches use them.
func sameAnswer(a, b lstatResult) bool {
	if (a.err == nil) != (b.err == nil) {
		return false
	}
	if a.err != nil {
		return os.IsNotExist(a.err) == os.IsNotExist(b.err)
	}
	sa, sb := a.fi.Sys().(*syscall.Stat_t), b.fi.Sys().(*syscall.Stat_t)
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino && sa.Mode == sb.Mode && sa.Size == sb.Size &&
		sa.Nlink == sb.Nlink && sa.Mtim == sb.Mtim && sa.Ctim == sb.Ctim && a.target == b.target
}

func describe(r lstatResult) string {
	if r.err != nil {
		return r.err.Error()
	}
	st := r.fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("ino %d mode %o size %d links %d mtime %v ctime %v target %q", st.Ino, st.Mode, st.Size, st.Nlink, st.Mtim, st.Ctim, r.target)
}

// TestFileWatchAgreesWithLstat changes a small tree at random (files
// written in place, truncated, touched, chmod'ed, replaced by a rename,
// removed; directories made, renamed over each other and removed; symlinks
// made and retargeted; hard links) and after each change compares the
// watch's answer for every path in the tree's universe with lstat's. The
// watch must never answer from memory what is no longer so, and must
// answer from memory most of the time.
func TestFileWatchAgreesWithLstat(t *testing.T) {
	root := t.TempDir()
	fw := newTestWatch(t, root)
	rng := rand.New(rand.NewPCG(1, 2))
	dirs := []string{"a", "b", "a/c", "b/c"}
	names := []string{"x.h", "y.h", "c"}
	var universe []string
	for _, d := range append([]string{""}, dirs...) {
		for _, n := range names {
			universe = append(universe, filepath.Join(root, d, n))
		}
		if d != "" {
			universe = append(universe, filepath.Join(root, d))
		}
	}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	path := func() string { return filepath.Join(root, pick(dirs), pick(names[:2])) }
	// A timestamp in the past, so that a change within one tick of the
	// clock still moves the times lstat reports.
	old := time.Now().Add(-time.Hour)
	ops := []func() string{
		func() string {
			p := path()
			os.WriteFile(p, []byte("v1"), 0o644)
			os.Chtimes(p, old, old)
			return "write " + p
		},
		func() string { p := path(); os.WriteFile(p, []byte("v2"), 0o644); return "rewrite in place " + p },
		func() string { p := path(); os.Truncate(p, 0); return "truncate " + p },
		func() string { p := path(); os.Chtimes(p, time.Now(), time.Now()); return "touch " + p },
		func() string { p := path(); os.Chmod(p, 0o600); return "chmod " + p },
		func() string {
			p := path()
			os.WriteFile(p+".tmp", []byte("renamed"), 0o644)
			os.Rename(p+".tmp", p)
			return "replace by rename " + p
		},
		func() string { p := path(); os.Remove(p); return "remove " + p },
		func() string { p := filepath.Join(root, pick(dirs)); os.MkdirAll(p, 0o755); return "mkdir " + p },
		func() string {
			a, b := filepath.Join(root, pick(dirs)), filepath.Join(root, pick(dirs))
			os.RemoveAll(b + ".old")
			os.Rename(b, b+".old")
			os.Rename(a, b)
			os.RemoveAll(b + ".old")
			return "rename dir " + a + " over " + b
		},
		func() string { p := filepath.Join(root, pick(dirs)); os.RemoveAll(p); return "remove tree " + p },
		func() string {
			p := path()
			os.Remove(p)
			os.Symlink(pick(names), p)
			return "symlink " + p
		},
		func() string { p, q := path(), path(); os.Link(p, q); return "hard link " + p + " as " + q },
		func() string {
			// A write through one link, seen only by the other's
			// directory.
			p := path()
			if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
				f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
				f.Write([]byte("more"))
				f.Close()
			}
			return "append " + p
		},
	}
	for _, d := range dirs {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	checks := 0
	for step := range 1500 {
		what := ops[rng.IntN(len(ops))]()
		fw.sync()
		for _, p := range universe {
			got, want := fw.get(p), osLstat(p)
			checks++
			if !sameAnswer(got, want) {
				t.Fatalf("step %d, after %s: the watch answers %s for %s, lstat %s", step, what, describe(got), p, describe(want))
			}
		}
	}
	if fw.stats.hits < int64(checks)/3 {
		t.Errorf("the watch answered %d of %d lookups from memory; it should answer most", fw.stats.hits, checks)
	}
}

// TestFileWatchHardLinks: a write through another link to a remembered
// file raises its events in the other link's directory only; the file's
// own watch must see it.
func TestFileWatchHardLinks(t *testing.T) {
	root := t.TempDir()
	fw := newTestWatch(t, root)
	os.Mkdir(filepath.Join(root, "in"), 0o755)
	os.Mkdir(filepath.Join(root, "elsewhere"), 0o755)
	p := filepath.Join(root, "in", "x.h")
	os.WriteFile(p, []byte("one"), 0o644)
	fw.sync()
	fw.get(p)
	hits := fw.stats.hits
	if fw.get(p); fw.stats.hits != hits+1 {
		t.Fatal("a file looked up twice was not answered from memory the second time")
	}
	other := filepath.Join(root, "elsewhere", "x.h")
	if err := os.Link(p, other); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	fw.sync()
	if got := fw.get(p); got.err != nil || got.fi.Sys().(*syscall.Stat_t).Nlink != 2 {
		t.Errorf("a new link went unseen: %s", describe(got))
	}
	f, err := os.OpenFile(other, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(", two"))
	f.Close()
	fw.sync()
	if got := fw.get(p); got.err != nil || got.fi.Size() != int64(len("one, two")) {
		t.Errorf("a write through another link went unseen: %s", describe(got))
	}
}

// TestFileWatchUntrustedFileSystems: what is not on a file system the
// watch trusts is looked up every time.
func TestFileWatchUntrustedFileSystems(t *testing.T) {
	fw := newFileWatch(1 << 20)
	defer fw.close()
	if fw.fd < 0 {
		t.Skipf("no inotify here: %v", fw.lastErr)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs("/proc", &sfs); err != nil || watchableFS[int64(sfs.Type)] {
		t.Skip("/proc is not procfs here")
	}
	for range 3 {
		fw.sync()
		fw.get("/proc/self/status")
	}
	if fw.stats.hits != 0 {
		t.Errorf("%d answers from memory for a file in /proc", fw.stats.hits)
	}
}

// TestFileWatchForgetsOnMount: a mount raises no inotify event; the watch
// sees the agent's mount table change and forgets everything. Needs root
// (it mounts a tmpfs over a directory of its own).
func TestFileWatchForgetsOnMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root; CI runs this as root")
	}
	root := t.TempDir()
	fw := newTestWatch(t, root)
	dir := filepath.Join(root, "inc")
	os.Mkdir(dir, 0o755)
	p := filepath.Join(dir, "x.h")
	os.WriteFile(p, []byte("disk"), 0o644)
	fw.sync()
	if r := fw.get(p); r.err != nil {
		t.Fatal(r.err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	fw.sync()
	if r := fw.get(p); r.err == nil {
		t.Errorf("after a tmpfs was mounted over %s, the watch still answers %s for %s", dir, describe(r), p)
	}
}

// TestFileWatchOverflow: lost events forget everything.
func TestFileWatchOverflow(t *testing.T) {
	root := t.TempDir()
	fw := newTestWatch(t, root)
	p := filepath.Join(root, "x.h")
	os.WriteFile(p, []byte("x"), 0o644)
	fw.sync()
	fw.get(p)
	fw.mu.Lock()
	fw.apply(-1, unix.IN_Q_OVERFLOW, "")
	remembered := fw.names
	fw.mu.Unlock()
	if remembered != 0 {
		t.Errorf("after lost events the watch still remembers %d answers", remembered)
	}
}

// TestFileWatchChangeDuringLookup: a name created while it is being looked
// up, whose event another job applies before the lookup returns, must not
// leave "nothing there" remembered.
func TestFileWatchChangeDuringLookup(t *testing.T) {
	root := t.TempDir()
	fw := newTestWatch(t, root)
	p := filepath.Join(root, "late.h")
	fw.sync()
	real := fw.lstat
	fw.lstat = func(q string) lstatResult {
		r := real(q)
		if q == p {
			fw.lstat = real
			os.WriteFile(p, []byte("here"), 0o644)
			fw.sync() // another job starts
		}
		return r
	}
	if r := fw.get(p); r.err == nil {
		t.Fatal("the lookup did not race the creation; the test tests nothing")
	}
	fw.sync()
	if r := fw.get(p); r.err != nil {
		t.Errorf("a file created during its lookup stays unseen: %v", r.err)
	}
}

// TestOwnView: the agent stands in for a wrapper only when it runs as the
// agent's user, in the agent's mount namespace, with the agent's root.
func TestOwnView(t *testing.T) {
	v := readOwnView()
	if !v.ok {
		t.Skip("cannot read this process's namespaces from /proc")
	}
	me := syscall.Ucred{Pid: int32(os.Getpid()), Uid: uint32(os.Geteuid())}
	if !v.shares(me) {
		t.Error("the agent's own process does not share its view")
	}
	other := me
	other.Uid++
	if v.shares(other) {
		t.Error("a process of another user shares the agent's view")
	}
	if os.Geteuid() != 0 {
		t.Skip("a process in another mount namespace needs root; CI runs this as root")
	}
	// A root of its own: a directory holding a static program that waits.
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "wait.c"), []byte("#include <unistd.h>\nint main(void) { pause(); }\n"), 0o644)
	if out, err := exec.Command("gcc", "-static", "-o", filepath.Join(root, "sleep"), filepath.Join(root, "wait.c")).CombinedOutput(); err != nil {
		t.Skipf("cannot build a static program: %v\n%s", err, out)
	}
	for name, argv := range map[string][]string{
		"another mount namespace": {"unshare", "-m", "sleep", "30"},
		"another root":            {"chroot", root, "/sleep"},
	} {
		cmd := exec.Command(argv[0], argv[1:]...)
		if err := cmd.Start(); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// unshare and chroot exec sleep once set up.
		var ok bool
		for range 100 {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid)); string(b) == "sleep\n" {
				ok = true
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !ok {
			t.Errorf("%s: the process did not start", name)
		} else if v.shares(syscall.Ucred{Pid: int32(cmd.Process.Pid), Uid: me.Uid}) {
			t.Errorf("a process in %s shares the agent's view", name)
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
}
