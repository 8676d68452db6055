package jobs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
	"github.com/distmesh/distmesh/jobs/wrap"
	"github.com/distmesh/distmesh/keys"
)

// localPair returns the two ends of a connected Unix stream socket.
func localPair(t *testing.T) (*cc.LocalConn, *cc.LocalConn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *cc.LocalConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return cc.NewLocalConn(c.(*net.UnixConn))
	}
	a, b := conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestResultCarriesOnlyExpectedOutputs: a node that returns a file the
// compile does not write (an attempt to write outside its outputs) has it
// dropped; the wrapper gets the outputs the arguments name, with their
// kinds, then the messages and the exit status.
func TestResultCarriesOnlyExpectedOutputs(t *testing.T) {
	agentEnd, wrapperEnd := localPair(t)
	h, why := cc.NewHello(cc.FamilyGCC, &wrap.Job{Compiler: "/usr/bin/gcc", Name: "gcc", Dir: "/src",
		Args: []string{"-c", "x.c", "-o", "x.o"}, Env: []string{"DEPENDENCIES_OUTPUT=x.d"}}, nil)
	if why != "" {
		t.Fatal(why)
	}
	res := &Result{Exit: 3, Stdout: []byte("out"), Stderr: []byte("warning: remote\n"), Node: "n",
		Outputs: []cc.OutputFile{{Path: "/src/evil", Size: 3}, {Path: "x.o", Size: 6}, {Path: "x.d", Size: 4}}}
	done := make(chan error, 1)
	go func() {
		done <- sendResult(agentEnd, h, res, [][]byte{[]byte("bad"), []byte("object"), []byte("deps")}, secLogger(t))
	}()
	var got []string
	for len(got) == 0 || got[len(got)-1] != "exit 3" {
		typ, payload, fds, err := wrapperEnd.RecvFDs()
		cc.CloseFDs(fds)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, typ+" "+string(payload))
	}
	want := []string{"out x.o\x00w\x00object", "out x.d\x00a\x00deps", "stdout out", "stderr warning: remote\n", "exit 3"}
	if len(got) != len(want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d = %q, want %q", i, got[i], want[i])
		}
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestInputChangedAfterHashing: an input whose contents change after the
// agent hashed it is never compiled under the old hash. The agent reads
// each content it sends through the descriptor it hashed, checks the hash
// again, and fails the job with errInputChanged (which compiles it locally,
// on no other peer) before the node runs anything. Control: the same
// steps with the file as hashed compile.
func TestInputChangedAfterHashing(t *testing.T) {
	c := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{c}, nil)
	a := NewAgent(AgentConfig{Identity: &keys.Identity{Name: "laptop"}, Logger: secLogger(t)})
	p := &peer{addr: "node", conn: n.conn}
	dir := t.TempDir()
	// send runs job j with its one file's content read from a file holding
	// onDisk, as runRemote does after gatherInputs hashed it.
	send := func(j *secJob, onDisk string) (Result, error) {
		t.Helper()
		name := filepath.Join(dir, "x.c")
		if err := os.WriteFile(name, []byte(onDisk), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m := &manifest{entries: j.req.Entries, content: map[Hash]int{}}
		for h := range j.contents {
			m.content[h] = int(f.Fd())
		}
		res, _, err := a.runRemote(t.Context(), p, &j.req, m)
		return res, err
	}

	if res, err := send(goodJob(c), secSrc); err != nil || res.Exit != 0 {
		t.Fatalf("control, the file as hashed: %+v, %v", res, err)
	}
	served := n.node.Stats().Served

	hashed := "int answer(void) { return 7; }\n"
	j := newManifest().file(secDir+"/x.c", []byte(hashed)).job(c, secDir, "-c", "x.c", "-o", "x.o")
	res, err := send(j, "int answer(void) { return 8; }\n")
	if !errors.Is(err, errInputChanged) {
		t.Fatalf("an input changed after hashing: %+v, %v; want errInputChanged", res, err)
	}
	if got := n.node.Stats().Served; got != served {
		t.Errorf("the node ran %d jobs for a job whose input changed", got-served)
	}
}

