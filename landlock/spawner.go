package landlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A launcher gets a new user namespace, and Go starts such a child with a
// full fork rather than vfork (the child must wait for its uid map). A
// full fork of the node, a large multithreaded program, write-protects
// all its memory: every page the node writes afterwards faults and is
// copied, and each fork flushes the TLBs of every CPU it runs on. That
// cost the node more CPU per job than the rest of its work together.
//
// A Spawner moves the fork into a small helper process, started once from
// the launcher binary. The helper keeps a few launchers started, each
// waiting for its spec; the node asks it for one over a Unix socket and
// gets back its pid and its pipes, and later how it ended. It asks for the
// next job's launcher as soon as a job is done (JobDone), so that a job
// finds one in hand, and the helper starts replacements then, not while a
// job sets up and compiles. The node still does everything else (checks,
// root, cgroup, spec, output, limits), so a job runs the same either way.

// A Spawner starts launchers from its helper process while [Spawner.Serve]
// runs, and directly otherwise. The zero value is ready to use; a nil
// *Spawner always starts them directly.
type Spawner struct {
	mu  sync.Mutex
	ctl *net.UnixConn // to the helper; nil when it is not running
	// held is a launcher taken from the helper ahead of the next job
	// (see JobDone), for heldKey; nil when none is.
	held    *spawned
	heldKey launcherKey
	last    *launcherKey // of the last job; nil before the first
	holding bool         // a hold is being taken
	holds   sync.WaitGroup
}

// Serve starts the helper and keeps it until ctx is done; then the helper
// kills the launchers it started and exits, and Serve returns nil. If the
// helper dies, Serve returns why, jobs it was running fail, and later jobs
// start their launchers directly.
func (sp *Spawner) Serve(ctx context.Context) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("spawner: %w", err)
	}
	ctl, err := fileConn(fds[0], "spawner control")
	if err != nil {
		unix.Close(fds[1])
		return err
	}
	theirs := os.NewFile(uintptr(fds[1]), "spawner control")
	cmd := exec.Command(launcherPath(), launcherArg, "spawner", refillWait.String())
	cmd.Args[0] = launcherName
	cmd.Env = []string{"GOMAXPROCS=1"}
	cmd.Stderr = os.Stderr // a crash says why
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		ctl.Close()
		return fmt.Errorf("start spawner: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	sp.mu.Lock()
	sp.ctl = ctl
	sp.mu.Unlock()
	defer func() {
		sp.mu.Lock()
		sp.ctl = nil
		held := sp.held
		sp.held = nil
		sp.mu.Unlock()
		ctl.Close()
		sp.holds.Wait()
		if held != nil {
			held.close()
		}
	}()
	select {
	case <-ctx.Done():
		ctl.Close() // the helper reads EOF, kills its launchers and exits
		select {
		case err = <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill() // its launchers' parent-death signal ends them
			err = <-exited
		}
		if err != nil {
			return fmt.Errorf("spawner: %w", err)
		}
		return nil
	case err := <-exited:
		return fmt.Errorf("spawner exited: %v", err)
	}
}

// Run is [Run], with the launcher started by the helper when it is running.
func (sp *Spawner) Run(ctx context.Context, spec Spec, stdout, stderr io.Writer) (Result, error) {
	return run(ctx, sp, spec, stdout, stderr)
}

// JobDone tells the spawner that a job's client has its result, so that
// the work put off while the job ran is done now, between jobs: the node
// takes a launcher from the helper for its next job, and the helper
// starts the idle launchers it put off starting (see refillWait). It
// returns at once.
func (sp *Spawner) JobDone() {
	if sp == nil {
		return
	}
	sp.mu.Lock()
	ctl, hold := sp.ctl, sp.held == nil && !sp.holding && sp.last != nil
	if ctl != nil && hold {
		sp.holding = true
		sp.holds.Add(1)
		go sp.hold(ctl, *sp.last)
	}
	sp.mu.Unlock()
	if ctl != nil && !hold {
		ctl.WriteMsgUnix([]byte{msgJobDone}, nil, nil)
	}
}

