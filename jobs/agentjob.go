package jobs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/distmesh/distmesh/transport"
)

// Messages between a wrapper and the agent, on the agent socket:
//
//	wrapper → agent  hello   wrapHello
//	agent → wrapper  go      {}              a remote slot is reserved: send the job
//	                 local   wrapLocal       compile locally (holding the connection open holds a local slot)
//	wrapper → agent  job     wrapJob, then "fds" messages carrying the inputs' descriptors in order
//	agent → wrapper  open    wrapOpen        more inputs to open (candidates of __has_include)
//	wrapper → agent  opened  wrapOpened      with descriptors for the ones that opened
//	agent → wrapper  result  wrapResult, then one "out" message per output
//	                 local   wrapLocal
//	                 error   text            (DISTMESH_FALLBACK=0 only)
type wrapHello struct {
	Compiler string    `json:"compiler"` // the real compiler's absolute path
	Stamp    fileStamp `json:"stamp"`    // its driver, as the wrapper sees it
	Name     string    `json:"name"`     // the driver's name as invoked
	Args     []string  `json:"args"`     // the arguments, response files expanded
	Env      []string  `json:"env"`      // the environment that matters (CompileEnv)
	Native   bool      `json:"native,omitempty"`
	Fallback bool      `json:"fallback"`
	Source   string    `json:"source"`
}

type wrapJob struct {
	Args   []string `json:"args"`
	Env    []string `json:"env"`
	Lang   string   `json:"lang"`
	Dir    string   `json:"dir"`           // physical working directory
	PWD    string   `json:"pwd,omitempty"` // $PWD, when it names the working directory
	Inputs []string `json:"inputs"`        // paths as named; descriptors follow in order
	Dirs   []string `json:"dirs"`          // include and output directories
}

type wrapOpen struct {
	Paths []string `json:"paths"`
}

type wrapOpened struct {
	OK []bool `json:"ok"`
}

type wrapLocal struct {
	Reason string `json:"reason"`
}

type wrapResult struct {
	Exit    int          `json:"exit"`
	Stdout  []byte       `json:"stdout,omitempty"`
	Stderr  []byte       `json:"stderr,omitempty"`
	Node    string       `json:"node"`
	Outputs []OutputFile `json:"outputs,omitempty"`
}

// Timeouts of the agent's side of a job.
const (
	jobTimeout    = 30 * time.Minute // a remote compile, transfers included
	strictWait    = 10 * time.Minute // DISTMESH_FALLBACK=0: waiting for a remote slot
	noPeerGrace   = 30 * time.Second // DISTMESH_FALLBACK=0: waiting for any suitable peer
	openBatchSize = maxFDsPerMessage
)

