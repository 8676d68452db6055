package jobs

// The tests of this file attack a node as a malicious enrolled client can:
// through the real compile subsystem (transport.NewServer serving
// Node.Subsystem, a member's SSH connection, and the job → need → blob →
// result → file exchange of proto.go), never by calling Node.admit or
// landlock.Run directly. The client is hand-made (secNode.send in
// security_helpers_test.go): it sends whatever arguments, environment,
// manifest and blobs a test chooses, and sees exactly what a client sees.
// As root (CI) the node runs compilers as an unused uid, as a node does on
// a machine without a distmesh user. The tests skip, saying why, where
// this machine cannot fully confine a job (a node there does not serve).
//
// What they prove, layer by layer:
//
//  1. Admission: nothing the client sends chooses what runs. Every refused
//     example of the argument policy (policy_test.go's table) and every
//     family issue 4 names (-wrapper, -fplugin, -fpass-plugin, -B, -specs,
//     @file, -Xclang, -mllvm, --config, -save-temps, -dumpdir, -fdump-*,
//     -aux-info, -time=, -Wa listings, -fprofile-* with paths, -Wl and
//     -Xlinker, -###, -v, -print-*) is answered with the policy's one line
//     naming the rule instead of "need": nothing was received, no job tree
//     was built, no sandbox started, and the node compiles the next job
//     (TestSecurityPolicyThroughNode). So are an unknown compiler identity,
//     a refused environment variable, a manifest path the sandbox may not
//     create (relative, "..", /, /proc, /dev, a device, under an unlisted
//     directory or under a symlink), absurd counts and sizes, and outputs
//     outside the manifest, over an input or in the compiler's
//     installation (TestSecurityBadJobs), including a directory that holds
//     only a symlink of it (TestSecurityOutputNextToNodeSymlink).
//  2. Transfer: a blob that does not match its hash, that was not asked
//     for, or that does not expand to its size is refused in one line,
//     never stored, and counted as a refusal (TestSecurityBadBlobs,
//     TestSecurityBadBlobsCounted).
//  3. The node's own compiler files always win: a manifest that ships the
//     driver, cc1, libc.so.6 or the dynamic loader with other contents is
//     refused at admission, both at the path the node lists and at the
//     physical path a merged-/usr client sends; with the node's own
//     contents the entry is dropped, never asked for, and the job runs
//     (TestSecurityInstallOverride).
//  4. Confinement, as the node drives package landlock: a stand-in
//     compiler (testdata/security/standin.c), installed as one of the
//     node's compilers, carries out one attack per job and prints the
//     errno of every step. Reading /etc/shadow, the node's keys, its job
//     trees or the daemon's /proc; writing outside the output directory;
//     executing what it wrote (directly, through the ELF interpreter, or
//     as the loader in place of the node's symlink); TCP, UDP, Unix
//     sockets outside; signalling the daemon; forking, allocating and
//     writing without end; outliving the job; running forever: each fails
//     with the errno or the limit of the layer that stops it (private
//     root, read-only mounts, Landlock, seccomp, empty network and PID
//     namespaces, rlimits, the wall clock). Controls show the stand-in
//     does read its input and write its output directory. The client gets
//     a non-zero exit status or an error naming the limit; no process of
//     the job survives it (/proc is scanned for its marker); nothing
//     reaches the daemon's sockets; what a job leaves
//     in its output directory does not reach the next job; the node serves
//     a job beside an endless one and the next job after every attack
//     (TestSecurityStandIn).
//  5. Inputs: a source needs no flag to read a file (.incbin), so the
//     private root must not hold one. Real gcc fails to .incbin
//     /etc/shadow, the node's keys and another job's input (by its client
//     path, with its directory listed, through a symlink, or in the node's
//     store), in the very job tree the other job used, and the object
//     returned holds none of them; the same compile run locally does embed
//     the file, so the check can fail (TestSecurityIncbin).
//  6. Confinement does not break compiling: gcc and clang return through
//     the node the same object as a local compile (TestSecurityRealCompile),
//     and a client sending one job after another is served
//     (TestSecurityBusyAfterResult).
//
// What they do not prove: that a real compiler cannot be made to do more
// than the stand-in tries (the stand-in shows what the sandbox allows
// whatever the compiler does); kernel bugs; side channels. One thing a
// client learns by design: "need" tells it whether the node already holds
// a content it names by hash.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
	"github.com/distmesh/distmesh/landlock"
)

// refusedAt fails the test unless a is a one-line refusal at stage that
// contains every one of want.
func refusedAt(t *testing.T, what string, a answer, stage string, want ...string) {
	t.Helper()
	switch {
	case a.Err == nil || a.Stage != stage:
		t.Errorf("%s: %v; want a refusal at %s", what, a, stage)
	case strings.Contains(a.Err.Msg, "\n"):
		t.Errorf("%s: refusal %q is not one line", what, a.Err.Msg)
	default:
		for _, w := range want {
			if !strings.Contains(a.Err.Msg, w) {
				t.Errorf("%s: refused with %q, want it to say %q", what, a.Err.Msg, w)
			}
		}
	}
}