// hold takes a launcher for key ahead of the next job. Asked for ahead,
// the helper replaces it at once.
func (sp *Spawner) hold(ctl *net.UnixConn, key launcherKey) {
	defer sp.holds.Done()
	p, err := ask(ctl, key, true)
	if err == nil && p.pidfd < 0 {
		p.close() // without a pidfd, a held launcher's death goes unseen
		p, err = nil, errors.New("no pidfd")
	}
	sp.mu.Lock()
	sp.holding = false
	keep := err == nil && sp.ctl == ctl && sp.held == nil
	if keep {
		sp.held, sp.heldKey = p, key
	}
	sp.mu.Unlock()
	switch {
	case err != nil:
		ctl.WriteMsgUnix([]byte{msgJobDone}, nil, nil) // the helper's replacements are still due
	case !keep:
		p.close() // Serve is over
	}
}

// takeHeld returns the launcher held for key, if it is alive, and notes
// key as the last job's. One held for another key is dropped: the next
// JobDone holds one for this key.
func (sp *Spawner) takeHeld(key launcherKey) *spawned {
	sp.mu.Lock()
	sp.last = &key
	p, same := sp.held, sp.heldKey == key
	sp.held = nil
	sp.mu.Unlock()
	if p == nil {
		return nil
	}
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 0); !same || err != nil || n > 0 {
		p.close() // held for other ids or limits, or it died while held (readable pidfd: exited)
		return nil
	}
	return p
}

// Serving reports whether the helper is running and starts launchers.
func (sp *Spawner) Serving() bool { return sp.control() != nil }

// control is the helper's control socket, or nil.
func (sp *Spawner) control() *net.UnixConn {
	if sp == nil {
		return nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.ctl
}

// errSpawnerGone: the helper could not be asked; nothing was started.
var errSpawnerGone = errors.New("spawn: the spawner is gone")

// spawnRequest asks the helper for a launcher.
type spawnRequest struct {
	UID, GID int
	Pids     int  // the pids cgroup's limit; 0: none (see jobCgroup)
	Ahead    bool // taken ahead of a job, between jobs: replace it at once
}

// spawnReply is the helper's answer: first Pid (or Err), with four
// descriptors, the launcher's spec pipe's write end, its status pipe's
// read end and the read ends of its stdout and stderr; then Done with how
// the launcher ended.
type spawnReply struct {
	Pid   int    `json:",omitempty"`
	Err   string `json:",omitempty"` // the launcher did not start
	Errno int    `json:",omitempty"` // its errno, if any
	// With Pid: the pids cgroup the launcher was started in (its
	// directory, which the node removes when the job is done), or why
	// there is none.
	Cgroup     string `json:",omitempty"`
	CgroupV1   bool   `json:",omitempty"`
	CgroupNote string `json:",omitempty"`
	Done       bool   `json:",omitempty"`
	// With Done: the wait status and the CPU time of the launcher and what
	// it waited for.
	Status       uint32 `json:",omitempty"`
	Utime, Stime int64  `json:",omitempty"` // nanoseconds
}

// spawned is a launcher the helper started, as the node sees it.
type spawned struct {
	conn         *net.UnixConn
	pid          int
	pidfd        int // of the launcher, to kill it if the spawner dies first; -1: none
	spec, status *os.File
	outR         []*os.File // read ends of stdout and stderr
	copied       sync.WaitGroup
	copyErr      [2]error // of stdout and stderr
	stopKill     func() bool
	cg           *pidsCgroup
	cgNote       string
}

// ask asks the helper for a launcher for key; ahead says it is taken
// ahead of a job (see JobDone).
func ask(ctl *net.UnixConn, key launcherKey, ahead bool) (*spawned, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spawn: %w", err)
	}
	conn, err := fileConn(fds[0], "job")
	if err != nil {
		unix.Close(fds[1])
		return nil, err
	}
	_, _, err = ctl.WriteMsgUnix([]byte{'j'}, unix.UnixRights(fds[1]), nil)
	unix.Close(fds[1])
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %v", errSpawnerGone, err)
	}
	p := &spawned{conn: conn, pidfd: -1}
	req, _ := json.Marshal(spawnRequest{UID: key.uid, GID: key.gid, Pids: key.pids, Ahead: ahead})
	if _, err := conn.Write(req); err != nil {
		p.close()
		return nil, fmt.Errorf("spawn: %w", err)
	}
	var r spawnReply
	files, err := p.read(&r, 4)
	if err != nil {
		p.close()
		return nil, err
	}
	if r.Err != "" || len(files) != 4 {
		closeFiles(files)
		p.close()
		if r.Errno != 0 {
			return nil, fmt.Errorf("%s: %w", r.Err, syscall.Errno(r.Errno))
		}
		if r.Err == "" {
			r.Err = "no pipes in the reply"
		}
		return nil, fmt.Errorf("spawn: %s", r.Err)
	}
	p.pid = r.Pid
	p.spec, p.status, p.outR = files[0], files[1], files[2:]
	p.cgNote = r.CgroupNote
	if r.Cgroup != "" {
		p.cg = &pidsCgroup{dir: r.Cgroup, version: "v2", max: key.pids}
		if r.CgroupV1 {
			p.cg.version = "v1"
		}
	}
	// The launcher waits for its spec, which only Run sends: it is alive
	// and the pid is still its own.
	if fd, err := unix.PidfdOpen(p.pid, 0); err == nil {
		p.pidfd = fd
	}
	return p, nil
}

