#include <stdlib.h>
#include <string.h>
#include "wordstat.h"

int main(int argc, char **argv)
{
	struct ws_table t;
	struct ws_stats s;
	char word[WS_MAX_WORD];
	size_t top = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10;

	if (ws_table_init(&t, 1024) != 0)
		return 1;
	while (ws_next_word(stdin, word, sizeof word))
		if (!ws_table_add(&t, word))
			return 1;
	ws_stats_compute(&t, &s);
	/* Pack the used slots to the front, then sort them. */
	size_t n = 0;
	for (size_t i = 0; i < t.cap; i++)
		if (t.slots[i].count)
			t.slots[n++] = t.slots[i];
	memset(&t.slots[n], 0, (t.cap - n) * sizeof t.slots[0]);
	ws_sort_by_count(t.slots, n);
	ws_report(stdout, &t, &s, top);
	ws_table_free(&t);
	return 0;
}
