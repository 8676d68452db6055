// Package landlock confines one compile. The daemon is never confined: to
// run a job, [Run] starts a launcher (see [IsLauncher] and [Main]) in new
// user, mount, PID, network, IPC and UTS namespaces; the launcher confines
// itself in layers and then executes the compiler, which becomes PID 1 of
// the job's PID namespace. The launcher is the daemon's own binary
// re-executed, or a smaller one of the same build ([UseLauncher]); a
// [Spawner] starts it from a small helper process, which spares the
// daemon a fork of itself per job. [Probe] says
// which layers this machine enforces; where a layer that Run needs is
// missing (user namespaces, Landlock, seccomp), Run fails with
// [ErrUnavailable] and says how to enable it. There is no silent
// lower-fidelity mode.
//
// What a job is guaranteed, layer by layer, and where each stops:
//
//   - Private root. The job sees Spec.Root as "/", the node's Install
//     paths read-only at their own paths, a private size-limited tmpfs at
//     /tmp, a /dev with null, zero, full, random and urandom only, and a
//     /proc showing only the job's own processes. The node's
//     configuration, keys, other jobs and the rest of its file system are
//     absent, not merely denied. Everything is read-only except the
//     Writable directories and /tmp. It stops at what the caller puts in
//     Root and Install: all of it is readable by the job.
//   - No privileges. The job runs as uid 0 of its own user namespace,
//     which is Spec.UID outside, with empty capability sets (bounding and
//     ambient included), securebits that keep them empty across execve,
//     and no_new_privs. A daemon running as root must name an
//     unprivileged UID. The job's uid owns the Writable directories and
//     whatever the compiler writes.
//   - Landlock, at the highest ABI the kernel has: reading everywhere in
//     the root, executing only Spec.Exec, writing only regular files and
//     directories in Writable and /tmp (no execute, symlink, FIFO, socket
//     or device creation there), no mount changes, TCP bind and connect
//     denied (ABI 4+), abstract Unix sockets and signals scoped to the job
//     (ABI 6+). At ABI 7 Landlock does not restrict UDP or connecting to
//     pathname Unix sockets: the next two layers do.
//   - Network. The job's network namespace is empty (a loopback device
//     that is down), and seccomp refuses socket(2) for every family but
//     AF_UNIX. The node's pathname Unix sockets are outside the root, its
//     abstract ones in its own network namespace. What remains is Unix
//     sockets among the job's own processes (socketpair, abstract names);
//     Landlock refuses socket files.
//   - Seccomp also refuses io_uring, bpf, perf_event_open, the key
//     management calls, ptrace and process_vm_*, userfaultfd, every
//     mount, pivot_root, chroot, unshare, setns and namespace-creating
//     clone flags, clone3 (ENOSYS, so libc uses clone), and clearing the
//     parent-death signal, and memfd_create unless the memfd can never be
//     executed (Landlock does not see memfds); another architecture's or
//     x32 system calls
//     kill the process. The filter exists for amd64 and arm64 only; on
//     other architectures Run fails.
//   - Limits. CPU time, address space, file size and open files are
//     setrlimit limits per process: a job of N processes may use N times
//     the CPU limit, within the wall-clock limit that Run enforces on the
//     whole job. The process count is RLIMIT_NPROC, which counts per user
//     namespace (Linux 5.14+), so per job; as root also a pids cgroup
//     (best effort, reported in Result.Cgroup). No core dumps. /tmp is
//     bounded by TmpSize; the Writable directories are on the node's disk:
//     each file is bounded by FileSize, but not their number (use a quota
//     for that). The compiler is PID 1, which ignores SIGXFSZ and SIGXCPU:
//     it gets EFBIG from a write past FileSize and SIGKILL one second
//     after its CPU limit (its children get the signals as usual).
//   - Lifetime. When the compiler exits, is killed on the Wall limit or
//     when Run's context is cancelled, the kernel kills every process left
//     in the job's PID namespace, including double-forked and setsid'd
//     ones; Run returns after that. If the process that started the
//     launcher (the daemon, or its spawner) dies, the parent-death signal
//     (SIGKILL, set again after the launcher's last credential change) does
//     the same; if the spawner dies, Run also kills the job itself.
//
// Not covered: bugs in the kernel itself (seccomp narrows what is
// reachable), side channels such as timing, and the volume of a job's
// stdout and stderr (the caller caps the writers it passes to Run).
package landlock
