/* snap_confine.c: keeps every byte a snapshot serves inside the donor's datadir, whatever the method
 * made: files a copying method (mariabackup, clone) reached through a symlink leaving the datadir,
 * and hard links to a file outside it, are left out of the manifest and logged (docs/donor.md). */
#include "transport/donor/donor.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One regular file of the tree whose data has more than one link. */
struct confine_link {
	dev_t dev;
	ino_t ino;
	nlink_t nlink;
	char *path;
};

static bool copying_method(enum snap_method m)
{
	return m == SNAP_MARIABACKUP || m == SNAP_CLONE;
}

int snap_confine_begin(struct snap_confine *c, const struct snapshot *s)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	if (!copying_method(s->method))
		return 0;
	const char *dd = wire_snap_info_get(&s->info, "datadir");
	if (!dd || !*dd || !realpath(dd, c->origin)) {
		/* Nothing to compare against: refuse rather than serve what may come from anywhere. */
		return -1;
	}
	return 0;
}

static int remember(struct snap_confine *c, const char *rel, const struct stat *st)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct confine_link *l = realloc(c->links, cap * sizeof(*l));
		if (!l)
			return -1;
		c->links = l;
		c->cap = cap;
	}
	char *p = strdup(rel);
	if (!p)
		return -1;
	c->links[c->n++] = (struct confine_link){ .dev = st->st_dev, .ino = st->st_ino, .nlink = st->st_nlink, .path = p };
	return 0;
}

int snap_confine_entry(struct snap_confine *c, const char *rel, const struct stat *st)
{
	const struct stat *id = st;
	struct stat ost;
	if (c->origin[0]) {
		/* A copy: judge the file it was copied from, with every symlink on its way resolved. */
		char src[PATH_MAX + 8], real[PATH_MAX];
		size_t olen = strlen(c->origin);
		if ((size_t)snprintf(src, sizeof(src), "%s/%s", c->origin, rel) >= sizeof(src))
			return 0;
		if (!realpath(src, real)) {
			if (errno != ENOENT) {
				donor_log("snapshot %s: %s cannot be traced back to the datadir %s (%s); left out", c->s->id,
					  rel, c->origin, strerror(errno));
				return 0;
			}
			/* No such path in the datadir (what the method wrote itself): only a dangling
			 * link reaches here if a symlink is on the way. */
			if (lstat(src, &ost) == 0) {
				donor_log("snapshot %s: %s is a symlink in the datadir %s that leads nowhere inside it; "
					  "what %s copied is left out", c->s->id, rel, c->origin, snap_method_name(c->s->method));
				return 0;
			}
		} else if (strncmp(real, c->origin, olen) || real[olen] != '/') {
			donor_log("snapshot %s: %s leads through a symlink in the datadir to '%s', outside %s; what %s "
				  "copied from there is left out", c->s->id, rel, real, c->origin, snap_method_name(c->s->method));
			return 0;
		} else if (lstat(real, &ost) == 0 && S_ISREG(ost.st_mode)) {
			id = &ost;
		}
	}
	if (S_ISREG(st->st_mode) && id->st_nlink > 1 && remember(c, rel, id))
		return -1;
	return 1;
}

static int link_cmp(const void *a, const void *b)
{
	const struct confine_link *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return strcmp(x->path, y->path);
}

void snap_confine_end(struct snap_confine *c, struct manifest *m)
{
	if (c->n) /* qsort of NULL, 0 is undefined */
		qsort(c->links, c->n, sizeof(*c->links), link_cmp);
	for (size_t i = 0; i < c->n;) {
		size_t j = i;
		while (j < c->n && c->links[j].dev == c->links[i].dev && c->links[j].ino == c->links[i].ino)
			j++;
		/* Every link of the data is one of the snapshot's files: nothing outside shares it. */
		if ((nlink_t)(j - i) < c->links[i].nlink) {
			for (size_t k = i; k < j; k++) {
				donor_log("snapshot %s: %s is a hard link (%ju links, %zu of them in the snapshot) to a file "
					  "outside the datadir; left out", c->s->id, c->links[k].path,
					  (uintmax_t)c->links[i].nlink, j - i);
				manifest_drop(m, c->links[k].path);
			}
		}
		i = j;
	}
	for (size_t i = 0; i < c->n; i++)
		free(c->links[i].path);
	free(c->links);
	c->links = NULL;
	c->n = c->cap = 0;
}

bool snap_confine_external(const struct snapshot *s, const char *isl, const char *abs)
{
	struct stat st;
	char real[PATH_MAX];
	size_t n = strlen(abs);
	const char *why = NULL;
	if (n < 5 || strcmp(abs + n - 4, ".ibd"))
		why = "not an .ibd file";
	else if (lstat(abs, &st) || !S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (!realpath(abs, real) || strcmp(real, abs))
		why = "reached through a symlink";
	else if (st.st_nlink > 1)
		why = "a hard link shared with another file";
	if (!why)
		return true;
	donor_log("snapshot %s: %s names '%s', %s: not a tablespace the server declared; left out", s->id, isl, abs, why);
	return false;
}
