#include <stdio.h>

/* Debian's -Werror=format-security turns this into an error. */
void say(const char *s)
{
	printf(s);
}
