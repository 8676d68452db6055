// escape is the stand-in "compiler" of the sandbox tests: argv[1] names an
// escape it tries; it prints "<attempt>: <errno name>" (or "<attempt>: ok"
// when the attempt succeeded) for the test to check, and exits 0.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

static int report(const char *what, int rc) {
	if (rc < 0)
		printf("%s: %s\n", what, strerrorname_np(errno));
	else
		printf("%s: ok\n", what);
	fflush(stdout);
	return rc;
}

// copy_self writes this program's bytes to fd.
static int copy_self(int fd) {
	char buf[65536];
	ssize_t n;
	int in = open("/proc/self/exe", O_RDONLY);
	if (in < 0)
		return report("open /proc/self/exe", -1);
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(fd, buf, n) != n)
			return report("copy", -1);
	close(in);
	return 0;
}

static struct sockaddr_in loopback(int port) {
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

// child ends the child of a clone that succeeded.
static long child(long rc) {
	if (rc == 0)
		_exit(0);
	return rc;
}

static int mount_tmpfs(void) {
	return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0);
}

static void wait_forever(void) {
	for (;;)
		pause();
}

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "true";
	const char *arg = argc > 2 ? argv[2] : "";
	char path[4096];

	if (!strcmp(mode, "true"))
		return 0;
	if (!strcmp(mode, "read")) { // read PATH
		report("read", open(arg, O_RDONLY));
	} else if (!strcmp(mode, "write")) { // write PATH
		report("write", open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	} else if (!strcmp(mode, "exec-written")) { // exec-written DIR
		snprintf(path, sizeof path, "%s/written", arg);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
		if (report("create", fd) < 0 || copy_self(fd) < 0)
			return 0;
		close(fd);
		report("chmod", chmod(path, 0755));
		char *args[] = {path, "true", NULL};
		report("exec", execve(path, args, (char *[]){NULL}));
		fd = open(path, O_RDONLY);
		report("mmap-exec", mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED ? -1 : 0);
	} else if (!strcmp(mode, "exec-memfd")) {
		report("memfd", memfd_create("x", 0));
		int fd = memfd_create("x", MFD_NOEXEC_SEAL);
		if (report("memfd noexec", fd) < 0 || copy_self(fd) < 0)
			return 0;
		report("chmod", fchmod(fd, 0755));
		char *args[] = {"x", "true", NULL};
		report("fexecve", fexecve(fd, args, (char *[]){NULL}));
	} else if (!strcmp(mode, "mknod")) { // mknod DIR: symlink, FIFO, socket file
		snprintf(path, sizeof path, "%s/link", arg);
		report("symlink", symlink("/", path));
		snprintf(path, sizeof path, "%s/fifo", arg);
		report("mkfifo", mkfifo(path, 0644));
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof a.sun_path, "%s/sock", arg);
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		report("bind unix", bind(s, (struct sockaddr *)&a, sizeof a));
	} else if (!strcmp(mode, "tcp")) { // tcp PORT
		int s = socket(AF_INET, SOCK_STREAM, 0);
		report("socket inet stream", s);
		struct sockaddr_in a = loopback(atoi(arg));
		report("connect", connect(s, (struct sockaddr *)&a, sizeof a));
		a = loopback(0);
		report("bind", bind(s, (struct sockaddr *)&a, sizeof a));
		s = socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP);
		report("socket inet6 mptcp", s);
	} else if (!strcmp(mode, "udp")) { // udp PORT
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		report("socket inet dgram", s);
		struct sockaddr_in a = loopback(atoi(arg));
		report("sendto", sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
		report("socket netlink", socket(AF_NETLINK, SOCK_RAW, 0));
	} else if (!strcmp(mode, "unix")) { // unix PATH or unix @NAME (abstract)
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		socklen_t len = sizeof a;
		strncpy(a.sun_path, arg, sizeof a.sun_path - 1);
		if (arg[0] == '@') {
			a.sun_path[0] = 0;
			len = offsetof(struct sockaddr_un, sun_path) + strlen(arg);
		}
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		report("socket unix", s);
		report("connect", connect(s, (struct sockaddr *)&a, len));
	} else if (!strcmp(mode, "kill")) { // kill PID
		report("kill", kill(atoi(arg), SIGTERM));
	} else if (!strcmp(mode, "syscalls")) { // what seccomp refuses
		report("unshare", unshare(CLONE_NEWUSER));
		report("clone newuser", child(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)));
		unsigned long long ca[11] = {0}; // struct clone_args
		ca[4] = SIGCHLD;                 // .exit_signal
		report("clone3", child(syscall(SYS_clone3, ca, sizeof ca)));
		report("mount", mount_tmpfs());
		report("io_uring_setup", syscall(SYS_io_uring_setup, 1, path));
		report("bpf", syscall(SYS_bpf, 0, path, 0));
		report("ptrace", syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
		report("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
		report("pdeathsig", prctl(PR_SET_PDEATHSIG, 0));
	} else if (!strcmp(mode, "status")) { // the credentials it runs with
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		while (f && fgets(line, sizeof line, f))
			if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) || !strncmp(line, "Seccomp:", 8) || !strncmp(line, "Uid", 3))
				fputs(line, stdout);
		printf("pid: %d\n", getpid());
	} else if (!strcmp(mode, "x32")) {
		syscall(0x40000000 | SYS_getpid);
		printf("x32: survived\n");
	} else if (!strcmp(mode, "forkbomb")) { // fork until refused, then wait to be killed
		int n = 0;
		for (;;) {
			pid_t p = fork();
			if (p == 0)
				wait_forever();
			if (p < 0)
				break;
			n++;
		}
		printf("forked %d, then: %s\nready\n", n, strerrorname_np(errno));
		fflush(stdout);
		wait_forever();
	} else if (!strcmp(mode, "alloc")) { // allocate until refused
		long mib = 0;
		for (;; mib += 16) {
			char *p = malloc(16 << 20);
			if (!p)
				break;
			memset(p, 1, 16 << 20);
		}
		printf("allocated %ld MiB, then: %s\n", mib, strerrorname_np(errno));
	} else if (!strcmp(mode, "fill")) { // fill PATH: write until refused
		static char buf[1 << 20];
		long n = 0;
		int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (report("create", fd) < 0)
			return 0;
		ssize_t w;
		while ((w = write(fd, buf, sizeof buf)) > 0)
			n += w;
		printf("wrote %ld bytes, then: %s\n", n, strerrorname_np(errno));
		return 1;
	} else if (!strcmp(mode, "spin")) {
		for (volatile unsigned long i = 0;; i++)
			;
	} else if (!strcmp(mode, "orphan")) { // a grandchild in its own session that outlives us
		int ready[2];
		pipe(ready);
		if (fork() == 0) {
			setsid();
			if (fork() == 0) {
				write(ready[1], "x", 1);
				wait_forever();
			}
			_exit(0);
		}
		char c;
		read(ready[0], &c, 1);
		wait(NULL);
		printf("orphan: started\n");
	} else if (!strcmp(mode, "cat")) { // cat PATH: print its contents
		FILE *f = fopen(arg, "r");
		if (!f)
			return report("cat", -1);
		int c;
		while ((c = getc(f)) != EOF)
			putchar(c);
		fclose(f);
	} else if (!strcmp(mode, "forever")) {
		printf("ready\n");
		fflush(stdout);
		wait_forever();
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
