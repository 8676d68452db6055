#include <stdlib.h>
#include <string.h>
#include "wordstat.h"

static int by_count(const void *a, const void *b)
{
	const struct ws_word *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->text, y->text);
}

void ws_sort_by_count(struct ws_word *words, size_t n)
{
	qsort(words, n, sizeof *words, by_count);
}
