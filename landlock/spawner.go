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
// the launcher binary: the node hands it each job's descriptors over a
// Unix socket, the spawner starts the launcher and reports its pid and,
// later, how it ended. The node still does everything else (checks, root,
// cgroup, output, limits), so a job runs the same either way.

// A Spawner starts launchers from its helper process while [Spawner.Serve]
// runs, and directly otherwise. The zero value is ready to use; a nil
// *Spawner always starts them directly.
type Spawner struct {
	mu  sync.Mutex
	ctl *net.UnixConn // to the helper; nil when it is not running
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
	cmd := exec.Command(launcherPath(), launcherArg, "spawner")
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
		sp.mu.Unlock()
		ctl.Close()
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

// spawnRequest asks the helper to start a launcher; it comes with four
// descriptors: stdout, stderr, the spec pipe's read end and the status
// pipe's write end.
type spawnRequest struct {
	UID, GID int
}

// spawnReply is the helper's answer: first Pid (or Err), then Done with
// how the launcher ended.
type spawnReply struct {
	Pid   int    `json:",omitempty"`
	Err   string `json:",omitempty"` // the launcher did not start
	Errno int    `json:",omitempty"` // its errno, if any
	Done  bool   `json:",omitempty"`
	// With Done: the wait status and the CPU time of the launcher and what
	// it waited for.
	Status       uint32 `json:",omitempty"`
	Utime, Stime int64  `json:",omitempty"` // nanoseconds
}

// spawned is a launcher the helper started, as the node sees it.
type spawned struct {
	conn     *net.UnixConn
	pid      int
	pidfd    int        // of the launcher, to kill it if the spawner dies first; -1: none
	outR     []*os.File // read ends of stdout and stderr
	copied   sync.WaitGroup
	copyErr  [2]error // of stdout and stderr
	stopKill func() bool
}

// spawn asks the helper to start a launcher with ExtraFiles specR and
// statusW, its output copied to stdout and stderr, and killed when ctx is
// done.
func spawn(ctx context.Context, ctl *net.UnixConn, uid, gid int, specR, statusW *os.File, stdout, stderr io.Writer) (*spawned, error) {
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
		return nil, fmt.Errorf("spawn: the spawner is gone: %w", err)
	}
	p := &spawned{conn: conn, pidfd: -1}
	var toClose []*os.File
	defer func() {
		for _, f := range toClose {
			f.Close()
		}
	}()
	// As os/exec: no writer is the null device, and one writer given for
	// both gets one pipe, so that only one goroutine writes to it.
	writers := []io.Writer{stdout, stderr}
	for i, w := range writers {
		if w == nil {
			writers[i] = io.Discard
		}
	}
	var passed []int
	for i, w := range writers {
		if i == 1 && sameWriter(writers[0], w) {
			passed = append(passed, passed[0])
			break
		}
		r, wf, err := os.Pipe()
		if err != nil {
			p.close()
			return nil, err
		}
		p.outR = append(p.outR, r)
		toClose = append(toClose, wf)
		passed = append(passed, int(wf.Fd()))
		p.copied.Add(1)
		go func() {
			defer p.copied.Done()
			if _, err := io.Copy(w, r); err != nil && !errors.Is(err, os.ErrClosed) {
				p.copyErr[i] = err
			}
		}()
	}
	passed = append(passed, int(specR.Fd()), int(statusW.Fd()))
	req, _ := json.Marshal(spawnRequest{UID: uid, GID: gid})
	if _, _, err := conn.WriteMsgUnix(req, unix.UnixRights(passed...), nil); err != nil {
		p.close()
		return nil, fmt.Errorf("spawn: %w", err)
	}
	var r spawnReply
	if err := p.read(&r); err != nil {
		p.close()
		return nil, err
	}
	if r.Err != "" {
		p.close()
		if r.Errno != 0 {
			return nil, fmt.Errorf("%s: %w", r.Err, syscall.Errno(r.Errno))
		}
		return nil, errors.New(r.Err)
	}
	p.pid = r.Pid
	// The launcher waits for its spec, which only Run sends: it is alive
	// and the pid is still its own.
	if fd, err := unix.PidfdOpen(p.pid, 0); err == nil {
		p.pidfd = fd
	}
	// Closing our side is the helper's signal to kill the launcher.
	p.stopKill = context.AfterFunc(ctx, func() { conn.CloseWrite() })
	return p, nil
}

// wait returns how the launcher ended, once its output is copied.
func (p *spawned) wait() (*ended, error) {
	defer p.close()
	var r spawnReply
	err := p.read(&r)
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

func (p *spawned) read(r *spawnReply) error {
	buf := make([]byte, 4096)
	n, err := p.conn.Read(buf)
	if err == nil && n == 0 {
		err = io.EOF
	}
	if err != nil {
		return fmt.Errorf("spawner: %w", err)
	}
	return json.Unmarshal(buf[:n], r)
}

func (p *spawned) close() {
	if p.stopKill != nil {
		p.stopKill()
	}
	p.conn.Close()
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
	}
	for _, f := range p.outR {
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
// until the node closes it, then kills the launchers it started.
func spawnerMain() error {
	ctl, err := fileConn(3, "control")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		_, oobn, _, _, err := ctl.ReadMsgUnix(make([]byte, 1), oob)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			serveSpawn(ctx, conn)
		}()
	}
}

// serveSpawn starts one launcher and reports on conn how it ended; it
// kills the launcher when the node closes its side or ctx is done.
func serveSpawn(ctx context.Context, conn *net.UnixConn) {
	reply := func(r spawnReply) {
		b, _ := json.Marshal(r)
		conn.Write(b)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	fds, err := receivedFDs(oob[:oobn])
	if err != nil || len(fds) != 4 {
		closeAll(fds)
		reply(spawnReply{Err: "spawn: bad request"})
		return
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), "job")
	}
	var req spawnRequest
	if err := json.Unmarshal(buf[:n], &req); err != nil {
		closeFiles(files)
		reply(spawnReply{Err: "spawn: bad request"})
		return
	}
	cmd := launcherCmd(ctx, req.UID, req.GID)
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	cmd.ExtraFiles = files[2:]
	err = cmd.Start()
	closeFiles(files)
	if err != nil {
		var errno syscall.Errno
		errors.As(err, &errno)
		reply(spawnReply{Err: err.Error(), Errno: int(errno)})
		return
	}
	reply(spawnReply{Pid: cmd.Process.Pid})
	// The node's side closing (its job cancelled, its wall limit hit, or
	// the node gone) kills the launcher, and with it the job's PID
	// namespace.
	go func() {
		conn.Read(make([]byte, 1))
		cmd.Process.Kill()
	}()
	cmd.Wait()
	r := spawnReply{Done: true, Status: uint32(cmd.ProcessState.Sys().(syscall.WaitStatus))}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
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
