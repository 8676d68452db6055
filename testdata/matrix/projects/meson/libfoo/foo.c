#include <stdint.h>
#include "foo.h"

int32_t foo_scale(int32_t v)
{
	return v * FOO_FACTOR;
}
