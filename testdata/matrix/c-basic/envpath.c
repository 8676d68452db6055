#include <envpath.h>

int envpath(void) { return ENVPATH_VALUE; }
