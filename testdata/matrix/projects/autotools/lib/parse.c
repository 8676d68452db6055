#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#ifdef HAVE_STDLIB_H
#include <stdlib.h>
#endif
#include "parse.h"

static const char version[] = PACKAGE_STRING;

long parse_number(const char *s)
{
	return strtol(s, NULL, 10) + (long)sizeof(version);
}
