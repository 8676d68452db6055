// SPDX-License-Identifier: GPL-2.0
/* Kernel style: everything through -include and -I, no libc headers at all. */
#include <linux/types.h>
#include <asm/bitops.h>

#ifndef __KERNEL__
#error "__KERNEL__ must come from the command line"
#endif

static u64 total_forks __section(".data..read_mostly");

static const char modname[] = KBUILD_MODNAME;

int nr_threads_hint(u32 cpus)
{
	if (unlikely(cpus == 0))
		return -1;
#if IS_ENABLED(CONFIG_SMP)
	total_forks += (u64)fls(cpus) * CONFIG_HZ;
#endif
	return (int)(total_forks % CONFIG_NR_CPUS) + (int)sizeof(modname);
}
