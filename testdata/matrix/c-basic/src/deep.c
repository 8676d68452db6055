#include "util.h"

static const char where[] = __FILE__;

int deep_value(void)
{
	return (int)util_len(where);
}
