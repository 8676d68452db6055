#ifndef WORDSTAT_H
#define WORDSTAT_H

#include <stddef.h>
#include <stdio.h>

#define WS_MAX_WORD 64
#define WS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct ws_word {
	char text[WS_MAX_WORD];
	size_t count;
};

struct ws_table {
	struct ws_word *slots;
	size_t cap, len;
};

/* tokenize.c */
size_t ws_next_word(FILE *in, char *buf, size_t cap);

/* hash.c */
unsigned long ws_hash(const char *s);

/* table.c */
int ws_table_init(struct ws_table *t, size_t cap);
void ws_table_free(struct ws_table *t);
struct ws_word *ws_table_add(struct ws_table *t, const char *word);

/* sort.c */
void ws_sort_by_count(struct ws_word *words, size_t n);

/* stats.c */
struct ws_stats {
	size_t words, distinct, longest;
	double mean_length;
};
void ws_stats_compute(const struct ws_table *t, struct ws_stats *s);

/* report.c */
void ws_report(FILE *out, const struct ws_table *t, const struct ws_stats *s, size_t top);

#endif
