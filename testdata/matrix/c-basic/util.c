#include <string.h>
#include "util.h"
#include "include/../other/other.h"
#include <linked.h>
#include "utillink.h"

size_t util_len(const char *s)
{
	return strlen(s) + (size_t)other_twice(LINKED_VALUE) + UTIL_VERSION;
}
