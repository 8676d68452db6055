#define H "guarded.h"
#include H
