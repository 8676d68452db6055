#include <stdio.h>

/* UTF-8 in strings, comments (ünïcödé) and identifiers. */
const char *greeting = "Grüße, 世界 😭";
int größe = 3;

int main(void)
{
	puts(greeting);
	return größe - 3;
}
