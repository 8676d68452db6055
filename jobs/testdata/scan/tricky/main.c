/* Tricky includes: the scanner must find everything the compiler reads,
   resolved to the same file. */
#include "guarded.h"
#include "guarded.h"          /* a guard: read once, named twice */
#include <common.h>           /* in first/ and second/: first/ wins */
#include "sub/inner.h"        /* which includes "sib.h": sub/sib.h, not first/sib.h */
#include <limits.h>           /* nextA/limits.h, which #include_next's nextB/limits.h */
#ifdef USE_A
#include "cond_a.h"           /* only with -DUSE_A */
#else
#include "cond_b.h"
#endif
#include "with space/spaced.h"
#include "cycle_a.h"          /* cycle_a.h and cycle_b.h include each other */
#if __has_include("probed.h") /* exists, never included */
int probed = 1;
#endif
int main(void) { return COMMON + INNER + LIMIT + SPACED + CYCLE; }
