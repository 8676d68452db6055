/* A gnulib-style replacement header that wraps the system one. */
#ifndef MATRIX_WRAP_STDLIB_H
#define MATRIX_WRAP_STDLIB_H
#include_next <stdlib.h>
#define MATRIX_WRAPPED_STDLIB 1
#endif
