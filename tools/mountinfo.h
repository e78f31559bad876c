/* mountinfo.h: what the tools read from a clonefs mount's /.clonefs files (facts and status). */
#ifndef CLONEFS_MOUNTINFO_H
#define CLONEFS_MOUNTINFO_H

#include <stddef.h>

#include "transport/errors.h"

enum { MOUNTINFO_MAX = 160 };

struct mountinfo {
	unsigned n;
	char *key[MOUNTINFO_MAX];
	char *val[MOUNTINFO_MAX];
	char *text;     /* the file's bytes; keys and values point into it */
};

/* Read MOUNT/.clonefs/facts; CFS_ER_MOUNT when MOUNT is not a clonefs mount. */
int mountinfo_read(const char *mount, struct mountinfo *mi, struct cfs_err *err);
const char *mountinfo_get(const struct mountinfo *mi, const char *key); /* "" when absent */
void mountinfo_release(struct mountinfo *mi);
/* Read a whole small file (<= max bytes) into a NUL-terminated buffer. */
char *mountinfo_slurp(const char *path, size_t max, size_t *len);

/* The value of the first "key": in our own flat JSON documents (string or number), "" if absent. */
void mountinfo_json_field(const char *doc, const char *key, char *out, size_t n);
/* The mount's last fetch error ("ERROR <code> (<state>): <message>" in its status), into err.
 * 0 when there is one, -1 when the status says none. */
int mountinfo_last_error(const char *mount, struct cfs_err *err);
/* A JSON document a command shows (a mount's status, the last clone's progress): read path; with
 * json set, print it as it is. Returns the document for the caller to format (json unset), or
 * NULL with *rc set: 0 printed, 1 missing (the ERROR line, missing_code and missing_msg, printed). */
char *mountinfo_show_json(const char *path, int json, int missing_code, const char *missing_msg, int *rc);

#endif
