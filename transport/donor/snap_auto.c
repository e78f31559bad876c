/* snap_auto.c: what --snapshot-method=auto means on this host: the first method the server and
 * the host support, in the order clone, btrfs, reflink, mariabackup, or an error naming what is missing. */
#include "transport/donor/donor.h"
#include "transport/donor/snap_clone.h"

#include <limits.h>
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

/* reflink takes only a datadir that holds every InnoDB file and tablespace (its layout check, as
 * at snapshot time); why says what is outside. */
static bool reflink_fits(MYSQL *db, char *why, size_t whysz)
{
	struct wire_snap_info *info = calloc(1, sizeof(*info));
	char ext[WIRE_FACT_VALUE_MAX + 1], real[PATH_MAX];
	struct cfs_err e = { 0 };
	if (!info) {
		snprintf(why, whysz, "out of memory");
		return false;
	}
	donor_external_paths(db, ext, sizeof(ext));
	wire_snap_info_set(info, "external_paths", ext);
	bool ok = snap_reflink_check(db, real, sizeof(real), info, &e) == 0;
	if (!ok)
		snprintf(why, whysz, "%s", e.msg);
	wire_snap_info_release(info);
	free(info);
	return ok;
}

int snap_method_pick(MYSQL *db, enum snap_method *out, struct cfs_err *err)
{
	const char *server = mysql_get_server_info(db);
	char datadir[4096], why[4400], why_clone[600];
	/* clone first: the server's own consistent copy; then btrfs, instant, when the datadir allows it. */
	if (snap_clone_usable(db, why_clone, sizeof(why_clone))) {
		*out = SNAP_CLONE;
		return 0;
	}
	struct cfs_err ignored;
	if (donor_query1(db, "SELECT @@datadir", datadir, sizeof(datadir), &ignored) == 0 && *datadir &&
	    snap_btrfs_holds_all(db, datadir, why, sizeof(why))) {
		*out = SNAP_BTRFS;
		return 0;
	}
	if (!*datadir)
		snprintf(why, sizeof(why), "the server did not say its datadir");
	/* reflink: instant on XFS (and btrfs without a subvolume of its own), MariaDB 10.8+'s redo log. */
	char why_reflink[4400];
	if (*datadir && donor_is_mariadb(db) && snap_reflink_usable(datadir, why_reflink, sizeof(why_reflink)) &&
	    reflink_fits(db, why_reflink, sizeof(why_reflink))) {
		*out = SNAP_REFLINK;
		return 0;
	}
	if (donor_is_mariadb(db)) {
		if (snap_have_mariabackup()) {
			*out = SNAP_MARIABACKUP;
			return 0;
		}
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=auto: the server is MariaDB %s but mariabackup "
				   "is not installed (Debian package mariadb-backup) and btrfs cannot be used: %.600s",
				   server, why);
	}
	return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=auto: the server is MySQL %s; clone cannot be used "
			   "(%.200s) and btrfs cannot be used (%.200s)", server, why_clone, why);
}

bool snap_method_available(enum snap_method m, const char *datadir, char *why, size_t whysz)
{
	switch (m) {
	case SNAP_CLONE:
		/* Decided by the server when a snapshot is asked for (snap_clone_usable). */
		snprintf(why, whysz, "MySQL %u.%u.%u or later (not MariaDB) with the clone plugin ACTIVE (INSTALL PLUGIN "
			 "clone SONAME 'mysql_clone.so'), asked when a snapshot is made; the account needs BACKUP_ADMIN",
			 SNAP_CLONE_MIN_MAJOR, SNAP_CLONE_MIN_MINOR, SNAP_CLONE_MIN_PATCH);
		return false;
	case SNAP_BTRFS:
		if (!*datadir) {
			snprintf(why, whysz, "not checked: give --datadir (the server's datadir)");
			return false;
		}
		return snap_btrfs_usable(datadir, why, whysz);
	case SNAP_REFLINK:
		if (!*datadir) {
			snprintf(why, whysz, "not checked: give --datadir (the server's datadir)");
			return false;
		}
		return snap_reflink_usable(datadir, why, whysz);
	case SNAP_MARIABACKUP:
		snprintf(why, whysz, snap_have_mariabackup() ? "mariabackup is in PATH (MariaDB servers)"
							   : "mariabackup is not in PATH (Debian package mariadb-backup)");
		return snap_have_mariabackup();
	case SNAP_DIR:
		if (!*datadir || access(datadir, R_OK | X_OK)) {
			snprintf(why, whysz, "needs --datadir, a readable directory no running server writes");
			return false;
		}
		snprintf(why, whysz, "serves '%s' as it is, refused while a server runs on it", datadir);
		return true;
	case SNAP_AUTO:
	default:
		snprintf(why, whysz, "not a method");
		return false;
	}
}
