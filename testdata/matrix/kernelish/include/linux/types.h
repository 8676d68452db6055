#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H
#include <uapi/linux/types.h>
typedef __u32 u32;
typedef __u64 u64;
typedef _Bool bool;
#define true 1
#define false 0
#endif
