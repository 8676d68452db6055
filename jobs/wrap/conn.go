package wrap

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"syscall"
)

// dial connects to the agent socket.
func dial(path string) (int, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return -1, errors.New("connect " + path + ": " + err.Error())
	}
	return fd, nil
}

// send writes one message, its descriptors attached to the first bytes.
func send(fd int, typ string, payload []byte, fds []int) error {
	msg := make([]byte, 0, len(typ)+24+len(payload))
	msg = append(msg, typ...)
	msg = append(msg, ' ')
	msg = strconv.AppendInt(msg, int64(len(payload)), 10)
	msg = append(msg, ' ')
	msg = strconv.AppendInt(msg, int64(len(fds)), 10)
	msg = append(append(msg, '\n'), payload...)
	if len(fds) > 0 {
		n, err := sendmsg(fd, msg, syscall.UnixRights(fds...))
		if err != nil {
			return err
		}
		msg = msg[n:]
	}
	for len(msg) > 0 {
		n, err := syscall.Write(fd, msg)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		msg = msg[n:]
	}
	return nil
}

func sendmsg(fd int, msg, oob []byte) (int, error) {
	for {
		n, err := syscall.SendmsgN(fd, msg, oob, nil, 0)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// reader reads messages from the agent. The agent sends the wrapper no
// descriptors.
type reader struct {
	fd  int
	buf []byte
	r   int
}

// maxMessage bounds one message (an object file, a compiler's stderr).
const maxMessage = 1 << 30

func (rd *reader) recv() (typ string, payload []byte, err error) {
	for {
		if i := bytes.IndexByte(rd.buf[rd.r:], '\n'); i >= 0 {
			line := string(rd.buf[rd.r : rd.r+i])
			rd.r += i + 1
			typ, size, ok := parseHeader(line)
			if !ok {
				return "", nil, errors.New("bad message header")
			}
			payload = make([]byte, size)
			n := copy(payload, rd.buf[rd.r:])
			rd.r += n
			for n < size {
				m, err := read(rd.fd, payload[n:])
				if err != nil {
					return "", nil, err
				}
				n += m
			}
			return typ, payload, nil
		}
		if len(rd.buf)-rd.r > 4096 {
			return "", nil, errors.New("message header too long")
		}
		if rd.r == len(rd.buf) {
			rd.buf, rd.r = rd.buf[:0], 0
		}
		if len(rd.buf) == cap(rd.buf) {
			rd.buf = append(rd.buf, make([]byte, 16<<10)...)[:len(rd.buf)]
		}
		n, err := read(rd.fd, rd.buf[len(rd.buf):cap(rd.buf)])
		if err != nil {
			return "", nil, err
		}
		rd.buf = rd.buf[:len(rd.buf)+n]
	}
}

// parseHeader parses "TYPE LENGTH 0".
func parseHeader(line string) (typ string, size int, ok bool) {
	typ, rest, ok1 := strings.Cut(line, " ")
	num, nfds, ok2 := strings.Cut(rest, " ")
	size, err := strconv.Atoi(num)
	if !ok1 || !ok2 || typ == "" || nfds != "0" || err != nil || size < 0 || size > maxMessage {
		return "", 0, false
	}
	return typ, size, true
}

func read(fd int, b []byte) (int, error) {
	for {
		n, err := syscall.Read(fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, errors.New("the agent closed the connection")
		}
		return n, nil
	}
}