// TestSecurityPolicyThroughNode sends every refused argument to a real
// node: each must be refused at admission with the policy's one line, and
// the node must have started nothing and still serve.
func TestSecurityPolicyThroughNode(t *testing.T) {
	gcc := nodeCompiler(t, "/usr/bin/gcc")
	comps := map[cc.Family]*Compiler{cc.FamilyGCC: gcc}
	serve := []*Compiler{gcc}
	if clang, err := lookupCompiler("/usr/bin/clang"); err == nil {
		comps[cc.FamilyClang] = clang
		serve = append(serve, clang)
	} else {
		t.Logf("without clang, its refusals are checked by TestPolicyEntries only: %v", err)
	}
	n := startNode(t, serve, nil)

	type refusal struct {
		f      cc.Family
		args   []string
		reason string // what the refusal must say
	}
	var cases []refusal
	// The families issue 4 names, with what the refusal must say written
	// here rather than taken from the policy table.
	for _, c := range []struct{ args, reason string }{
		{"-wrapper /bin/sh,-c", "runs a program of the sender's choosing"},
		{"-fplugin=/home/u/p/x.c", "loads code"},
		{"-fplugin-arg-x-key=v", "loads code"},
		{"-fpass-plugin=/home/u/p/p.so", "loads code"},
		{"-B/home/u/p/", "runs a program"},
		{"-B /home/u/p/", "runs a program"},
		{"-specs=/home/u/p/x.specs", "spec files can run anything"},
		{"--specs /home/u/p/x.specs", "spec files can run anything"},
		{"@/home/u/p/args", "response file"},
		{"-I@/home/u/p/args", "without @"},
		{"-Xclang -load", "unchecked"},
		{"-mllvm -debug-pass=Arguments", "unchecked"},
		{"--config /home/u/p/x.cfg", "configuration file"},
		{"-save-temps", "intermediate files"},
		{"-save-temps=obj", "intermediate files"},
		{"-dumpdir /tmp/", "auxiliary outputs"},
		{"-fdump-tree-all", "dump files"},
		{"-fdump-rtl-expand=/tmp/x", "dump files"},
		{"-aux-info /tmp/x", "prototypes"},
		{"-time=/tmp/t", "timing data"},
		{"-Wa,-a=/tmp/x.lst", "listings"},
		{"-Wa,-adhln=/home/u/p/x.lst", "listings"},
		{"-Wa,--noexecstack,-o,/tmp/x.o", "listings"},
		{"-fprofile-generate=/tmp/prof", "profile data"},
		{"-fprofile-use=/tmp/prof", "profile data"},
		{"-fprofile-dir=/tmp", "profile data"},
		{"-Wl,-plugin,/home/u/p/x.so", "linking is never distributed"},
		{"-Xlinker --version", "linking is never distributed"},
		{"-###", "prints driver information"},
		{"-v", "prints driver information"},
		{"-print-prog-name=cc1", "prints driver information"},
		{"--print-search-dirs", "prints driver information"},
	} {
		cases = append(cases, refusal{cc.FamilyGCC, strings.Fields(c.args), c.reason})
	}
	// The policy's own table, entry by entry, is cc's TestPolicyEntries;
	// here the node must refuse at admission with exactly its message.

	refused := int64(0)
	for _, c := range cases {
		comp := comps[c.f]
		if comp == nil {
			continue
		}
		args := append([]string{"-c", "x.c", "-o", "x.o"}, c.args...)
		want := cc.CheckArgs(c.f, args)
		if want == nil {
			t.Errorf("%s %q: the policy accepts it", c.f, args)
			continue
		}
		j := goodJob(comp)
		j.req.Args = args
		before := n.node.Stats()
		a := n.send(t, j)
		what := fmt.Sprintf("%s %q", c.f, c.args)
		refusedAt(t, what, a, "admission", want.Error(), c.reason)
		if a.Err != nil && a.Err.Msg != want.Error() {
			t.Errorf("%s: node says %q, CheckArgs %q", what, a.Err.Msg, want)
		}
		refused++
		if after := n.node.Stats(); after.Refused != before.Refused+1 || after.Served != before.Served || after.BlobsIn != 0 {
			t.Errorf("%s: stats went from %+v to %+v; want one more refused, nothing served or received", what, before, after)
		}
	}
	t.Logf("%d refused command lines", refused)
	if trees := n.treeDirs(t); len(trees) > 0 {
		t.Errorf("refused jobs built job trees: %v", trees)
	}
	if size := n.cfg.Store.Size(); size != 0 {
		t.Errorf("refused jobs stored %d bytes", size)
	}
	n.checkServes(t, gcc)
	if s := n.node.Stats(); s.Served != 1 || s.Refused != refused {
		t.Errorf("stats %+v; want %d refused, 1 served", s, refused)
	}
}

