#ifndef PACKAGE_NAME
#error "config.h was not forced in with -include"
#endif
#ifndef IMACRO_VALUE
#define IMACRO_VALUE 0
#endif
#ifdef HAVE_STRING_H
#include <string.h>
#endif

unsigned long forced(void)
{
	return strlen(PACKAGE_NAME) + IMACRO_VALUE;
}
