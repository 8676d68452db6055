#include "spaced.h"

const char *spaced_greeting(void)
{
	return SPACED_GREETING " in " __FILE__;
}
