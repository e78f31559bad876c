/* snap_place.c: where the reflink and btrfs methods put snapshot data: the snapshot directory on the
 * datadir's filesystem (--snapshot-dir, by default .clonefs-snapshots beside the datadir), the record
 * in <state>/<id> of where a snapshot's data is (written before the data exists), the removal of that
 * data, and the sweep at start-up of data whose metadata is gone (docs/decisions.md D30, D46). */
#include "transport/donor/donor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The records a method writes in <state>/<id>: the absolute path <snapshot dir>/<id>. */
static const char *const records[] = { SNAP_PLACE_REFLINK, SNAP_PLACE_BTRFS };
/* In <snapshot dir>/<id>: the --state-dir of the clonefsd that made it. Two clonefsd (two servers
 * whose datadirs share a parent) share a snapshot dir; each sweeps only its own. */
#define OWNER_NAME "state-dir"

/* a and b (their stats sa, sb) are on one filesystem: one device, or one btrfs (each subvolume of a
 * btrfs has a device number of its own, yet reflinks and snapshots go between them). */
static bool same_fs(const char *a, const struct stat *sa, const char *b, const struct stat *sb)
{
	return sa->st_dev == sb->st_dev || snap_btrfs_same_fs(a, b);
}

int snap_place_base(const char *real, char *out, size_t outsz, char *why, size_t whysz)
{
	struct stat dd, ps;
	if (stat(real, &dd)) {
		snprintf(why, whysz, "cannot stat the datadir '%s': %s", real, strerror(errno));
		return -1;
	}
	if (donor_cfg.snapshot_dir[0]) {
		if ((size_t)snprintf(out, outsz, "%s", donor_cfg.snapshot_dir) >= outsz) {
			snprintf(why, whysz, "--snapshot-dir is too long");
			return -1;
		}
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", out);
		/* It may not exist yet: its nearest existing ancestor must be on the datadir's filesystem. */
		while (stat(parent, &ps) && strrchr(parent, '/') && strrchr(parent, '/') != parent)
			*strrchr(parent, '/') = 0;
		if (stat(parent, &ps) || !same_fs(parent, &ps, real, &dd)) {
			snprintf(why, whysz, "--snapshot-dir '%s' is not on the filesystem of the datadir '%s' (a reflink "
				 "or a btrfs snapshot cannot leave its filesystem)", out, real);
			return -1;
		}
		return 0;
	}
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", real);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = 0;
	else
		snprintf(parent, sizeof(parent), "/");
	bool beside = strcmp(parent, real) && stat(parent, &ps) == 0 && same_fs(parent, &ps, real, &dd);
	if ((size_t)snprintf(out, outsz, "%s/%s", beside ? (strcmp(parent, "/") ? parent : "") : real,
			     SNAP_PLACE_DIR_NAME) >= outsz) {
		snprintf(why, whysz, "the snapshot directory for '%s' is too long", real);
		return -1;
	}
	return 0;
}

/* Write dir/name holding text, synced with its directory. */
static int write_record(const char *dir, const char *name, const char *text, struct cfs_err *err)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t n = strlen(text);
	int rc = 0;
	if (fd < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd))
		rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot write '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	int dfd = rc == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return rc;
}

int snap_place_make(const struct snapshot *s, const char *real, const char *record, char *where, size_t wheresz,
		    struct cfs_err *err)
{
	char base[PATH_MAX], why[PATH_MAX + 300];
	if (snap_place_base(real, base, sizeof(base), why, sizeof(why)))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=%s: %s", snap_method_name(s->method), why);
	if ((size_t)snprintf(where, wheresz, "%s/%s", base, s->id) >= wheresz)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "the snapshot path under '%s' is too long", base);
	/* Recorded in the state dir before the data exists, so that a crash leaves nothing behind. */
	if (write_record(s->dir, record, where, err))
		return -1;
	if ((mkdir(base, 0700) && errno != EEXIST) || mkdir(where, 0700))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot create '%s': %s", where, strerror(errno));
	return write_record(where, OWNER_NAME, donor_cfg.state_dir, err);
}

/* <snapshot dir>/<id> at where was made by another clonefsd (another --state-dir). Data from before
 * the owner was written (none there) is taken as ours, as it always was. */
static bool others(const char *where)
{
	char path[PATH_MAX + 400], owner[sizeof(donor_cfg.state_dir) + 1];
	snprintf(path, sizeof(path), "%s/%s", where, OWNER_NAME);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, owner, sizeof(owner) - 1);
	close(fd);
	owner[n > 0 ? n : 0] = 0;
	return strcmp(owner, donor_cfg.state_dir) != 0;
}

int snap_place_read(const char *dir, const char *record, char *out, size_t outsz)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, record);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, out, outsz - 1);
	close(fd);
	if (n <= 0)
		return -1;
	out[n] = 0;
	const char *id = strrchr(dir, '/');
	const char *last = strrchr(out, '/');
	if (out[0] != '/' || !id || !last || strcmp(last + 1, id + 1) || strstr(out, "/../") || memchr(out, '\n', (size_t)n))
		return -1;
	return 0;
}

bool snap_place_owns(const char *dir, const char *root)
{
	char where[PATH_MAX];
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		size_t n;
		if (snap_place_read(dir, records[i], where, sizeof(where)) == 0 && (n = strlen(where), !strncmp(root, where, n)) &&
		    root[n] == '/')
			return true;
	}
	return false;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	if (remove(path))
		donor_log("cannot remove %s: %s", path, strerror(errno));
	return 0;
}

/* Remove <snapshot dir>/<id>: the btrfs method's subvolume first (the walk does not cross into it),
 * then the rest, without following symlinks or crossing mounts. */
static void remove_data(const char *where)
{
	char subvol[PATH_MAX + 16];
	struct stat st;
	if (lstat(where, &st)) {
		if (errno != ENOENT)
			donor_log("cannot remove %s: %s", where, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		donor_log("not removing %s: not a directory", where);
		return;
	}
	snprintf(subvol, sizeof(subvol), "%s/%s", where, SNAP_PLACE_SUBVOL);
	snap_btrfs_delete(subvol);
	nftw(where, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

void snap_place_remove(const char *dir)
{
	char where[PATH_MAX];
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
		if (snap_place_read(dir, records[i], where, sizeof(where)) == 0)
			remove_data(where);
}

void snap_place_sweep(void)
{
	char real[PATH_MAX], base[PATH_MAX], why[PATH_MAX + 300];
	if (donor_cfg.snapshot_dir[0])
		snprintf(base, sizeof(base), "%s", donor_cfg.snapshot_dir);
	else if (!donor_cfg.datadir[0] || !realpath(donor_cfg.datadir, real) ||
		 snap_place_base(real, base, sizeof(base), why, sizeof(why)))
		return; /* not known without asking the server */
	DIR *d = opendir(base);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char meta[4200], dir[PATH_MAX + 300];
		struct stat st;
		snprintf(meta, sizeof(meta), "%s/%s", donor_cfg.state_dir, de->d_name);
		if (!snap_is_id(de->d_name) || lstat(meta, &st) == 0)
			continue;
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name) >= sizeof(dir) || others(dir))
			continue;
		donor_log("removing snapshot data %s: no snapshot %s in %s", dir, de->d_name, donor_cfg.state_dir);
		remove_data(dir);
	}
	if (d)
		closedir(d);
}
