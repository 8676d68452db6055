package jobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
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
const compileVersion = 1

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

// encode is the request's JSON, with the entries' cached encoding spliced
// in when there is one (json.Marshal would re-validate it byte by byte).
func (j *JobRequest) encode() ([]byte, error) {
	if j.entriesJSON == nil {
		return json.Marshal(j)
	}
	head := *j
	head.Entries = nil
	b, err := json.Marshal(&head)
	if err != nil {
		return nil, err
	}
	const tail = `,"entries":null}` // Entries is the last field
	if !bytes.HasSuffix(b, []byte(tail)) {
		return json.Marshal(j)
	}
	b = append(b[:len(b)-len(tail)], `,"entries":`...)
	b = append(b, j.entriesJSON...)
	return append(b, '}'), nil
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

// Key is the job's canonical key: compiler identity, arguments, the
// environment that matters, working directory, and the manifest with modes
// and modification times. Two jobs with the same key produce the same
// bytes; the result cache keys on it.
func (j *JobRequest) Key() Hash {
	env := slices.Clone(j.Env)
	slices.Sort(env)
	entries := slices.Clone(j.Entries)
	slices.SortFunc(entries, func(a, b Entry) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	canon := struct {
		V        int
		Compiler string
		Name     string
		Native   string
		Args     []string
		Env      []string
		Dir      string
		Entries  []Entry
	}{1, j.Compiler, j.Name, j.Native, j.Args, env, j.Dir, entries}
	b, _ := json.Marshal(canon) // field order is fixed; JSON of these types is canonical
	return sha256.Sum256(b)
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
