/* snap_btrfs.c: the btrfs method: the server's backup lock held for an instant while a read-only
 * btrfs snapshot of the datadir's subvolume is made at <snapshot dir>/<id>/subvol on the datadir's
 * filesystem (snap_place.c; crash-consistent: InnoDB recovers on the clone's first start); and the
 * removal of such a subvolume. */
#include "transport/donor/donor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/btrfs.h>
#include <linux/magic.h>

#include "transport/buf.h"

/* The name of the snapshot's subvolume inside <snapshot dir>/<id>/ (and <state_dir>/<id>/ before D46). */
#define SUBVOL_NAME SNAP_PLACE_SUBVOL
/* The top-level subvolume's id (BTRFS_FS_TREE_OBJECTID in the kernel's btrfs_tree.h). */
#define BTRFS_TOP_LEVEL_ID 5
/* Test-only: milliseconds to pause once the subvolume is made, before the snapshot's metadata is
 * written (a kill -9 there must leave nothing after a restart). */
#define PAUSE_ENV "CLONEFS_TEST_BTRFS_PAUSE_MS"
/* The root directory of every btrfs subvolume has this inode number (BTRFS_FIRST_FREE_OBJECTID in
 * the kernel's btrfs_tree.h): how a subvolume root is told from a plain directory. */
#define BTRFS_SUBVOL_ROOT_INO 256
/* lock_wait_timeout's maximum (one year): a larger --snapshot-timeout is cut to it. */
#define LOCK_WAIT_MAX_S 31536000

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

bool snap_btrfs_is_btrfs(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && (unsigned long)sf.f_type == (unsigned long)BTRFS_SUPER_MAGIC;
}

/* The subvolume holding the directory real (a resolved path): its root into subvol, real's path
 * inside it into rel ("" when real is the subvolume root). 0, or -1 + err. */
static int find_subvol(const char *real, char *subvol, size_t subvolsz, char *rel, size_t relsz,
		       struct cfs_err *err)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", real);
	for (;;) {
		struct stat st;
		if (!snap_btrfs_is_btrfs(p) || stat(p, &st))
			return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=btrfs: no btrfs subvolume holds '%s' "
					   "('%s' is not on btrfs: a bind mount of a plain directory?)", real, p);
		if (st.st_ino == BTRFS_SUBVOL_ROOT_INO)
			break;
		char *slash = strrchr(p, '/');
		if (!slash || slash == p)
			return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=btrfs: no btrfs subvolume holds '%s'", real);
		*slash = 0;
	}
	size_t n = strlen(p);
	snprintf(subvol, subvolsz, "%s", p);
	snprintf(rel, relsz, "%s", real[n] == '/' ? real + n + 1 : "");
	return 0;
}

/* The filesystem's UUID: two paths on one btrfs filesystem share it. 0, or -1 (errno). */
static int fs_uuid(const char *path, uint8_t uuid[BTRFS_FSID_SIZE])
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct btrfs_ioctl_fs_info_args fi;
	memset(&fi, 0, sizeof(fi));
	int rc = ioctl(fd, BTRFS_IOC_FS_INFO, &fi);
	int saved = errno;
	close(fd);
	errno = saved;
	if (rc == 0)
		memcpy(uuid, fi.fsid, BTRFS_FSID_SIZE);
	return rc;
}

/* Tablespaces outside the datadir (the comma-separated external_paths fact) must be in the same
 * subvolume, so that the snapshot holds them (snap_btrfs_map_external serves them from there); one
 * on another subvolume or filesystem is refused, naming its path. */
static int check_external(const char *paths, const char *subvol, const struct stat *sv, struct cfs_err *err)
{
	char list[WIRE_FACT_VALUE_MAX + 1];
	snprintf(list, sizeof(list), "%s", paths ? paths : "");
	for (char *p = list, *next; p && *p; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = 0;
		struct stat st;
		size_t n = strlen(subvol);
		bool same = stat(p, &st) == 0 && st.st_dev == sv->st_dev && !strncmp(p, subvol, n) && p[n] == '/';
		if (!same)
			return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=btrfs refused: the tablespace '%s' is not "
					   "on the datadir's subvolume '%s', so a snapshot of it cannot include it "
					   "(use --snapshot-method=mariabackup)", p, subvol);
	}
	return 0;
}