func (a *Agent) compile(ctx context.Context, lc *localConn, h wrapHello) {
	rec := JobRecord{Source: h.Source, At: time.Now()}
	log := a.log.With("source", h.Source)
	local := func(why string) {
		rec.Where, rec.Why, rec.Took = "local", why, time.Since(rec.At)
		a.record(rec, false)
		log.Debug("compiling locally", "why", why)
		lc.sendJSON("local", wrapLocal{Reason: why})
	}
	fail := func(err error) {
		rec.Where, rec.Why, rec.Exit, rec.Took = "failed", err.Error(), -1, time.Since(rec.At)
		a.record(rec, false)
		lc.send("error", []byte(err.Error()))
	}

	comp, err := a.compilers.Get(ctx, h.Compiler)
	if err != nil {
		local("compiler: " + err.Error())
		return
	}
	if fi, err := os.Stat(h.Compiler); err != nil || stampOf(fi) != h.Stamp {
		local("the wrapper sees another compiler file than the agent")
		return
	}
	// The node's own checks, with the compiler's real family: a job the
	// node would refuse is compiled locally without asking it.
	if a := Analyze(comp.Family, h.Args, h.Env); a.Local != "" {
		local(a.Local)
		return
	}
	if err := CheckArgs(comp.Family, h.Args); err != nil {
		local(err.Error())
		return
	}
	native := ""
	if h.Native {
		if comp.Native == "" {
			local("-march=native: cannot tell what it expands to")
			return
		}
		native = comp.Native
	}

	p, slot, err := a.reserve(ctx, comp.ID, native, h.Fallback)
	switch {
	case err != nil && !h.Fallback:
		fail(err)
		return
	case err != nil:
		local(err.Error())
		return
	case p == nil:
		// A local slot is ours while the wrapper's compiler runs: it
		// inherits the connection, which closes when the compile ends.
		local("no free remote slot")
		if slot {
			lc.recv()
			a.releaseLocal()
		}
		return
	}
	released := false
	releasePeer := func() {
		if !released {
			released = true
			a.release(p)
		}
	}
	defer releasePeer()

	if err := lc.sendJSON("go", struct{}{}); err != nil {
		return
	}
	var job wrapJob
	if _, err := lc.recvJSON("job", &job); err != nil {
		return
	}
	files, err := a.receiveFDs(lc, len(job.Inputs))
	defer func() { closeFiles(files) }()
	if err != nil {
		return
	}
	m, err := a.buildManifest(ctx, lc, comp, &job, files)
	if m != nil {
		defer closeFiles(m.opened)
	}
	if err != nil {
		if h.Fallback {
			local(err.Error())
		} else {
			fail(err)
		}
		return
	}
	req := &JobRequest{Compiler: comp.ID, Name: h.Name, Native: native, Args: job.Args, Env: job.Env, Dir: job.Dir, Entries: m.entries}

	tried := map[*peer]bool{}
	var res Result
	var outs [][]byte
	for attempt := 0; ; attempt++ {
		tried[p] = true
		res, outs, err = a.runRemote(ctx, p, req, m)
		if err == nil {
			break
		}
		p.fail(err)
		log.Info("remote job failed", "peer", p.addr, "error", err)
		releasePeer()
		if attempt >= 1 || errors.Is(err, errInputChanged) || ctx.Err() != nil {
			break
		}
		// Once more, elsewhere.
		a.mu.Lock()
		a.stats.Retries++
		a.mu.Unlock()
		if p = a.pick(comp.ID, native, tried); p == nil {
			break
		}
		released = false
	}
	if err != nil {
		if h.Fallback {
			local("remote failure: " + err.Error())
		} else {
			fail(fmt.Errorf("remote compile failed: %w", err))
		}
		return
	}
	if res.Exit != 0 && h.Fallback {
		// The local compiler's verdict is the one the user sees.
		local(fmt.Sprintf("failed on %s with exit status %d", res.Node, res.Exit))
		return
	}
	rec.Where, rec.Exit, rec.Took = res.Node, res.Exit, time.Since(rec.At)
	a.record(rec, true)
	log.Debug("compiled remotely", "node", res.Node, "exit", res.Exit, "ms", rec.Took.Milliseconds())
	if err := lc.sendJSON("result", wrapResult{Exit: res.Exit, Stdout: res.Stdout, Stderr: res.Stderr, Node: res.Node, Outputs: res.Outputs}); err != nil {
		return
	}
	for _, data := range outs {
		if err := lc.send("out", data); err != nil {
			return
		}
	}
}

