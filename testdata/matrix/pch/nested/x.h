#define X 0
