#include <stdio.h>
#include "hello.h"

int hello_count(int n)
{
	int i, total = 0;

	for (i = 0; i < n; i++)
		total += i * 3;
	return total;
}

int main(void)
{
	printf("%s %d\n", HELLO_WORLD, hello_count(4));
	return 0;
}
