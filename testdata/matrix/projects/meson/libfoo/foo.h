#define FOO_FACTOR 4
#include <stdint.h>
int32_t foo_scale(int32_t v);