bool snap_btrfs_same_fs(const char *a, const char *b)
{
	uint8_t ua[BTRFS_FSID_SIZE], ub[BTRFS_FSID_SIZE];
	return snap_btrfs_is_btrfs(a) && snap_btrfs_is_btrfs(b) && fs_uuid(a, ua) == 0 && fs_uuid(b, ub) == 0 &&
	       !memcmp(ua, ub, sizeof(ua));
}

bool snap_btrfs_usable(const char *datadir, char *why, size_t whysz)
{
	char real[PATH_MAX], subvol[PATH_MAX], rel[PATH_MAX], base[PATH_MAX];
	struct cfs_err e = { 0 };
	if (!realpath(datadir, real)) {
		snprintf(why, whysz, "cannot resolve the datadir '%s': %s", datadir, strerror(errno));
		return false;
	}
	if (!snap_btrfs_is_btrfs(real)) {
		snprintf(why, whysz, "the datadir '%s' is not on btrfs", real);
		return false;
	}
	if (find_subvol(real, subvol, sizeof(subvol), rel, sizeof(rel), &e)) {
		snprintf(why, whysz, "%s", e.msg);
		return false;
	}
	if (snap_place_base(real, base, sizeof(base), why, whysz))
		return false;
	snprintf(why, whysz, "the datadir '%s' is in btrfs subvolume '%s'; snapshots go to '%s'", real, subvol, base);
	return true;
}

bool snap_btrfs_subvol_root(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_ino == BTRFS_SUBVOL_ROOT_INO &&
	       snap_btrfs_is_btrfs(path);
}

bool snap_btrfs_own_subvol(const char *datadir, char *why, size_t whysz)
{
	char real[PATH_MAX], subvol[PATH_MAX], rel[PATH_MAX];
	struct cfs_err e = { 0 };
	snprintf(why, whysz, "cannot tell which btrfs subvolume holds the datadir '%s'", datadir);
	if (!realpath(datadir, real) || find_subvol(real, subvol, sizeof(subvol), rel, sizeof(rel), &e))
		return false;
	int fd = open(subvol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* The id of the subvolume holding fd: unprivileged with treeid 0 and the root's objectid. */
	struct btrfs_ioctl_ino_lookup_args args;
	memset(&args, 0, sizeof(args));
	args.objectid = BTRFS_SUBVOL_ROOT_INO;
	int rc = ioctl(fd, BTRFS_IOC_INO_LOOKUP, &args);
	close(fd);
	if (rc == 0 && args.treeid == BTRFS_TOP_LEVEL_ID) {
		snprintf(why, whysz, "the datadir '%s' is in the top-level subvolume '%s' of its btrfs, not in a subvolume "
			 "of its own: a snapshot would hold the whole filesystem (reflink clones the datadir alone)",
			 real, subvol);
		return false;
	}
	return rc == 0;
}

/* Every file the server uses is in the subvolume: tables' tablespaces outside the datadir
 * (external_paths) and InnoDB's redo log, undo and system tablespaces wherever its settings put
 * them (snap_innodb.c). Those InnoDB files are served at the root of the tree (facts innodb_outside,
 * innodb_outside_served), the clone's data directory. 0, or -1 + err (7005 naming the file). */
static int check_files(MYSQL *db, const char *real, const char *external, const char *subvol, const struct stat *sv,
		       struct wire_snap_info *info, struct cfs_err *err)
{
	if (check_external(external, subvol, sv, err))
		return -1;
	struct snap_outside *o = malloc(sizeof(*o));
	if (!o)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	int rc = snap_innodb_outside(db, real, o, err);
	if (rc == 0)
		rc = snap_innodb_outside_check(o, subvol, sv->st_dev, "btrfs", err);
	if (rc == 0 && info && o->n) {
		snap_innodb_outside_fact(o, info);
		wire_snap_info_set(info, "innodb_outside_served", "1");
	}
	free(o);
	return rc;
}

bool snap_btrfs_holds_all(MYSQL *db, const char *datadir, char *why, size_t whysz)
{
	char real[PATH_MAX], subvol[PATH_MAX], rel[PATH_MAX], ext[WIRE_FACT_VALUE_MAX + 1];
	struct stat sv;
	struct cfs_err e = { 0 };
	if (!snap_btrfs_usable(datadir, why, whysz) || !snap_btrfs_own_subvol(datadir, why, whysz))
		return false;
	if (!realpath(datadir, real) || find_subvol(real, subvol, sizeof(subvol), rel, sizeof(rel), &e) || stat(subvol, &sv))
		return false;
	donor_external_paths(db, ext, sizeof(ext));
	if (check_files(db, real, ext, subvol, &sv, NULL, &e)) {
		snprintf(why, whysz, "%s", e.msg);
		return false;
	}
	return true;
}

/* A snapshot of the subvolume at subvol, made as <dir>/<name> (read-only, or writable for a
 * CLONE LOCAL). 0, or -1 + err. */
static int make_subvol_snapshot(const char *subvol, const char *dir, const char *name, bool readonly,
				struct cfs_err *err)
{
	int src = open(subvol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dst = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;
	if (src < 0 || dst < 0) {
		rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot open '%s': %s", src < 0 ? subvol : dir, strerror(errno));
		goto out;
	}
	struct btrfs_ioctl_vol_args_v2 args;
	memset(&args, 0, sizeof(args));
	args.fd = src;
	args.flags = readonly ? BTRFS_SUBVOL_RDONLY : 0;
	if ((size_t)snprintf(args.name, sizeof(args.name), "%s", name) >= sizeof(args.name))
		rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "the subvolume name '%s' is too long", name);
	else if (ioctl(dst, BTRFS_IOC_SNAP_CREATE_V2, &args))
		rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "btrfs subvolume snapshot%s '%s' '%s/%s' failed: %s%s",
				 readonly ? " -r" : "", subvol, dir, name, strerror(errno),
				 errno == EXDEV ? " (--snapshot-dir must be on the same btrfs filesystem as the datadir)" : "");
out:
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	return rc;
}

