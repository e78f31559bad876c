/* snap_dir.c: the dir method: serves --datadir as it is, for a directory no running server writes
 * (a cold datadir, a prepared backup); refused while a live server holds it. */
#include "transport/donor/donor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* InnoDB holds an fcntl write lock on its system tablespace while it runs: 1 if someone holds it. */
static int innodb_lock_held(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int locked = fcntl(fd, F_GETLK, &fl);
	close(fd); /* closing drops any lock of ours: F_GETLK takes none */
	return locked == 0 && fl.l_type != F_UNLCK;
}

int snap_dir_take(struct snapshot *s, MYSQL *db, struct cfs_err *err)
{
	if (!donor_cfg.datadir[0])
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=dir needs --datadir");
	char real[PATH_MAX], live[4096], live_real[PATH_MAX];
	if (!realpath(donor_cfg.datadir, real))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=dir: cannot open --datadir '%s': %s",
				   donor_cfg.datadir, strerror(errno));
	/* The server behind --socket must not be running on it. */
	struct cfs_err ignored;
	if (db && donor_query1(db, "SELECT @@datadir", live, sizeof(live), &ignored) == 0 && realpath(live, live_real) &&
	    !strcmp(real, live_real))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=dir refused: '%s' is the datadir of the running "
				   "server on %s (use --snapshot-method=mariabackup)", real, donor_cfg.socket);
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/ibdata1", real);
	if (innodb_lock_held(path))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=dir refused: a running server holds '%s' "
				   "(use --snapshot-method=mariabackup)", path);
	snprintf(s->root, sizeof(s->root), "%s", real);
	s->owns_root = false;
	snap_read_binlog_info(real, &s->info);
	donor_replica_from_backup(NULL, real, NULL, &s->info); /* a prepared backup's slave_info; no server owns it */
	return 0;
}
