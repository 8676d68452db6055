/* icecream's unusedmacro: -Wunused-macros. */
#define USED_MACRO 1
#define UNUSED_MACRO 2

int unusedmacro(void) { return USED_MACRO; }
