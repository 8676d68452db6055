// Package wrap is what the node shares with the compiler wrapper, the
// distmesh program every compile of a build starts (distmesh cc …, or a
// masquerade link): the protocol between wrapper and agent, and how
// distmesh names its binaries, finds compilers and its home.
//
// The wrapper itself is written in C (cmd/distmesh/distmesh.c): it starts
// once per compile, and a Go program's start-up alone costs more CPU than
// the wrapper's whole job. It makes no decisions. It finds the real
// compiler, hands the command line to the agent, opens (or stats) the
// files the agent names, and writes the outputs the agent returns. Whether an invocation
// is a distributable compile, which files it reads and where it runs is
// the agent's to decide (package jobs), warm and with its caches. Any
// failure before a result arrives becomes the local compile: the wrapper
// replaces itself with the real compiler, arguments untouched.
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
//	agent → wrapper  stat    list of names to stat (following symlinks, as open does)
//	wrapper → agent  stated  per name StatRecord bytes: '1' and the file's Stamp (see
//	                         ParseStated), or '0' and zeros
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
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"syscall"
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
// stays in the wrapper. The wrapper has its own copy of this list, which
// a test keeps equal.
var Env = []string{
	"SOURCE_DATE_EPOCH", "PWD", "CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH", "OBJCPLUS_INCLUDE_PATH",
	"DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES", "LANG", "LC_ALL", "LC_MESSAGES", "LC_CTYPE",
	"LANGUAGE", "GCC_COLORS", "GCC_URLS", "TERM_URLS", "TZ", "TERM",
	"GCC_EXEC_PREFIX", "COMPILER_PATH", "LIBRARY_PATH",
	"CCC_OVERRIDE_OPTIONS", "CLANG_NO_DEFAULT_CONFIG",
	"CC_PRINT_OPTIONS", "CC_PRINT_HEADERS", "CC_LOG_DIAGNOSTICS", "CC_PRINT_PROC_STAT",
	"GCC_COMPARE_DEBUG", "GCC_EXTRA_DIAGNOSTIC_OUTPUT",
	"TZDIR", "LOCPATH", "GCONV_PATH", "LLVM_OVERRIDE_PRODUCER", "FORCE_CLANG_DIAGNOSTICS_CRASH",
	"PATH", // not passed on: the agent checks what the driver finds through it
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

// StatRecord is the size of one name's answer in a stated message: '1'
// or '0', then the stamp's five numbers as 64-bit integers in the
// machine's byte order (wrapper and agent run on the same machine).
const StatRecord = 41

// AppendStated appends one name's answer to a stated message: s, or not
// found when s is nil. (The wrapper writes the same bytes in C.)
func AppendStated(b []byte, s *Stamp) []byte {
	if s == nil {
		return append(append(b, '0'), make([]byte, StatRecord-1)...)
	}
	b = append(b, '1')
	for _, v := range []uint64{s.Dev, s.Ino, uint64(s.Size), uint64(s.MTime), uint64(s.CTime)} {
		b = binary.NativeEndian.AppendUint64(b, v)
	}
	return b
}

// ParseStated reads a stated message answering n names: each name's stamp,
// and whether it was found.
func ParseStated(b []byte, n int) ([]Stamp, []bool, error) {
	if len(b) != n*StatRecord {
		return nil, nil, errors.New("bad stated message")
	}
	stamps, found := make([]Stamp, n), make([]bool, n)
	for i := range n {
		r := b[i*StatRecord : (i+1)*StatRecord]
		switch r[0] {
		case '1':
			found[i] = true
		case '0':
			continue
		default:
			return nil, nil, errors.New("bad stated message")
		}
		v := func(k int) uint64 { return binary.NativeEndian.Uint64(r[1+8*k:]) }
		stamps[i] = Stamp{Dev: v(0), Ino: v(1), Size: int64(v(2)), MTime: int64(v(3)), CTime: int64(v(4))}
	}
	return stamps, found, nil
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