// attach copies the launcher's output to stdout and stderr and kills it
// when ctx is done.
func (p *spawned) attach(ctx context.Context, stdout, stderr io.Writer) {
	// As os/exec: no writer is the null device, and one writer given for
	// both is written by one goroutine at a time.
	writers := []io.Writer{orDiscard(stdout), orDiscard(stderr)}
	if sameWriter(writers[0], writers[1]) {
		lw := &lockedWriter{w: writers[0]}
		writers[0], writers[1] = lw, lw
	}
	for i, r := range p.outR {
		p.copied.Add(1)
		go func() {
			defer p.copied.Done()
			if _, err := io.Copy(writers[i], r); err != nil && !errors.Is(err, os.ErrClosed) {
				p.copyErr[i] = err
			}
		}()
	}
	// Closing our side is the helper's signal to kill the launcher.
	p.stopKill = context.AfterFunc(ctx, func() { p.conn.CloseWrite() })
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// wait returns how the launcher ended, once its output is copied.
func (p *spawned) wait() (*ended, error) {
	defer p.close()
	var r spawnReply
	_, err := p.read(&r, 0)
	if err == nil && !r.Done {
		err = errors.New("spawner: unexpected reply")
	}
	if err != nil {
		// The spawner is gone, and the launcher's parent-death signal may
		// have missed it: end the job here.
		if p.pidfd >= 0 {
			unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
		}
		return nil, err
	}
	// As os/exec's WaitDelay: output still open 5 s after the launcher
	// (PID 1 of the job) is gone belongs to nobody of the job.
	done := make(chan struct{})
	go func() { p.copied.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, f := range p.outR {
			f.Close()
		}
		<-done
	}
	end := &ended{status: syscall.WaitStatus(r.Status)}
	end.rusage.Utime = syscall.NsecToTimeval(r.Utime)
	end.rusage.Stime = syscall.NsecToTimeval(r.Stime)
	return end, errors.Join(p.copyErr[:]...)
}

// read reads one reply and the descriptors that come with it, at most max.
func (p *spawned) read(r *spawnReply, max int) ([]*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*max))
	n, oobn, _, _, err := p.conn.ReadMsgUnix(buf, oob)
	if err == nil && n == 0 {
		err = io.EOF
	}
	var files []*os.File
	if fds, ferr := receivedFDs(oob[:oobn]); ferr == nil {
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "launcher pipe"))
		}
	}
	if err != nil {
		closeFiles(files)
		return nil, fmt.Errorf("spawner: %w", err)
	}
	if err := json.Unmarshal(buf[:n], r); err != nil {
		closeFiles(files)
		return nil, fmt.Errorf("spawner: %w", err)
	}
	return files, nil
}

func (p *spawned) close() {
	if p.stopKill != nil {
		p.stopKill()
	}
	p.conn.Close()
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
	}
	for _, f := range append([]*os.File{p.spec, p.status}, p.outR...) {
		f.Close()
	}
}

// sameWriter reports whether a and b are the same writer (false for
// writers that cannot be compared).
func sameWriter(a, b io.Writer) (same bool) {
	defer func() { recover() }()
	return a == b
}

// fileConn makes a socket descriptor a *net.UnixConn and closes fd.
func fileConn(fd int, name string) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("%s socket: %w", name, err)
	}
	return c.(*net.UnixConn), nil
}

