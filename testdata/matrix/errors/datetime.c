/* -Wdate-time (Debian's CPPFLAGS) warns about each of these. */
const char when[] = __DATE__ " " __TIME__;
