#include <stdio.h>
#include "hello.h"

int main(void)
{
	puts(HELLO_WORLD);
	return 0;
}
