package landlock

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// evalBPF runs a seccomp filter (the classic BPF instructions
// seccompFilter uses) on one system call, and returns the action.
func evalBPF(t *testing.T, prog []unix.SockFilter, arch, nr uint32, args ...uint64) uint32 {
	t.Helper()
	data := make([]byte, 64) // struct seccomp_data
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		jump := func(cond bool) {
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			jump(acc == in.K)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			jump(acc >= in.K)
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			jump(acc&in.K != 0)
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("the filter fell off its end")
	return 0
}

func TestSeccompFilter(t *testing.T) {
	prog, err := seccompFilter()
	if err != nil {
		t.Skip(err)
	}
	arch := auditArch[runtime.GOARCH]
	type call struct {
		name string
		arch uint32
		nr   uint32
		args []uint64
		want uint32
	}
	calls := []call{
		{"read", arch, unix.SYS_READ, nil, retAllow},
		{"execve", arch, unix.SYS_EXECVE, nil, retAllow},
		{"another architecture", unix.AUDIT_ARCH_I386, unix.SYS_READ, nil, retKill},
		{"socket AF_UNIX", arch, unix.SYS_SOCKET, []uint64{unix.AF_UNIX}, retAllow},
		{"socket AF_UNIX, high bits set", arch, unix.SYS_SOCKET, []uint64{1<<32 | unix.AF_UNIX}, retAllow},
		{"socket AF_INET", arch, unix.SYS_SOCKET, []uint64{unix.AF_INET}, retEPERM},
		{"socket AF_INET6", arch, unix.SYS_SOCKET, []uint64{unix.AF_INET6}, retEPERM},
		{"socket AF_NETLINK", arch, unix.SYS_SOCKET, []uint64{unix.AF_NETLINK}, retEPERM},
		{"socket AF_VSOCK", arch, unix.SYS_SOCKET, []uint64{unix.AF_VSOCK}, retEPERM},
		{"fork", arch, unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD)}, retAllow},
		{"thread", arch, unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM}, retAllow},
		{"clone user namespace", arch, unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, retEPERM},
		{"clone network namespace", arch, unix.SYS_CLONE, []uint64{unix.CLONE_NEWNET}, retEPERM},
		{"clone3", arch, unix.SYS_CLONE3, nil, retENOSYS},
		{"prctl PR_SET_PDEATHSIG", arch, unix.SYS_PRCTL, []uint64{unix.PR_SET_PDEATHSIG}, retEPERM},
		{"prctl PR_SET_NAME", arch, unix.SYS_PRCTL, []uint64{unix.PR_SET_NAME}, retAllow},
		{"memfd_create", arch, unix.SYS_MEMFD_CREATE, []uint64{0, unix.MFD_CLOEXEC}, retEPERM},
		{"memfd_create MFD_EXEC", arch, unix.SYS_MEMFD_CREATE, []uint64{0, unix.MFD_EXEC}, retEPERM},
		{"memfd_create MFD_NOEXEC_SEAL", arch, unix.SYS_MEMFD_CREATE, []uint64{0, unix.MFD_CLOEXEC | unix.MFD_NOEXEC_SEAL}, retAllow},
	}
	if runtime.GOARCH == "amd64" {
		calls = append(calls, call{"x32 getpid", arch, 0x40000000 | unix.SYS_GETPID, nil, retKill})
	}
	for _, nr := range deniedSyscalls {
		calls = append(calls, call{fmt.Sprintf("syscall %d", nr), arch, nr, nil, retEPERM})
	}
	for _, c := range calls {
		if got := evalBPF(t, prog, c.arch, c.nr, c.args...); got != c.want {
			t.Errorf("%s: action %#x, want %#x", c.name, got, c.want)
		}
	}
	for pc, in := range prog {
		if in.Code&0x07 == unix.BPF_JMP && (pc+1+int(in.Jt) >= len(prog) || pc+1+int(in.Jf) >= len(prog)) {
			t.Errorf("instruction %d jumps past the end", pc)
		}
	}
}
