package jobs

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestEntriesJSON: the hand-written encoding of a manifest decodes to the
// same entries as json.Marshal's, for names with quotes, backslashes,
// control characters, HTML characters and multibyte UTF-8, and for every
// field present or empty.
func TestEntriesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "/usr/include", "\"", "\\", "\n", "\x01", "\x1f", "<&>", "é", "日本", "\u2028", " ", "\x7f"}
	str := func() string {
		s := ""
		for range rng.IntN(6) {
			s += pieces[rng.IntN(len(pieces))]
		}
		return s
	}
	for range 200 {
		var entries []Entry
		for range rng.IntN(5) {
			e := Entry{Path: "/" + str(), Kind: []EntryKind{KindFile, KindDir, KindSymlink}[rng.IntN(3)]}
			if rng.IntN(2) == 0 {
				e.Target = str()
			}
			if rng.IntN(2) == 0 {
				e.Mode, e.MTime, e.Size = rng.Uint32()&0o7777, rng.Int64()-rng.Int64(), rng.Int64N(1<<40)
			}
			if rng.IntN(2) == 0 {
				for i := range e.Hash {
					e.Hash[i] = byte(rng.Uint32())
				}
			}
			entries = append(entries, e)
		}
		b := appendEntriesJSON(nil, entries)
		var got []Entry
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		want, _ := json.Marshal(entries)
		var back []Entry
		json.Unmarshal(want, &back)
		if !reflect.DeepEqual(got, back) {
			t.Fatalf("decoded\n%#v\nwant\n%#v\nfrom %s", got, back, b)
		}
	}
}
