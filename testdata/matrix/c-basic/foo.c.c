/* Two extensions: the object is foo.c.o. */
int foo_c_c(void) { return 1; }
