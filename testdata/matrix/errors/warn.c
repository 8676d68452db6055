#include <stdio.h>

/* -Wall -Wextra: an unused variable, an unused parameter, a format mismatch,
 * a signed/unsigned comparison and a fall-through. */
int warn(int used, int unused_param)
{
	int unused_local;
	unsigned int limit = 3;

	printf("%s\n", used);
	switch (used) {
	case 1:
		used++;
	case 2:
		return used < limit;
	}
	return 0;
}
