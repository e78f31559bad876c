/* endpoint.h: parses a donor address "[user@]host[:port]" ("[v6addr]:port" too) and reads a password
 * from password_file=, $CLONEFS_PASSWORD or the terminal: shared by mount.clonefs and clonefs. */
#ifndef CLONEFS_ENDPOINT_H
#define CLONEFS_ENDPOINT_H

#include <stddef.h>

#include "transport/errors.h"

struct endpoint {
	char user[129];
	char host[256];
	unsigned port;
};

/* Missing user: the login name, as the mysql client does. Missing port: WIRE_DEFAULT_PORT. */
int endpoint_parse(const char *s, struct endpoint *ep, struct cfs_err *err);
/* From password_file (if non-NULL), else $CLONEFS_PASSWORD, else a prompt on /dev/tty. */
int endpoint_password(const char *password_file, char *out, size_t outsz, struct cfs_err *err);

/* clone_valid_donor_list: ep's "host:port" must be one of list's entries, separated by ',' (MySQL)
 * or ';' (inside -o options); an empty list admits no donor. 0, or -1 with 3869 naming both. */
int endpoint_check_donor_list(const char *list, const struct endpoint *ep, struct cfs_err *err);

#endif
