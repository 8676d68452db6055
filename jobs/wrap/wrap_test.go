package wrap

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestJobRoundTrip: a command line survives the job message whatever its
// bytes (spaces, newlines, quotes, invalid UTF-8, empty arguments).
func TestJobRoundTrip(t *testing.T) {
	j := &Job{
		Compiler: "/usr/bin/gcc-12", Name: "x86_64-linux-gnu-gcc", Dir: "/src/with space/\xff",
		Stamp:    Stamp{Dev: 1<<63 + 5, Ino: 42, Size: 1301496, MTime: -1, CTime: 1700000000123456789},
		Terminal: true,
		Args:     []string{"-c", "a b.c", "", "-DX=\"1\n2\"", "\xfe\xff", "@rsp"},
		Env:      []string{"PWD=/src", "LANG="},
	}
	got, err := DecodeJob(EncodeJob(j))
	if err != nil {
		t.Fatal(err)
	}
	if got.Compiler != j.Compiler || got.Name != j.Name || got.Dir != j.Dir || got.Stamp != j.Stamp ||
		got.Terminal != j.Terminal || !slices.Equal(got.Args, j.Args) || !slices.Equal(got.Env, j.Env) {
		t.Errorf("got %+v, want %+v", got, j)
	}
	j.Args, j.Env = nil, nil
	if got, err := DecodeJob(EncodeJob(j)); err != nil || len(got.Args) != 0 || len(got.Env) != 0 {
		t.Errorf("no arguments: got %+v, %v", got, err)
	}
}

func TestDecodeJobRejects(t *testing.T) {
	good := EncodeJob(&Job{Compiler: "/usr/bin/gcc", Name: "gcc", Dir: "/", Args: []string{"-c", "x.c"}})
	for name, b := range map[string][]byte{
		"empty":          nil,
		"unterminated":   good[:len(good)-1],
		"too few fields": AppendList(nil, "/usr/bin/gcc", "gcc", "/"),
		"bad number":     AppendList(nil, "/usr/bin/gcc", "gcc", "/", "x", "2", "3", "4", "5", "0", "0"),
		"count too big":  AppendList(nil, "/usr/bin/gcc", "gcc", "/", "1", "2", "3", "4", "5", "0", "3", "-c"),
		"count negative": AppendList(nil, "/usr/bin/gcc", "gcc", "/", "1", "2", "3", "4", "5", "0", "-1"),
	} {
		if j, err := DecodeJob(b); err == nil {
			t.Errorf("%s: decoded %+v", name, j)
		}
	}
}

func TestParseOutput(t *testing.T) {
	o, err := parseOutput(append(AppendList(nil, "dir/x.o", "w"), "\x00obj"...))
	if err != nil || o.path != "dir/x.o" || o.append || string(o.data) != "\x00obj" {
		t.Errorf("got %+v, %v", o, err)
	}
	for _, b := range [][]byte{nil, []byte("x.o"), AppendList(nil, "x.o"), AppendList(nil, "", "w"), AppendList(nil, "x.o", "r")} {
		if o, err := parseOutput(b); err == nil {
			t.Errorf("%q: parsed %+v", b, o)
		}
	}
}

// TestWriteOutputs: a regular output is replaced atomically with the mode
// a local compile gives it (0666 minus the umask), nothing else is left
// behind, a FIFO named as the output is written in place (as -o /dev/null
// is), and an appended dependency file keeps what it had.
func TestWriteOutputs(t *testing.T) {
	dir := t.TempDir()
	obj, deps, fifo := filepath.Join(dir, "x.o"), filepath.Join(dir, "deps"), filepath.Join(dir, "fifo")
	if err := os.WriteFile(obj, []byte("old object"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deps, []byte("a.o: a.c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	old := syscall.Umask(0o027)
	err = writeOutputs([]output{{path: obj, data: []byte("object")}, {path: deps, append: true, data: []byte("x.o: x.c\n")}, {path: fifo, data: []byte("piped")}})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(obj); string(b) != "object" {
		t.Errorf("x.o = %q", b)
	}
	if fi, err := os.Stat(obj); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("x.o: %v, mode %v, want 0640 (0666 minus the umask 027)", err, fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(deps); string(b) != "a.o: a.c\nx.o: x.c\n" {
		t.Errorf("deps = %q", b)
	}
	buf := make([]byte, 16)
	if n, _ := r.Read(buf); string(buf[:n]) != "piped" {
		t.Errorf("the FIFO got %q", buf[:n])
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("files left: %v", ents)
	}
	// An output that cannot be written is an error, and leaves nothing.
	if err := writeOutputs([]output{{path: filepath.Join(dir, "missing", "y.o"), data: []byte("o")}}); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestIsCompilerName(t *testing.T) {
	for name, want := range map[string]bool{
		"cc": true, "c++": true, "gcc": true, "g++": true, "clang": true, "clang++": true,
		"gcc-12": true, "clang++-14": true, "x86_64-linux-gnu-gcc": true, "x86_64-linux-gnu-gcc-12": true,
		"c89-gcc": false, "c99-gcc": false, "ld": false, "gcc-ar": false, "ccache": false, "distmesh": false,
	} {
		if got := IsCompilerName(name); got != want {
			t.Errorf("IsCompilerName(%q) = %v, want %v", name, got, want)
		}
	}
}
