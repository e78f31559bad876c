/* mycnf.c: reads MySQL/MariaDB option files the way mysys/my_default.cc does: groups, name=value
 * with '-' and '_' alike, quotes, comments, !include FILE and !includedir DIR (*.cnf, sorted). */
#include "tools/mycnf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

/* A value: quoted ('…' or "…", with \n \t \\ \" escapes) or bare up to an unquoted '#'. */
static void unquote(char *v)
{
	if (*v == '\'' || *v == '"') {
		char q = *v, *out = v;
		for (char *p = v + 1; *p && *p != q; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				*out++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
			} else {
				*out++ = *p;
			}
		}
		*out = 0;
		return;
	}
	char *hash = strchr(v, '#');
	if (hash)
		*hash = 0;
	char *t = trim(v);
	memmove(v, t, strlen(t) + 1);
}

static int add(struct mycnf *c, const char *group, const char *name, const char *value, struct cfs_err *err)
{
	if (c->n == MYCNF_MAX_OPTIONS)
		return cfs_err_set(err, CFS_ER_USAGE, "more than %d options in the option files", MYCNF_MAX_OPTIONS);
	c->group[c->n] = strdup(group);
	c->name[c->n] = strdup(name);
	c->value[c->n] = strdup(value);
	if (!c->group[c->n] || !c->name[c->n] || !c->value[c->n])
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	for (char *p = c->name[c->n]; *p; p++)
		if (*p == '-')
			*p = '_';
	c->n++;
	return 0;
}

static int read_file(const char *path, struct mycnf *c, int depth, struct cfs_err *err);

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int read_dir(const char *dir, struct mycnf *c, int depth, struct cfs_err *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0; /* as the servers do: a missing !includedir is not an error */
	char *names[256];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < sizeof(names) / sizeof(names[0])) {
		size_t l = strlen(de->d_name);
		if (l > 4 && !strcmp(de->d_name + l - 4, ".cnf"))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, names[i] ? names[i] : "");
		if (!rc && names[i])
			rc = read_file(p, c, depth + 1, err);
		free(names[i]);
	}
	return rc;
}

static int read_file(const char *path, struct mycnf *c, int depth, struct cfs_err *err)
{
	if (depth > MYCNF_MAX_DEPTH)
		return cfs_err_set(err, CFS_ER_USAGE, "%s: !include nested more than %d deep", path, MYCNF_MAX_DEPTH);
	FILE *f = fopen(path, "r");
	if (!f)
		return cfs_err_set(err, CFS_ER_IO, "cannot read option file '%s': %s", path, strerror(errno));
	char line[4096], group[256] = "";
	int rc = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (!strncmp(s, "!includedir", 11)) {
			rc = read_dir(trim(s + 11), c, depth, err);
		} else if (!strncmp(s, "!include", 8)) {
			rc = read_file(trim(s + 8), c, depth + 1, err);
		} else if (*s == '[') {
			char *end = strchr(s, ']');
			if (end)
				*end = 0;
			snprintf(group, sizeof(group), "%s", trim(s + 1));
		} else {
			char *eq = strchr(s, '=');
			if (eq)
				*eq = 0;
			char *value = eq ? eq + 1 : (char *)"";
			if (eq)
				unquote(value);
			rc = add(c, group, trim(s), value, err);
		}
	}
	fclose(f);
	return rc;
}

int mycnf_read(const char *path, struct mycnf *c, struct cfs_err *err)
{
	memset(c, 0, sizeof(*c));
	if (read_file(path, c, 0, err)) {
		mycnf_release(c);
		return -1;
	}
	return 0;
}

const char *mycnf_get(const struct mycnf *c, const char *const *groups, const char *name)
{
	const char *found = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const char *n = c->name[i];
		if (!strncmp(n, "loose_", 6))
			n += 6;
		if (strcmp(n, name))
			continue;
		for (const char *const *g = groups; *g; g++)
			if (!strcmp(c->group[i], *g))
				found = c->value[i];
	}
	return found;
}

void mycnf_release(struct mycnf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->group[i]);
		free(c->name[i]);
		free(c->value[i]);
	}
	memset(c, 0, sizeof(*c));
}
