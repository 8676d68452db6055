package cc

import (
	"bytes"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCloseFDs closes runs and single descriptors, in any order, and
// leaves the descriptors between them open.
func TestCloseFDs(t *testing.T) {
	var fds []int
	for range 12 {
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	open := func(fd int) bool {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		return err == nil
	}
	// Keep every fourth: the rest form runs of three, given out of order.
	var closing, keep []int
	for i, fd := range fds {
		if i%4 == 3 {
			keep = append(keep, fd)
		} else {
			closing = append([]int{fd}, closing...)
		}
	}
	CloseFDs(closing)
	for _, fd := range closing {
		if open(fd) {
			t.Errorf("descriptor %d still open", fd)
		}
	}
	for _, fd := range keep {
		if !open(fd) {
			t.Errorf("descriptor %d closed, but it was not in the list", fd)
		}
		unix.Close(fd)
	}
}

// socketPair is two connected LocalConns.
func socketPair(t *testing.T) (*LocalConn, *LocalConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *LocalConn {
		f := os.NewFile(uintptr(fd), "socket")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return NewLocalConn(c.(*net.UnixConn))
	}
	return conn(fds[0]), conn(fds[1])
}

// TestKeptBuffers: connections' read buffers are kept between connections;
// what a closed connection received stays as it was while later ones
// reuse its buffers, and a closed connection reads nothing more.
func TestKeptBuffers(t *testing.T) {
	var got [][]byte
	for i := range 20 {
		a, b := socketPair(t)
		want := bytes.Repeat([]byte{byte('a' + i)}, 40<<10) // more than a buffer: it grows
		go a.Send("msg", want)
		typ, payload, _, err := b.Recv()
		if err != nil || typ != "msg" || !bytes.Equal(payload, want) {
			t.Fatalf("connection %d: %s, %d bytes, %v", i, typ, len(payload), err)
		}
		got = append(got, payload)
		a.Close()
		b.Close()
		if _, _, _, err := b.Recv(); err == nil {
			t.Fatalf("connection %d: a closed connection received a message", i)
		}
	}
	for i, p := range got {
		if !bytes.Equal(p, bytes.Repeat([]byte{byte('a' + i)}, 40<<10)) {
			t.Fatalf("message %d changed after its connection closed", i)
		}
	}
}