// spawnerMain is the helper: it serves the control socket (descriptor 3)
// until the node closes it, then kills the launchers it started. Its
// argument is the node's refillWait.
func spawnerMain(wait string) error {
	d, err := time.ParseDuration(wait)
	if err != nil {
		return fmt.Errorf("refill wait: %w", err)
	}
	ctl, err := fileConn(3, "control")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &helper{ctx: ctx, idle: map[launcherKey][]*launcherProc{}, starting: map[launcherKey]int{}, jobDone: make(chan struct{}), refillWait: d}
	defer h.wg.Wait()
	defer cancel()
	b, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	for {
		_, oobn, _, _, err := ctl.ReadMsgUnix(b, oob)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if b[0] == msgJobDone {
			h.mu.Lock()
			close(h.jobDone)
			h.jobDone = make(chan struct{})
			h.mu.Unlock()
			continue
		}
		fds, err := receivedFDs(oob[:oobn])
		if err != nil || len(fds) != 1 {
			closeAll(fds)
			continue
		}
		conn, err := fileConn(fds[0], "job")
		if err != nil {
			continue
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer conn.Close()
			h.serve(conn)
		}()
	}
}

// idleLaunchers is how many launchers the helper keeps started for each
// uid and gid, waiting for their spec: a job's clone, execve and the
// launcher's start-up then happen before the job asks, not after.
const idleLaunchers = 2

// refillWait is how long the helper puts off replacing a launcher it
// handed out while others were still idle: until the node says a job is
// done ([Spawner.JobDone]), and at most this long. Starting a launcher
// costs several milliseconds of CPU (a fork, an execve, a Go runtime
// starting); done while the job it was taken for sets up, compiles and
// sends its result back, on a small machine that was latency the client
// waited for: 3.5 ms of a tiny compile's 12–15 on 2 cores. A launcher
// taken as the last idle one is replaced at once: jobs are coming faster
// than the idle ones last. A variable for the tests; the node passes it
// to the helper.
var refillWait = 250 * time.Millisecond

// msgJobDone is the control message of [Spawner.JobDone]; a job request
// is any other byte, with its socket.
const msgJobDone = 'd'

// A helper is the spawner process's state.
type helper struct {
	ctx context.Context
	wg  sync.WaitGroup

	mu       sync.Mutex
	idle     map[launcherKey][]*launcherProc // started, waiting for a job
	starting map[launcherKey]int             // being started for idle
	jobDone  chan struct{}                   // closed (and replaced) on each JobDone

	refillWait time.Duration // see refillWait
}

// launcherKey is what an idle launcher was started for: its ids and the
// limit of the pids cgroup it was born in.
type launcherKey struct{ uid, gid, pids int }

// A launcherProc is a launcher the helper started, and the node's ends of
// its pipes.
type launcherProc struct {
	cmd                          *exec.Cmd
	exited                       chan struct{} // closed when cmd.Wait returned
	spec, status, stdout, stderr *os.File
	cg                           *pidsCgroup // the node removes it once the launcher is taken
	cgNote                       string
	taken                        atomic.Bool
}

// start starts a launcher for k, waiting for its spec, in its pids cgroup
// when it gets one.
func (h *helper) start(k launcherKey) (*launcherProc, error) {
	var parent, child []*os.File // the node's ends, the launcher's
	defer func() { closeFiles(child) }()
	for range 4 {
		r, w, err := os.Pipe()
		if err != nil {
			closeFiles(parent)
			return nil, err
		}
		if len(parent) == 0 { // the spec: the launcher reads
			parent, child = append(parent, w), append(child, r)
		} else {
			parent, child = append(parent, r), append(child, w)
		}
	}
	// The cgroup too is made before the job asks: a new cgroup and moving
	// a process into one (v1) cost up to milliseconds.
	cmd, cg, note, err := startInCgroup(k.pids, func() *exec.Cmd {
		cmd := launcherCmd(h.ctx, k.uid, k.gid)
		cmd.ExtraFiles = child[:2] // specFD, statusFD
		cmd.Stdout, cmd.Stderr = child[2], child[3]
		return cmd
	})
	if err != nil {
		closeFiles(parent)
		return nil, err
	}
	l := &launcherProc{cmd: cmd, exited: make(chan struct{}), spec: parent[0], status: parent[1], stdout: parent[2], stderr: parent[3], cg: cg, cgNote: note}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		cmd.Wait()
		close(l.exited)
		if !l.taken.Load() { // killed while idle
			l.cg.remove()
		}
	}()
	return l, nil
}

