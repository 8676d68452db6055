/* config.h: pulled in with -include, never by an #include line. */
#define HAVE_STRING_H 1
#define PACKAGE_NAME "matrix"
