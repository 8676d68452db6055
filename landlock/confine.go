package landlock

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	ll "github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Credentials, securebits, no_new_privs, the Landlock domain and the
// seccomp filter are per thread, and execve keeps only those of the thread
// that calls it: the other threads are gone when the compiler starts. So
// the launcher locks its main goroutine to one OS thread (see Main),
// confines that thread alone and executes the compiler from it. The
// launcher's other threads run only the Go runtime, never the job's code.
// (Confining every thread instead, through psx, cost a stop-the-world
// round per call: about 45 per job, most of the launcher's time.)

// threadSyscall makes a system call on the calling (locked) thread.
func threadSyscall(nr, a1, a2, a3 uintptr) error {
	if _, _, e := unix.RawSyscall6(nr, a1, a2, a3, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

func threadPrctl(option int, arg uintptr) error {
	return threadSyscall(unix.SYS_PRCTL, uintptr(option), arg, 0)
}

// secureBits makes uid 0 of the job's user namespace an ordinary user:
// no capabilities on execve (NOROOT), none regained by setuid
// (NO_SETUID_FIXUP), no ambient capabilities, all locked.
const secureBits = 1<<0 | 1<<1 | // SECBIT_NOROOT, _LOCKED
	1<<2 | 1<<3 | // SECBIT_NO_SETUID_FIXUP, _LOCKED
	1<<5 | // SECBIT_KEEP_CAPS_LOCKED (off)
	1<<6 | 1<<7 // SECBIT_NO_CAP_AMBIENT_RAISE, _LOCKED

// dropPrivileges leaves the calling thread without capabilities: permitted,
// effective, inheritable, ambient and bounding sets empty, and securebits
// that keep them empty across execve. The capabilities were those of the
// job's own user namespace, never of the node's.
func dropPrivileges() error {
	// Securebits and the bounding set first: changing them needs CAP_SETPCAP.
	if err := threadPrctl(unix.PR_SET_SECUREBITS, secureBits); err != nil {
		return fmt.Errorf("set securebits: %w", err)
	}
	for c := uintptr(0); ; c++ {
		err := threadPrctl(unix.PR_CAPBSET_DROP, c)
		if errors.Is(err, unix.EINVAL) && c > 0 {
			break // past the kernel's last capability
		}
		if err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := threadSyscall(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}

// landlockABI returns the Landlock ABI version this kernel enforces, as
// go-landlock counts it: an ABI 6+ kernel without the fix for the signal
// scoping bug (errata bit 1) counts as 5. 0 means no Landlock.
func landlockABI() int {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil || v < 0 {
		return 0
	}
	if v >= 6 {
		if e, err := llsys.LandlockGetErrata(); err != nil || e&0x2 == 0 {
			v = 5
		}
	}
	return v
}

var llConfigs = []ll.Config{ll.V1, ll.V2, ll.V3, ll.V4, ll.V5, ll.V6, ll.V7, ll.V8, ll.V9, ll.V10, ll.V11}

// landlockConfig returns the configuration that handles everything the
// kernel's ABI can restrict. Never best effort: a rule the kernel cannot
// enforce is an error, not a silent no-op.
func landlockConfig(abi int) (ll.Config, error) {
	if abi < 1 {
		return ll.Config{}, fmt.Errorf("%w: the kernel has no Landlock; enable CONFIG_SECURITY_LANDLOCK and add landlock to the lsm= boot parameter", ErrUnavailable)
	}
	cfg := llConfigs[min(abi, len(llConfigs))-1]
	if abi >= 7 {
		cfg = cfg.EnableLoggingForSubprocesses() // the compiler's denials reach the audit log
	}
	return cfg, nil
}

// Landlock access rights by role.
const (
	llRead  = llsys.AccessFSReadFile | llsys.AccessFSReadDir
	llExec  = llsys.AccessFSExecute | llsys.AccessFSReadFile
	llDev   = llsys.AccessFSReadFile | llsys.AccessFSWriteFile | llsys.AccessFSTruncate
	llWrite = llRead | llsys.AccessFSWriteFile | llsys.AccessFSTruncate | llsys.AccessFSMakeReg |
		llsys.AccessFSMakeDir | llsys.AccessFSRemoveFile | llsys.AccessFSRemoveDir
)

// restrictLandlock confines the calling thread, inside the new root: read
// everywhere, execute only Exec, write (regular files and directories, no
// execute, symlinks, FIFOs, sockets or devices) only in Writable and /tmp;
// TCP bind and connect denied (no port allowed); abstract Unix sockets and
// signals scoped to the job, where the ABI has them. After this no mount
// can change.
func restrictLandlock(s Spec) error {
	cfg, err := landlockConfig(landlockABI())
	if err != nil {
		return err
	}
	fs := cfg.HandledAccessFS
	rules := []ll.Rule{
		ll.PathAccess(fs&llRead, "/"),
		ll.PathAccess(fs&llExec, s.Exec...),
		ll.PathAccess(fs&llWrite, append([]string{"/tmp"}, s.Writable...)...),
		ll.PathAccess(fs&llDev, "/dev/null", "/dev/zero", "/dev/full"),
	}
	fd, flags, err := cfg.NewRulesetFD(rules...)
	if err != nil {
		return fmt.Errorf("landlock %v: %w", cfg, err)
	}
	defer unix.Close(fd)
	if err := llsys.LandlockRestrictSelf(fd, flags); err != nil {
		return fmt.Errorf("landlock %v: restrict: %w", cfg, err)
	}
	return nil
}

// installSeccomp installs the filter of seccompFilter on the calling thread.
func installSeccomp() error {
	prog, err := seccompFilter()
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, e := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	switch {
	case e == unix.EINVAL:
		return fmt.Errorf("%w: seccomp: %v; the kernel needs CONFIG_SECCOMP_FILTER", ErrUnavailable, e)
	case e != 0 || r != 0:
		return fmt.Errorf("seccomp: %w", e)
	}
	return nil
}