// TestSecurityBadJobs sends jobs that are wrong in every other way a
// client controls: each is refused at admission with one line, and the
// node has started nothing and still serves.
func TestSecurityBadJobs(t *testing.T) {
	gcc := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{gcc}, nil)
	src := []byte(secSrc)
	base := func() *manifestBuilder { return newManifest().file(secDir+"/x.c", src) }
	std := []string{"-c", "x.c", "-o", "x.o"}
	with := func(m *manifestBuilder, args ...string) func() *secJob {
		if args == nil {
			args = std
		}
		return func() *secJob { return m.job(gcc, secDir, args...) }
	}
	edit := func(f func(*secJob)) func() *secJob {
		return func() *secJob { j := goodJob(gcc); f(j); return j }
	}
	var cc1Dir string
	for _, e := range gcc.Exec {
		if path.Base(e) == "cc1" {
			cc1Dir = path.Dir(e)
		}
	}
	if cc1Dir == "" {
		t.Fatalf("gcc runs no cc1: %v", gcc.Exec)
	}
	file := func(p string, size int64) Entry {
		return Entry{Path: p, Kind: KindFile, Mode: 0o644, MTime: mtime, Size: size, Hash: sha256.Sum256([]byte(p))}
	}
	many := base()
	for i := range maxEntries {
		many.add(Entry{Path: fmt.Sprintf("%s/d%d", secDir, i), Kind: KindDir})
	}
	huge := base()
	for i := range maxJobInput/maxFileSize + 1 {
		huge.add(file(fmt.Sprintf("%s/big%d", secDir, i), maxFileSize))
	}

	for _, tc := range []struct {
		name string
		job  func() *secJob
		want string
	}{
		{"unknown compiler", edit(func(j *secJob) { j.req.Compiler = strings.Repeat("ab", 32) }), "no compiler with identity abababababab here"},
		{"compiler named by path", edit(func(j *secJob) { j.req.Compiler = "/usr/bin/gcc" }), "no compiler with identity /usr/bin/gcc here"},
		{"compiler as a client's file", edit(func(j *secJob) { j.req.Compiler = secDir + "/x.c" }), "no compiler with identity /home/u/p/x. here"},
		{"LD_PRELOAD", edit(func(j *secJob) { j.req.Env = []string{"LD_PRELOAD=/home/u/p/x.c"} }), `environment variable "LD_PRELOAD" refused: not passed to compilers`},
		{"GCC_EXEC_PREFIX", edit(func(j *secJob) { j.req.Env = []string{"GCC_EXEC_PREFIX=/home/u/p/"} }), `environment variable "GCC_EXEC_PREFIX" refused`},
		{"locale by path", edit(func(j *secJob) { j.req.Env = []string{"LC_ALL=/home/u/p/locale"} }), `environment variable "LC_ALL" refused: not a locale name`},
		{"time zone escaping", edit(func(j *secJob) { j.req.Env = []string{"TZ=../../etc/shadow"} }), `environment variable "TZ" refused: not a time zone`},
		{"variable twice", edit(func(j *secJob) { j.req.Env = []string{"LANG=C", "LANG=C.UTF-8"} }), `environment variable "LANG" refused: given twice`},
		{"other -march=native", edit(func(j *secJob) { j.req.Args = append(j.req.Args, "-march=native"); j.req.Native = "elsewhere" }), "-march=native expands differently here"},
		{"-march=native without expansion", edit(func(j *secJob) { j.req.Args = append(j.req.Args, "-march=native") }), "-march=native without the client's expansion"},
		{"a link, not a compile", with(base(), "x.c", "-o", "x"), "not a distributable compile"},
		{"relative path", with(base().add(file("home/u/p/y.h", 1))), `manifest path "home/u/p/y.h" is not a clean absolute path`},
		{"dot-dot", with(base().add(file("/home/u/p/../../../etc/shadow", 1))), `manifest path "/home/u/p/../../../etc/shadow" is not a clean absolute path`},
		{"trailing slash", with(base().add(Entry{Path: "/home/u/p/sub/", Kind: KindDir})), `manifest path "/home/u/p/sub/" is not a clean absolute path`},
		{"the root", with(base().add(Entry{Path: "/", Kind: KindDir})), `manifest path "/" is not a clean absolute path`},
		{"NUL byte", with(base().add(file("/home/u/p/y.h\x00.c", 1))), "is not a clean absolute path"},
		{"/proc", with(base().add(Entry{Path: "/proc", Kind: KindDir})), "manifest path /proc: the sandbox provides it"},
		{"/proc symlink", with(base().add(Entry{Path: "/proc", Kind: KindSymlink, Target: "/home/u/p"})), "manifest path /proc: the sandbox provides it"},
		{"/dev", with(base().add(Entry{Path: "/dev", Kind: KindDir}).add(file("/dev/sda", 1))), "manifest path /dev: the sandbox provides it"},
		{"device node", with(base().add(Entry{Path: secDir + "/null", Kind: "c"})), "manifest entry /home/u/p/null: unknown kind"},
		{"unlisted directory", with(base().add(file("/home/u/q/y.h", 1))), "manifest path /home/u/q/y.h: its directory is not listed as a directory"},
		{"under a symlink", with(base().symlink(secDir+"/etc", "/etc").add(file(secDir+"/etc/shadow", 1))), "manifest path /home/u/p/etc/shadow: its directory is not listed as a directory"},
		{"under a symlinked directory", with(base().symlink("/home/v", "/home/u").add(file("/home/v/p/y.h", 1))), "manifest path /home/v/p/y.h: its directory is not listed as a directory"},
		{"symlink without target", with(base().symlink(secDir+"/l", "")), "manifest symlink /home/u/p/l: bad target"},
		{"listed twice", with(base().file(secDir+"/x.c", src)), "manifest lists /home/u/p/x.c twice"},
		{"setuid file", with(base().add(Entry{Path: secDir + "/y", Kind: KindFile, Mode: 0o4755, Size: 1, Hash: Hash{1}})), "manifest file /home/u/p/y: mode 4755 not allowed"},
		{"file type in mode", with(base().add(Entry{Path: secDir + "/y", Kind: KindFile, Mode: uint32(syscall.S_IFCHR | 0o644), Size: 1, Hash: Hash{1}})), "manifest file /home/u/p/y: mode 20644 not allowed"},
		{"file over the size limit", with(base().add(file(secDir+"/y", maxFileSize+1))), fmt.Sprintf("manifest file /home/u/p/y: size %d over the limit of %d", maxFileSize+1, maxFileSize)},
		{"negative size", with(base().add(file(secDir+"/y", -1))), "manifest file /home/u/p/y: size -1 over the limit"},
		{"inputs over the total limit", with(huge), fmt.Sprintf("more than %d", maxJobInput)},
		{"too many entries", with(many), fmt.Sprintf("manifest has %d entries, more than %d", maxEntries+4, maxEntries)},
		{"relative working directory", func() *secJob { return base().job(gcc, "home/u/p", std...) }, `working directory "home/u/p" is not a clean absolute path`},
		{"working directory not listed", func() *secJob { return base().job(gcc, "/home/u/q", "-c", "/home/u/p/x.c", "-o", "/home/u/p/x.o") }, "working directory /home/u/q is not in the manifest"},
		{"output directory not listed", with(base(), "-c", "x.c", "-o", "/home/u/out/x.o"), "output /home/u/out/x.o: its directory is not in the manifest"},
		{"output through a symlink to /proc", with(base().symlink(secDir+"/out", "/proc/self"), "-c", "x.c", "-o", "out/x.o"), "output out/x.o: its directory is not in the manifest"},
		{"output in the compiler's directory", with(base().dir(cc1Dir), "-c", "x.c", "-o", cc1Dir+"/x.o"), "may not be written in " + cc1Dir},
		{"output next to the driver", with(base().dir(path.Dir(gcc.Path)), "-c", "x.c", "-o", path.Dir(gcc.Path)+"/x.o"), "may not be written in " + path.Dir(gcc.Path)},
		{"output through a symlink into the installation", with(base().dir(cc1Dir).symlink(secDir+"/out", cc1Dir), "-c", "x.c", "-o", "out/x.o"), "may not be written in " + cc1Dir},
		{"output over an input", with(base().file(secDir+"/y.h", []byte("int y;\n")), "-c", "x.c", "-o", "y.h"), "output y.h would overwrite an input"},
		{"output in /tmp itself", with(base().dir("/tmp"), "-c", "x.c", "-o", "/tmp/x.o"), "output /tmp/x.o: may not be written in /tmp itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.node.Stats()
			a := n.send(t, tc.job())
			refusedAt(t, tc.name, a, "admission", tc.want)
			if after := n.node.Stats(); after.Refused != before.Refused+1 || after.Served != 0 || after.BlobsIn != 0 {
				t.Errorf("stats went from %+v to %+v; want one more refused, nothing served or received", before, after)
			}
		})
	}
	if trees := n.treeDirs(t); len(trees) > 0 {
		t.Errorf("refused jobs built job trees: %v", trees)
	}
	n.checkServes(t, gcc)
}

