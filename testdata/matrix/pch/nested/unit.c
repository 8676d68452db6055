#include "a.h"
int main(void) { return X; }
