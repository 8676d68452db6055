#define A_ONLY 1
