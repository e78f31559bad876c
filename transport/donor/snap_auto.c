/* snap_auto.c: what --snapshot-method=auto means on this host: the first method the server and
 * the host support (today mariabackup for MariaDB; clone and btrfs are not built yet), or an error
 * naming what is missing. */
#include "transport/donor/donor.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool snap_have_mariabackup(void)
{
	const char *path = getenv("PATH");
	char dir[4096], exe[4200];
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n && n < sizeof(dir)) {
			memcpy(dir, path, n);
			dir[n] = 0;
			snprintf(exe, sizeof(exe), "%s/mariabackup", dir);
			if (access(exe, X_OK) == 0)
				return true;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

int snap_method_pick(MYSQL *db, enum snap_method *out, struct cfs_err *err)
{
	const char *server = mysql_get_server_info(db);
	if (donor_is_mariadb(db)) {
		if (snap_have_mariabackup()) {
			*out = SNAP_MARIABACKUP;
			return 0;
		}
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=auto: the server is MariaDB %s but mariabackup "
				   "is not installed (Debian package mariadb-backup)", server);
	}
	return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=auto: the server is MySQL %s; this clonefsd takes "
			   "snapshots of MariaDB (mariabackup) and of cold directories (--snapshot-method=dir) only: "
			   "the clone and btrfs methods are not built yet", server);
}