// TestSecurityBadBlobs sends blobs that do not match what the job
// announced: each is refused with one line, nothing is stored, and the node
// still serves.
func TestSecurityBadBlobs(t *testing.T) {
	gcc := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{gcc}, nil)
	src := []byte(secSrc)
	h := Hash(sha256.Sum256(src))
	same := bytes.ToUpper(src) // as long as src, other bytes
	other := []byte("int other;\n")
	ho := Hash(sha256.Sum256(other))
	for _, tc := range []struct {
		name  string
		blobs []wireMsg
		want  string
	}{
		{"content not matching its hash", []wireMsg{{"blob", blob(h, same)}}, fmt.Sprintf("store %s: content does not match its hash", h)},
		{"blob not asked for", []wireMsg{{"blob", blob(ho, other)}}, fmt.Sprintf("protocol: blob %s was not asked for", ho)},
		{"longer than announced", []wireMsg{{"blob", blob(h, append(slices.Clone(src), ' '))}}, fmt.Sprintf("blob %s: expands to %d bytes, want %d", h, len(src)+1, len(src))},
		{"shorter than announced", []wireMsg{{"blob", blob(h, src[:4])}}, fmt.Sprintf("blob %s: expands to 4 bytes, want %d", h, len(src))},
		{"not zstd", []wireMsg{{"blob", append(h[:], "plain text"...)}}, fmt.Sprintf("blob %s: ", h)},
		{"no hash", []wireMsg{{"blob", []byte("short")}}, "protocol:"},
		{"another message", []wireMsg{{"file", blob(h, src)}}, "protocol: got file, want blob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := goodJob(gcc)
			j.blobs = func(need []Hash) []wireMsg {
				if !slices.Equal(need, []Hash{h}) {
					t.Errorf("the node asked for %v, want x.c's content %s", need, h)
				}
				return tc.blobs
			}
			before := n.node.Stats()
			a := n.send(t, j)
			refusedAt(t, tc.name, a, "run", tc.want)
			if after := n.node.Stats(); after.Served != 0 {
				t.Errorf("stats %+v: a job with a bad blob was served", after)
			} else if after.BlobsIn != before.BlobsIn {
				t.Errorf("stats went from %+v to %+v: a bad blob was counted as received", before, after)
			}
			for _, c := range []Hash{h, ho} {
				if n.cfg.Store.Has(c) {
					t.Errorf("the store holds %s after a refused blob", c)
				}
			}
		})
	}
	if trees := n.treeDirs(t); len(trees) > 0 {
		t.Errorf("jobs with bad blobs built job trees: %v", trees)
	}
	n.checkServes(t, gcc)
}

// TestSecurityBadBlobsCounted: a job refused for its blobs is invalid
// input like any other, and status must count it as refused.
func TestSecurityBadBlobsCounted(t *testing.T) {
	gcc := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{gcc}, nil)
	j := goodJob(gcc)
	j.blobs = func(need []Hash) []wireMsg {
		return []wireMsg{{"blob", blob(need[0], bytes.ToUpper([]byte(secSrc)))}}
	}
	if a := n.send(t, j); a.Err == nil {
		t.Fatalf("a corrupt blob was accepted: %v", a)
	}
	if s := n.node.Stats(); s.Refused != 1 {
		t.Errorf("stats %+v after a job refused for a corrupt blob; want jobs_refused 1", s)
	}
}

// clientFile adds to m the file a client on this machine would send for
// the node path p (its physical path, with the directories and symlinks
// on the way as the client's walker records them), with content.
func clientFile(t *testing.T, m *manifestBuilder, p string, content []byte) string {
	t.Helper()
	w := newWalker("/")
	phys, _, err := w.resolve(p)
	if err != nil {
		t.Fatal(err)
	}
	var ents []Entry
	for _, e := range w.entries {
		ents = append(ents, e)
	}
	slices.SortFunc(ents, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	for _, e := range ents {
		if !m.listed[e.Path] {
			m.listed[e.Path] = true
			m.add(e)
		}
	}
	m.file(phys, content)
	return phys
}

// TestSecurityInstallOverride ships the node's own compiler files in a
// manifest: with other contents they are refused at admission, with the
// node's contents they are dropped and the job runs.
func TestSecurityInstallOverride(t *testing.T) {
	gcc := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{gcc}, nil)
	var cc1, libc string
	for _, p := range gcc.Install {
		switch path.Base(p) {
		case "cc1":
			cc1 = p
		case "libc.so.6":
			libc = p
		}
	}
	loader := elfInterp(gcc.Driver)
	if cc1 == "" || libc == "" || loader == "" {
		t.Fatalf("gcc's installation has no cc1, libc.so.6 or loader: %v", gcc.Install)
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	evil := []byte("\x7fELF not the node's\n")
	for _, tc := range []struct {
		name    string
		add     func(m *manifestBuilder) string // adds the entry, returns its path
		content []byte                          // the entry's content; nil: not a file
	}{
		{"own driver", func(m *manifestBuilder) string { m.file(gcc.Path, evil); return gcc.Path }, evil},
		{"node's driver", func(m *manifestBuilder) string { m.file(gcc.Path, read(gcc.Path)); return gcc.Path }, read(gcc.Path)},
		{"driver as a symlink to the client's program", func(m *manifestBuilder) string {
			m.file(secDir+"/gcc", evil).symlink(gcc.Path, secDir+"/gcc")
			return gcc.Path
		}, nil},
		{"own cc1", func(m *manifestBuilder) string { m.file(cc1, evil); return cc1 }, evil},
		{"node's cc1", func(m *manifestBuilder) string { m.file(cc1, read(cc1)); return cc1 }, read(cc1)},
		{"own libc.so.6", func(m *manifestBuilder) string { m.file(libc, evil); return libc }, evil},
		{"own libc.so.6 at its physical path", func(m *manifestBuilder) string { return clientFile(t, m, libc, evil) }, evil},
		{"node's libc.so.6 at its physical path", func(m *manifestBuilder) string { return clientFile(t, m, libc, read(libc)) }, read(libc)},
		{"own dynamic loader at its physical path", func(m *manifestBuilder) string { return clientFile(t, m, loader, evil) }, evil},
		{"node's dynamic loader at its physical path", func(m *manifestBuilder) string { return clientFile(t, m, loader, read(loader)) }, read(loader)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManifest().file(secDir+"/x.c", []byte(secSrc))
			p := tc.add(m)
			before := n.node.Stats()
			a := n.send(t, m.job(gcc, secDir, "-c", "x.c", "-o", "x.o"))
			if tc.content == nil || !bytes.Equal(tc.content, read(p)) {
				refusedAt(t, tc.name, a, "admission", "differs from this node's compiler installation")
				// The refusal names the entry, or a directory on its way
				// that differs too (a /lib directory where the node has
				// a symlink).
				if a.Err != nil && a.Stage == "admission" {
					named, _, _ := strings.Cut(strings.TrimPrefix(a.Err.Msg, "manifest entry "), " ")
					if named != p && !strings.HasPrefix(p, named+"/") {
						t.Errorf("refused for %s, want %s or a directory on its way", named, p)
					}
				}
				if after := n.node.Stats(); after.Refused != before.Refused+1 || after.BlobsIn != before.BlobsIn {
					t.Errorf("stats went from %+v to %+v; want one more refused and nothing received", before, after)
				}
				return
			}
			if a.Err != nil || a.Result.Exit != 0 || !bytes.HasPrefix(a.Outputs["x.o"], []byte("\x7fELF")) {
				t.Fatalf("with the node's own %s: %v; want it dropped and the job compiled", p, a)
			}
			if slices.Contains(a.Need, Hash(sha256.Sum256(tc.content))) {
				t.Errorf("the node asked for the content of %s, which it has", p)
			}
		})
	}
	n.checkServes(t, gcc)
}

