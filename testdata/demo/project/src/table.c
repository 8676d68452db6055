#include <stdlib.h>
#include <string.h>
#include "wordstat.h"

int ws_table_init(struct ws_table *t, size_t cap)
{
	t->slots = calloc(cap, sizeof *t->slots);
	t->cap = cap;
	t->len = 0;
	return t->slots ? 0 : -1;
}

void ws_table_free(struct ws_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->len = 0;
}

static int grow(struct ws_table *t)
{
	struct ws_table bigger;
	if (ws_table_init(&bigger, t->cap * 2) != 0)
		return -1;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].count)
			*ws_table_add(&bigger, t->slots[i].text) = t->slots[i];
	ws_table_free(t);
	*t = bigger;
	return 0;
}

/* ws_table_add counts word once and returns its slot (open addressing). */
struct ws_word *ws_table_add(struct ws_table *t, const char *word)
{
	if (2 * (t->len + 1) > t->cap && grow(t) != 0)
		return NULL;
	size_t i = ws_hash(word) & (t->cap - 1);
	while (t->slots[i].count && strcmp(t->slots[i].text, word) != 0)
		i = (i + 1) & (t->cap - 1);
	if (!t->slots[i].count) {
		strncpy(t->slots[i].text, word, WS_MAX_WORD - 1);
		t->len++;
	}
	t->slots[i].count++;
	return &t->slots[i];
}