// take returns an idle launcher for key, or starts one, and how many
// idle ones are left.
func (h *helper) take(key launcherKey) (l *launcherProc, left int, err error) {
	h.mu.Lock()
	for l == nil && len(h.idle[key]) > 0 {
		l, h.idle[key] = h.idle[key][0], h.idle[key][1:]
		l.taken.Store(true) // from here on, its cgroup is the node's to remove
		select {
		case <-l.exited: // killed while idle
			l.closePipes()
			l.cg.remove()
			l = nil
		default:
		}
	}
	left = len(h.idle[key])
	h.mu.Unlock()
	if l != nil {
		return l, left, nil
	}
	l, err = h.start(key)
	if err == nil {
		l.taken.Store(true)
	}
	return l, left, err
}

// refill starts the idle launchers for key that are missing, counting
// those being started.
func (h *helper) refill(key launcherKey) {
	h.mu.Lock()
	missing := idleLaunchers - len(h.idle[key]) - h.starting[key]
	if missing > 0 {
		h.starting[key] += missing
	}
	h.mu.Unlock()
	for range missing {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			n, err := h.start(key)
			h.mu.Lock()
			defer h.mu.Unlock()
			h.starting[key]--
			if err == nil {
				h.idle[key] = append(h.idle[key], n)
			}
		}()
	}
}

// refillLater refills key once the node says a job is done (JobDone), or
// after h.refillWait.
func (h *helper) refillLater(key launcherKey) {
	h.mu.Lock()
	done := h.jobDone
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		select {
		case <-done:
		case <-time.After(h.refillWait):
		case <-h.ctx.Done():
			return
		}
		h.refill(key)
	}()
}

func (l *launcherProc) closePipes() { closeFiles([]*os.File{l.spec, l.status, l.stdout, l.stderr}) }

// serve hands one launcher to the node and reports on conn how it ended;
// it kills the launcher when the node closes its side.
func (h *helper) serve(conn *net.UnixConn) {
	reply := func(r spawnReply, files ...*os.File) {
		b, _ := json.Marshal(r)
		var oob []byte
		if len(files) > 0 {
			fds := make([]int, len(files))
			for i, f := range files {
				fds[i] = int(f.Fd())
			}
			oob = unix.UnixRights(fds...)
		}
		conn.WriteMsgUnix(b, oob, nil)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return
	}
	var req spawnRequest
	if err := json.Unmarshal(buf[:n], &req); err != nil {
		reply(spawnReply{Err: "spawn: bad request"})
		return
	}
	key := launcherKey{req.UID, req.GID, req.Pids}
	l, left, err := h.take(key)
	if left == 0 || req.Ahead {
		h.refill(key) // jobs come faster than launchers start: no waiting
	} else {
		h.refillLater(key)
	}
	if err != nil {
		var errno syscall.Errno
		errors.As(err, &errno)
		reply(spawnReply{Err: err.Error(), Errno: int(errno)})
		return
	}
	r := spawnReply{Pid: l.cmd.Process.Pid, CgroupNote: l.cgNote}
	if l.cg != nil {
		r.Cgroup, r.CgroupV1 = l.cg.dir, l.cg.version == "v1"
	}
	reply(r, l.spec, l.status, l.stdout, l.stderr)
	l.closePipes() // the node holds them now
	// The node's side closing (its job cancelled, its wall limit hit, or
	// the node gone) kills the launcher, and with it the job's PID
	// namespace.
	go func() {
		conn.Read(make([]byte, 1))
		l.cmd.Process.Kill()
	}()
	<-l.exited
	ps := l.cmd.ProcessState
	if ps == nil {
		reply(spawnReply{Err: "spawner: the launcher could not be waited for"})
		return
	}
	r = spawnReply{Done: true, Status: uint32(ps.Sys().(syscall.WaitStatus))}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.Utime, r.Stime = ru.Utime.Nano(), ru.Stime.Nano()
	}
	reply(r)
}

func receivedFDs(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		f, err := unix.ParseUnixRights(&m)
		if err != nil {
			closeAll(fds)
			return nil, err
		}
		fds = append(fds, f...)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