// TestSecurityOutputNextToNodeSymlink: a directory where the sandbox puts
// a symlink of the compiler's installation (on merged-/usr Debian,
// /usr/lib64 holds the link to the dynamic loader) is part of the
// installation: a job may not make it its output directory.
func TestSecurityOutputNextToNodeSymlink(t *testing.T) {
	gcc := nodeCompiler(t, "/usr/bin/gcc")
	dir, _ := linkDir(gcc.Install)
	if dir == "" {
		t.Skip("no symlink of gcc's installation sits in a directory of its own on this machine")
	}
	n := startNode(t, []*Compiler{gcc}, nil)
	m := newManifest().file(secDir+"/x.c", []byte(secSrc)).dir(dir)
	a := n.send(t, m.job(gcc, secDir, "-c", "x.c", "-o", dir+"/x.o"))
	refusedAt(t, "output in "+dir, a, "admission", "may not be written in "+dir)
	n.checkServes(t, gcc)
}

// linkDir returns a symlink met on the way to an install path, and its
// directory, where no install path lies at, below or above that directory
// (so only the symlink ties it to the installation); "" if there is none.
func linkDir(install []string) (dir, link string) {
	for _, p := range install {
		for _, l := range nodeLinks(p) {
			d := path.Dir(l)
			if d != "/" && !slices.ContainsFunc(install, func(ip string) bool {
				return ip == d || strings.HasPrefix(ip, d+"/") || strings.HasPrefix(d, ip+"/")
			}) {
				return d, l
			}
		}
	}
	return "", ""
}

// nodeLinks returns the symlinks met resolving the node path p, as a
// client's walker records them.
func nodeLinks(p string) []string {
	w := newWalker("/")
	w.resolve(p)
	var links []string
	for q, e := range w.entries {
		if e.Kind == KindSymlink {
			links = append(links, q)
		}
	}
	slices.Sort(links)
	return links
}

// The stand-in's jobs: attack.c in secDir, the object in secDir/out.
const (
	outDir = secDir + "/out"
	attack = "attack.c"
)

