/* mycnf.h: a MySQL/MariaDB server's effective options, asked of the server's own tools rather than
 * read by a second parser: my_print_defaults prints what the option files (groups, quotes,
 * !include, !includedir, version groups) leave for the groups named, one "--name=value" a line,
 * in the order read (the last wins). clonefs's own files are read by clonefsd's reader (D40). */
#ifndef CLONEFS_MYCNF_H
#define CLONEFS_MYCNF_H

#include <stddef.h>

#include "transport/errors.h"

enum { MYCNF_MAX_OPTIONS = 512, MYCNF_OUTPUT_MAX = 1 << 20 };

struct mycnf {
	size_t n;
	char *name[MYCNF_MAX_OPTIONS];   /* '-' written as '_', no loose_ prefix: datadir, pid_file */
	char *value[MYCNF_MAX_OPTIONS];  /* "" for a bare option */
};

extern const char *const mycnf_safe_groups[];    /* mysqld_safe's */
extern const char *const mycnf_client_groups[];  /* a client of the instance: [client], [clonefs] */
extern const char *const mycnf_clonefs_groups[]; /* [clonefs] alone */
#define MYCNF_SERVER_GROUPS NULL                 /* as groups: those the server reads */

/* The options of groups (NULL-terminated) in defaults_file (NULL: the default option files), from
 * my_print_defaults. For MYCNF_SERVER_GROUPS, my_print_defaults --mysqld (MariaDB's knows the
 * server's groups, its version groups too); when it refuses --mysqld (MySQL's), the groups are
 * named from `server_binary --version`: mysqld, server, mysqld-X.Y (MariaDB: also mariadb,
 * mariadbd, client-server, mariadb-X.Y, mariadbd-X.Y), and later calls pass --show (MySQL's masks
 * passwords without it): read the server's groups before a client's. 0, or -1 with err: 7006
 * naming the file and my_print_defaults's own words. */
int mycnf_load(const char *defaults_file, const char *const *groups, const char *server_binary, struct mycnf *c,
	       struct cfs_err *err);
/* my_print_defaults's output ("--name=value" lines; others ignored) into c. 0, or -1 with err
 * (more than MYCNF_MAX_OPTIONS, out of memory). */
int mycnf_parse(const char *text, struct mycnf *c, struct cfs_err *err);
/* The last value of name ('_' or '-'), or NULL. */
const char *mycnf_get(const struct mycnf *c, const char *name);
void mycnf_release(struct mycnf *c);

#endif
