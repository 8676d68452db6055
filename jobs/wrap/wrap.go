// Package wrap is the compiler wrapper: the process every compile of a
// build starts (distmesh cc …, or a masquerade link). It stays lean
// because it runs once per compile and a Go program's start-up grows with
// what it links: it finds the real compiler, hands the command line to the
// agent, opens the files the agent names, and writes the outputs the agent
// returns. Every decision (is this a distributable compile, which files
// does it read, where does it run) is the agent's, which is warm and
// caches. Any failure before a result arrives becomes the local compile:
// the wrapper replaces itself with the real compiler, arguments untouched.
//
// The agent socket carries messages "TYPE LENGTH NFDS\n" followed by
// LENGTH bytes, with NFDS descriptors attached (SCM_RIGHTS). A list is
// its strings, each followed by a NUL byte (no argument or file name can
// hold one):
//
//	wrapper → agent  job     Job (see EncodeJob), the command line and what the agent cannot see
//	agent → wrapper  local   reason: compile locally (the connection, inherited by the
//	                         compiler, holds the local slot the agent granted until it exits)
//	                 open    list of names to open
//	wrapper → agent  opened  one byte per next name, '1' opened (its descriptor attached,
//	                         in order) or '0'; at most MaxFDs descriptors per message
//	agent → wrapper  scan    list of arguments: run the compiler with them, send its stdout
//	wrapper → agent  deps    what the compiler printed
//	agent → wrapper  log     a line for the user's stderr (DISTMESH_LOG=debug)
//	                 out     PATH NUL KIND NUL DATA: an output to write, KIND "w" (replace
//	                         atomically) or "a" (append, DEPENDENCIES_OUTPUT)
//	                 stdout  the compiler's standard output
//	                 stderr  the compiler's standard error
//	                 exit    its exit status, in decimal: write the outputs, then stdout and
//	                         stderr, and exit with it
//	                 error   what failed (DISTMESH_FALLBACK=0: no local compile)
package wrap

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/distmesh/distmesh/internal/renameio"
)

// The binaries distmesh installs side by side: the wrapper and front door
// every compile starts (FrontName), the node with everything else
// (NodeName), and the sandbox launcher the node starts for every job
// (LauncherName).
const (
	FrontName    = "distmesh"
	NodeName     = "distmesh-node"
	LauncherName = "distmesh-launcher"
)

// MaxFDs is the most descriptors one message carries, under the kernel's
// SCM_MAX_FD (253).
const MaxFDs = 200

// Env lists the environment variables the wrapper passes to the agent:
// those that change what a compiler writes or make a job local (see
// cc.CompileEnv), and distmesh's own. The rest of the user's environment
// stays in the wrapper.
var Env = []string{
	"SOURCE_DATE_EPOCH", "PWD", "CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH",
	"DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES", "LANG", "LC_ALL", "LC_MESSAGES", "LC_CTYPE",
	"GCC_COLORS", "TZ", "TERM",
	"GCC_EXEC_PREFIX", "COMPILER_PATH", "LIBRARY_PATH",
	"DISTMESH_FALLBACK", "DISTMESH_LOG",
}

// Job is what the wrapper tells the agent about one compiler invocation.
type Job struct {
	Compiler string   // the real compiler, resolved by the wrapper
	Name     string   // the compiler as invoked (argv[0] of a local compile)
	Stamp    Stamp    // Compiler as the wrapper sees it
	Dir      string   // the physical working directory
	Terminal bool     // stderr is a terminal
	Args     []string // the arguments after the compiler's name, untouched
	Env      []string // the entries of Env that are set
}

// Stamp identifies one version of a file without reading it.
type Stamp struct {
	Dev, Ino uint64
	Size     int64
	MTime    int64
	CTime    int64
}

// StampOf is the stamp of a stat result.
func StampOf(st *syscall.Stat_t) Stamp {
	return Stamp{Dev: st.Dev, Ino: st.Ino, Size: st.Size, MTime: st.Mtim.Nano(), CTime: st.Ctim.Nano()}
}

// EncodeJob is the payload of a job message: the list Compiler, Name,
// Dir, the stamp's five numbers, "1" or "0" for Terminal, the number of
// arguments, the arguments, then the environment entries.
func EncodeJob(j *Job) []byte {
	s := j.Stamp
	fields := []string{j.Compiler, j.Name, j.Dir,
		strconv.FormatUint(s.Dev, 10), strconv.FormatUint(s.Ino, 10), strconv.FormatInt(s.Size, 10),
		strconv.FormatInt(s.MTime, 10), strconv.FormatInt(s.CTime, 10),
		map[bool]string{true: "1", false: "0"}[j.Terminal], strconv.Itoa(len(j.Args))}
	return AppendList(nil, append(append(fields, j.Args...), j.Env...)...)
}

