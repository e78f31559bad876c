/* mountinfo.c: reads a clonefs mount's /.clonefs/facts ("key<TAB>value" lines) for the tools. */
#include "tools/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *mountinfo_slurp(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *buf = malloc(max + 1);
	size_t used = 0;
	while (buf && used < max) {
		ssize_t n = read(fd, buf + used, max - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	if (buf) {
		buf[used] = 0;
		if (len)
			*len = used;
	}
	return buf;
}

int mountinfo_read(const char *mount, struct mountinfo *mi, struct cfs_err *err)
{
	char path[4200];
	memset(mi, 0, sizeof(*mi));
	snprintf(path, sizeof(path), "%s/.clonefs/facts", mount);
	mi->text = mountinfo_slurp(path, 1u << 20, NULL);
	if (!mi->text)
		return cfs_err_set(err, CFS_ER_MOUNT, "'%s' is not a clonefs mount (no .clonefs/facts: %s)", mount,
				   strerror(errno));
	char *save = NULL;
	for (char *line = strtok_r(mi->text, "\n", &save); line && mi->n < MOUNTINFO_MAX;
	     line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = 0;
		mi->key[mi->n] = line;
		mi->val[mi->n] = tab + 1;
		mi->n++;
	}
	if (!*mountinfo_get(mi, "snapshot_id")) {
		mountinfo_release(mi);
		return cfs_err_set(err, CFS_ER_MOUNT, "'%s' is not a clonefs mount (no snapshot id)", mount);
	}
	return 0;
}

const char *mountinfo_get(const struct mountinfo *mi, const char *key)
{
	for (unsigned i = 0; i < mi->n; i++)
		if (!strcmp(mi->key[i], key))
			return mi->val[i];
	return "";
}

void mountinfo_release(struct mountinfo *mi)
{
	free(mi->text);
	memset(mi, 0, sizeof(*mi));
}

char *mountinfo_show_json(const char *path, int json, int missing_code, const char *missing_msg, int *rc)
{
	char *doc = mountinfo_slurp(path, 4u << 20, NULL);
	if (!doc) {
		struct cfs_err err;
		if (errno == EACCES) /* a mount without allow_other, or /.clonefs/ of someone else's */
			cfs_err_set(&err, missing_code, "cannot read '%s': %s (a clonefs mount's status is its mounting "
				    "user's)", path, strerror(errno));
		else
			cfs_err_set(&err, missing_code, "%s", missing_msg);
		cfs_err_print(&err, stderr);
		*rc = 1;
		return NULL;
	}
	if (json) {
		fputs(doc, stdout);
		free(doc);
		*rc = 0;
		return NULL;
	}
	return doc;
}

void mountinfo_json_field(const char *doc, const char *key, char *out, size_t n)
{
	char pat[96];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	out[0] = 0;
	const char *p = strstr(doc, pat);
	if (!p)
		return;
	p += strlen(pat);
	size_t i = 0;
	if (*p == '"') {
		for (p++; *p && *p != '"' && i + 1 < n; p++) {
			if (*p == '\\' && p[1])
				p++;
			out[i++] = *p;
		}
	} else {
		while (*p && *p != ',' && *p != '}' && i + 1 < n)
			out[i++] = *p++;
	}
	out[i] = 0;
}

int mountinfo_last_error(const char *mount, struct cfs_err *err)
{
	char path[4200], line[CFS_ERR_MSG_MAX + 64], state[8] = "";
	snprintf(path, sizeof(path), "%s/.clonefs/status", mount);
	char *doc = mountinfo_slurp(path, 4u << 20, NULL);
	if (!doc)
		return -1;
	mountinfo_json_field(doc, "last_error", line, sizeof(line));
	free(doc);
	int code = 0, used = 0;
	if (sscanf(line, "ERROR %d (%5[0-9A-Z]): %n", &code, state, &used) < 2 || !used || code <= 0)
		return -1;
	cfs_err_set(err, code, "%s", line + used);
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%.5s", state);
	return 0;
}