/* Run the statements in order, stopping at the first error; *done counts those that succeeded. */
static int run_all(MYSQL *db, const char *const *sql, size_t n, size_t *done, struct cfs_err *err)
{
	char ignored[8];
	for (size_t i = 0; i < n; i++) {
		if (snap_cancelled())
			return cfs_err_set(err, CFS_ER_SNAPSHOT, "snapshot stopped: clonefsd is stopping");
		snap_set_status(sql[i]);
		if (donor_query1(db, sql[i], ignored, sizeof(ignored), err))
			return -1;
		(*done)++;
	}
	return 0;
}

/* Release what run_all took; errors are logged, not returned: the release must not hide the cause. */
static void release_all(MYSQL *db, const char *const *sql, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (mysql_query(db, sql[i]))
			donor_event("snapshot_sql_failed", "%s failed: ERROR %u: %s", sql[i], mysql_errno(db), mysql_error(db));
		else
			mysql_free_result(mysql_store_result(db));
	}
}

static long long elapsed_ms(const struct timespec *from)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - from->tv_sec) * 1000 + (now.tv_nsec - from->tv_nsec) / 1000000;
}

int snap_btrfs_copy(MYSQL *db, const char *subvol, const char *dir, const char *name, bool readonly,
		    struct wire_snap_info *info, struct cfs_err *err)
{
	static const char *const maria_prepare[] = { "BACKUP STAGE START", "BACKUP STAGE FLUSH", "BACKUP STAGE BLOCK_DDL" };
	/* With a binary log, InnoDB's commit record may still be in its log buffer once the commit
	 * returned (the binlog is what makes it durable): FLUSH ENGINE LOGS writes it to the redo log, so
	 * the clone, which has no binlog, does not recover it as a prepared transaction. */
	static const char *const maria_block[] = { "BACKUP STAGE BLOCK_COMMIT", "FLUSH NO_WRITE_TO_BINLOG ENGINE LOGS" };
	static const char *const maria_release[] = { "BACKUP STAGE END" };
	/* MySQL: untested here (no MySQL server on the build hosts). */
	static const char *const my_prepare[] = { "LOCK INSTANCE FOR BACKUP" };
	static const char *const my_block[] = { "FLUSH TABLES WITH READ LOCK", "FLUSH NO_WRITE_TO_BINLOG ENGINE LOGS" };
	static const char *const my_release[] = { "UNLOCK TABLES", "UNLOCK INSTANCE" };
	bool mariadb = donor_is_mariadb(db);
	const char *const *prepare = mariadb ? maria_prepare : my_prepare;
	const char *const *block = mariadb ? maria_block : my_block;
	const char *const *release = mariadb ? maria_release : my_release;
	size_t nprepare = mariadb ? ARRAY_LEN(maria_prepare) : ARRAY_LEN(my_prepare);
	size_t nblock = mariadb ? ARRAY_LEN(maria_block) : ARRAY_LEN(my_block);
	size_t nrelease = mariadb ? ARRAY_LEN(maria_release) : ARRAY_LEN(my_release);

