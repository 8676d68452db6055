// SPDX-License-Identifier: GPL-2.0
/* Uses the compiler's own freestanding headers, reached with -isystem. */
#include <stdarg.h>
#include <stddef.h>
#include <linux/types.h>

int mem_vsum(int n, ...)
{
	va_list ap;
	int i, sum = 0;

	va_start(ap, n);
	for (i = 0; i < n; i++)
		sum += va_arg(ap, int);
	va_end(ap);
	return sum + (int)offsetof(struct { u32 a; u64 b; }, b);
}
