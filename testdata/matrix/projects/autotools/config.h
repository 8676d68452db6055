/* config.h.  Generated from config.h.in by configure.  */
#define HAVE_STDLIB_H 1
#define HAVE_UNISTD_H 1
#define PACKAGE_STRING "matrix 1.0"
#define VERSION "1.0"
