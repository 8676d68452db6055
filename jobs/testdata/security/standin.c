// standin is the stand-in compiler of jobs/node_security_test.go. The test
// installs it as one of a node's compilers (family GCC), so the node runs it
// exactly as it runs gcc: in a job's private root, confined, with the job's
// arguments (-c SOURCE -o OBJECT ...). Its "source" names one attack on its
// first line,
//
//	/* distmesh-attack: MODE [ARG [ARG]] */
//
// which it tries, printing "<step>: ok" or "<step>: <errno name>" for each
// step on stdout. It exits 0 when the attack succeeded, as a compile that
// worked would (what it obtained goes to OBJECT), and 1 when it failed.
// MODE "compile" is a normal job: it writes "object of " and the source to
// OBJECT and exits 0.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *object;

// step prints how one step went and returns whether it succeeded.
static int step(const char *what, long rc) {
	if (rc < 0)
		printf("%s: %s\n", what, strerrorname_np(errno));
	else
		printf("%s: ok\n", what);
	fflush(stdout);
	return rc >= 0;
}

// save writes n bytes of data to the object, as a compiler writes its output.
static int save(const char *data, size_t n) {
	int fd = open(object, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		return step("write object", -1);
	close(fd);
	return 1;
}

// copy_self writes this program to path, executable.
static int copy_self(const char *path) {
	char buf[65536];
	ssize_t n;
	int in = open("/proc/self/exe", O_RDONLY);
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (!step("create", out) || in < 0)
		return 0;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n)
			return step("copy", -1);
	close(in);
	close(out);
	return step("chmod", chmod(path, 0755));
}

