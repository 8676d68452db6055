#include <ctype.h>
#include "wordstat.h"

/* ws_next_word reads the next word (letters and digits, folded to lower
   case) into buf and returns its length, or 0 at the end of input. */
size_t ws_next_word(FILE *in, char *buf, size_t cap)
{
	size_t n = 0;
	int c;
	while ((c = getc(in)) != EOF && !isalnum(c))
		;
	while (c != EOF && isalnum(c)) {
		if (n + 1 < cap)
			buf[n++] = (char)tolower(c);
		c = getc(in);
	}
	buf[n] = '\0';
	return n;
}
