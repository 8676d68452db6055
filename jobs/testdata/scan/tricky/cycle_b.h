#ifndef CYCLE_B
#define CYCLE_B
#include "cycle_a.h"
#define CYCLE 5
#endif
