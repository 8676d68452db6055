#define SPACED_GREETING "a header in a directory with a space"
