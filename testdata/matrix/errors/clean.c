/* Compiles without any warning, even with -Wall -Wextra -Werror. */
int clean(int x)
{
	return x * 2;
}
