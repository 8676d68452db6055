#include "wordstat.h"

void ws_report(FILE *out, const struct ws_table *t, const struct ws_stats *s, size_t top)
{
	fprintf(out, "%zu words, %zu distinct, longest %zu letters, mean %.2f\n",
		s->words, s->distinct, s->longest, s->mean_length);
	for (size_t i = 0; i < top && i < t->cap && t->slots[i].count; i++)
		fprintf(out, "%7zu  %s\n", t->slots[i].count, t->slots[i].text);
}