	char ignored[8];
	/* Every lock wait is bounded by the snapshot's timeout, not the server's one-year default. */
	char old_wait[32], sql[96];
	int wait_s = donor_cfg.snapshot_timeout_s < LOCK_WAIT_MAX_S ? donor_cfg.snapshot_timeout_s : LOCK_WAIT_MAX_S;
	if (donor_query1(db, "SELECT @@SESSION.lock_wait_timeout", old_wait, sizeof(old_wait), err))
		return -1;
	snprintf(sql, sizeof(sql), "SET SESSION lock_wait_timeout = %d", wait_s > 0 ? wait_s : 1);
	if (donor_query1(db, sql, ignored, sizeof(ignored), err))
		return -1;

	struct timespec locked;
	long long held = -1;
	size_t done = 0;
	int rc = run_all(db, prepare, nprepare, &done, err);
	if (rc == 0) {
		clock_gettime(CLOCK_MONOTONIC, &locked); /* from here until the release, commits wait */
		rc = run_all(db, block, nblock, &done, err);
		if (rc == 0)
			rc = donor_replica_record(db, info, err);
		if (rc == 0) {
			snap_set_status("btrfs subvolume snapshot");
			rc = make_subvol_snapshot(subvol, dir, name, readonly, err);
		}
	}
	/* Released on every path once anything was taken, also when a later step failed. */
	if (done)
		release_all(db, release, nrelease);
	if (rc == 0)
		held = elapsed_ms(&locked);
	snprintf(sql, sizeof(sql), "SET SESSION lock_wait_timeout = %.20s", old_wait);
	if (mysql_query(db, sql))
		donor_event("snapshot_sql_failed", "cannot restore lock_wait_timeout: ERROR %u: %s", mysql_errno(db), mysql_error(db));
	if (rc)
		return -1;
	char num[32];
	snprintf(num, sizeof(num), "%lld", held);
	wire_snap_info_set(info, "lock_ms", num);
	return 0;
}

int snap_btrfs_take(struct snapshot *s, MYSQL *db, struct cfs_err *err)
{
	char datadir[4096], real[PATH_MAX], subvol[PATH_MAX], rel[PATH_MAX], why[PATH_MAX + 200];
	if (donor_query1(db, "SELECT @@datadir", datadir, sizeof(datadir), err))
		return -1;
	if (!realpath(datadir, real))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=btrfs: cannot resolve the datadir '%s': %s",
				   datadir, strerror(errno));
	if (!snap_btrfs_usable(real, why, sizeof(why)))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=btrfs: %s", why);
	struct stat sv;
	if (find_subvol(real, subvol, sizeof(subvol), rel, sizeof(rel), err))
		return -1;
	if (stat(subvol, &sv))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot stat '%s': %s", subvol, strerror(errno));
	if (check_files(db, real, wire_snap_info_get(&s->info, "external_paths"), subvol, &sv, &s->info, err))
		return -1;
	char where[PATH_MAX];
	if (snap_place_make(s, real, SNAP_PLACE_BTRFS, where, sizeof(where), err))
		return -1;
	if ((size_t)snprintf(s->root, sizeof(s->root), "%s/%s%s%s", where, SUBVOL_NAME, *rel ? "/" : "", rel) >=
	    sizeof(s->root))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "the snapshot path for '%s' is too long", real);
	s->owns_root = true;

	if (snap_btrfs_copy(db, subvol, where, SUBVOL_NAME, true, &s->info, err))
		return -1;
	wire_snap_info_set(&s->info, "btrfs_subvolume", subvol);
	bool mariadb = donor_is_mariadb(db);
	donor_event("snapshot_lock_held", "snapshot %s: %s held for %s ms (%s); read-only snapshot of subvolume %s "
		    "at %s/%s, serving %s", s->id, mariadb ? "backup lock" : "instance and read lock",
		    wire_snap_info_get(&s->info, "lock_ms"), mariadb ? "BACKUP STAGE BLOCK_COMMIT to BACKUP STAGE END"
		    : "FLUSH TABLES WITH READ LOCK to UNLOCK INSTANCE", subvol, where, SUBVOL_NAME, *rel ? rel : "its root");
	snap_test_pause(PAUSE_ENV, "before the snapshot's metadata is written");
	return 0;
}
int snap_btrfs_delete(const char *path)
{
	char dir[PATH_MAX];
	if (!snap_btrfs_subvol_root(path))
		return 0; /* no subvolume here: nothing to do */
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir || !slash[1] || strlen(slash + 1) >= sizeof(((struct btrfs_ioctl_vol_args *)0)->name)) {
		donor_event("snapshot_remove_failed", "cannot delete subvolume %s: not a path to one", path);
		return -1;
	}
	*slash = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		donor_event("snapshot_remove_failed", "cannot delete subvolume %s: %s", path, strerror(errno));
		return -1;
	}
	struct btrfs_ioctl_vol_args args;
	memset(&args, 0, sizeof(args));
	snprintf(args.name, sizeof(args.name), "%s", slash + 1);
	int rc = ioctl(fd, BTRFS_IOC_SNAP_DESTROY, &args);
	if (rc)
		donor_event("snapshot_remove_failed", "cannot delete subvolume %s (btrfs subvolume delete): %s", path, strerror(errno));
	close(fd);
	return rc ? -1 : 0;
}

