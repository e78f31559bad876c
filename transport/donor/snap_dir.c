/* snap_dir.c: the dir method: serves --datadir as it is, for a directory no running server writes
 * (a cold datadir, a prepared backup); refused while a live InnoDB holds it. */
#include "transport/donor/donor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int snap_dir_take(struct snapshot *s, MYSQL *db, struct cfs_err *err)
{
	(void)db;
	if (!donor_cfg.datadir[0])
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=dir needs --datadir");
	snprintf(s->root, sizeof(s->root), "%s", donor_cfg.datadir);
	s->owns_root = false;
	/* InnoDB holds an fcntl write lock on ibdata1 while it runs. */
	char path[4200];
	snprintf(path, sizeof(path), "%s/ibdata1", donor_cfg.datadir);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int locked = fcntl(fd, F_SETLK, &fl);
		int e = errno;
		close(fd);
		if (locked != 0 && (e == EAGAIN || e == EACCES))
			return cfs_err_set(err, CFS_ER_SNAPSHOT,
					   "--snapshot-method=dir refused: a running server holds '%s' (use mariabackup)", path);
	}
	snap_read_binlog_info(donor_cfg.datadir, &s->info);
	return 0;
}
