#define LAYER_ONE 1
#include_next <layer.h>
