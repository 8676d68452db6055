package wrap

import (
	"slices"
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
