/* clone_local.h: CLONE LOCAL DATA DIRECTORY for clonefs clone (tools/clone_local.c). */
#ifndef CLONEFS_CLONE_LOCAL_H
#define CLONEFS_CLONE_LOCAL_H

#include <stdbool.h>

#include "tools/recipient.h"
#include "transport/errors.h"

/* How CLONE LOCAL logs in, as the mysql client would: the option file's [client] groups, then the
 * command line (--socket, --user, --password[=pw] / -p[pw]: without a value, $CLONEFS_PASSWORD or a
 * prompt on the terminal). */
struct clone_local_login {
	const char *socket, *user, *password;
	bool prompt;
};

/* Fill r's socket, user and password from defaults_file (NULL: none) and the options, then log in
 * and take the server's datadir into r->datadir. 0, or -1 with err (the server's own, e.g. 1045). */
int clone_local_login(const char *defaults_file, const struct clone_local_login *l, struct recipient *r,
		      struct cfs_err *err);

/* Log in to the local server as r's account (its socket, [client] user and password), check the
 * privilege, and put a consistent snapshot of its datadir at dir (checked by the caller: absolute,
 * absent, outside the datadir, its parent writable) by reflink. 0, or -1 with err. */
int clone_local_run(const struct recipient *r, const char *dir, struct cfs_err *err);

#endif
