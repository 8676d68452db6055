/*
 * distmesh: the compiler wrapper every compile of a build starts
 * (`distmesh cc ...`, `distmesh -- NAME ...`, a masquerade link), and the
 * front door that hands every other command to distmesh-node, installed
 * beside it. See the README.
 *
 * Why C in a Go project: this program starts once per compile, so its
 * start-up is paid thousands of times per build, on the client, whose CPU
 * caps how many nodes one client can feed. On the machines we measure, an
 * empty Go program costs 5 ms of CPU to start and exit (runtime
 * initialisation, its threads, its page faults); a C program costs under
 * 2 ms. Everything that needs judgement stays in Go, in the agent (package
 * jobs): which invocations are distributable compiles, which files they
 * read, where they run, which outputs come back. This program only:
 *
 *   - finds the real compiler (PATH, skipping masquerade directories),
 *   - sends the agent the command line, working directory and the
 *     environment variables that matter (the list in package wrap),
 *   - opens the files the agent names and passes it the descriptors (so
 *     the agent reads only what this user can read), or stats them when
 *     the agent only needs to know they are unchanged,
 *   - runs the compiler's own dependency scan when the agent asks,
 *   - writes the outputs the agent returns, atomically, with the mode a
 *     local compile gives them, then the compiler's messages, and exits
 *     with its status;
 *   - and on any failure before the result (no agent, a protocol error,
 *     an output it cannot write) replaces itself with the real compiler,
 *     arguments untouched: the local compile is always the fallback.
 *
 * The protocol is documented in package wrap (jobs/wrap/wrap.go); its Go
 * tests run this program against a scripted agent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

/* distmesh-node's commands (TestFrontCommands keeps the list true). */
static const char *const commands[] = {
	"init", "join", "keys", "status", "peers", "top", "masquerade", "doctor", "help", NULL,
};

/* The environment the agent sees (wrap.Env; TestFrontJob keeps the lists
 * equal). The rest of the user's environment stays here. */
static const char *const passed_env[] = {
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
	NULL,
};

#define FRONT_NAME "distmesh"
#define NODE_NAME "distmesh-node"
#define LAUNCHER_NAME "distmesh-launcher"
#define SYSTEM_HOME "/var/lib/distmesh"
#define MAX_FDS 200             /* per message: wrap.MaxFDs */
#define MAX_HELD 512            /* passed descriptors kept open until exit */
#define MAX_MESSAGE (1 << 30)   /* an object file, a compiler's messages */

/* The invocation, for the local compile that is always the fallback. */
static const char *real_cc; /* the real compiler */
static char **cc_argv;      /* the compiler's name as invoked, then its arguments */
static int conn = -1;       /* the agent connection */
static int debug;           /* DISTMESH_LOG=debug */

static void say(const char *fmt, ...)
{
	va_list ap;
	fputs("distmesh: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* local replaces this process with the local compiler. The agent
 * connection, when open, is inherited: it holds the local slot the agent
 * granted until the compiler exits. */
static int local(const char *why)
{
	if (debug)
		say("compiling %s locally: %s", cc_argv[0], why);
	if (conn >= 0)
		fcntl(conn, F_SETFD, 0);
	execv(real_cc, cc_argv);
	say("run %s: %s", real_cc, strerror(errno));
	return 127;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		exit(local("out of memory"));
	return q;
}

/* buf is a growable byte string. */
struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *s, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 256;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* buf_item appends a list item: the string and a NUL byte. */
static void buf_item(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s) + 1);
}

static void buf_itemf(struct buf *b, const char *fmt, ...)
{
	char s[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s, sizeof s, fmt, ap);
	va_end(ap);
	buf_item(b, s);
}

/* write_all writes to a file, or to the agent socket (fd conn), where a
 * closed connection is an error, not a SIGPIPE. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = fd == conn ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* is_compiler_name: cc, c++, gcc, g++, clang, clang++, with a version
 * suffix (gcc-12) or a target prefix (x86_64-linux-gnu-gcc); as
 * wrap.IsCompilerName. */
