package cc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/distmesh/distmesh/jobs/wrap"
)

// LocalConn is the agent socket's framing: messages "TYPE LENGTH NFDS\n"
// followed by LENGTH bytes, with NFDS file descriptors attached to the
// message (SCM_RIGHTS). The kernel delivers descriptors with the bytes they
// were sent with, so by the time a message's header is read its
// descriptors are queued.
type LocalConn struct {
	c   *net.UnixConn
	b   *connBuffers
	buf []byte
	r   int // read position in buf
	fds []int
	max int
}

// connBuffers are a connection's read buffers, kept between connections:
// the agent takes one connection per job, and fresh buffers are memory it
// would zero for each (a tenth of what it allocates per job). What Recv
// returns is always copied out of them.
type connBuffers struct {
	buf []byte
	oob []byte
}

var buffers = sync.Pool{New: func() any {
	return &connBuffers{buf: make([]byte, 0, 32<<10), oob: make([]byte, syscall.CmsgSpace(4*MaxFDsPerMessage))}
}}

// maxKeptBuffer: a buffer grown past this by a large message is not kept.
const maxKeptBuffer = 1 << 20

// MaxFDsPerMessage stays under the kernel's SCM_MAX_FD (253).
const MaxFDsPerMessage = wrap.MaxFDs

func NewLocalConn(c *net.UnixConn) *LocalConn {
	b := buffers.Get().(*connBuffers)
	return &LocalConn{c: c, b: b, buf: b.buf[:0], max: 1 << 30}
}

// UnixConn is the underlying connection, for deadlines and for noticing
// that the other side has gone.
func (lc *LocalConn) UnixConn() *net.UnixConn { return lc.c }

func (lc *LocalConn) Close() error {
	for _, fd := range lc.fds {
		syscall.Close(fd)
	}
	lc.fds = nil
	if lc.b != nil && cap(lc.buf) <= maxKeptBuffer {
		lc.b.buf = lc.buf[:0]
		buffers.Put(lc.b)
	}
	lc.b, lc.buf, lc.r = nil, nil, 0
	return lc.c.Close()
}

// Send writes one message with its descriptors.
func (lc *LocalConn) Send(typ string, payload []byte, files ...*os.File) error {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	return lc.SendFDs(typ, payload, fds)
}

// SendFDs is Send with raw descriptors, which the wrapper opens without
// the runtime's bookkeeping for an *os.File (it passes hundreds per job).
func (lc *LocalConn) SendFDs(typ string, payload []byte, fds []int) error {
	if len(fds) > MaxFDsPerMessage {
		return fmt.Errorf("send %s: %d descriptors in one message", typ, len(fds))
	}
	hdr := typ + " " + strconv.Itoa(len(payload)) + " " + strconv.Itoa(len(fds)) + "\n"
	msg := append([]byte(hdr), payload...)
	if len(fds) == 0 {
		_, err := lc.c.Write(msg)
		return err
	}
	// The descriptors go with the header; the rest may follow in more
	// writes.
	n, _, err := lc.c.WriteMsgUnix(msg, syscall.UnixRights(fds...), nil)
	if err != nil {
		return err
	}
	if n < len(msg) {
		_, err = lc.c.Write(msg[n:])
	}
	return err
}

func (lc *LocalConn) SendJSON(typ string, v any, files ...*os.File) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return lc.Send(typ, b, files...)
}

