package cc

import (
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
