#ifndef _ASM_X86_BITOPS_H
#define _ASM_X86_BITOPS_H
#include <linux/types.h>

static __always_inline int fls(u32 x)
{
	int r;

	asm("bsrl %1,%0" : "=r"(r) : "rm"(x), "0"(-1));
	return r + 1;
}
#endif