// DecodeJob reverses EncodeJob.
func DecodeJob(b []byte) (*Job, error) {
	f, err := SplitList(b)
	if err != nil || len(f) < 10 {
		return nil, errors.New("bad job message")
	}
	j := &Job{Compiler: f[0], Name: f[1], Dir: f[2], Terminal: f[8] == "1"}
	var errs [6]error
	j.Stamp.Dev, errs[0] = strconv.ParseUint(f[3], 10, 64)
	j.Stamp.Ino, errs[1] = strconv.ParseUint(f[4], 10, 64)
	j.Stamp.Size, errs[2] = strconv.ParseInt(f[5], 10, 64)
	j.Stamp.MTime, errs[3] = strconv.ParseInt(f[6], 10, 64)
	j.Stamp.CTime, errs[4] = strconv.ParseInt(f[7], 10, 64)
	var n int
	n, errs[5] = strconv.Atoi(f[9])
	if errors.Join(errs[:]...) != nil || n < 0 || n > len(f)-10 {
		return nil, errors.New("bad job message")
	}
	j.Args, j.Env = f[10:10+n], f[10+n:]
	return j, nil
}

// AppendList appends strings to b, each followed by a NUL byte.
func AppendList(b []byte, s ...string) []byte {
	for _, x := range s {
		b = append(append(b, x...), 0)
	}
	return b
}

// SplitList reverses AppendList.
func SplitList(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[len(b)-1] != 0 {
		return nil, errors.New("list not terminated")
	}
	return strings.Split(string(b[:len(b)-1]), "\x00"), nil
}

// Main runs one compiler invocation for the user: name is the compiler as
// given (cc, /usr/bin/gcc-12, x86_64-linux-gnu-gcc) and args everything
// after it, untouched, and home the distmesh home whose agent to ask. It
// returns only to report an exit status; a local compile replaces this
// process.
func Main(home, name string, args []string) int {
	real, masq, err := RealCompiler(name)
	if err != nil {
		say(err.Error())
		return 127
	}
	if len(masq) > 0 {
		// The real compiler must not meet distmesh again in PATH: GCC
		// looks itself up there to find cc1, and would find the link.
		os.Setenv("PATH", strings.Join(slices.DeleteFunc(filepath.SplitList(os.Getenv("PATH")), func(d string) bool {
			return slices.Contains(masq, d)
		}), string(os.PathListSeparator)))
	}
	w := &wrapper{real: real, name: name, args: args, conn: -1, debug: os.Getenv("DISTMESH_LOG") == "debug"}
	return w.run(home, os.Getenv("DISTMESH_FALLBACK") != "0")
}

type wrapper struct {
	real, name string
	args       []string
	debug      bool
	conn       int // the agent connection, -1 before it is made
	rd         reader
}

func say(msg string) { os.Stderr.WriteString("distmesh: " + msg + "\n") }

// local replaces this process with the local compiler. The agent
// connection, when open, is inherited: it holds the local slot the agent
// granted until the compiler exits.
func (w *wrapper) local(why string) int {
	if w.debug {
		say("compiling " + w.name + " locally: " + why)
	}
	if w.conn >= 0 {
		syscall.Syscall(syscall.SYS_FCNTL, uintptr(w.conn), syscall.F_SETFD, 0)
	}
	err := syscall.Exec(w.real, append([]string{w.name}, w.args...), os.Environ())
	say("run " + w.real + ": " + err.Error())
	return 127
}