static struct sockaddr_in loopback(int port) {
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static void wait_forever(void) {
	for (;;)
		pause();
}

static int attack(const char *mode, const char *arg, const char *arg2, const char *source) {
	char path[4096];
	if (!strcmp(mode, "compile")) {
		char obj[8192];
		int n = snprintf(obj, sizeof obj, "object of %s", source);
		return save(obj, n < (int)sizeof obj ? n : sizeof obj - 1);
	}
	if (!strcmp(mode, "read")) { // read PATH, into the object
		static char buf[1 << 20];
		int fd = open(arg, O_RDONLY);
		if (!step("read", fd))
			return 0;
		ssize_t n = read(fd, buf, sizeof buf);
		return step("read content", n) && save(buf, n);
	}
	if (!strcmp(mode, "write")) { // write PATH
		int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		return step("write", fd) && step("write content", write(fd, "pwned\n", 6));
	}
	if (!strcmp(mode, "exec-written")) { // exec-written DIR
		snprintf(path, sizeof path, "%s/written", arg);
		if (!copy_self(path))
			return 0;
		execve(path, (char *[]){path, "executed", NULL}, environ);
		return step("exec", -1);
	}
	if (!strcmp(mode, "exec-loader")) { // exec-loader DIR LOADER: run it through the ELF interpreter
		snprintf(path, sizeof path, "%s/written", arg);
		if (!copy_self(path))
			return 0;
		execve(arg2, (char *[]){(char *)arg2, path, "executed", NULL}, environ);
		return step("exec loader", -1);
	}
	if (!strcmp(mode, "replace")) { // replace PATH: put a copy of itself where PATH was, then run a program whose loader that is
		step("unlink", unlink(arg));
		if (!copy_self(arg))
			return 0;
		execve("/proc/self/exe", (char *[]){"standin", "executed", NULL}, environ);
		return step("exec", -1);
	}
	if (!strcmp(mode, "tcp")) { // tcp PORT: connect to it, and listen
		int ok = 0;
		int s = socket(AF_INET, SOCK_STREAM, 0);
		step("socket inet stream", s);
		struct sockaddr_in a = loopback(atoi(arg));
		ok |= step("connect", connect(s, (struct sockaddr *)&a, sizeof a));
		a = loopback(0);
		ok |= step("bind", bind(s, (struct sockaddr *)&a, sizeof a));
		ok |= step("socket inet6 stream", socket(AF_INET6, SOCK_STREAM, 0));
		return ok;
	}
	if (!strcmp(mode, "udp")) { // udp PORT
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		int ok = step("socket inet dgram", s);
		struct sockaddr_in a = loopback(atoi(arg));
		ok |= step("sendto", sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
		ok |= step("socket packet", socket(AF_PACKET, SOCK_DGRAM, 0));
		return ok;
	}
	if (!strcmp(mode, "unix")) { // unix PATH, or unix @NAME (abstract)
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		socklen_t len = sizeof a;
		strncpy(a.sun_path, arg, sizeof a.sun_path - 1);
		if (arg[0] == '@') {
			a.sun_path[0] = 0;
			len = offsetof(struct sockaddr_un, sun_path) + strlen(arg);
		}
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		step("socket unix", s);
		return step("connect", connect(s, (struct sockaddr *)&a, len));
	}
	if (!strcmp(mode, "kill")) { // kill PID: SIGUSR1
		return step("kill", kill(atoi(arg), SIGUSR1));
	}
	if (!strcmp(mode, "forkbomb")) { // fork until refused; the children wait forever
		int n = 0;
		for (;;) {
			pid_t p = fork();
			if (p == 0)
				wait_forever();
			if (p < 0)
				break;
			n++;
		}
		printf("forked %d, then: %s\n", n, strerrorname_np(errno));
		return 0;
	}
	if (!strcmp(mode, "alloc")) { // allocate and touch memory until refused
		long mib = 0;
		for (;; mib += 16) {
			char *p = malloc(16 << 20);
			if (!p)
				break;
			memset(p, 1, 16 << 20);
		}
		printf("allocated %ld MiB, then: %s\n", mib, strerrorname_np(errno));
		return 0;
	}
	if (!strcmp(mode, "fill")) { // fill PATH: write until refused
		static char buf[1 << 20];
		long n = 0;
		int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (!step("create", fd))
			return 0;
		ssize_t w;
		while ((w = write(fd, buf, sizeof buf)) > 0)
			n += w;
		printf("wrote %ld bytes, then: %s\n", n, strerrorname_np(errno));
		return 0;
	}
	if (!strcmp(mode, "orphan")) { // a grandchild in its own session, meant to outlive the job
		int ready[2];
		if (!step("pipe", pipe(ready)))
			return 0;
		pid_t p = fork();
		if (p == 0) {
			setsid();
			if (fork() == 0) {
				write(ready[1], "x", 1);
				wait_forever();
			}
			_exit(0);
		}
		char c;
		int ok = step("grandchild", read(ready[0], &c, 1) == 1 ? 0 : -1);
		waitpid(p, NULL, 0);
		return ok;
	}
	if (!strcmp(mode, "forever")) {
		printf("ready\n");
		fflush(stdout);
		wait_forever();
	}
	printf("unknown attack %s\n", mode);
	return 0;
}

int main(int argc, char **argv) {
	if (argc == 2 && !strcmp(argv[1], "executed")) { // a copy that managed to run
		printf("executed: ok\n");
		return 0;
	}
	const char *src = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			object = argv[++i];
		else if (argv[i][0] != '-')
			src = argv[i];
	}
	if (!src || !object) {
		fprintf(stderr, "standin: want -c SOURCE -o OBJECT\n");
		return 2;
	}
	static char source[4096];
	int fd = open(src, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, source, sizeof source - 1);
	if (n < 0) {
		fprintf(stderr, "standin: %s: %s\n", src, strerror(errno));
		return 2;
	}
	char mode[64] = "", arg[1024] = "", arg2[1024] = "";
	const char *line = strstr(source, "distmesh-attack:");
	if (!line || sscanf(line, "distmesh-attack: %63s %1023s %1023s", mode, arg, arg2) < 1) {
		fprintf(stderr, "standin: %s names no attack\n", src);
		return 2;
	}
	if (!strcmp(arg, "*/"))
		arg[0] = 0;
	if (!strcmp(arg2, "*/"))
		arg2[0] = 0;
	return attack(mode, arg, arg2, source) ? 0 : 1;
}