// TestSecurityStandIn installs testdata/security/standin.c as one of a
// node's compilers and runs one attack per job through the node.
func TestSecurityStandIn(t *testing.T) {
	needConfinement(t)
	bin := filepath.Join(t.TempDir(), "standin")
	if out, err := exec.Command("gcc", "-O1", "-Wall", "-Werror", "-o", bin, "testdata/security/standin.c").CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in compiler: %v\n%s", err, out)
	}
	install, err := landlock.Closure(bin)
	if err != nil {
		t.Fatal(err)
	}
	interp := elfInterp(bin)
	standin := &Compiler{Path: bin, Driver: bin, Name: "gcc", Family: cc.FamilyGCC, Banner: "stand-in", Target: "x86_64-linux-gnu",
		ID: "distmesh-security-stand-in", Install: install, Exec: []string{bin, interp}}
	binSum := sha256.Sum256(mustRead(t, bin))
	// The address space is small so that touching it all stays well inside
	// the wall limit on a loaded machine (about 1.5 s for 512 MiB here).
	limits := landlock.Limits{Wall: 3 * time.Second, AddressSpace: 128 << 20, FileSize: 8 << 20, TmpSize: 4 << 20, Processes: 32}
	n := startNode(t, []*Compiler{standin}, func(c *NodeConfig) { c.Slots, c.Queue = 2, 2; c.Limits = limits })

	// Every process of a job has the marker in its command line and its
	// environment.
	marker := fmt.Sprintf("distmesh_security_%d", os.Getpid())
	job := func(src string) *secJob {
		j := newManifest().dir(outDir).file(secDir+"/"+attack, []byte(src)).
			job(standin, secDir, "-c", attack, "-o", "out/attack.o", "-DMARK="+marker)
		j.req.Env = []string{"LANGUAGE=" + marker}
		return j
	}
	run := func(t *testing.T, j *secJob) answer {
		t.Helper()
		a := n.send(t, j)
		if left := processesWith(marker); len(left) > 0 {
			t.Errorf("processes of the job outlived it:\n%s", strings.Join(left, "\n"))
		}
		return a
	}
	// serves checks the node still runs an ordinary job.
	const ordinary = "/* distmesh-attack: compile */\nint x;\n"
	serves := func(t *testing.T) {
		t.Helper()
		a := run(t, job(ordinary))
		if a.Err != nil || a.Result.Exit != 0 || string(a.Outputs["out/attack.o"]) != "object of "+ordinary {
			t.Fatalf("the node no longer serves an ordinary job: %v", a)
		}
	}
	serves(t)

	// What the stand-in must never reach: files of the node, and sockets
	// in the daemon's network namespace.
	key, caKey := n.home.NodeKeyPath(), n.home.CAKeyPath()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	sockPath := filepath.Join(t.TempDir(), "daemon.sock")
	unixSock, err := net.Listen("unix", sockPath)
	if err != nil {
		t.Fatal(err)
	}
	defer unixSock.Close()
	abstract := "@" + marker
	abstractSock, err := net.Listen("unix", abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer abstractSock.Close()
	port := func(a net.Addr) string { _, p, _ := net.SplitHostPort(a.String()); return p }
	outside := filepath.Join(t.TempDir(), "pwned")
	// The job signals the daemon with SIGUSR1: "kill: ESRCH" says the
	// kernel found no such process and sent nothing. Should it ever
	// succeed, the signal must not end the test before it reports.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	for _, tc := range []struct {
		name   string
		attack string
		stdout []string // exactly, line by line
		exit   int      // the exit status the client sees
		err    string   // or the node's error
		check  func(t *testing.T, a answer)
	}{
		// A control: the stand-in reads its own input and returns it.
		{name: "read its input", attack: "read " + secDir + "/" + attack, stdout: []string{"read: ok", "read content: ok"}, exit: 0,
			check: func(t *testing.T, a answer) {
				if !bytes.Contains(a.Outputs["out/attack.o"], []byte("distmesh-attack: read")) {
					t.Errorf("the control read did not return the input: %v", a)
				}
			}},
		{name: "read /etc/shadow", attack: "read /etc/shadow", stdout: []string{"read: ENOENT"}, exit: 1},
		{name: "read the node's key", attack: "read " + key, stdout: []string{"read: ENOENT"}, exit: 1},
		{name: "read the CA key", attack: "read " + caKey, stdout: []string{"read: ENOENT"}, exit: 1},
		{name: "read the job trees", attack: "read " + n.cfg.WorkDir, stdout: []string{"read: ENOENT"}, exit: 1},
		{name: "read the daemon's memory", attack: "read /proc/" + strconv.Itoa(os.Getpid()) + "/environ", stdout: []string{"read: ENOENT"}, exit: 1},
		// A control: the output directory is writable.
		{name: "write the output directory", attack: "write " + outDir + "/extra", stdout: []string{"write: ok", "write content: ok"}, exit: 0},
		{name: "write the working directory", attack: "write " + secDir + "/evil.o", stdout: []string{"write: EROFS"}, exit: 1},
		{name: "overwrite its input", attack: "write " + secDir + "/" + attack, stdout: []string{"write: EROFS"}, exit: 1},
		{name: "overwrite the compiler", attack: "write " + bin, stdout: []string{"write: EROFS"}, exit: 1,
			check: func(t *testing.T, a answer) {
				if sha256.Sum256(mustRead(t, bin)) != binSum {
					t.Errorf("the job changed the node's compiler")
				}
			}},
		{name: "write outside the root", attack: "write " + outside, stdout: []string{"write: ENOENT"}, exit: 1,
			check: func(t *testing.T, a answer) {
				if _, err := os.Lstat(outside); err == nil {
					t.Errorf("the job created %s on the node", outside)
				}
			}},
		{name: "write /etc", attack: "write /etc/passwd", stdout: []string{"write: ENOENT"}, exit: 1},
		{name: "write /dev", attack: "write /dev/sda", stdout: []string{"write: EROFS"}, exit: 1},
		{name: "exec a written file", attack: "exec-written " + outDir, stdout: []string{"create: ok", "chmod: ok", "exec: EACCES"}, exit: 1},
		{name: "exec a file written in /tmp", attack: "exec-written /tmp", stdout: []string{"create: ok", "chmod: ok", "exec: EACCES"}, exit: 1},
		{name: "exec a written file through the loader", attack: "exec-loader " + outDir + " " + interp, stdout: []string{"create: ok", "chmod: ok"}, exit: 127,
			check: func(t *testing.T, a answer) {
				if !bytes.Contains(a.Result.Stderr, []byte("failed to map segment")) {
					t.Errorf("the loader did not fail to map the written file: stderr %q", a.Result.Stderr)
				}
			}},
		{name: "tcp", attack: "tcp " + port(tcp.Addr()), stdout: []string{"socket inet stream: EPERM", "connect: EBADF", "bind: EBADF", "socket inet6 stream: EPERM"}, exit: 1},
		{name: "udp", attack: "udp " + port(udp.LocalAddr()), stdout: []string{"socket inet dgram: EPERM", "sendto: EBADF", "socket packet: EPERM"}, exit: 1},
		{name: "unix socket outside", attack: "unix " + sockPath, stdout: []string{"socket unix: ok", "connect: ENOENT"}, exit: 1},
		{name: "abstract unix socket", attack: "unix " + abstract, stdout: []string{"socket unix: ok", "connect: ECONNREFUSED"}, exit: 1},
		{name: "signal the daemon", attack: "kill " + strconv.Itoa(os.Getpid()), stdout: []string{"kill: ESRCH"}, exit: 1},
		{name: "fork without end", attack: "forkbomb", exit: 1,
			check: func(t *testing.T, a answer) {
				m := regexp.MustCompile(`^forked (\d+), then: EAGAIN\n$`).FindSubmatch(a.Result.Stdout)
				if m == nil {
					t.Fatalf("stdout %q: want forks to end with EAGAIN", a.Result.Stdout)
				}
				if k, _ := strconv.Atoi(string(m[1])); k >= limits.Processes {
					t.Errorf("forked %d processes under a limit of %d", k, limits.Processes)
				}
			}},
		{name: "allocate without end", attack: "alloc", exit: 1,
			check: func(t *testing.T, a answer) {
				m := regexp.MustCompile(`^allocated (\d+) MiB, then: ENOMEM\n$`).FindSubmatch(a.Result.Stdout)
				if m == nil {
					t.Fatalf("stdout %q: want allocation to end with ENOMEM", a.Result.Stdout)
				}
				if k, _ := strconv.ParseInt(string(m[1]), 10, 64); k<<20 >= limits.AddressSpace {
					t.Errorf("allocated %d MiB under a limit of %d MiB", k, limits.AddressSpace>>20)
				}
			}},
		{name: "endless output file", attack: "fill " + outDir + "/attack.o", err: "job over the node's file size limit"},
		{name: "endless file in /tmp", attack: "fill /tmp/big", exit: 1,
			check: func(t *testing.T, a answer) {
				m := regexp.MustCompile(`^create: ok\nwrote (\d+) bytes, then: ENOSPC\n$`).FindSubmatch(a.Result.Stdout)
				if m == nil {
					t.Fatalf("stdout %q: want writing /tmp to end with ENOSPC", a.Result.Stdout)
				}
				if k, _ := strconv.ParseInt(string(m[1]), 10, 64); k > limits.TmpSize {
					t.Errorf("wrote %d bytes to a /tmp of %d", k, limits.TmpSize)
				}
			}},
		// The stand-in itself exits 0: what must fail is the grandchild's
		// survival, which run checks after every job.
		{name: "double fork", attack: "orphan", stdout: []string{"pipe: ok", "grandchild: ok"}, exit: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := run(t, job("/* distmesh-attack: "+tc.attack+" */\nint x;\n"))
			switch {
			case tc.err != "":
				refusedAt(t, tc.attack, a, "run", tc.err)
			case a.Err != nil:
				t.Errorf("%s: %v; want exit status %d", tc.attack, a, tc.exit)
			default:
				if a.Result.Exit != tc.exit {
					t.Errorf("%s: exit status %d, want %d (%v)", tc.attack, a.Result.Exit, tc.exit, a)
				}
				if got := strings.Split(strings.TrimSuffix(string(a.Result.Stdout), "\n"), "\n"); tc.stdout != nil && !slices.Equal(got, tc.stdout) {
					t.Errorf("%s: stdout\n%s\nwant\n%s", tc.attack, a.Result.Stdout, strings.Join(tc.stdout, "\n"))
				}
				if bytes.Contains(a.Result.Stdout, []byte("executed")) {
					t.Errorf("%s: a file the job wrote was executed", tc.attack)
				}
			}
			if tc.check != nil {
				tc.check(t, a)
			}
			serves(t)
		})
	}
	// Nothing reached the daemon's sockets: every job has ended, so
	// anything sent is queued by now.
	for name, l := range map[string]net.Listener{"tcp": tcp, "unix": unixSock, "abstract unix": abstractSock} {
		l.(interface{ SetDeadline(time.Time) error }).SetDeadline(time.Now())
		if c, err := l.Accept(); err == nil {
			c.Close()
			t.Errorf("a job connected to the %s listener", name)
		}
	}
	udp.SetReadDeadline(time.Now())
	if _, from, err := udp.ReadFrom(make([]byte, 16)); err == nil {
		t.Errorf("a job sent a UDP datagram from %v", from)
	}
	select {
	case s := <-sigs:
		t.Errorf("the daemon received %v", s)
	default:
	}

	// The node's own symlink to the dynamic loader, in a directory a
	// manifest may list and an output may name: admission should refuse
	// it (TestSecurityOutputNextToNodeSymlink); if it does not, the job
	// can replace the link by its own file, and Landlock must still refuse
	// to run it as the loader.
	t.Run("replace the loader's symlink", func(t *testing.T) {
		dir, link := linkDir(install)
		if dir == "" {
			t.Skip("no symlink of the stand-in's installation sits in a directory of its own on this machine")
		}
		src := "/* distmesh-attack: replace " + link + " */\n"
		j := newManifest().dir(dir).file(secDir+"/"+attack, []byte(src)).job(standin, secDir, "-c", attack, "-o", dir+"/attack.o", "-DMARK="+marker)
		a := run(t, j)
		if a.Err != nil {
			refusedAt(t, "output in "+dir, a, "admission", "may not be written in "+dir)
		} else if want := "unlink: ok\ncreate: ok\nchmod: ok\nexec: EACCES\n"; string(a.Result.Stdout) != want || a.Result.Exit != 1 {
			t.Errorf("%v; want a refusal at admission, or stdout %q and exit status 1", a, want)
		}
		serves(t)
	})

	t.Run("files left in the output directory", func(t *testing.T) {
		planted := outDir + "/planted.h"
		if a := run(t, job("/* distmesh-attack: write "+planted+" */\n")); a.Err != nil || a.Result.Exit != 0 {
			t.Fatalf("could not write in the output directory: %v", a)
		}
		a := run(t, job("/* distmesh-attack: read "+planted+" */\n"))
		if a.Err != nil || a.Result.Exit != 1 || string(a.Result.Stdout) != "read: ENOENT\n" {
			t.Errorf("the next job found a file an earlier job left: %v", a)
		}
	})

	t.Run("run forever beside another job", func(t *testing.T) {
		forever := make(chan answer, 1)
		errs := make(chan error, 1)
		go func() {
			a, err := n.try(job("/* distmesh-attack: forever */\n"))
			errs <- err
			forever <- a
		}()
		if !waitFor(30*time.Second, func() bool { return n.node.Running() == 1 }) {
			t.Fatal("the endless job did not start")
		}
		// The other slot serves meanwhile (the endless job runs on, so
		// this job's leftovers cannot be told from it by the marker).
		if a := n.send(t, job(ordinary)); a.Err != nil || a.Result.Exit != 0 || string(a.Outputs["out/attack.o"]) != "object of "+ordinary {
			t.Fatalf("the node does not serve a job beside an endless one: %v", a)
		}
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		a := <-forever
		refusedAt(t, "forever", a, "run", "job over the node's wall limit")
		if left := processesWith(marker); len(left) > 0 {
			t.Errorf("processes of the endless job outlived it:\n%s", strings.Join(left, "\n"))
		}
		serves(t)
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// incbin is a C file whose object embeds the file at p, with no flag.
func incbin(p string) []byte {
	return []byte(fmt.Sprintf("asm(\".pushsection .rodata\\n.incbin \\\"%s\\\"\\n.popsection\");\nint x;\n", p))
}

// TestSecurityIncbin compiles .incbin's of secrets with real gcc through a
// node: each remote compile fails and returns nothing of the secret.
func TestSecurityIncbin(t *testing.T) {
	gcc := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{gcc}, nil)

	// Another job's input: a victim compiles a file holding a secret, so
	// it is in the store and in the job tree the next job reuses.
	secret := fmt.Sprintf("DISTMESH-SECRET-%d-%d", os.Getpid(), time.Now().UnixNano())
	const victimDir = "/home/victim/p"
	secretH := []byte("const char secret[] = \"" + secret + "\";\n")
	victim := newManifest().
		file(victimDir+"/secret.h", secretH).
		file(victimDir+"/main.c", []byte("#include \"secret.h\"\n")).
		job(gcc, victimDir, "-c", "main.c", "-o", "main.o")
	if a := n.send(t, victim); a.Err != nil || a.Result.Exit != 0 || !bytes.Contains(a.Outputs["main.o"], []byte(secret)) {
		t.Fatalf("the victim's job: %v; want its object to hold its secret", a)
	}
	trees := n.treeDirs(t)
	if len(trees) != 1 {
		t.Fatalf("job trees %v after one job, want one", trees)
	}
	stored := filepath.Join(n.cfg.Store.dir, n.cfg.Store.objectName(sha256.Sum256(secretH)))

	type tc struct {
		name    string
		path    string // what the source .incbin's
		secret  []byte
		m       func() *manifestBuilder
		control bool // the same compile run locally embeds the secret
	}
	const attackDir = "/home/attacker/p"
	plain := func() *manifestBuilder { return newManifest() }
	cases := []tc{
		{name: "the node's private key", path: n.home.NodeKeyPath(), secret: mustRead(t, n.home.NodeKeyPath()), m: plain, control: true},
		{name: "the CA key", path: n.home.CAKeyPath(), secret: mustRead(t, n.home.CAKeyPath()), m: plain, control: true},
		{name: "another job's input", path: victimDir + "/secret.h", secret: []byte(secret), m: plain},
		{name: "another job's input, its directory listed", path: victimDir + "/secret.h", secret: []byte(secret),
			m: func() *manifestBuilder { return newManifest().dir(victimDir) }},
		{name: "another job's input through a symlink", path: "s.h", secret: []byte(secret),
			m: func() *manifestBuilder { return newManifest().symlink(attackDir+"/s.h", victimDir+"/secret.h") }},
		{name: "another job's input in the node's store", path: stored, secret: []byte(secret), m: plain, control: true},
	}
	if shadow, err := os.ReadFile("/etc/shadow"); err == nil && len(shadow) > 0 {
		cases = append(cases, tc{name: "/etc/shadow", path: "/etc/shadow", secret: shadow, m: plain, control: true})
	} else {
		t.Logf("/etc/shadow is not readable here (%v): its case is left out", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := incbin(c.path)
			if c.control {
				// The attack works without the sandbox.
				dir := t.TempDir()
				if err := os.WriteFile(dir+"/x.c", src, 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command("gcc", "-c", "x.c", "-o", "x.o")
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("local control compile: %v\n%s", err, out)
				}
				if !bytes.Contains(mustRead(t, dir+"/x.o"), c.secret) {
					t.Fatalf("the local control object does not embed %s: the test would prove nothing", c.path)
				}
			}
			a := n.send(t, c.m().file(attackDir+"/x.c", src).job(gcc, attackDir, "-c", "x.c", "-o", "x.o"))
			if a.Err != nil {
				t.Fatalf("%v; want the compile to run and fail", a)
			}
			if a.Result.Exit == 0 {
				t.Errorf("the remote compile of an .incbin of %s succeeded", c.path)
			}
			if !bytes.Contains(a.Result.Stderr, []byte("file not found")) {
				t.Errorf("stderr %q: want the assembler's \"file not found\"", a.Result.Stderr)
			}
			for name, out := range a.Outputs {
				if bytes.Contains(out, c.secret) {
					t.Errorf("output %s holds the content of %s", name, c.path)
				}
			}
			if got := n.treeDirs(t); !slices.Equal(got, trees) {
				t.Errorf("job trees %v, want the victim's tree %v reused", got, trees)
			}
		})
	}
	n.checkServes(t, gcc)
}

