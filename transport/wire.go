package transport

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Stream is one subsystem channel after the version exchange: a sequence of
// typed, length-prefixed messages in each direction.
type Stream struct {
	Version int // the negotiated protocol version

	ch     io.ReadWriteCloser // the channel
	r      *bufio.Reader
	maxMsg int64
}

// RemoteError is an "error" message received from the other side.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// streamBuffer holds header lines and small messages; a payload larger
// than what is buffered is read straight into its own slice, so a bigger
// buffer would only cost every stream its zeroing.
const streamBuffer = 8 << 10

func newStream(ch io.ReadWriteCloser, maxMsg int64) *Stream {
	return &Stream{ch: ch, r: bufio.NewReaderSize(ch, streamBuffer), maxMsg: maxMsg}
}

// Close closes the channel under the stream: a read or write waiting on it
// returns, on both sides.
func (s *Stream) Close() error {
	err := s.ch.Close()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// Send writes one message.
func (s *Stream) Send(typ string, payload []byte) error {
	if !validType(typ) {
		return fmt.Errorf("send: invalid message type %q", typ)
	}
	hdr := typ + " " + strconv.Itoa(len(payload)) + "\n"
	// One write for small messages keeps them in one SSH packet.
	if len(payload) < 32<<10 {
		_, err := s.ch.Write(append([]byte(hdr), payload...))
		return err
	}
	if _, err := io.WriteString(s.ch, hdr); err != nil {
		return err
	}
	_, err := s.ch.Write(payload)
	return err
}

// SendJSON writes v as a JSON message.
func (s *Stream) SendJSON(typ string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", typ, err)
	}
	return s.Send(typ, b)
}

// SendError sends an "error" message with a one-line reason.
func (s *Stream) SendError(err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	return s.Send("error", []byte(msg))
}

// Recv reads one message. An "error" message is returned as *RemoteError.
func (s *Stream) Recv() (typ string, payload []byte, err error) {
	line, err := s.readLine()
	if err != nil {
		return "", nil, err
	}
	typ, n, ok := strings.Cut(line, " ")
	size, perr := strconv.ParseInt(n, 10, 64)
	if !ok || !validType(typ) || perr != nil || size < 0 {
		return "", nil, fmt.Errorf("receive: malformed message header %q", truncate(line, 40))
	}
	if size > s.maxMsg {
		return "", nil, fmt.Errorf("receive: %s message of %d bytes exceeds the limit of %d", typ, size, s.maxMsg)
	}
	payload = make([]byte, size)
	if _, err := io.ReadFull(s.r, payload); err != nil {
		return "", nil, fmt.Errorf("receive %s: %w", typ, unexpectedEOF(err))
	}
	if typ == "error" {
		return typ, payload, &RemoteError{Msg: string(payload)}
	}
	return typ, payload, nil
}

// Wait blocks until the other side sends a message or ends the stream. It
// reports whether a message follows; a clean end is not an error.
func (s *Stream) Wait() (more bool, err error) {
	if _, err := s.r.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// RecvJSON reads one message of type want and decodes it into v.
func (s *Stream) RecvJSON(want string, v any) error {
	typ, payload, err := s.Recv()
	if err != nil {
		return err
	}
	if typ != want {
		return fmt.Errorf("receive: got %s message, want %s", typ, want)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("decode %s: %w", want, err)
	}
	return nil
}

// Write and Read expose the raw stream, for subsystems that stream bytes.
func (s *Stream) Write(p []byte) (int, error) { return s.ch.Write(p) }
func (s *Stream) Read(p []byte) (int, error)  { return s.r.Read(p) }

func (s *Stream) readLine() (string, error) {
	// Header lines are short; refuse to buffer an endless one.
	line, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errors.New("receive: header line too long")
	}
	if err != nil {
		return "", unexpectedEOF(err)
	}
	return string(line[:len(line)-1]), nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func validType(t string) bool {
	if t == "" || len(t) > 32 {
		return false
	}
	for _, c := range t {
		if (c < 'a' || c > 'z') && c != '-' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

const helloWord = "distmesh"

// clientHello sends the client's version range.
func clientHello(s *Stream, lo, hi int) error {
	_, err := fmt.Fprintf(s.ch, "%s %d %d\n", helloWord, lo, hi)
	return err
}

// readServerHello reads the server's choice.
func readServerHello(s *Stream) (int, error) {
	line, err := s.readLine()
	if err != nil {
		return 0, fmt.Errorf("version exchange: %w", err)
	}
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return 0, &RemoteError{Msg: msg}
	}
	var v int
	if _, err := fmt.Sscanf(line, helloWord+" %d", &v); err != nil {
		return 0, fmt.Errorf("version exchange: unexpected answer %q", truncate(line, 40))
	}
	return v, nil
}

// serverHello reads the client's range and answers with the highest version
// in both ranges.
func serverHello(s *Stream, lo, hi int) (int, error) {
	line, err := s.readLine()
	if err != nil {
		return 0, fmt.Errorf("version exchange: %w", err)
	}
	var cmin, cmax int
	if _, err := fmt.Sscanf(line, helloWord+" %d %d", &cmin, &cmax); err != nil || cmin > cmax {
		fmt.Fprintf(s.ch, "error expected %q\n", helloWord+" MIN MAX")
		return 0, fmt.Errorf("version exchange: unexpected greeting %q", truncate(line, 40))
	}
	v := min(hi, cmax)
	if v < lo || v < cmin {
		fmt.Fprintf(s.ch, "error this node speaks protocol versions %d to %d, you speak %d to %d: upgrade the older one\n", lo, hi, cmin, cmax)
		return 0, fmt.Errorf("version exchange: no common version (ours %d-%d, theirs %d-%d)", lo, hi, cmin, cmax)
	}
	_, err = fmt.Fprintf(s.ch, "%s %d\n", helloWord, v)
	return v, err
}
