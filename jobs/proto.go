package jobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/distmesh/distmesh/jobs/cc"
)

// Hash is a file's SHA-256.
type Hash [sha256.Size]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }
func (h Hash) IsZero() bool   { return h == Hash{} }

func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("hash %q: want %d hex digits", b, 2*len(h))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// The compile subsystem's messages (wire format in package transport):
//
//	client → node  job     JobRequest (JSON)
//	node → client  need    Need (JSON): the contents the node does not hold
//	client → node  blob    32-byte hash, then the content, zstd-compressed (one per needed hash)
//	node → client  result  Result (JSON)
//	node → client  file    an output's content, zstd-compressed (one per Result.Outputs entry)
//
// A node that cannot or will not run the job answers "error" instead of
// need or result; the client then retries elsewhere or compiles locally.
//
// Version 2 keeps the stream for more jobs: after a job's last file the
// client may send the next job on the same stream, or close it. A job that
// ends in an error ends the stream too. A node closes a stream left idle
// (NodeConfig.StreamIdle). Version 1 runs one job per stream.
const (
	compileMinVersion = 1
	compileVersion    = 2
	streamReuse       = 2 // the first version that keeps streams
)

// JobRequest is everything a node needs to run one compile but the file
// contents.
type JobRequest struct {
	Compiler string   `json:"compiler"`         // the compiler's identity (Compiler.ID)
	Name     string   `json:"name"`             // the driver's name as the client invoked it
	Native   string   `json:"native,omitempty"` // Compiler.Native, when the arguments use -march=native
	Args     []string `json:"args"`             // the compiler's arguments, as given
	Env      []string `json:"env"`              // the variables that change what the compiler writes
	Dir      string   `json:"dir"`              // the physical working directory
	Entries  []Entry  `json:"entries"`          // what the compile reads and traverses

	// entriesJSON is Entries encoded, when a cached manifest kept its
	// encoding: a rebuild sends the same hundreds of entries job after job.
	entriesJSON []byte
}

// encode is the request's JSON, with the entries' encoding (cached, or
// made by appendEntriesJSON) spliced in: json.Marshal would re-validate a
// cached one byte by byte, and its reflection costs a rebuild's agent more
// than the rest of sending a job.
//
// It appends to b (a buffer from encodeBuffers, usually), which it grows
// once, to the size a cached encoding needs.
func (j *JobRequest) encode(b []byte) ([]byte, error) {
	head := *j
	head.Entries = nil
	h, err := json.Marshal(&head)
	if err != nil {
		return nil, err
	}
	const tail = `,"entries":null}` // Entries is the last field
	if !bytes.HasSuffix(h, []byte(tail)) {
		return json.Marshal(j)
	}
	b = slices.Grow(b[:0], len(h)+len(j.entriesJSON)+16)
	b = append(b, h[:len(h)-len(tail)]...)
	b = append(b, `,"entries":`...)
	if j.entriesJSON != nil {
		b = append(b, j.entriesJSON...)
	} else {
		b = appendEntriesJSON(b, j.Entries)
	}
	return append(b, '}'), nil
}

// encodeBuffers keeps encoded jobs' buffers: a job's encoding is tens of
// KiB, which the agent would otherwise allocate and zero for every job.
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxKeptEncoding: the encoding of a job with thousands of inputs is not
// kept for the next.
const maxKeptEncoding = 1 << 20

// appendEntriesJSON appends entries as json.Marshal encodes them (but for
// escaping fewer characters, which decodes the same).
func appendEntriesJSON(b []byte, entries []Entry) []byte {
	if entries == nil {
		return append(b, "null"...)
	}
	b = slices.Grow(b, 160*len(entries))
	b = append(b, '[')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"p":`...)
		b = appendJSONString(b, e.Path)
		b = append(b, `,"k":`...)
		b = appendJSONString(b, string(e.Kind))
		if e.Target != "" {
			b = append(b, `,"t":`...)
			b = appendJSONString(b, e.Target)
		}
		if e.Mode != 0 {
			b = append(b, `,"m":`...)
			b = strconv.AppendUint(b, uint64(e.Mode), 10)
		}
		if e.MTime != 0 {
			b = append(b, `,"mt":`...)
			b = strconv.AppendInt(b, e.MTime, 10)
		}
		if e.Size != 0 {
			b = append(b, `,"s":`...)
			b = strconv.AppendInt(b, e.Size, 10)
		}
		if !e.Hash.IsZero() {
			b = append(b, `,"h":"`...)
			b = hex.AppendEncode(b, e.Hash[:])
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string. Bytes that are not UTF-8
// become U+FFFD, as with json.Marshal (such a job is never sent: notUTF8).
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		q, _ := json.Marshal(s)
		return append(b, q...)
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		if c < 0x20 {
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		} else {
			b = append(b, '\\', c)
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// notUTF8 returns the first string of the request that is not valid UTF-8
// (a file name in Latin-1, a -D value with raw bytes), or "". JSON cannot
// carry such a string unchanged, so such a job compiles where it is.
func (j *JobRequest) notUTF8() (string, bool) {
	for _, list := range [][]string{{j.Name, j.Dir}, j.Args, j.Env} {
		for _, s := range list {
			if !utf8.ValidString(s) {
				return s, true
			}
		}
	}
	for _, e := range j.Entries {
		for _, s := range []string{e.Path, e.Target} {
			if !utf8.ValidString(s) {
				return s, true
			}
		}
	}
	return "", false
}

// Need lists the contents a node asks for.
type Need struct {
	Hashes []Hash `json:"hashes"`
}

// Result is a finished compile on a node.
type Result struct {
	Exit     int             `json:"exit"`
	Stdout   []byte          `json:"stdout,omitempty"`
	Stderr   []byte          `json:"stderr,omitempty"`
	Outputs  []cc.OutputFile `json:"outputs,omitempty"`
	Node     string          `json:"node"`
	Millis   int64           `json:"ms"` // the compiler's wall time on the node
	LimitHit string          `json:"limit,omitempty"`
	// Setup is the node's own record, not sent: the part of Millis before
	// the compiler started (the sandbox's setup).
	Setup time.Duration `json:"-"`
}
