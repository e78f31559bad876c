/* clone_local.h: CLONE LOCAL DATA DIRECTORY for clonefs clone (tools/clone_local.c). */
#ifndef CLONEFS_CLONE_LOCAL_H
#define CLONEFS_CLONE_LOCAL_H

#include "tools/recipient.h"
#include "transport/errors.h"

/* Log in to the local server as r's account (its socket, [client] user and password), check the
 * privilege, and put a consistent snapshot of its datadir at dir (checked by the caller: absolute,
 * absent, outside the datadir, its parent writable) by reflink. 0, or -1 with err. */
int clone_local_run(const struct recipient *r, const char *dir, struct cfs_err *err);

#endif