// TestSecurityRealCompile: under confinement, gcc and clang return through
// the node the object a local compile writes.
func TestSecurityRealCompile(t *testing.T) {
	for _, p := range []string{"/usr/bin/gcc", "/usr/bin/clang"} {
		t.Run(path.Base(p), func(t *testing.T) {
			c := nodeCompiler(t, p)
			n := startNode(t, []*Compiler{c}, nil)
			src := []byte("static int sq(int x) { return x * x; }\nint f(int y) { return sq(y) + 1; }\n")
			args := []string{"-O2", "-Wall", "-c", "x.c", "-o", "x.o"}
			dir := t.TempDir()
			if err := os.WriteFile(dir+"/x.c", src, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(p, args...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("local compile: %v\n%s", err, out)
			}
			a := n.send(t, newManifest().file(secDir+"/x.c", src).job(c, secDir, args...))
			if a.Err != nil || a.Result.Exit != 0 {
				t.Fatalf("remote compile: %v", a)
			}
			if !bytes.Equal(a.Outputs["x.o"], mustRead(t, dir+"/x.o")) {
				t.Errorf("the node's object differs from the local one (%d and %d bytes)", len(a.Outputs["x.o"]), len(mustRead(t, dir+"/x.o")))
			}
		})
	}
}

// holdingHandler is a log handler that holds the first record with message
// msg until release is closed, as a slow log sink would.
type holdingHandler struct {
	slog.Handler
	msg     string
	once    *sync.Once
	held    chan struct{} // closed when the record is being held
	release chan struct{}
}

func (h holdingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() {
			close(h.held)
			<-h.release
		})
	}
	return h.Handler.Handle(ctx, r)
}

