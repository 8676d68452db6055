#include <string.h>
#include "wordstat.h"

void ws_stats_compute(const struct ws_table *t, struct ws_stats *s)
{
	size_t letters = 0;
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < t->cap; i++) {
		const struct ws_word *w = &t->slots[i];
		if (!w->count)
			continue;
		size_t len = strlen(w->text);
		s->words += w->count;
		s->distinct++;
		letters += len * w->count;
		if (len > s->longest)
			s->longest = len;
	}
	s->mean_length = s->words ? (double)letters / (double)s->words : 0.0;
}