static int is_compiler_name(const char *name)
{
	static const char *const names[] = {"cc", "c++", "gcc", "g++", "clang", "clang++", NULL};
	char base[NAME_MAX + 1];
	if (strlen(name) > NAME_MAX)
		return 0;
	strcpy(base, name);
	char *dash = strrchr(base, '-');
	if (dash && dash > base && dash[1] && strspn(dash + 1, "0123456789.") == strlen(dash + 1))
		*dash = 0;
	for (int i = 0; names[i]; i++) {
		char suffix[16];
		snprintf(suffix, sizeof suffix, "-%s", names[i]);
		if (strcmp(base, names[i]) == 0 || has_suffix(base, suffix))
			return !has_suffix(base, "c89-gcc") && !has_suffix(base, "c99-gcc");
	}
	return 0;
}

/* self is this program, symlinks resolved. */
static char self[PATH_MAX];

/* is_self reports whether path is distmesh: this program, or one of the
 * binaries installed beside it. */
static int is_self(const char *path)
{
	char r[PATH_MAX];
	if (!self[0] || !realpath(path, r))
		return 0;
	if (strcmp(r, self) == 0)
		return 1;
	const char *rb = base_name(r), *sb = base_name(self);
	if (rb - r != sb - self || strncmp(r, self, rb - r) != 0)
		return 0;
	return strcmp(rb, FRONT_NAME) == 0 || strcmp(rb, NODE_NAME) == 0 || strcmp(rb, LAUNCHER_NAME) == 0;
}

/* find_compiler finds the compiler a name stands for: a path is taken as
 * is; a bare name is looked up in PATH, skipping every entry that is
 * distmesh (a masquerade directory), which it then removes from PATH: GCC
 * looks itself up there to find cc1, and must not meet distmesh again. */
static char *find_compiler(const char *name)
{
	struct stat st;
	if (strchr(name, '/')) {
		if (is_self(name)) {
			say("%s is distmesh itself: name the real compiler", name);
			exit(127);
		}
		if (stat(name, &st) != 0) {
			say("compiler %s: %s", name, strerror(errno));
			exit(127);
		}
		return strdup(name);
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "";
	struct buf kept = {0}, skipped = {0}; /* skipped: masquerade directories, NUL-separated */
	char *found = NULL;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		char dir[PATH_MAX], cand[PATH_MAX];
		size_t n = end - p;
		if (n == 0)
			strcpy(dir, ".");
		else if (n < sizeof dir)
			memcpy(dir, p, n), dir[n] = 0;
		else
			dir[0] = 0;
		int skip = 0;
		for (const char *d = skipped.p; d && d < skipped.p + skipped.len; d += strlen(d) + 1)
			skip |= strcmp(d, dir) == 0;
		if (!skip && !found && dir[0] &&
		    snprintf(cand, sizeof cand, "%s%s%s", dir, has_suffix(dir, "/") ? "" : "/", name) < (int)sizeof cand &&
		    stat(cand, &st) == 0 && !S_ISDIR(st.st_mode) && (st.st_mode & 0111)) {
			if (is_self(cand)) {
				skip = 1;
				buf_item(&skipped, dir);
			} else {
				found = strdup(cand);
			}
		}
		if (!skip) {
			if (kept.len)
				buf_add(&kept, ":", 1);
			buf_add(&kept, p, n);
		}
		if (!*end)
			break;
		p = end;
	}
	if (!found) {
		say("compiler \"%s\" not found in PATH (distmesh's own masquerade entries are skipped)", name);
		exit(127);
	}
	buf_add(&kept, "", 1);
	if (skipped.len)
		setenv("PATH", kept.p, 1);
	free(kept.p);
	free(skipped.p);
	return found;
}

static int socket_exists(const char *home)
{
	char p[PATH_MAX];
	struct stat st;
	return snprintf(p, sizeof p, "%s/agent.sock", home) < (int)sizeof p && stat(p, &st) == 0;
}

/* default_home is as wrap.DefaultHome. */
static void default_home(char *out, size_t n)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	if (geteuid() == 0)
		snprintf(out, n, "%s", SYSTEM_HOME);
	else if (xdg && xdg[0] == '/')
		snprintf(out, n, "%s/distmesh", xdg);
	else if (home && home[0])
		snprintf(out, n, "%s/.local/share/distmesh", home);
	else
		snprintf(out, n, "%s", SYSTEM_HOME);
}

/* agent_home is the home whose agent a wrapper asks: DISTMESH_HOME, else
 * this user's default home if its agent runs, else the system-wide one. */