func (w *wrapper) run(home string, fallback bool) int {
	var st syscall.Stat_t
	if err := syscall.Stat(w.real, &st); err != nil {
		return w.local(err.Error())
	}
	sock := SocketPath(home)
	fd, err := dial(sock)
	if err != nil {
		if !fallback {
			say("no agent at " + sock + " (" + err.Error() + "): start `distmesh join`, or unset DISTMESH_FALLBACK=0")
			return 1
		}
		return w.local("no agent: " + err.Error())
	}
	w.conn, w.rd.fd = fd, fd
	dir, err := syscall.Getwd() // physical, unlike os.Getwd
	if err != nil {
		return w.local(err.Error())
	}
	job := &Job{Compiler: w.real, Name: w.name, Stamp: StampOf(&st), Dir: dir, Terminal: isTerminal(2), Args: w.args}
	for _, k := range Env {
		if v, ok := os.LookupEnv(k); ok {
			job.Env = append(job.Env, k+"="+v)
		}
	}
	if err := send(fd, "job", EncodeJob(job), nil); err != nil {
		return w.local("agent: " + err.Error())
	}
	var outs []output
	var stdout, stderr []byte
	for {
		typ, payload, err := w.rd.recv()
		if err != nil {
			return w.local("agent: " + err.Error())
		}
		switch typ {
		case "local":
			return w.local(string(payload))
		case "open":
			if err := w.open(payload); err != nil {
				return w.local("agent: " + err.Error())
			}
		case "scan":
			deps, err := w.scan(payload)
			if err != nil {
				// The local compile reports what is wrong (a missing
				// header) exactly as the compiler does.
				return w.local(err.Error())
			}
			if err := send(fd, "deps", deps, nil); err != nil {
				return w.local("agent: " + err.Error())
			}
		case "log":
			say(string(payload))
		case "out":
			o, err := parseOutput(payload)
			if err != nil {
				return w.local("agent: " + err.Error())
			}
			outs = append(outs, o)
		case "stdout":
			stdout = payload
		case "stderr":
			stderr = payload
		case "exit":
			code, err := strconv.Atoi(string(payload))
			if err != nil {
				return w.local("agent: bad exit status")
			}
			if err := writeOutputs(outs); err != nil {
				// Nothing half-written is left; the local compile tries
				// again.
				return w.local(err.Error())
			}
			os.Stdout.Write(stdout)
			os.Stderr.Write(stderr)
			return code
		case "error":
			say(string(payload) + " (DISTMESH_FALLBACK=0: not compiling locally)")
			return 1
		default:
			return w.local("agent protocol: " + typ)
		}
	}
}

// open opens the names the agent lists and passes it their descriptors.
// The descriptors stay open here too until exit (which closes them for
// a fraction of a close call each; they are close-on-exec for a local
// compile), except in a unit with thousands of inputs.
func (w *wrapper) open(payload []byte) error {
	names, err := SplitList(payload)
	if err != nil {
		return err
	}
	ok := make([]byte, 0, min(len(names), MaxFDs))
	fds := make([]int, 0, min(len(names), MaxFDs))
	held := 0
	flush := func() error {
		err := send(w.conn, "opened", ok, fds)
		if held += len(fds); held > 512 {
			for _, fd := range fds {
				syscall.Close(fd)
			}
		}
		ok, fds = ok[:0], fds[:0]
		return err
	}
	for _, p := range names {
		// Non-blocking: a FIFO named as a header must not hang the wrapper
		// (the agent refuses anything but a regular file).
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
		if err != nil {
			ok = append(ok, '0')
		} else {
			ok, fds = append(ok, '1'), append(fds, fd)
		}
		if len(fds) == MaxFDs {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(ok) > 0 || len(names) == 0 {
		return flush()
	}
	return nil
}

// scan runs the compiler with the arguments the agent lists and returns
// what it printed on stdout.
func (w *wrapper) scan(payload []byte) ([]byte, error) {
	args, err := SplitList(payload)
	if err != nil {
		return nil, err
	}
	r, wr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		r.Close()
		wr.Close()
		return nil, err
	}
	p, err := os.StartProcess(w.real, append([]string{w.name}, args...), &os.ProcAttr{Files: []*os.File{devnull, wr, devnull}})
	wr.Close()
	devnull.Close()
	if err != nil {
		r.Close()
		return nil, err
	}
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	r.Close()
	st, err := p.Wait()
	if err != nil {
		return nil, err
	}
	if !st.Success() {
		return nil, errors.New("dependency scan: " + st.String())
	}
	return out, nil
}

type output struct {
	path   string
	append bool
	data   []byte
}

func parseOutput(b []byte) (output, error) {
	path, rest, ok1 := strings.Cut(string(b[:min(len(b), 4096+3)]), "\x00")
	kind, _, ok2 := strings.Cut(rest, "\x00")
	if !ok1 || !ok2 || path == "" || kind != "w" && kind != "a" {
		return output{}, errors.New("bad output message")
	}
	return output{path: path, append: kind == "a", data: b[len(path)+len(kind)+2:]}, nil
}

// writeOutputs writes each output as the compiler would: a regular file
// replaced atomically with the mode a local compile gives it (0666 minus
// the umask), anything else (-o /dev/null) written in place, and a
// dependency file named by DEPENDENCIES_OUTPUT appended to.
func writeOutputs(outs []output) error {
	umask := syscall.Umask(0)
	syscall.Umask(umask)
	perm := os.FileMode(0o666 &^ umask)
	for _, o := range outs {
		var err error
		switch fi, serr := os.Stat(o.path); {
		case o.append:
			err = writeTo(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, perm, o.data)
		case serr == nil && !fi.Mode().IsRegular():
			err = writeTo(o.path, os.O_WRONLY, 0, o.data)
		default:
			err = renameio.WriteFileUnsynced(o.path, o.data, perm)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func writeTo(p string, flag int, perm os.FileMode, data []byte) error {
	f, err := os.OpenFile(p, flag, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func isTerminal(fd int) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
