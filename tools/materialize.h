/* materialize.h: a mounted snapshot copied into a new data directory under the seed's DATA
 * DIRECTORY rules (materialize.c); clonefs materialize and clonefs clone both run it. */
#ifndef CLONEFS_MATERIALIZE_H
#define CLONEFS_MATERIALIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "transport/errors.h"

struct materialize_opts {
	const char *mount;          /* a clonefs mount point */
	const char *clone_dir;      /* absolute, must not exist; built as materialize_partial_path */
	const char *owner;          /* files owned by this user; NULL: mysql when it exists (root only) */
	bool progress;              /* draw a progress bar on stderr */
	bool through_mount;         /* read every file through the mount, never from its cache */
	size_t sync_group_files;    /* files made durable per syncfs; 0: $CLONEFS_SYNC_GROUP_FILES or 512 */
};

/* Copy o->mount into o->clone_dir; prints its summary on stdout. 0, or -1 with err: the seed's
 * codes for CLONE_DIR (1525, 1680, 1007, 1006), 3873 for space, the mount's last error when a
 * read through it failed. An interrupted run leaves the partial directory; a new run resumes it. */
int materialize(const struct materialize_opts *o, struct cfs_err *err);
/* The hidden directory beside clone_dir a run builds in: <parent>/.<name>.clonefs-partial. 0, or
 * -ENAMETOOLONG. */
int materialize_partial_path(const char *clone_dir, char *out, size_t n);

#endif
