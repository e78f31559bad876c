/* mountinfo.h: what the tools read from a clonefs mount's /.clonefs files (facts and status). */
#ifndef CLONEFS_MOUNTINFO_H
#define CLONEFS_MOUNTINFO_H

#include <stddef.h>
#include <stdio.h>

#include "fs/json.h"
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

/* "ERROR <code> (<state>): <message>" (a mount's last_error, mount.clonefs's error line) into
 * err: 0, or -1 when line is not one. The message ends at the first newline. */
int mountinfo_parse_error(const char *line, struct cfs_err *err);
/* The mount's last fetch error (its status's last_error), into err. 0 when there is one, -1 when
 * the status says none. */
int mountinfo_last_error(const char *mount, struct cfs_err *err);
/* A JSON document a command shows (a mount's status, the last clone's progress): read path; with
 * json set, print it as it is. Returns the parsed object for the caller to format (json unset,
 * json_decref it), or NULL with *rc set: 0 printed, 1 missing or not a JSON object (the ERROR
 * line, missing_code and missing_msg or why, printed). */
json_t *mountinfo_show_json(const char *path, int json, int missing_code, const char *missing_msg, int *rc);

/* clonefs status MOUNT: the status document as a few lines for a DBA. */
void status_cmd_print(const json_t *doc, FILE *out);

#endif
