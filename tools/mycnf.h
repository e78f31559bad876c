/* mycnf.h: MySQL/MariaDB option files (my.cnf) as the servers read them: [groups], name=value,
 * quoted values, '#'/';' comments, !include and !includedir; later values win. */
#ifndef CLONEFS_MYCNF_H
#define CLONEFS_MYCNF_H

#include <stddef.h>

#include "transport/errors.h"

enum { MYCNF_MAX_OPTIONS = 512, MYCNF_MAX_DEPTH = 8 };

struct mycnf {
	size_t n;
	char *group[MYCNF_MAX_OPTIONS];
	char *name[MYCNF_MAX_OPTIONS];   /* '-' written as '_': datadir, max_allowed_packet */
	char *value[MYCNF_MAX_OPTIONS];  /* "" for a bare option */
};

/* Read path and what it includes. 0, or -1 with err (7007 naming the file and line). */
int mycnf_read(const char *path, struct mycnf *c, struct cfs_err *err);
/* The last value of name in any of groups (NULL-terminated list), or NULL. A name may carry the
 * loose prefix a server accepts (loose-clone-valid-donor-list). */
const char *mycnf_get(const struct mycnf *c, const char *const *groups, const char *name);
void mycnf_release(struct mycnf *c);

#endif
