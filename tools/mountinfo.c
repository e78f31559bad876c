/* mountinfo.c: reads a clonefs mount's /.clonefs files for the tools: the facts ("key<TAB>value"
 * lines) and the status JSON (through jansson, fs/json.h). */
#include "tools/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/ctl.h"
#include "transport/path.h"

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
	char path[PATH_MAX];
	memset(mi, 0, sizeof(*mi));
	if (path_fmt(path, sizeof(path), "%s" CTL_FACTS_PATH, mount))
		return cfs_err_set(err, CFS_ER_MOUNT, "'%s': path too long", mount);
	mi->text = mountinfo_slurp(path, 1u << 20, NULL);
	if (!mi->text)
		return cfs_err_set(err, CFS_ER_MOUNT, "'%s' is not a clonefs mount (no " CTL_DIR_NAME "/" CTL_FACTS ": %s)",
				   mount, strerror(errno));
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
	if (!*mountinfo_get(mi, CTL_FACT_SNAPSHOT_ID)) {
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

json_t *mountinfo_show_json(const char *path, int json, int missing_code, const char *missing_msg, int *rc)
{
	struct cfs_err err;
	size_t len;
	char *text = mountinfo_slurp(path, 4u << 20, &len);
	*rc = 1;
	if (!text) {
		if (errno == EACCES) /* a mount without allow_other, or /.clonefs/ of someone else's */
			cfs_err_set(&err, missing_code, "cannot read '%s': %s (a clonefs mount's status is its mounting "
				    "user's)", path, strerror(errno));
		else
			cfs_err_set(&err, missing_code, "%s", missing_msg);
		cfs_err_print(&err, stderr);
		return NULL;
	}
	if (json) {
		fputs(text, stdout);
		free(text);
		*rc = 0;
		return NULL;
	}
	char why[200];
	json_t *doc = json_parse_doc(text, len, why, sizeof(why));
	free(text);
	if (!json_is_object(doc)) {
		cfs_err_set(&err, missing_code, "%s is not a JSON object: %s", path, doc ? "another value" : why);
		cfs_err_print(&err, stderr);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int mountinfo_parse_error(const char *line, struct cfs_err *err)
{
	int code = 0, used = 0;
	char state[8] = "";
	if (sscanf(line, "ERROR %d (%5[0-9A-Z]): %n", &code, state, &used) < 2 || !used || code <= 0)
		return -1;
	char msg[CFS_ERR_MSG_MAX];
	snprintf(msg, sizeof(msg), "%s", line + used);
	msg[strcspn(msg, "\n")] = 0;
	cfs_err_set(err, code, "%s", msg);
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%.5s", state);
	return 0;
}

int mountinfo_last_error(const char *mount, struct cfs_err *err)
{
	char path[PATH_MAX], line[CFS_ERR_MSG_MAX + 64];
	size_t len;
	if (path_fmt(path, sizeof(path), "%s" CTL_STATUS_PATH, mount))
		return -1;
	char *text = mountinfo_slurp(path, 4u << 20, &len);
	if (!text)
		return -1;
	json_t *doc = json_parse_doc(text, len, NULL, 0);
	free(text);
	json_get_text(doc, NULL, CTL_ST_LAST_ERROR, line, sizeof(line));
	json_decref(doc);
	return mountinfo_parse_error(line, err);
}
