/* -I/usr/include, and "sys/types.h" resolving into it (distcc's SystemIncludeDirectories). */
#include "sys/types.h"
#include <stdio.h>

int systypes(void)
{
	uint val = 1u;
	return val == 1 ? puts("hello world") : 1;
}
