/*
 * fakecc: a stand-in C compiler for distmesh's lifecycle tests and
 * scheduling benchmark. It answers the probes a node makes of a compiler as
 * GCC would, and "compiles" by sleeping: `fakecc -c x.c -o x.o` reads x.c,
 * whose first line is "sleep MILLISECONDS", sleeps that long (times the
 * number in a file named "speed" beside the program, if there is one: a
 * simulated node's slowness), and writes x.o holding the source's bytes.
 * Nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *installdir(void)
{
	static char dir[4096];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
	if (n <= 0)
		return "/";
	dir[n] = 0;
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[1] = 0;
	return dir;
}

int main(int argc, char **argv)
{
	const char *src = NULL, *out = NULL;
	int compile = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--version")) {
			puts("fakecc (distmesh stand-in) 1.0\nCopyright (C) 2026 Free Software Foundation, Inc.");
			return 0;
		}
		if (!strcmp(a, "-dumpmachine")) {
			puts("x86_64-linux-gnu");
			return 0;
		}
		if (!strncmp(a, "-print-prog-name=", 17)) {
			puts(a + 17);
			return 0;
		}
		if (!strncmp(a, "-print-file-name=", 17)) {
			/* As GCC does: the file's path when it is in the
			 * installation, else its bare name. */
			char path[8192];
			snprintf(path, sizeof path, "%s%s", installdir(), a + 17);
			puts(access(path, F_OK) == 0 ? path : a + 17);
			return 0;
		}
		if (!strcmp(a, "-print-search-dirs")) {
			printf("install: %s\nprograms: =%s\n", installdir(), installdir());
			return 0;
		}
		if (!strcmp(a, "-###") || !strcmp(a, "-E"))
			return 0; /* no native expansion, no search path */
		if (!strcmp(a, "-c"))
			compile = 1;
		else if (!strcmp(a, "-o") && i + 1 < argc)
			out = argv[++i];
		else if (a[0] != '-')
			src = a;
	}
	if (!compile || !src || !out) {
		fprintf(stderr, "fakecc: usage: fakecc -c SOURCE -o OBJECT\n");
		return 2;
	}
	FILE *in = fopen(src, "rb");
	if (!in) {
		fprintf(stderr, "fakecc: %s: %s\n", src, strerror(errno));
		return 1;
	}
	char buf[65536];
	size_t n = fread(buf, 1, sizeof buf, in);
	fclose(in);
	long ms = 0;
	sscanf(buf, "sleep %ld", &ms);
	char speedfile[4200];
	snprintf(speedfile, sizeof speedfile, "%sspeed", installdir());
	FILE *sp = fopen(speedfile, "r");
	if (sp) {
		double f = 1;
		if (fscanf(sp, "%lf", &f) == 1 && f > 0)
			ms = (long)(ms * f);
		fclose(sp);
	}
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	FILE *o = fopen(out, "wb");
	if (!o || fwrite(buf, 1, n, o) != n || fclose(o) != 0) {
		fprintf(stderr, "fakecc: %s: %s\n", out, strerror(errno));
		return 1;
	}
	return 0;
}
