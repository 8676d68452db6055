#include <feature/feature.h>

int feature_level = FEATURE_LEVEL;
