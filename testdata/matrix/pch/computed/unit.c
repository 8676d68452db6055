#define HEADER "x.h"
#include HEADER
int main(void) { return X; }