static void agent_home(char *out, size_t n)
{
	const char *h = getenv("DISTMESH_HOME");
	if (h && h[0]) {
		snprintf(out, n, "%s", h);
		return;
	}
	default_home(out, n);
	if (!socket_exists(out) && socket_exists(SYSTEM_HOME))
		snprintf(out, n, "%s", SYSTEM_HOME);
}

/* send_msg writes one message, descriptors attached to its first bytes. */
static int send_msg(const char *type, const char *payload, size_t n, const int *fds, int nfds)
{
	struct buf m = {0};
	char hdr[64];
	int h = snprintf(hdr, sizeof hdr, "%s %zu %d\n", type, n, nfds);
	buf_add(&m, hdr, h);
	buf_add(&m, payload, n);
	size_t off = 0;
	int rc = 0;
	if (nfds > 0) {
		char control[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		memset(control, 0, sizeof control);
		struct iovec iov = {m.p, m.len};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
				     .msg_controllen = CMSG_SPACE(sizeof(int) * nfds)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		ssize_t w;
		do
			w = sendmsg(conn, &msg, MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0)
			rc = -1;
		else
			off = w;
	}
	if (rc == 0)
		rc = write_all(conn, m.p + off, m.len - off);
	free(m.p);
	return rc;
}

/* The reader of the agent's messages. The agent sends no descriptors. */
static struct buf in;
static size_t in_pos;

static int fill(void)
{
	if (in_pos > 0) {
		memmove(in.p, in.p + in_pos, in.len - in_pos);
		in.len -= in_pos;
		in_pos = 0;
	}
	if (in.cap - in.len < 16384) {
		in.cap = in.cap * 2 + 65536;
		in.p = xrealloc(in.p, in.cap);
	}
	ssize_t r;
	do
		r = read(conn, in.p + in.len, in.cap - in.len);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	in.len += r;
	return 0;
}

/* recv_msg reads one message: its type, and its payload with a NUL byte
 * after it (malloc'd). It returns -1 when the agent is gone or breaks the
 * protocol. */
static int recv_msg(char type[32], char **payload, size_t *n)
{
	char *nl;
	while (in_pos == in.len || !(nl = memchr(in.p + in_pos, '\n', in.len - in_pos))) {
		if (in.len - in_pos > 4096 || fill() < 0)
			return -1;
	}
	*nl = 0;
	size_t size;
	int nfds, used;
	if (sscanf(in.p + in_pos, "%31s %zu %d%n", type, &size, &nfds, &used) != 3 ||
	    in.p + in_pos + used != nl || nfds != 0 || size > MAX_MESSAGE)
		return -1;
	in_pos = nl + 1 - in.p;
	char *p = xrealloc(NULL, size + 1);
	size_t have = in.len - in_pos < size ? in.len - in_pos : size;
	memcpy(p, in.p + in_pos, have);
	in_pos += have;
	while (have < size) {
		ssize_t r = read(conn, p + have, size - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(p);
			return -1;
		}
		have += r;
	}
	p[size] = 0;
	*payload = p;
	*n = size;
	return 0;
}

/* open_files opens the names listed in a payload and passes the agent
 * their descriptors: answers "1" (descriptor attached, in order) or "0",
 * at most MAX_FDS descriptors per message. Non-blocking: a FIFO named as a
 * header must not hang the wrapper (the agent refuses anything but a
 * regular file). The descriptors stay open until exit, which closes them
 * for a fraction of a close call each, except in a unit with thousands. */
static int open_files(const char *p, size_t n)
{
	static int held;
	char ok[MAX_FDS * 8];
	int fds[MAX_FDS], nok = 0, nfds = 0;
	const char *end = p + n;
	if (n == 0)
		return send_msg("opened", "", 0, NULL, 0);
	if (end[-1] != 0)
		return -1;
	while (p < end) {
		int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		ok[nok++] = fd >= 0 ? '1' : '0';
		if (fd >= 0)
			fds[nfds++] = fd;
		p += strlen(p) + 1;
		if (nfds == MAX_FDS || nok == (int)sizeof ok || p == end) {
			if (send_msg("opened", ok, nok, fds, nfds) < 0)
				return -1;
			if ((held += nfds) > MAX_HELD)
				for (int i = 0; i < nfds; i++)
					close(fds[i]);
			nok = nfds = 0;
		}
	}
	return 0;
}

/* stat_files stats the names listed in a payload (following symlinks, as
 * open does) and answers "stated": per name, STAT_RECORD bytes, '1' and
 * the file's device, inode, size, modification and change times (in
 * nanoseconds), five 64-bit numbers in this machine's byte order, or '0'
 * and zeros. The agent asks this when it has seen this user's wrapper open
 * every file already and only needs to know that each is the version it
 * read; stat costs less than open and close, and no descriptor crosses. */
#define STAT_RECORD 41
static int stat_files(const char *p, size_t n)
{
	const char *end = p + n;
	if (n > 0 && end[-1] != 0)
		return -1;
	struct buf out = {0};
	while (p < end) {
		struct stat st;
		unsigned char rec[STAT_RECORD] = {'0'};
		if (stat(p, &st) == 0) {
			int64_t v[5] = {(int64_t)st.st_dev, (int64_t)st.st_ino, (int64_t)st.st_size,
					(int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
					(int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec};
			rec[0] = '1';
			memcpy(rec + 1, v, sizeof v);
		}
		buf_add(&out, rec, sizeof rec);
		p += strlen(p) + 1;
	}
	int rc = send_msg("stated", out.p ? out.p : "", out.len, NULL, 0);
	free(out.p);
	return rc;
}

/* scan runs the compiler with the arguments listed in a payload and sends
 * the agent what it printed on stdout. A scan that fails makes the job
 * local: the local compile reports what is wrong (a missing header)
 * exactly as the compiler does. */
static int scan(char *p, size_t n)
{
	int argc = 0;
	for (size_t i = 0; i < n; i++)
		argc += p[i] == 0;
	if (n > 0 && p[n - 1] != 0)
		return local("agent protocol: bad scan message");
	char **argv = xrealloc(NULL, sizeof(char *) * (argc + 2));
	argv[0] = cc_argv[0];
	for (int i = 0; i < argc; i++, p += strlen(p) + 1)
		argv[i + 1] = p;
	argv[argc + 1] = NULL;
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return local("dependency scan: pipe failed");
	pid_t pid = fork();
	if (pid < 0)
		return local("dependency scan: fork failed");
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(pipefd[1], 1) < 0 || dup2(null, 2) < 0)
			_exit(127);
		execv(real_cc, argv);
		_exit(127);
	}
	close(pipefd[1]);
	free(argv);
	struct buf out = {0};
	char chunk[65536];
	for (;;) {
		ssize_t r = read(pipefd[0], chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		buf_add(&out, chunk, r);
	}
	close(pipefd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return local("dependency scan: wait failed");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return local("dependency scan failed");
	int rc = send_msg("deps", out.p ? out.p : "", out.len, NULL, 0);
	free(out.p);
	return rc < 0 ? local("agent: connection lost") : 0;
}

/* An output the agent returned, written when the result is complete. */
struct output {
	char *msg;          /* the out message: path NUL kind NUL data */
	const char *path;
	int append;         /* kind "a": appended to (DEPENDENCIES_OUTPUT) */
	const char *data;
	size_t len;
};

static int parse_output(struct output *o, char *p, size_t n)
{
	char *path_end = memchr(p, 0, n);
	if (!path_end || path_end == p)
		return -1;
	char *kind = path_end + 1;
	char *kind_end = memchr(kind, 0, p + n - kind);
	if (!kind_end || kind_end - kind != 1 || (*kind != 'w' && *kind != 'a'))
		return -1;
	o->msg = p;
	o->path = p;
	o->append = *kind == 'a';
	o->data = kind_end + 1;
	o->len = p + n - o->data;
	return 0;
}

/* write_output writes one output as the compiler would: appended to, or
 * written in place when it exists and is not a regular file (-o
 * /dev/null), else replaced atomically through a temporary file beside
 * it. Files are created with mode 0666, which the umask reduces, as a
 * local compile's are. It returns an error message, or NULL. */
static const char *write_output(const struct output *o)
{
	static char err[PATH_MAX + 128];
	struct stat st;
	int fd;
	if (o->append || (stat(o->path, &st) == 0 && !S_ISREG(st.st_mode))) {
		int flags = o->append ? O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC : O_WRONLY | O_CLOEXEC;
		fd = open(o->path, flags, 0666);
		if (fd < 0 || write_all(fd, o->data, o->len) < 0 || close(fd) < 0) {
			snprintf(err, sizeof err, "write %s: %s", o->path, strerror(errno));
			return err;
		}
		return NULL;
	}
	const char *base = base_name(o->path);
	int dirlen = base - o->path;
	char tmp[PATH_MAX];
	for (int i = 0;; i++) {
		if (snprintf(tmp, sizeof tmp, "%.*s.%s.tmp-%d-%d", dirlen, o->path, base, (int)getpid(), i) >= (int)sizeof tmp) {
			snprintf(err, sizeof err, "write %s: name too long", o->path);
			return err;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		snprintf(err, sizeof err, "write %s: %s", o->path, strerror(errno));
		return err;
	}
	if (write_all(fd, o->data, o->len) < 0 || close(fd) < 0 || rename(tmp, o->path) < 0) {
		snprintf(err, sizeof err, "write %s: %s", o->path, strerror(errno));
		unlink(tmp);
		return err;
	}
	return NULL;
}

/* wrap runs one compiler invocation: name as given, then its arguments. */
static int wrap(char *name, char **args)
{
	debug = getenv("DISTMESH_LOG") && strcmp(getenv("DISTMESH_LOG"), "debug") == 0;
	const char *fallback = getenv("DISTMESH_FALLBACK");
	int strict = fallback && strcmp(fallback, "0") == 0;
	real_cc = find_compiler(name);
	cc_argv = args - 1;
	cc_argv[0] = name;

	struct stat st;
	if (stat(real_cc, &st) != 0)
		return local(strerror(errno));
	char home[PATH_MAX - 16];
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	agent_home(home, sizeof home);
	char sock[PATH_MAX];
	snprintf(sock, sizeof sock, "%s/agent.sock", home);
	conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err = conn < 0 ? errno : 0;
	if (!err && strlen(sock) >= sizeof addr.sun_path)
		err = ENAMETOOLONG;
	if (!err) {
		strcpy(addr.sun_path, sock);
		if (connect(conn, (struct sockaddr *)&addr, sizeof addr) < 0)
			err = errno;
	}
	if (err) {
		if (conn >= 0)
			close(conn);
		conn = -1;
		if (strict) {
			say("no agent at %s (connect: %s): start `distmesh join`, or unset DISTMESH_FALLBACK=0", sock, strerror(err));
			return 1;
		}
		char why[256];
		snprintf(why, sizeof why, "no agent: connect %s: %s", sock, strerror(err));
		return local(why);
	}
	char dir[PATH_MAX];
	if (!getcwd(dir, sizeof dir)) /* physical, as the compiler sees it */
		return local(strerror(errno));

	struct buf job = {0};
	struct termios t;
	int nargs = 0;
	while (args[nargs])
		nargs++;
	buf_item(&job, real_cc);
	buf_item(&job, name);
	buf_item(&job, dir);
	buf_itemf(&job, "%ju", (uintmax_t)st.st_dev);
	buf_itemf(&job, "%ju", (uintmax_t)st.st_ino);
	buf_itemf(&job, "%jd", (intmax_t)st.st_size);
	buf_itemf(&job, "%jd", (intmax_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
	buf_itemf(&job, "%jd", (intmax_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);
	buf_item(&job, tcgetattr(2, &t) == 0 ? "1" : "0");
	buf_itemf(&job, "%d", nargs);
	for (int i = 0; i < nargs; i++)
		buf_item(&job, args[i]);
	for (int i = 0; passed_env[i]; i++) {
		const char *v = getenv(passed_env[i]);
		if (v) {
			buf_add(&job, passed_env[i], strlen(passed_env[i]));
			buf_add(&job, "=", 1);
			buf_item(&job, v);
		}
	}
	if (send_msg("job", job.p, job.len, NULL, 0) < 0)
		return local("agent: connection lost");
	free(job.p);

	struct output *outs = NULL;
	int nouts = 0;
	char *out = NULL, *errs = NULL;
	size_t out_len = 0, errs_len = 0;
	for (;;) {
		char type[32];
		char *p;
		size_t n;
		if (recv_msg(type, &p, &n) < 0)
			return local("agent: connection lost or protocol error");
		if (strcmp(type, "local") == 0) {
			return local(p);
		} else if (strcmp(type, "open") == 0) {
			if (open_files(p, n) < 0)
				return local("agent: connection lost or bad open message");
			free(p);
		} else if (strcmp(type, "stat") == 0) {
			if (stat_files(p, n) < 0)
				return local("agent: connection lost or bad stat message");
			free(p);
		} else if (strcmp(type, "scan") == 0) {
			scan(p, n);
			free(p);
		} else if (strcmp(type, "log") == 0) {
			say("%s", p);
			free(p);
		} else if (strcmp(type, "out") == 0) {
			outs = xrealloc(outs, sizeof *outs * (nouts + 1));
			if (parse_output(&outs[nouts++], p, n) < 0)
				return local("agent protocol: bad output message");
		} else if (strcmp(type, "stdout") == 0) {
			free(out);
			out = p, out_len = n;
		} else if (strcmp(type, "stderr") == 0) {
			free(errs);
			errs = p, errs_len = n;
		} else if (strcmp(type, "exit") == 0) {
			char *end;
			long code = strtol(p, &end, 10);
			if (n == 0 || *end)
				return local("agent protocol: bad exit status");
			for (int i = 0; i < nouts; i++) {
				/* Nothing half-written is left; the local compile
				 * tries again. */
				const char *e = write_output(&outs[i]);
				if (e)
					return local(e);
			}
			write_all(1, out ? out : "", out_len);
			write_all(2, errs ? errs : "", errs_len);
			return (int)code;
		} else if (strcmp(type, "error") == 0) {
			say("%s (DISTMESH_FALLBACK=0: not compiling locally)", p);
			return 1;
		} else {
			char why[64];
			snprintf(why, sizeof why, "agent protocol: %s", type);
			return local(why);
		}
	}
}

/* run_node hands a command to distmesh-node, beside this program or in
 * PATH. */
static int run_node(char **args)
{
	char node[PATH_MAX];
	const char *sb = base_name(self);
	node[0] = 0;
	if (self[0] && snprintf(node, sizeof node, "%.*s%s", (int)(sb - self), self, NODE_NAME) < (int)sizeof node &&
	    access(node, X_OK) == 0) {
		/* found beside */
	} else {
		node[0] = 0;
		const char *path = getenv("PATH");
		for (const char *p = path ? path : ""; *p;) {
			const char *end = strchrnul(p, ':');
			if (end > p && snprintf(node, sizeof node, "%.*s/%s", (int)(end - p), p, NODE_NAME) < (int)sizeof node &&
			    access(node, X_OK) == 0)
				break;
			node[0] = 0;
			p = *end ? end + 1 : end;
		}
	}
	if (!node[0]) {
		say(NODE_NAME " is neither beside this program nor in PATH: install all three binaries (make build puts them in bin/)");
		return 127;
	}
	args[0] = node;
	execv(node, args);
	say("run %s: %s", node, strerror(errno));
	return 127;
}

static int is_command(const char *arg)
{
	for (int i = 0; commands[i]; i++)
		if (strcmp(arg, commands[i]) == 0)
			return 1;
	return 0;
}

/* main wraps a compiler when invoked under a compiler's name (a
 * masquerade link), or with a first argument that is not a distmesh
 * command (distmesh gcc -c x.c, distmesh /usr/bin/gcc-12 ..., CMake's
 * COMPILER_LAUNCHER form); `distmesh -- NAME ARGS...` does so for a
 * compiler whose name is a distmesh command. A compiler's arguments are
 * never parsed as distmesh's. Anything else is distmesh-node's. */
int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = 0;
	const char *base = base_name(argv[0]);
	if (strncmp(base, FRONT_NAME, strlen(FRONT_NAME)) != 0 && is_compiler_name(base))
		return wrap((char *)base, argv + 1);
	if (argc > 1 && strcmp(argv[1], "--") == 0) {
		if (argc < 3) {
			say("usage: distmesh -- COMPILER ARGS...");
			return 2;
		}
		return wrap(argv[2], argv + 3);
	}
	if (argc > 1 && !is_command(argv[1]) && argv[1][0] != '-')
		return wrap(argv[1], argv + 2);
	return run_node(argv);
}
