package landlock

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// auditArch is the seccomp architecture of each GOARCH the filter is
// written for. Syscall numbers come from x/sys/unix for the GOARCH this
// is compiled for.
var auditArch = map[string]uint32{
	"amd64": unix.AUDIT_ARCH_X86_64,
	"arm64": unix.AUDIT_ARCH_AARCH64,
}

// deniedSyscalls fail with EPERM: kernel interfaces a compiler never needs
// and that widen what a hostile one can reach.
var deniedSyscalls = []uint32{
	// io_uring performs socket, open and other operations behind
	// seccomp's back.
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV,
	// Mounts and namespaces: Landlock forbids mount changes already;
	// these keep the kernel code out of reach too.
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_CHROOT,
	unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_OPEN_TREE, unix.SYS_OPEN_TREE_ATTR, unix.SYS_MOVE_MOUNT, unix.SYS_MOUNT_SETATTR,
	unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK,
}

// nsCloneFlags are the clone(2) flags that create namespaces (CLONE_NEWTIME
// shares its bit with the exit signal in clone(2) and only works with
// clone3 and unshare, which are refused).
const nsCloneFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// Offsets in struct seccomp_data; the low 32 bits of an argument on the
// little-endian architectures above.
const (
	seccompNr   = 0
	seccompArch = 4
	seccompArg0 = 16
	seccompArg1 = 24
)

const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retKill   = unix.SECCOMP_RET_KILL_PROCESS
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// seccompFilter returns the filter, written by hand in classic BPF, one
// short block per rule so no jump crosses another rule:
//
//   - another architecture (e.g. i386 syscalls on x86-64) or an x32
//     syscall (nr >= 0x40000000): kill the process;
//   - socket(2) for any family but AF_UNIX: EPERM (the job's network
//     namespace is empty anyway: this also covers UDP, MPTCP, raw, netlink,
//     vsock, ... and leaves the kernel's protocol code out of reach);
//   - clone(2) with a namespace flag: EPERM; clone3: ENOSYS, since its flags
//     are in memory a filter cannot read (libc then falls back to clone);
//   - prctl(PR_SET_PDEATHSIG): EPERM, so the job cannot outlive a daemon
//     that dies;
//   - memfd_create without MFD_NOEXEC_SEAL: EPERM. Landlock does not see
//     memfds, so an executable one would run a program the job wrote;
//   - deniedSyscalls: EPERM;
//   - everything else: allowed.
func seccompFilter() ([]unix.SockFilter, error) {
	arch, ok := auditArch[runtime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("%w: no seccomp filter for %s; distmesh confines jobs on amd64 and arm64", ErrUnavailable, runtime.GOARCH)
	}
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	jump := func(op uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	ret := func(k uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k} }
	// argEq: for syscall nr, return hit if its first argument is value, miss otherwise.
	argEq := func(nr, value, hit, miss uint32) []unix.SockFilter {
		return []unix.SockFilter{jump(unix.BPF_JEQ, nr, 0, 4), ld(seccompArg0), jump(unix.BPF_JEQ, value, 0, 1), ret(hit), ret(miss)}
	}
	p := []unix.SockFilter{
		ld(seccompArch), jump(unix.BPF_JEQ, arch, 1, 0), ret(retKill),
		ld(seccompNr),
	}
	if runtime.GOARCH == "amd64" {
		p = append(p, jump(unix.BPF_JGE, 0x40000000, 0, 1), ret(retKill))
	}
	p = append(p, argEq(unix.SYS_SOCKET, unix.AF_UNIX, retAllow, retEPERM)...)
	p = append(p, argEq(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, retEPERM, retAllow)...)
	p = append(p, jump(unix.BPF_JEQ, unix.SYS_CLONE, 0, 4), ld(seccompArg0), jump(unix.BPF_JSET, nsCloneFlags, 0, 1), ret(retEPERM), ret(retAllow))
	p = append(p, jump(unix.BPF_JEQ, unix.SYS_MEMFD_CREATE, 0, 4), ld(seccompArg1), jump(unix.BPF_JSET, unix.MFD_NOEXEC_SEAL, 0, 1), ret(retAllow), ret(retEPERM))
	p = append(p, jump(unix.BPF_JEQ, unix.SYS_CLONE3, 0, 1), ret(retENOSYS))
	for _, nr := range deniedSyscalls {
		p = append(p, jump(unix.BPF_JEQ, nr, 0, 1), ret(retEPERM))
	}
	return append(p, ret(retAllow)), nil
}