int snap_btrfs_remove(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, SUBVOL_NAME);
	return snap_btrfs_delete(path);
}

/* Where snapshot s's subvolume is: <snapshot dir>/<id>/subvol, or <state>/<id>/subvol before D46. */
static void subvol_path(const struct snapshot *s, char *out, size_t outsz)
{
	char where[PATH_MAX];
	if (snap_place_read(s->dir, SNAP_PLACE_BTRFS, where, sizeof(where)) == 0)
		snprintf(out, outsz, "%s/%s", where, SUBVOL_NAME);
	else
		snprintf(out, outsz, "%s/%s", s->dir, SUBVOL_NAME);
}

int snap_btrfs_map_external(struct snapshot *s, struct cfs_err *err)
{
	const char *subvol = wire_snap_info_get(&s->info, "btrfs_subvolume");
	size_t n = subvol ? strlen(subvol) : 0;
	bool changed = false;
	char snap[PATH_MAX + 16];
	subvol_path(s, snap, sizeof(snap));
	for (uint32_t i = 0; n && s->src && i < s->m.n; i++) {
		const char *live = s->src[i];
		if (!live || strncmp(live, subvol, n) || live[n] != '/')
			continue;
		char path[8400];
		struct stat st;
		snprintf(path, sizeof(path), "%s%s", snap, live + n);
		if (lstat(path, &st) || !S_ISREG(st.st_mode))
			return cfs_err_set(err, CFS_ER_SNAPSHOT, "the tablespace '%s' is not in the snapshot at '%s'", live, path);
		char *dup = strdup(path);
		if (!dup)
			return cfs_err_set(err, CFS_ER_IO, "out of memory");
		free(s->src[i]);
		s->src[i] = dup;
		struct manifest_entry *e = &s->m.e[i];
		s->m.bytes_total = s->m.bytes_total - e->size + (uint64_t)st.st_size;
		e->size = (uint64_t)st.st_size;
		e->mtime_sec = st.st_mtim.tv_sec;
		e->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
		changed = true;
	}
	if (!changed)
		return 0;
	struct wbuf b;
	wbuf_init(&b, WIRE_MANIFEST_MAX_BYTES);
	manifest_encode(&b, &s->m);
	if (b.over) {
		wbuf_release(&b);
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "the snapshot's manifest exceeds %u bytes", WIRE_MANIFEST_MAX_BYTES);
	}
	free(s->blob);
	s->blob = b.p;
	s->blob_len = b.len;
	char num[32];
	snprintf(num, sizeof(num), "%llu", (unsigned long long)s->m.bytes_total);
	wire_snap_info_set(&s->info, "bytes_total", num);
	return 0;
}

int snap_run_all(MYSQL *db, const char *const *sql, size_t n, size_t *done, struct cfs_err *err)
{
	return run_all(db, sql, n, done, err);
}

void snap_release_all(MYSQL *db, const char *const *sql, size_t n)
{
	release_all(db, sql, n);
}
