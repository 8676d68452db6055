/* distcc's BadInclude: the dependency scan itself fails on this one. */
#include <nosuchfilehere.h>
int missing;
