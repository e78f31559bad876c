/* tree.c: per-directory children of a manifest, sorted by name (lookup and readdir). */
#include "fs/tree.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const struct manifest *sort_m; /* qsort has no context argument; set under tree_build only */

static int by_name(const void *a, const void *b)
{
	return strcmp(sort_m->e[*(const uint32_t *)a].name, sort_m->e[*(const uint32_t *)b].name);
}

static uint32_t slot(const struct tree *t, uint32_t dir) { return dir == MANIFEST_ROOT ? t->m->n : dir; }

int tree_build(struct tree *t, const struct manifest *m)
{
	static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER; /* guards sort_m */
	t->m = m;
	t->start = calloc(m->n + 1, sizeof(uint32_t));
	t->count = calloc(m->n + 1, sizeof(uint32_t));
	t->kids = calloc(m->n ? m->n : 1, sizeof(uint32_t));
	if (!t->start || !t->count || !t->kids) {
		tree_release(t);
		return -1;
	}
	for (uint32_t i = 0; i < m->n; i++)
		t->count[slot(t, m->e[i].parent)]++;
	uint32_t pos = 0;
	for (uint32_t d = 0; d <= m->n; d++) {
		t->start[d] = pos;
		pos += t->count[d];
		t->count[d] = 0;
	}
	for (uint32_t i = 0; i < m->n; i++) {
		uint32_t d = slot(t, m->e[i].parent);
		t->kids[t->start[d] + t->count[d]++] = i;
	}
	pthread_mutex_lock(&sort_lock);
	sort_m = m;
	for (uint32_t d = 0; d <= m->n; d++)
		if (t->count[d] > 1)
			qsort(t->kids + t->start[d], t->count[d], sizeof(uint32_t), by_name);
	pthread_mutex_unlock(&sort_lock);
	return 0;
}

void tree_release(struct tree *t)
{
	free(t->start);
	free(t->count);
	free(t->kids);
	t->start = t->count = t->kids = NULL;
}

const uint32_t *tree_children(const struct tree *t, uint32_t dir, uint32_t *n)
{
	uint32_t s = slot(t, dir);
	*n = t->count[s];
	return t->kids + t->start[s];
}

uint32_t tree_lookup(const struct tree *t, uint32_t dir, const char *name)
{
	uint32_t n;
	const uint32_t *k = tree_children(t, dir, &n);
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->m->e[k[mid]].name, name);
		if (c == 0)
			return k[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return MANIFEST_ROOT;
}
