#define SPACED 4
