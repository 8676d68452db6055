/* Reached as "include/../other/other.h": the compile traverses include/ to get here. */
#ifndef OTHER_H
#define OTHER_H
static inline int other_twice(int x) { return 2 * x; }
#endif
