#ifndef CYCLE_A
#define CYCLE_A
#include "cycle_b.h"
#endif
