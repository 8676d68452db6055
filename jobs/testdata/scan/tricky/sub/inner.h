#include "sib.h"
#define INNER SIB