// fill reads more bytes (and any descriptors sent with them).
func (lc *LocalConn) fill() error {
	if lc.b == nil {
		return net.ErrClosed
	}
	if lc.r > 0 && lc.r == len(lc.buf) {
		lc.buf, lc.r = lc.buf[:0], 0
	}
	if cap(lc.buf)-len(lc.buf) < 8<<10 {
		nb := make([]byte, len(lc.buf)-lc.r, max(2*cap(lc.buf), 32<<10))
		copy(nb, lc.buf[lc.r:])
		lc.buf, lc.r = nb, 0
	}
	oob := lc.b.oob
	n, oobn, _, _, err := lc.c.ReadMsgUnix(lc.buf[len(lc.buf):cap(lc.buf)], oob)
	n = max(n, 0) // -1 from a read on a closed connection
	lc.buf = lc.buf[:len(lc.buf)+n]
	if oobn > 0 {
		msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
		if perr != nil {
			return perr
		}
		for _, m := range msgs {
			// Received close-on-exec: ReadMsgUnix asks for
			// MSG_CMSG_CLOEXEC on Linux.
			fds, perr := syscall.ParseUnixRights(&m)
			if perr == nil {
				lc.fds = append(lc.fds, fds...)
			}
		}
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	if err != nil && n > 0 {
		err = nil
	}
	return err
}

// Recv reads one message and the descriptors sent with it.
func (lc *LocalConn) Recv() (typ string, payload []byte, files []*os.File, err error) {
	typ, payload, fds, err := lc.RecvFDs()
	for _, fd := range fds {
		files = append(files, os.NewFile(uintptr(fd), "passed"))
	}
	return typ, payload, files, err
}

// RecvFDs is Recv with raw descriptors, which the caller must close: the
// agent receives hundreds per job and needs none of an *os.File's
// bookkeeping (a flags query and a poller registration attempt each).
func (lc *LocalConn) RecvFDs() (typ string, payload []byte, fds []int, err error) {
	for {
		if i := bytes.IndexByte(lc.buf[lc.r:], '\n'); i >= 0 {
			line := string(lc.buf[lc.r : lc.r+i])
			f := strings.Fields(line)
			if len(f) != 3 {
				return "", nil, nil, fmt.Errorf("agent protocol: bad header %q", truncate(line, 40))
			}
			size, err1 := strconv.Atoi(f[1])
			nfds, err2 := strconv.Atoi(f[2])
			if err1 != nil || err2 != nil || size < 0 || size > lc.max || nfds < 0 || nfds > MaxFDsPerMessage {
				return "", nil, nil, fmt.Errorf("agent protocol: bad header %q", truncate(line, 40))
			}
			start := lc.r + i + 1
			for len(lc.buf)-start < size {
				if err := lc.fill(); err != nil {
					return "", nil, nil, unexpected(err)
				}
				start = lc.r + i + 1 // fill may have moved the buffer
			}
			payload = make([]byte, size)
			copy(payload, lc.buf[start:start+size])
			lc.r = start + size
			if len(lc.fds) < nfds {
				return "", nil, nil, errors.New("agent protocol: descriptors missing")
			}
			fds = slices.Clone(lc.fds[:nfds])
			lc.fds = lc.fds[nfds:]
			return f[0], payload, fds, nil
		}
		if len(lc.buf)-lc.r > 4096 {
			return "", nil, nil, errors.New("agent protocol: header line too long")
		}
		if err := lc.fill(); err != nil {
			return "", nil, nil, unexpected(err)
		}
	}
}

// RecvType reads a message of type want; it returns its payload and the
// raw descriptors sent with it, which the caller must close. An error
// message from the other side is returned as an error.
func (lc *LocalConn) RecvType(want string) ([]byte, []int, error) {
	typ, payload, fds, err := lc.RecvFDs()
	if err != nil {
		return nil, nil, err
	}
	if typ == "error" {
		CloseFDs(fds)
		return nil, nil, errors.New(string(payload))
	}
	if typ != want {
		CloseFDs(fds)
		return nil, nil, fmt.Errorf("agent protocol: got %s, want %s", typ, want)
	}
	return payload, fds, nil
}

// RecvJSON reads a message of type want and decodes it into v; it returns
// the raw descriptors sent with it, which the caller must close.
func (lc *LocalConn) RecvJSON(want string, v any) ([]int, error) {
	payload, fds, err := lc.RecvType(want)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(payload, v); err != nil {
		CloseFDs(fds)
		return nil, fmt.Errorf("agent protocol: decode %s: %w", want, err)
	}
	return fds, nil
}

func CloseFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// CloseFDs closes descriptors, each run of consecutive numbers with one
// close_range call: a job's inputs arrive by the hundred and mostly in
// runs, and a system call each was a tenth of the agent's time per job.
// fds is sorted in place.
func CloseFDs(fds []int) {
	slices.Sort(fds)
	for i := 0; i < len(fds); {
		j := i + 1
		for j < len(fds) && fds[j] <= fds[j-1]+1 {
			j++
		}
		if j-i == 1 || unix.CloseRange(uint(fds[i]), uint(fds[j-1]), 0) != nil {
			for _, fd := range fds[i:j] {
				syscall.Close(fd)
			}
		}
		i = j
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