// TestReuseChecksInputsAsTheCaller: a cached manifest's inputs are checked
// by its owner's wrapper with stat, no descriptor passed; anyone else's
// wrapper opens every one, so nobody compiles what they cannot read. An
// input edited since is opened, and only it, to be hashed. The contents
// not opened are opened through the wrapper when a node asks for them
// (manifest.contents), and must still be the version stat'ed.
func TestReuseChecksInputsAsTheCaller(t *testing.T) {
	dir := t.TempDir()
	owner, other := caller{1000, 1000}, caller{1001, 1000}
	files := map[string]string{"a.h": "#define A 1\n", "b.h": "#include \"a.h\"\n"}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := NewAgent(AgentConfig{Identity: &keys.Identity{Name: "laptop"}, Logger: secLogger(t)})
	cached := func() *cachedManifest {
		var inputs []cachedInput
		var entries []Entry
		for i, n := range []string{"a.h", "b.h"} {
			p := filepath.Join(dir, n)
			var st syscall.Stat_t
			if err := syscall.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			d := parseDirectives(b)
			h := Hash(sha256.Sum256(b))
			inputs = append(inputs, cachedInput{name: p, entry: i, stamp: stampOfStat(&st), hash: h, dirs: &d})
			entries = append(entries, Entry{Path: p, Kind: KindFile, Mode: 0o644, MTime: st.Mtim.Nano(), Size: st.Size, Hash: h})
		}
		return newCachedManifest(owner, nil, inputs, entries, true)
	}
	// reuse runs inputs.reuse for who against a scripted wrapper; it
	// returns the inputs and what the wrapper was asked.
	reuse := func(who caller, cm *cachedManifest) (*inputs, bool, bool, func() []string) {
		t.Helper()
		agentEnd, asked := scriptedWrapper(t)
		in := &inputs{a: a, lc: agentEnd, who: who, w: newWalker(dir), m: &manifest{content: map[Hash]int{}},
			known: map[string]knownInput{}}
		t.Cleanup(in.m.close)
		ok, refreshed, err := in.reuse(Hash{1}, cm)
		if err != nil {
			t.Fatal(err)
		}
		in.m.open = func(names []string, got func(string, int) error) ([]int, error) {
			return openThrough(agentEnd, names, got)
		}
		return in, ok, refreshed, asked
	}
	a1, b1 := filepath.Join(dir, "a.h"), filepath.Join(dir, "b.h")

	// The owner, nothing changed: stat only, and contents opened on demand.
	in, ok, refreshed, asked := reuse(owner, cached())
	if !ok || refreshed {
		t.Fatalf("owner, unchanged: reused %v, refreshed %v", ok, refreshed)
	}
	if got, want := asked(), []string{"stat " + a1 + " " + b1}; !slices.Equal(got, want) {
		t.Errorf("owner, unchanged: the wrapper was asked %q, want %q", got, want)
	}
	ha := in.m.entries[0].Hash
	fds, err := in.m.contents([]Hash{ha})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := readAllAt(fds[0]); err != nil || string(b) != files["a.h"] {
		t.Errorf("content of a.h read %q, %v", b, err)
	}
	if got := asked(); len(got) != 2 || got[1] != "open "+a1 {
		t.Errorf("a node's request for a.h asked the wrapper %q, want one open of a.h", got)
	}
	// Edited after the stat: the node must not get the new contents under
	// the old hash.
	if err := os.WriteFile(b1, []byte("#include \"a.h\"\nint b;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := in.m.contents([]Hash{in.m.entries[1].Hash}); !errors.Is(err, errInputChanged) {
		t.Errorf("content of b.h edited after the stat: %v, want errInputChanged", err)
	}
	in.m.close()
	if _, err := in.m.contents([]Hash{in.m.entries[1].Hash}); err == nil {
		t.Error("contents opened through the wrapper after the job ended")
	}

	// Someone else: every input opened.
	_, ok, _, asked = reuse(other, cached())
	if got, want := asked(), []string{"open " + a1 + " " + b1}; !ok || !slices.Equal(got, want) {
		t.Errorf("another caller: reused %v, the wrapper was asked %q, want %q", ok, got, want)
	}

	// The owner, one input edited with its #includes unchanged: stat, then
	// only the edited input opened, and the manifest refreshed.
	cm := cached()
	if err := os.WriteFile(a1, []byte("#define A 22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, ok, refreshed, asked = reuse(owner, cm)
	if got, want := asked(), []string{"stat " + a1 + " " + b1, "open " + a1}; !ok || !refreshed || !slices.Equal(got, want) {
		t.Errorf("owner, a.h edited: reused %v, refreshed %v, the wrapper was asked %q, want %q", ok, refreshed, got, want)
	}
	if h := Hash(sha256.Sum256([]byte("#define A 22\n"))); in.m.entries[0].Hash != h {
		t.Error("the refreshed manifest does not carry a.h's new contents")
	}
}

// scriptedWrapper answers stat and open requests as the C wrapper does, on
// the far end of the connection it returns; asked lists the requests, one
// "TYPE NAME…" line each.
func scriptedWrapper(t *testing.T) (agentEnd *cc.LocalConn, asked func() []string) {
	agentEnd, wrapperEnd := localPair(t)
	var mu sync.Mutex
	var requests []string
	done := make(chan struct{})
	t.Cleanup(func() { agentEnd.UnixConn().Close(); <-done }) // before localPair's
	go func() {
		defer close(done)
		for {
			typ, payload, fds, err := wrapperEnd.RecvFDs()
			cc.CloseFDs(fds)
			if err != nil {
				return
			}
			names, _ := wrap.SplitList(payload)
			mu.Lock()
			requests = append(requests, typ+" "+strings.Join(names, " "))
			mu.Unlock()
			switch typ {
			case "stat":
				var out []byte
				for _, n := range names {
					var st syscall.Stat_t
					if syscall.Stat(n, &st) != nil {
						out = wrap.AppendStated(out, nil)
						continue
					}
					s := wrap.StampOf(&st)
					out = wrap.AppendStated(out, &s)
				}
				wrapperEnd.Send("stated", out)
			case "open":
				var ok []byte
				var opened []int
				for _, n := range names {
					fd, err := syscall.Open(n, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
					if err != nil {
						ok = append(ok, '0')
						continue
					}
					ok = append(ok, '1')
					opened = append(opened, fd)
				}
				wrapperEnd.SendFDs("opened", ok, opened)
				cc.CloseFDs(opened)
			}
		}
	}()
	return agentEnd, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(requests)
	}
}

// TestCheckStatsFilesTheCallerOpened: after a scan, the wrapper stats the
// files found; a version this caller's wrapper opened before is taken as
// it is, without a descriptor, anything else is opened (another caller's
// version, a version never opened). A file that changed since the agent's
// walk fails the job: the scan may have followed the old version's
// #include lines.
func TestCheckStatsFilesTheCallerOpened(t *testing.T) {
	dir := t.TempDir()
	owner, other := caller{1000, 1000}, caller{1001, 1000}
	name := filepath.Join(dir, "a.h")
	if err := os.WriteFile(name, []byte("#define A 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := NewAgent(AgentConfig{Identity: &keys.Identity{Name: "laptop"}, Logger: secLogger(t)})
	// The version on disk, settled, opened once by owner's wrapper.
	a.hashes.now = func() time.Time { return time.Now().Add(2 * absentSettle) }
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	syscall.Fstat(int(f.Fd()), &st)
	he, err := a.hashes.get(int(f.Fd()), stampOfStat(&st), owner)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	check := func(who caller, edit func()) (*inputs, []string, error) {
		t.Helper()
		lc, asked := scriptedWrapper(t)
		in := &inputs{a: a, lc: lc, who: who, w: newWalker(dir), m: &manifest{content: map[Hash]int{}},
			known: map[string]knownInput{}}
		t.Cleanup(in.m.close)
		if _, _, err := in.w.resolve(name); err != nil { // the scan's walk
			t.Fatal(err)
		}
		if edit != nil {
			edit()
		}
		err := in.check([]string{name})
		return in, asked(), err
	}

	in, asked, err := check(owner, nil)
	if err != nil || !slices.Equal(asked, []string{"stat " + name}) {
		t.Errorf("the owner: %v, the wrapper was asked %q, want one stat", err, asked)
	}
	if !slices.ContainsFunc(in.m.unopened, func(f cachedInput) bool { return f.hash == he.hash }) || len(in.m.content) != 0 || in.known[name].he != he {
		t.Errorf("the owner: the file was not taken as stat'ed (unopened %v, content %v)", in.m.unopened, in.m.content)
	}

	in, asked, err = check(other, nil)
	if err != nil || !slices.Equal(asked, []string{"stat " + name, "open " + name}) {
		t.Errorf("another caller: %v, the wrapper was asked %q, want a stat and an open", err, asked)
	}
	if _, ok := in.m.content[he.hash]; !ok {
		t.Error("another caller: the file's contents are not open")
	}

	_, _, err = check(owner, func() {
		os.WriteFile(name, []byte("#include <b.h>\n"), 0o644)
	})
	if !errors.Is(err, errInputChanged) {
		t.Errorf("a file changed since the walk: %v, want errInputChanged", err)
	}
}

// TestContentsOpenedMidJob: a job whose inputs the wrapper only stat'ed
// goes to a node that has none of them. While the job is dispatched the
// agent watches the wrapper's connection; it pauses the watch, has the
// wrapper open the contents the node asks for, and the compile succeeds.
func TestContentsOpenedMidJob(t *testing.T) {
	c := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{c}, nil)
	a := NewAgent(AgentConfig{Identity: &keys.Identity{Name: "laptop"}, Logger: secLogger(t)})
	p := &peer{addr: "node", conn: n.conn}
	j := goodJob(c)
	dir := t.TempDir()
	m := &manifest{entries: j.req.Entries, content: map[Hash]int{}}
	i := 0
	for h, data := range j.contents {
		name := filepath.Join(dir, fmt.Sprintf("in%d", i))
		i++
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(name, &st); err != nil {
			t.Fatal(err)
		}
		m.unopened = append(m.unopened, cachedInput{name: name, stamp: stampOfStat(&st), hash: h})
	}
	lc, asked := scriptedWrapper(t)
	res, outs, err := a.dispatchWatched(t.Context(), lc, p, &j.req, m, c.ID, "", secLogger(t))
	m.close()
	if err != nil || res.Exit != 0 || len(outs) == 0 {
		t.Fatalf("dispatch: %+v, %v", res, err)
	}
	if got := asked(); len(got) != 1 || !strings.HasPrefix(got[0], "open ") {
		t.Errorf("the wrapper was asked %q, want one open of the job's inputs", got)
	}
	if len(m.content) != len(j.contents) || m.count() != len(j.contents) {
		t.Errorf("after the job: %d contents open of %d, want all %d", len(m.content), m.count(), len(j.contents))
	}
}

// TestManifestCount: a job's distinct contents, whether open or only
// stat'ed, each counted once.
func TestManifestCount(t *testing.T) {
	a, b, c := Hash{1}, Hash{2}, Hash{3}
	m := &manifest{content: map[Hash]int{a: 5}, unopened: []cachedInput{{hash: a}, {hash: b}, {hash: c}, {hash: b}}}
	if got := m.count(); got != 3 {
		t.Errorf("count = %d, want 3", got)
	}
}

// TestPrecompiledHeaderWhereCompilerLooks: a job stays local when the
// compiler would try a precompiled header, wherever it would look for
// one, and goes to a node when it would not. The compiler itself is the
// judge: each precompiled header here is an invalid one, which GCC
// reports with -Winvalid-pch when it reads it and clang refuses. GCC looks
// for name.gch in every directory it searches for the source's first
// #include (the scan, taking every branch, looks for all of them), the
// source itself and -include files; never for a header's own #include.
// Clang's driver looks only for an -include file's .pch and .gch.
func TestPrecompiledHeaderWhereCompilerLooks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		compiler string
		files    map[string]string // below the job's directory; "x" for a precompiled header
		args     []string
		want     bool // the job stays local
		reads    bool // the compiler reads the precompiled header
	}{
		{"beside the first #include", "gcc",
			map[string]string{"unit.c": "#include \"x.h\"\n", "x.h": "int x;\n", "x.h.gch": "x"},
			nil, true, true},
		{"in an -I directory before the header's", "gcc",
			map[string]string{"unit.c": "#include <x.h>\n", "inc/x.h": "int x;\n", "pch/x.h.gch": "x"},
			[]string{"-Ipch", "-Iinc"}, true, true},
		{"in an -I directory after the header's", "gcc",
			map[string]string{"unit.c": "#include <x.h>\n", "inc/x.h": "int x;\n", "pch/x.h.gch": "x"},
			[]string{"-Iinc", "-Ipch"}, false, false},
		{"beside a header a header includes", "gcc",
			map[string]string{"unit.c": "#include \"a.h\"\n", "a.h": "#include \"x.h\"\n", "x.h": "int x;\n", "x.h.gch": "x"},
			nil, false, false},
		{"beside the source's second #include (taken: the scan cannot tell which is first)", "gcc",
			map[string]string{"unit.c": "#include \"a.h\"\n#include \"x.h\"\n", "a.h": "int a;\n", "x.h": "int x;\n", "x.h.gch": "x"},
			nil, true, false},
		{"beside the source", "gcc",
			map[string]string{"unit.c": "int u;\n", "unit.c.gch": "x"},
			nil, true, true},
		{"beside an -include file found on the -I path", "gcc",
			map[string]string{"unit.c": "int u;\n", "inc/x.h": "int x;\n", "inc/x.h.gch": "x"},
			[]string{"-Iinc", "-include", "x.h"}, true, true},
		{"clang: an -include file's .pch", "clang",
			map[string]string{"unit.c": "int u;\n", "x.h": "int x;\n", "x.h.pch": "x"},
			[]string{"-include", "x.h"}, true, true},
		{"clang: beside the first #include", "clang",
			map[string]string{"unit.c": "#include \"x.h\"\n", "x.h": "int x;\n", "x.h.gch": "x"},
			nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compiler, err := exec.LookPath(tc.compiler)
			if err != nil {
				t.Skipf("%s not installed", tc.compiler)
			}
			dir := t.TempDir()
			writeTree(t, dir, tc.files)
			args := append(slices.Clone(tc.args), "-c", "unit.c", "-o", "unit.o")
			cmd := exec.Command(compiler, append([]string{"-Winvalid-pch"}, args...)...)
			cmd.Dir = dir
			out, _ := cmd.CombinedOutput()
			if reads := strings.Contains(string(out), "PCH file"); reads != tc.reads {
				t.Fatalf("%s reads the precompiled header: %v, want %v (its output: %s)", tc.compiler, reads, tc.reads, out)
			}
			g := newGathererFor(t, compiler, dir, args...)
			_, err = g.gather()
			if got := err != nil && strings.Contains(err.Error(), "precompiled header"); got != tc.want {
				t.Errorf("gathering the inputs: %v; stays local for a precompiled header: %v, want %v", err, got, tc.want)
			}
		})
	}
}

// TestPrecompiledHeaderAfterCaching: a precompiled header made after a
// job's manifest was cached, where the compiler would try it, keeps the
// next run of that job local: the lookups that found none are part of the
// manifest's checks.
func TestPrecompiledHeaderAfterCaching(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"unit.c": "#include <x.h>\n", "inc/x.h": "int x;\n", "pch/.keep": ""})
	g := newGatherer(t, dir, "-Ipch", "-Iinc", "-c", "unit.c", "-o", "unit.o")
	gather := func() error {
		m, err := g.a.gatherInputs(context.Background(), nil, g.comp, g.h, g.who, true)
		if m != nil {
			m.close()
		}
		return err
	}
	for i := range 2 {
		if err := gather(); err != nil {
			t.Fatalf("gathering the inputs, run %d: %v", i+1, err)
		}
	}
	if g.a.stats.ManifestHits != 1 {
		t.Fatalf("manifest hits %d, want 1: the second run must reuse the first's", g.a.stats.ManifestHits)
	}
	if err := os.WriteFile(filepath.Join(dir, "pch", "x.h.gch"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := gather(); err == nil || !strings.Contains(err.Error(), "precompiled header") {
		t.Errorf("gathering the inputs after pch/x.h.gch was made: %v, want the job kept local for it", err)
	}
}

// TestPrecompiledHeaderBeside: GCC silently reads x.h.gch (a file, or a
// directory of them) instead of x.h, the source's #include, and its
// dependency list names only x.h, so a job with one beside x.h, under the
// name the compiler opens it by, must not go to a node that lacks it.
func TestPrecompiledHeaderBeside(t *testing.T) {
	for _, tc := range []struct {
		name string
		gch  func(gch string) error // makes what is at x.h.gch
		want bool                   // the job is refused
	}{
		{"none", func(gch string) error { return nil }, false},
		{"file", func(gch string) error { return os.WriteFile(gch, []byte("pch"), 0o644) }, true},
		{"directory", func(gch string) error { return os.Mkdir(gch, 0o755) }, true},
		{"symlink to a file", func(gch string) error {
			return errors.Join(os.WriteFile(gch+"-elsewhere", []byte("pch"), 0o644), os.Symlink(filepath.Base(gch)+"-elsewhere", gch))
		}, true},
		{"dangling symlink", func(gch string) error { return os.Symlink("nowhere.gch", gch) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// The header is reached as src/../inc/x.h, inc a symlink to
			// real: the .gch is looked for where x.h was found by that name.
			writeTree(t, dir, map[string]string{"real/x.h": "int x;\n", "src/unit.c": "#include \"../inc/x.h\"\n"})
			if err := os.Symlink("real", filepath.Join(dir, "inc")); err != nil {
				t.Fatal(err)
			}
			if err := tc.gch(filepath.Join(dir, "real", "x.h.gch")); err != nil {
				t.Fatal(err)
			}
			g := newGatherer(t, dir, "-c", "src/unit.c", "-o", "unit.o")
			_, err := g.gather()
			if got := err != nil && strings.Contains(err.Error(), "precompiled header"); got != tc.want {
				t.Errorf("gathering the inputs: %v; refused for a precompiled header: %v, want %v", err, got, tc.want)
			}
		})
	}
}