// reserve finds a place for a job: a remote slot (returned reserved), or,
// when fallback is allowed and no remote slot is free, a local slot (slot
// true, p nil). With no suitable peer at all it returns p nil and slot
// false: the wrapper compiles locally under its own -j.
func (a *Agent) reserve(ctx context.Context, compiler, native string, fallback bool) (p *peer, slot bool, err error) {
	wait := strictWait
	if fallback {
		wait = jobTimeout
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	noPeerSince := time.Now()
	for {
		changed := a.changed()
		if p := a.pick(compiler, native, nil); p != nil {
			return p, false, nil
		}
		if !a.anyPeerHas(compiler, native) {
			if fallback {
				return nil, false, errors.New("no peer has this compiler")
			}
			if time.Since(noPeerSince) > noPeerGrace {
				return nil, false, errors.New("no peer with this compiler is up (DISTMESH_FALLBACK=0)")
			}
		} else {
			noPeerSince = time.Now()
		}
		if fallback && a.tryLocal() {
			return nil, true, nil
		}
		poll := time.NewTimer(pollInterval)
		select {
		case <-changed:
		case <-poll.C:
		case <-deadline.C:
			poll.Stop()
			return nil, false, errors.New("timed out waiting for a remote slot")
		case <-ctx.Done():
			poll.Stop()
			return nil, false, ctx.Err()
		}
		poll.Stop()
	}
}

func (a *Agent) receiveFDs(lc *localConn, n int) ([]*os.File, error) {
	var files []*os.File
	for len(files) < n {
		typ, _, fs, err := lc.recv()
		if err != nil {
			closeFiles(fs)
			return files, err
		}
		if typ != "fds" {
			closeFiles(fs)
			return files, fmt.Errorf("agent protocol: got %s, want fds", typ)
		}
		files = append(files, fs...)
	}
	if len(files) != n {
		return files, fmt.Errorf("agent protocol: %d descriptors for %d inputs", len(files), n)
	}
	return files, nil
}

// manifest is a job's inputs as the node will see them, and where to read
// each content from.
type manifest struct {
	entries []Entry
	content map[Hash]*os.File
	opened  []*os.File // descriptors received for __has_include candidates
}

// buildManifest resolves every input the wrapper passed, checks that each
// descriptor is the file the path leads to, hashes contents (cached per
// file), records the directories and symlinks on the way, and adds the
// files that __has_include could find, asking the wrapper to open them.
func (a *Agent) buildManifest(ctx context.Context, lc *localConn, comp *Compiler, job *wrapJob, files []*os.File) (*manifest, error) {
	if !path.IsAbs(job.Dir) {
		return nil, errors.New("working directory is not absolute")
	}
	m := &manifest{content: map[Hash]*os.File{}}
	w := newWalker(job.Dir)
	for _, d := range append([]string{job.Dir, job.PWD}, job.Dirs...) {
		if d != "" {
			if err := w.addDir(d); err != nil {
				return m, err
			}
		}
	}
	quote, bracket, err := a.search.dirs(ctx, comp, job)
	if err != nil {
		return m, err
	}
	for _, d := range append(quote, bracket...) {
		w.addDir(d)
	}

	var pending []probe
	add := func(name string, f *os.File) error {
		phys, fi, err := w.addFile(name)
		if err != nil {
			return fmt.Errorf("input %s: %w", name, err)
		}
		// GCC silently prefers a precompiled header beside a header, and
		// its dependency list names only the header.
		if _, _, err := w.resolve(name + ".gch"); err == nil {
			return fmt.Errorf("input %s has a precompiled header beside it", name)
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			return err
		}
		want := fi.Sys().(*syscall.Stat_t)
		if st.Dev != want.Dev || st.Ino != want.Ino {
			return fmt.Errorf("input %s: %w", name, errForeignView)
		}
		he, err := a.hashes.get(f, stampOfStat(&st))
		if err != nil {
			return fmt.Errorf("input %s: %w", name, err)
		}
		if he.computed {
			return fmt.Errorf("input %s: __has_include with a computed argument", name)
		}
		w.entries[phys] = Entry{Path: phys, Kind: KindFile, Mode: uint32(fi.Mode().Perm()), MTime: st.Mtim.Nano(), Size: st.Size, Hash: he.hash}
		m.content[he.hash] = f
		for _, hi := range he.probes {
			pending = append(pending, probe{hasInclude: hi, from: path.Dir(name)})
		}
		return nil
	}
	for i, name := range job.Inputs {
		if err := add(name, files[i]); err != nil {
			return m, err
		}
	}

	// __has_include finds files the dependency list does not name: ship
	// every existing candidate, so the node's search finds what the
	// client's does.
	asked := map[string]bool{}
	for len(pending) > 0 {
		var want []string
		for _, pr := range pending {
			for _, cand := range pr.candidates(quote, bracket) {
				if asked[cand] {
					continue
				}
				asked[cand] = true
				phys, fi, err := w.resolve(cand)
				if err != nil || !fi.Mode().IsRegular() {
					continue
				}
				if _, ok := w.entries[phys]; !ok {
					want = append(want, cand)
				}
			}
		}
		pending = nil
		for len(want) > 0 {
			batch := want[:min(len(want), openBatchSize)]
			want = want[len(batch):]
			if err := lc.sendJSON("open", wrapOpen{Paths: batch}); err != nil {
				return m, err
			}
			var opened wrapOpened
			fs, err := lc.recvJSON("opened", &opened)
			m.opened = append(m.opened, fs...)
			if err != nil {
				return m, err
			}
			i := 0
			for j, ok := range opened.OK {
				if !ok || j >= len(batch) {
					continue
				}
				if i >= len(fs) {
					return m, errors.New("agent protocol: descriptors missing")
				}
				if err := add(batch[j], fs[i]); err != nil {
					return m, err
				}
				i++
			}
		}
	}
	for _, e := range w.entries {
		m.entries = append(m.entries, e)
	}
	return m, nil
}

// errInputChanged reports an input whose content changed during the job:
// the hash sent must be the hash compiled.
var errInputChanged = errors.New("an input changed while the job ran")

// runRemote runs the job on p.
func (a *Agent) runRemote(ctx context.Context, p *peer, req *JobRequest, m *manifest) (Result, [][]byte, error) {
	p.mu.Lock()
	conn := p.conn
	p.stats.Sent++
	p.mu.Unlock()
	a.mu.Lock()
	a.stats.Sent++
	a.mu.Unlock()
	if conn == nil {
		return Result{}, nil, errors.New("not connected")
	}
	ctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	st, err := conn.Open(ctx, transport.SubsystemCompile, compileVersion, compileVersion)
	if err != nil {
		return Result{}, nil, err
	}
	defer st.Close()
	if err := st.SendJSON("job", req); err != nil {
		return Result{}, nil, err
	}
	var need Need
	if err := st.RecvJSON("need", &need); err != nil {
		return Result{}, nil, err
	}
	enc := encoderPool.Get().(*zstd.Encoder)
	defer encoderPool.Put(enc)
	var out int64
	for _, h := range need.Hashes {
		f := m.content[h]
		if f == nil {
			return Result{}, nil, fmt.Errorf("node asked for content %s that is not in the job", h)
		}
		data, err := readAllAt(f)
		if err != nil {
			return Result{}, nil, err
		}
		if sha256.Sum256(data) != h {
			return Result{}, nil, errInputChanged
		}
		msg := enc.EncodeAll(data, append(make([]byte, 0, len(h)+len(data)/3), h[:]...))
		out += int64(len(msg))
		if err := st.Send("blob", msg); err != nil {
			return Result{}, nil, err
		}
	}
	var res Result
	if err := st.RecvJSON("result", &res); err != nil {
		return Result{}, nil, err
	}
	var outs [][]byte
	var in int64
	for _, o := range res.Outputs {
		typ, payload, err := st.Recv()
		if err != nil {
			return Result{}, nil, err
		}
		if typ != "file" || o.Size < 0 || o.Size > maxOutputSize {
			return Result{}, nil, fmt.Errorf("protocol: bad output %s", o.Path)
		}
		data, err := decompress(payload, o.Size)
		if err != nil {
			return Result{}, nil, fmt.Errorf("output %s: %w", o.Path, err)
		}
		in += int64(len(payload))
		outs = append(outs, data)
	}
	p.mu.Lock()
	p.stats.BytesOut += out
	p.stats.BytesIn += in
	p.stats.BlobsSent += int64(len(need.Hashes))
	p.stats.BlobHits += int64(len(m.content) - len(need.Hashes))
	if res.Exit == 0 {
		p.stats.OK++
	} else {
		p.stats.Failed++
	}
	p.mu.Unlock()
	return res, outs, nil
}

// readAllAt reads a whole file through its descriptor, from the start.
func readAllAt(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, fi.Size())
	n, err := f.ReadAt(data, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if int64(n) != fi.Size() {
		return nil, errInputChanged
	}
	return data, nil
}

func stampOfStat(st *syscall.Stat_t) fileStamp {
	return fileStamp{Dev: st.Dev, Ino: st.Ino, Size: st.Size, MTime: st.Mtim.Nano(), CTime: st.Ctim.Nano()}
}
