#ifndef UTIL_H
#define UTIL_H
#include <stddef.h>
size_t util_len(const char *s);
#define UTIL_VERSION 3
#endif
