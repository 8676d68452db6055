#include <stdlib.h>
#include <layer.h>

#ifndef MATRIX_WRAPPED_STDLIB
#error "wrap/stdlib.h was not used"
#endif

int layered(void)
{
	return abs(-(LAYER_ONE + LAYER_TWO));
}
