/* Under -isystem: the unused static below draws no warning. */
static int systemish_unused;
#define SYSTEMISH 2
