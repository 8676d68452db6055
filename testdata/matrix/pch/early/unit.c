#include <x.h>
int main(void) { return X; }
