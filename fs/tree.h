/* tree.h: directory index over a manifest: each directory's children sorted by name, for lookup
 * by binary search and for readdir. No FUSE. */
#ifndef CLONEFS_TREE_H
#define CLONEFS_TREE_H

#include <stdint.h>

#include "transport/manifest.h"

struct tree {
	const struct manifest *m;
	uint32_t *start;    /* per dir slot (entry id, and m->n for the root): first index in kids */
	uint32_t *count;
	uint32_t *kids;     /* entry ids grouped per directory, sorted by name */
};

int tree_build(struct tree *t, const struct manifest *m);
void tree_release(struct tree *t);
/* dir: an entry id of a directory, or MANIFEST_ROOT. Returns the child id or MANIFEST_ROOT if none. */
uint32_t tree_lookup(const struct tree *t, uint32_t dir, const char *name);
/* Children of dir as (pointer, count). */
const uint32_t *tree_children(const struct tree *t, uint32_t dir, uint32_t *n);

#endif
