package landlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// fakeNode builds a small node installation: node/usr/bin/cc, node/bin ->
// usr/bin, node/usr/lib/tool/ (a directory with a file in it) and
// node/usr/bin/cc-link -> cc.
func fakeNode(t *testing.T) string {
	node := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/lib/tool/bin"} {
		if err := os.MkdirAll(filepath.Join(node, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"usr/bin/cc", "usr/lib/tool/bin/x"} {
		if err := os.WriteFile(filepath.Join(node, f), []byte("elf"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"bin": "usr/bin", "usr/bin/cc-link": "cc"} {
		if err := os.Symlink(target, filepath.Join(node, link)); err != nil {
			t.Fatal(err)
		}
	}
	return node
}

func TestPrepareRoot(t *testing.T) {
	node := fakeNode(t)
	type tc struct {
		name     string
		setup    map[string]string // root path (below node) -> "dir", "link:TARGET" or file content
		install  []string          // below node
		exec     []string
		writable []string // absolute
		wantErr  error    // nil: want success
		wantMsg  string   // for errors that are not ErrConflict
	}
	for _, c := range []tc{
		{name: "fresh root", install: []string{"/bin/cc-link", "/usr/lib/tool"}, exec: []string{"/bin/cc-link"}},
		{name: "same symlink already there", setup: map[string]string{"/bin": "link:usr/bin"}, install: []string{"/bin/cc"}},
		{name: "client's traversed dirs in an install dir", setup: map[string]string{"/usr/lib/tool/include": "dir"}, install: []string{"/usr/lib/tool"}},
		{name: "install below an install dir", install: []string{"/usr/lib/tool", "/usr/lib/tool/bin/x"}, exec: []string{"/usr/lib/tool/bin/x"}},
		{name: "file over the compiler", setup: map[string]string{"/usr/bin/cc": "mine"}, install: []string{"/bin/cc"}, wantErr: ErrConflict},
		{name: "empty file over the compiler", setup: map[string]string{"/usr/bin/cc": ""}, install: []string{"/usr/bin/cc"}, wantErr: ErrConflict},
		{name: "directory where the node has a symlink", setup: map[string]string{"/bin": "dir"}, install: []string{"/bin/cc"}, wantErr: ErrConflict},
		{name: "other symlink target", setup: map[string]string{"/bin": "link:/etc"}, install: []string{"/bin/cc"}, wantErr: ErrConflict, wantMsg: "a symlink to /etc where the node has a symlink to usr/bin"},
		{name: "named pipe over the compiler", setup: map[string]string{"/usr/bin/cc": "fifo"}, install: []string{"/usr/bin/cc"}, wantErr: ErrConflict, wantMsg: "the root has a named pipe"},
		{name: "symlink where the node has a directory", setup: map[string]string{"/usr/lib": "link:/etc"}, install: []string{"/usr/lib/tool"}, wantErr: ErrConflict},
		{name: "file in an install dir", setup: map[string]string{"/usr/lib/tool/include/stddef.h": "mine"}, install: []string{"/usr/lib/tool"}, wantErr: ErrConflict},
		{name: "something in /proc", setup: map[string]string{"!/proc/x": "mine"}, install: []string{"/bin/cc"}, wantErr: ErrConflict},
		{name: "exec outside install", install: []string{"/usr/lib/tool"}, exec: []string{"/bin/cc"}, wantMsg: "is not part of install"},
		{name: "writable over install", install: []string{"/usr/lib/tool"}, writable: []string{"@/usr/lib/tool/bin"}, wantMsg: "overlaps install path"},
		{name: "writable missing", install: []string{"/bin/cc"}, writable: []string{"/out"}, wantMsg: "no such file"},
		{name: "writable through a symlink", setup: map[string]string{"!/out": "link:/home"}, install: []string{"/bin/cc"}, writable: []string{"/out"}, wantMsg: "is not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for p, what := range c.setup {
				if rest, ok := strings.CutPrefix(p, "!"); ok {
					p = rest // below the root itself, not below node
				} else {
					p = node + p
				}
				p = filepath.Join(root, p)
				os.MkdirAll(filepath.Dir(p), 0o755)
				var err error
				switch target, link := strings.CutPrefix(what, "link:"); {
				case what == "dir":
					err = os.MkdirAll(p, 0o755)
				case what == "fifo":
					err = syscall.Mkfifo(p, 0o644)
				case link:
					err = os.Symlink(target, p)
				default:
					err = os.WriteFile(p, []byte(what), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			s := Spec{Root: root, UID: 1000}
			for _, p := range c.install {
				s.Install = append(s.Install, node+p)
			}
			for _, p := range c.exec {
				s.Exec = append(s.Exec, node+p)
			}
			for _, w := range c.writable {
				if rest, ok := strings.CutPrefix(w, "@"); ok {
					w = node + rest
				}
				s.Writable = append(s.Writable, w)
			}
			binds, err := prepareRoot(s, 1000)
			switch {
			case c.wantErr != nil || c.wantMsg != "":
				if err == nil || c.wantErr != nil && !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.wantMsg) {
					t.Fatalf("prepareRoot: %v; want %v %q", err, c.wantErr, c.wantMsg)
				}
				return
			case err != nil:
				t.Fatalf("prepareRoot: %v", err)
			}
			for _, b := range binds {
				if !slices.Contains(s.Install, b) && !strings.HasPrefix(b, node+"/usr/bin/cc") {
					t.Errorf("bind %s is no install path", b)
				}
				if _, err := os.Lstat(root + b); err != nil {
					t.Errorf("no placeholder for %s: %v", b, err)
				}
			}
			for _, d := range []string{"/proc", "/dev", "/tmp"} {
				if fi, err := os.Lstat(root + d); err != nil || !fi.IsDir() {
					t.Errorf("mount point %s: %v", d, err)
				}
			}
		})
	}
}

func TestPrepareRootPlaceholders(t *testing.T) {
	node := fakeNode(t)
	root := t.TempDir()
	s := Spec{Root: root, Install: []string{node + "/bin/cc-link", node + "/usr/lib/tool", node + "/usr/lib/tool/bin/x"}}
	binds, err := prepareRoot(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{node + "/usr/bin/cc", node + "/usr/lib/tool"}; !slices.Equal(binds, want) {
		t.Errorf("binds %q, want %q", binds, want)
	}
	for link, want := range map[string]string{"/bin": "usr/bin", "/usr/bin/cc-link": "cc"} {
		if got, err := os.Readlink(root + node + link); err != nil || got != want {
			t.Errorf("%s: symlink to %q (%v), want %q", link, got, err, want)
		}
	}
	if fi, err := os.Stat(root + node + "/usr/bin/cc"); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Errorf("placeholder for cc: %v %v", fi, err)
	}
	// A second Run on the same root reuses what the first placed…
	if again, err := prepareRoot(s, 0); err != nil || !slices.Equal(again, binds) {
		t.Errorf("second prepareRoot on the same root: %q, %v; want %q", again, err, binds)
	}
	// …but a placeholder someone filled is a conflict: the bind would hide it.
	if err := os.Chmod(root+node+"/usr/bin/cc", 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root+node+"/usr/bin/cc", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareRoot(s, 0); !errors.Is(err, ErrConflict) {
		t.Errorf("prepareRoot over a filled placeholder: %v, want ErrConflict", err)
	}
}

func TestSpecNormalize(t *testing.T) {
	valid := func() Spec {
		return Spec{Root: "/r", Install: []string{"/usr/bin/cc"}, Exec: []string{"/usr/bin/cc"}, Writable: []string{"/o"}, Dir: "/", Argv: []string{"/usr/bin/cc"}}
	}
	for _, c := range []struct {
		name   string
		change func(*Spec)
		want   string // error substring; "" for success
	}{
		{"valid", func(*Spec) {}, ""},
		{"relative root", func(s *Spec) { s.Root = "r" }, "root \"r\" is not an absolute path"},
		{"node root", func(s *Spec) { s.Root = "/" }, "node's own /"},
		{"relative install", func(s *Spec) { s.Install = []string{"usr/bin/cc"} }, "install path"},
		{"empty argv", func(s *Spec) { s.Argv = nil }, "empty argv"},
		{"program not in exec", func(s *Spec) { s.Argv = []string{"/bin/sh"} }, "not listed in exec"},
		{"install in /proc", func(s *Spec) { s.Install = append(s.Install, "/proc/self") }, "provides /, /proc and /dev"},
		{"writable root", func(s *Spec) { s.Writable = []string{"/"} }, "provides /, /proc and /dev"},
		{"too few processes", func(s *Spec) { s.Limits.Processes = 4 }, "below 8"},
		{"negative uid", func(s *Spec) { s.UID = -1 }, "negative"},
	} {
		s := valid()
		c.change(&s)
		got, err := s.normalize()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		case c.want == "" && (got.Limits != DefaultLimits() || !slices.Equal(got.Env, []string{"TMPDIR=/tmp"})):
			t.Errorf("%s: limits %+v env %q", c.name, got.Limits, got.Env)
		}
	}
	s := valid()
	s.Env = []string{"TMPDIR=/home/u/tmp", "LANG=C"}
	if got, _ := s.normalize(); !slices.Equal(got.Env, []string{"TMPDIR=/tmp", "LANG=C"}) {
		t.Errorf("env %q: TMPDIR must be the job's /tmp", got.Env)
	}
}

func TestLevelText(t *testing.T) {
	for _, l := range []Level{LevelNone, LevelPartial, LevelFull} {
		b, _ := l.MarshalText()
		var back Level
		if err := back.UnmarshalText(b); err != nil || back != l {
			t.Errorf("%v: round trip gave %v, %v", l, back, err)
		}
	}
	var l Level
	if err := l.UnmarshalText([]byte("most")); err == nil {
		t.Error("UnmarshalText accepted \"most\"")
	}
}

// BenchmarkPrepareRoot measures a job's preparation of a root that an
// earlier job with the same compiler prepared, the common case: this
// machine's gcc, its programs and their libraries.
func BenchmarkPrepareRoot(b *testing.B) {
	var install []string
	for _, prog := range []string{"cc1", "as", "collect2"} {
		out, err := exec.Command("gcc", "-print-prog-name="+prog).Output()
		p := strings.TrimSpace(string(out))
		if err == nil && !filepath.IsAbs(p) {
			p, err = exec.LookPath(p) // gcc runs it from PATH
		}
		if err != nil {
			b.Skipf("gcc -print-prog-name=%s: %v", prog, err)
		}
		install = append(install, p)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		b.Skip(err)
	}
	install, err = Closure(append(install, gcc)...)
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	if err := os.MkdirAll(root+"/src/out", 0o755); err != nil {
		b.Fatal(err)
	}
	s := Spec{Root: root, Install: install, Exec: []string{gcc}, Writable: []string{"/src/out"}}
	if _, err := prepareRoot(s, os.Geteuid()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := prepareRoot(s, os.Geteuid()); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPrepareRootUnreadableByTheJob(t *testing.T) {
	node := fakeNode(t)
	root := t.TempDir()
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	s := Spec{Root: root, Install: []string{node + "/bin/cc-link"}, UID: 1000, GID: 1000}
	if _, err := prepareRoot(s, 0); err == nil || !strings.Contains(err.Error(), "has mode -rwx------: uid 1000 cannot read it") {
		t.Errorf("prepareRoot of a 0700 root for another uid: %v", err)
	}
	if _, err := prepareRoot(s, 1000); err != nil {
		t.Errorf("prepareRoot of a 0700 root for its own uid: %v", err)
	}
}