func (h holdingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.Handler = h.Handler.WithAttrs(as)
	return h
}

func (h holdingHandler) WithGroup(name string) slog.Handler {
	h.Handler = h.Handler.WithGroup(name)
	return h
}

// TestSecurityBusyAfterResult: a node with one slot and no queue has served
// a job once the client holds its outputs; a client that sends its next job
// at once must not be refused as busy, whatever the node's handler still
// does after sending the outputs (here: logging to a slow sink).
func TestSecurityBusyAfterResult(t *testing.T) {
	gcc := nodeCompiler(t, "/usr/bin/gcc")
	h := holdingHandler{msg: "job done", once: new(sync.Once), held: make(chan struct{}), release: make(chan struct{})}
	released := sync.OnceFunc(func() { close(h.release) })
	defer released()
	n := startNode(t, []*Compiler{gcc}, func(c *NodeConfig) {
		c.Queue = 0
		h.Handler = c.Logger.Handler()
		c.Logger = slog.New(h)
	})
	first := make(chan answer, 1)
	errs := make(chan error, 1)
	go func() {
		a, err := n.try(goodJob(gcc))
		errs <- err
		first <- a
	}()
	select {
	case err := <-errs:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		released()
		t.Fatal("no answer to the first job within a minute (does the node log \"job done\" before sending the outputs?)")
	}
	if a := <-first; a.Err != nil || a.Result.Exit != 0 {
		t.Fatalf("first job: %v", a)
	}
	// The client has the outputs; the node's handler may still be busy
	// with its tail.
	a := n.send(t, goodJob(gcc))
	released()
	if a.Err != nil || a.Result.Exit != 0 {
		t.Errorf("a job sent after the previous one's outputs arrived: %v; want it served", a)
	}
}

// TestNodeRefusesMissingLocale: a job whose messages' locale the node does
// not have is refused (its compiler would write them in the C locale,
// unlike the client's); one in a locale it has is served.
func TestNodeRefusesMissingLocale(t *testing.T) {
	gcc := nodeCompiler(t, "/usr/bin/gcc")
	n := startNode(t, []*Compiler{gcc}, nil)
	if !n.node.locales.has("C.UTF-8") {
		t.Skip("this machine has no C.UTF-8 locale (`locale -a`)")
	}
	j := goodJob(gcc)
	j.req.Env = []string{"LANG=C.UTF-8"}
	if a := n.send(t, j); a.Err != nil || a.Result.Exit != 0 {
		t.Fatalf("a job in the C.UTF-8 locale: %v", a)
	}
	j = goodJob(gcc)
	j.req.Env = []string{"LANG=xx_XX.UTF-8"}
	if a := n.send(t, j); a.Err == nil || !strings.Contains(a.Err.Error(), "locale xx_XX.UTF-8 is not installed on this node") {
		t.Fatalf("a job in a locale the node lacks: %v, want it refused", a)
	}
}
