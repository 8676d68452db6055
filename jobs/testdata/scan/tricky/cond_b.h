#define B_ONLY 1
