/* clone_mount.h: a private, temporary clonefs mount for clonefs check and clone: mount.clonefs
 * started with the statement's account (the password through a pipe, never argv or environment),
 * its one-line error relayed by the wrapping rule of docs/errors.md, unmounted and removed after. */
#ifndef CLONEFS_CLONE_MOUNT_H
#define CLONEFS_CLONE_MOUNT_H

#include <limits.h>
#include <stdbool.h>

#include "transport/errors.h"

struct clone_mount {
	char mnt[PATH_MAX];        /* a fresh directory beside the work dir */
	char cache[PATH_MAX];      /* its chunk cache, removed with it */
	char snapshot[128];        /* the snapshot id, once mounted */
	char upper[PATH_MAX];      /* set before opening: a thin clone (rw,upper=) instead of a staging mount */
	bool mounted;
};

/* Mount user@host:port under workdir (created hidden dirs .clonefs-mnt-XXXXXX, .clonefs-cache-XXXXXX).
 * extra_opts: the user's -o options (may be NULL); prefetch on/off; snapshot "new" or an id.
 * wrap: put donor-side errors inside 3862 (clonefs clone) or report them as they are (check). */
int clone_mount_open(struct clone_mount *cm, const char *workdir, const char *user, const char *host,
		     unsigned port, const char *password, const char *extra_opts, bool prefetch,
		     const char *snapshot, bool wrap, struct cfs_err *err);
/* Unmount (keeping the cache, for a remount of the same snapshot). */
void clone_mount_unmount(struct clone_mount *cm);
/* Unmount and remove the mount point and the cache. */
void clone_mount_close(struct clone_mount *cm);
/* Unmount mnt (lazily if busy) and remove it and cache, by path alone: for a thread that must not
 * touch the struct another thread is using. */
void clone_mount_remove_paths(const char *mnt, const char *cache);
/* Parse "ERROR <code> (<state>): <message>" into err; wrap donor-side codes in 3862 when asked. */
void clone_mount_relay_error(const char *line, bool wrap, struct cfs_err *err);

#endif
