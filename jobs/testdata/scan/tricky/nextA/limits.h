#include_next <limits.h>
#define LIMIT NEXT_LIMIT
