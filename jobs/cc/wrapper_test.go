package cc

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// socketPair returns the two ends of a connected Unix stream socket.
func socketPair(t *testing.T) (*LocalConn, *LocalConn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *LocalConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return NewLocalConn(c.(*net.UnixConn))
	}
	a, b := conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestFinishWritesOnlyExpectedOutputs: a node that returns a file nobody
// asked for (an attempt to write outside the compile's outputs) has it
// ignored; the expected output is written atomically with the mode a local
// compile gives it.
func TestFinishWritesOnlyExpectedOutputs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	wrapperEnd, agentEnd := socketPair(t)
	w := &wrapper{conn: wrapperEnd}
	a := Analyze(FamilyGCC, []string{"-c", "x.c", "-o", "x.o"}, nil)
	evil := filepath.Join(dir, "evil")
	res := Result{Exit: 0, Stderr: []byte("warning: remote\n"), Node: "n", Outputs: []OutputFile{
		{Path: evil, Size: 3}, {Path: "x.o", Size: 6},
	}}
	payload, _ := json.Marshal(res)
	go func() {
		agentEnd.Send("out", []byte("bad"))
		agentEnd.Send("out", []byte("object"))
	}()
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	if code := w.finish(a, payload); code != 0 {
		t.Fatalf("finish = %d", code)
	}
	if _, err := os.Stat(evil); err == nil {
		t.Error("an output nobody asked for was written")
	}
	fi, err := os.Stat("x.o")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile("x.o"); string(got) != "object" {
		t.Errorf("x.o = %q", got)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("x.o mode %o, want 0640 (0666 minus the umask 027)", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left: %v", ents)
	}
}
