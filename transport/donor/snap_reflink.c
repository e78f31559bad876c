/* snap_reflink.c: the reflink method: a crash-consistent snapshot of a live MariaDB datadir made of
 * per-file reflinks (FICLONE, XFS or btrfs), its InnoDB redo log reset to a checkpoint taken before
 * the first data file was cloned (docs/donor.md "The reflink method"); snap_place.c says where. */
#include "transport/donor/donor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/magic.h>

#include "tools/innodb_redo.h"

#define REDO_NAME "ib_logfile0"
/* Test-only: milliseconds to pause between the InnoDB files' clones and BLOCK_COMMIT. */
#define PAUSE_ENV "CLONEFS_TEST_REFLINK_PAUSE_MS"
#define LOCK_WAIT_MAX_S 31536000
#define XFS_MAGIC 0x58465342u
#define EXT4_MAGIC 0xEF53u

/* A file to clone in the second phase, relative to the datadir. */
struct later {
	char **rel;
	size_t n, cap;
};

/* One snapshot's copy: the source and destination trees and what is left for BLOCK_COMMIT. */
struct copy {
	int src_root, dst_root;
	size_t files;
	struct later later;
	struct cfs_err *err;
};

static const char *fs_name(const char *path)
{
	struct statfs sf;
	if (statfs(path, &sf))
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case XFS_MAGIC: return "xfs";
	case (unsigned long)BTRFS_SUPER_MAGIC: return "btrfs";
	case EXT4_MAGIC: return "ext4";
	case (unsigned long)TMPFS_MAGIC: return "tmpfs";
	default: return "another filesystem";
	}
}

/* Whether the filesystem of directory dir shares extents: two anonymous files (O_TMPFILE), one
 * cloned from the other. Nothing is left behind. 0, or -errno of the failing step. */
static int probe_reflink(const char *dir)
{
	int a = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	int b = a >= 0 ? open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) : -1;
	int rc = 0;
	static const char block[4096];
	if (a < 0 || b < 0 || write(a, block, sizeof(block)) != (ssize_t)sizeof(block) || ioctl(b, FICLONE, a))
		rc = -errno;
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return rc;
}

bool snap_reflink_usable(const char *datadir, char *why, size_t whysz)
{
	char real[PATH_MAX], base[PATH_MAX];
	if (!realpath(datadir, real)) {
		snprintf(why, whysz, "cannot resolve the datadir '%s': %s", datadir, strerror(errno));
		return false;
	}
	if (snap_place_base(real, base, sizeof(base), why, whysz))
		return false;
	int rc = probe_reflink(real);
	if (rc) {
		snprintf(why, whysz, "the datadir '%s' is on %s, which cannot share extents between files (FICLONE: %s)",
			 real, fs_name(real), strerror(-rc));
		return false;
	}
	snprintf(why, whysz, "the datadir '%s' is on %s, which shares extents between files (FICLONE); snapshots "
		 "go to '%s'", real, fs_name(real), base);
	return true;
}

/* --- the copy --- */

static int later_add(struct later *l, const char *rel)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **p = realloc(l->rel, cap * sizeof(*p));
		if (!p)
			return -1;
		l->rel = p;
		l->cap = cap;
	}
	if (!(l->rel[l->n] = strdup(rel)))
		return -1;
	l->n++;
	return 0;
}

static void later_release(struct later *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->rel[i]);
	free(l->rel);
	memset(l, 0, sizeof(*l));
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && !strcmp(s + n - k, suf);
}

/* What is cloned first, under BLOCK_DDL: InnoDB's tablespaces (the system and undo tablespaces
 * too), which recovery brings forward from the recorded checkpoint, and the files only DDL writes
 * (table definitions, partitioning, triggers, schema options, links to remote tablespaces).
 * Everything else (MyISAM, Aria and CSV data, Aria's log; the redo log last) waits for BLOCK_COMMIT. */
static bool is_first_phase(const char *rel)
{
	static const char *const ddl_only[] = { ".ibd", ".frm", ".par", ".TRG", ".TRN", ".isl", "db.opt" };
	const char *slash = strrchr(rel, '/');
	const char *name = slash ? slash + 1 : rel;
	for (size_t i = 0; i < sizeof(ddl_only) / sizeof(ddl_only[0]); i++)
		if (has_suffix(name, ddl_only[i]))
			return true;
	return !slash && (!strncmp(name, "ibdata", 6) || !strncmp(name, "undo", 4));
}

/* Clone one regular file rel from the source tree into the destination tree, with its mode, owner
 * and times. */
static int clone_file(struct copy *c, const char *rel)
{
	int s = openat(c->src_root, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (s < 0 || fstat(s, &st)) {
		int e = errno;
		if (s >= 0)
			close(s);
		if (e == ENOENT)
			return 0; /* gone since the walk (a temporary file): nothing to take */
		return cfs_err_set(c->err, CFS_ER_SNAPSHOT, "cannot open '%s' in the datadir: %s", rel, strerror(e));
	}
	int d = openat(c->dst_root, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
	int rc = 0;
	if (d < 0)
		rc = cfs_err_set(c->err, CFS_ER_SNAPSHOT, "cannot create '%s' in the snapshot: %s", rel, strerror(errno));
	else if (st.st_size && ioctl(d, FICLONE, s))
		rc = cfs_err_set(c->err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink: cannot reflink '%s' (FICLONE: %s)%s",
				 rel, strerror(errno), errno == EXDEV ? ": the snapshot directory is on another filesystem"
				 : errno == EOPNOTSUPP || errno == EINVAL ? ": this filesystem cannot share extents" : "");
	if (rc == 0) {
		struct timespec t[2] = { st.st_atim, st.st_mtim };
		if (fchown(d, st.st_uid, st.st_gid) || futimens(d, t))
			rc = cfs_err_set(c->err, CFS_ER_SNAPSHOT, "cannot set the owner or times of '%s': %s", rel, strerror(errno));
	}
	if (d >= 0)
		close(d);
	close(s);
	if (rc == 0)
		c->files++;
	return rc;
}

/* Walk the directory rel ("" the datadir): directories are made, the first phase's files cloned,
 * symlinks copied; the other regular files are listed for the second phase. */
static int walk(struct copy *c, const char *rel)
{
	int fd = *rel ? openat(c->src_root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
		      : dup(c->src_root);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return cfs_err_set(c->err, CFS_ER_SNAPSHOT, "cannot read '%s' in the datadir: %s", *rel ? rel : ".",
				   strerror(errno));
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= sizeof(path)) {
			rc = cfs_err_set(c->err, CFS_ER_SNAPSHOT, "a path in the datadir is too long: '%s/%s'", rel, de->d_name);
			break;
		}
		/* Not data, or not ours to take: our own snapshots, the redo log (last, by itself), a
		 * redo log being resized, pid files, sockets, the donor's error log and binary logs. */
		if ((!*rel && (!strcmp(de->d_name, SNAP_PLACE_DIR_NAME) || !strcmp(de->d_name, REDO_NAME) ||
			       !strncmp(de->d_name, "ib_logfile", 10))) ||
		    snap_tree_skip(path, NULL))
			continue;
		struct stat st;
		if (fstatat(c->src_root, path, &st, AT_SYMLINK_NOFOLLOW)) {
			if (errno == ENOENT)
				continue;
			rc = cfs_err_set(c->err, CFS_ER_SNAPSHOT, "cannot stat '%s' in the datadir: %s", path, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdirat(c->dst_root, path, st.st_mode & 07777) || fchownat(c->dst_root, path, st.st_uid, st.st_gid,
											  AT_SYMLINK_NOFOLLOW))
				rc = cfs_err_set(c->err, CFS_ER_SNAPSHOT, "cannot create '%s' in the snapshot: %s", path,
						 strerror(errno));
			else
				rc = walk(c, path);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(c->src_root, path, target, sizeof(target) - 1);
			if (n >= 0) {
				target[n] = 0;
				if (symlinkat(target, c->dst_root, path))
					rc = cfs_err_set(c->err, CFS_ER_SNAPSHOT, "cannot copy the symlink '%s': %s", path, strerror(errno));
			}
		} else if (S_ISREG(st.st_mode)) {
			if (is_first_phase(path))
				rc = clone_file(c, path);
			else if (later_add(&c->later, path))
				rc = cfs_err_set(c->err, CFS_ER_IO, "out of memory");
		}
		/* sockets, fifos, devices: not data */
	}
	closedir(d);
	return rc;
}

/* --- the redo log --- */

/* Read the first INNODB_REDO_HEADER_BYTES of the redo log at dirfd/ib_logfile0 and parse them. */
static int redo_read(int dirfd, const char *where, struct innodb_redo *r, struct cfs_err *err)
{
	static uint8_t buf[INNODB_REDO_HEADER_BYTES]; /* one snapshot is made at a time (snapshot.c) */
	char why[200];
	int fd = openat(dirfd, REDO_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	ssize_t n = fd >= 0 && fstat(fd, &st) == 0 ? pread(fd, buf, sizeof(buf), 0) : -1;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink: cannot read %s/%s: %s", where, REDO_NAME,
				   strerror(e));
	if (innodb_redo_parse(buf, (size_t)n, (uint64_t)st.st_size, r, why, sizeof(why)))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink: %s/%s: %s (the method needs MariaDB "
				   "10.8 or later)", where, REDO_NAME, why);
	return 0;
}

/* Make the cloned log start recovery at the checkpoint recorded before any data file was cloned:
 * both checkpoint blocks say (lsn, end_lsn), as the live log's header did then. */
static int redo_rewind(int dirfd, const struct innodb_redo *at_start, struct cfs_err *err)
{
	uint8_t block[INNODB_REDO_CKPT_BYTES];
	innodb_redo_checkpoint_block(block, at_start->checkpoint_lsn, at_start->end_lsn);
	int fd = openat(dirfd, REDO_NAME, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	int rc = 0;
	if (fd < 0 || pwrite(fd, block, sizeof(block), INNODB_REDO_CHECKPOINT_1) != (ssize_t)sizeof(block) ||
	    pwrite(fd, block, sizeof(block), INNODB_REDO_CHECKPOINT_2) != (ssize_t)sizeof(block) || fdatasync(fd))
		rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot write the snapshot's %s: %s", REDO_NAME, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The server's current LSN: the most log it can have written. */
static int lsn_now(MYSQL *db, uint64_t *out, struct cfs_err *err)
{
	char v[32];
	if (donor_query1(db, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE "
			 "VARIABLE_NAME = 'INNODB_LSN_CURRENT'", v, sizeof(v), err))
		return -1;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (!*v || *end || errno)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink: the server does not report "
				   "Innodb_lsn_current ('%s')", v);
	*out = n;
	return 0;
}

/* --- the method --- */

static long long elapsed_ms(const struct timespec *from)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - from->tv_sec) * 1000 + (now.tv_nsec - from->tv_nsec) / 1000000;
}

/* InnoDB's files must all be in the datadir: its redo log, undo and system tablespaces, and no
 * tablespace elsewhere (DATA DIRECTORY=), else the clone would lack them. */
static int check_layout(MYSQL *db, const char *real, const struct wire_snap_info *info, struct cfs_err *err)
{
	static const char *const vars[] = { "innodb_log_group_home_dir", "innodb_undo_directory", "innodb_data_home_dir" };
	const char *ext = wire_snap_info_get(info, "external_paths");
	if (ext && *ext)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink refused: tablespaces outside the datadir "
				   "(%.300s) are not cloned yet (use --snapshot-method=mariabackup)", ext);
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		char sql[96], v[4096], vreal[PATH_MAX];
		snprintf(sql, sizeof(sql), "SELECT @@GLOBAL.%s", vars[i]);
		if (donor_query1(db, sql, v, sizeof(v), err))
			return -1;
		if (!*v || !strcmp(v, "./") || !strcmp(v, ".") || (realpath(v, vreal) && !strcmp(vreal, real)))
			continue;
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink refused: %s is '%s', outside the datadir "
				   "'%s' (use --snapshot-method=mariabackup)", vars[i], v, real);
	}
	return 0;
}

/* Under BLOCK_COMMIT: the rest of the datadir, then the redo log, then the log's end. */
static int take_rest(struct copy *c, MYSQL *db, uint64_t *written, struct cfs_err *err)
{
	for (size_t i = 0; i < c->later.n; i++)
		if (clone_file(c, c->later.rel[i]))
			return -1;
	if (clone_file(c, REDO_NAME))
		return -1;
	return lsn_now(db, written, err);
}

int snap_reflink_copy(MYSQL *db, const char *real, const char *dest, const char *label, struct wire_snap_info *info,
		      struct cfs_err *err)
{
	static const char *const prepare[] = { "BACKUP STAGE START", "BACKUP STAGE FLUSH", "BACKUP STAGE BLOCK_DDL" };
	static const char *const block[] = { "BACKUP STAGE BLOCK_COMMIT", "FLUSH NO_WRITE_TO_BINLOG ENGINE LOGS" };
	static const char *const release[] = { "BACKUP STAGE END" };
	char why[PATH_MAX + 300];
	struct copy c = { .err = err };
	c.src_root = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	c.dst_root = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (c.src_root < 0 || c.dst_root < 0) {
		cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot open '%s': %s", c.src_root < 0 ? real : dest, strerror(errno));
		goto fail_fds;
	}

	char old_wait[32], sql[96];
	int wait_s = donor_cfg.snapshot_timeout_s < LOCK_WAIT_MAX_S ? donor_cfg.snapshot_timeout_s : LOCK_WAIT_MAX_S;
	if (donor_query1(db, "SELECT @@SESSION.lock_wait_timeout", old_wait, sizeof(old_wait), err))
		goto fail_fds;
	snprintf(sql, sizeof(sql), "SET SESSION lock_wait_timeout = %d", wait_s > 0 ? wait_s : 1);
	if (donor_query1(db, sql, why, sizeof(why), err))
		goto fail_fds;

	struct innodb_redo start, cloned;
	struct timespec locked, t0;
	long long held = -1;
	uint64_t written = 0;
	size_t done = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = snap_run_all(db, prepare, sizeof(prepare) / sizeof(prepare[0]), &done, err);
	/* The checkpoint before the first data file is cloned: every change below its LSN is in every
	 * copy, and recovery from it redoes the rest (docs/donor.md). */
	if (rc == 0)
		rc = redo_read(c.src_root, real, &start, err);
	if (rc == 0) {
		snap_set_status("reflinks of the InnoDB files (BLOCK_DDL)");
		rc = walk(&c, "");
	}
	if (rc == 0) {
		snap_test_pause(PAUSE_ENV, "before BACKUP STAGE BLOCK_COMMIT");
		clock_gettime(CLOCK_MONOTONIC, &locked); /* from here until the release, commits wait */
		rc = snap_run_all(db, block, sizeof(block) / sizeof(block[0]), &done, err);
		if (rc == 0)
			rc = donor_replica_record(db, info, err);
		if (rc == 0) {
			snap_set_status("reflinks of the other files and the redo log (BLOCK_COMMIT)");
			rc = take_rest(&c, db, &written, err);
		}
	}
	if (done)
		snap_release_all(db, release, sizeof(release) / sizeof(release[0]));
	if (rc == 0)
		held = elapsed_ms(&locked);
	snprintf(sql, sizeof(sql), "SET SESSION lock_wait_timeout = %.20s", old_wait);
	if (mysql_query(db, sql))
		donor_log("cannot restore lock_wait_timeout: ERROR %u: %s", mysql_errno(db), mysql_error(db));
	if (rc)
		goto fail_fds;

	/* The cloned log must still hold every record from the recorded checkpoint on. */
	if (redo_read(c.dst_root, dest, &cloned, err))
		goto fail_fds;
	if (cloned.first_lsn != start.first_lsn || cloned.file_size != start.file_size) {
		cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink: InnoDB's redo log was resized while the "
			    "snapshot was made (first LSN %llu -> %llu, %llu -> %llu bytes); try again",
			    (unsigned long long)start.first_lsn, (unsigned long long)cloned.first_lsn,
			    (unsigned long long)start.file_size, (unsigned long long)cloned.file_size);
		goto fail_fds;
	}
	if (!innodb_redo_holds(&start, start.checkpoint_lsn, written)) {
		cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink: InnoDB's redo log wrapped while the "
			    "snapshot was made: %llu bytes of log were written after checkpoint LSN %llu, more than the "
			    "log's %llu bytes hold (innodb_log_file_size=%llu); a larger innodb_log_file_size or a "
			    "quieter moment", (unsigned long long)(written - start.checkpoint_lsn),
			    (unsigned long long)start.checkpoint_lsn, (unsigned long long)start.capacity,
			    (unsigned long long)start.file_size);
		goto fail_fds;
	}
	if (redo_rewind(c.dst_root, &start, err) || syncfs(c.dst_root)) {
		if (!err->code)
			cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot sync '%s': %s", dest, strerror(errno));
		goto fail_fds;
	}
	close(c.src_root);
	close(c.dst_root);
	later_release(&c.later);
	char num[32];
	snprintf(num, sizeof(num), "%lld", held);
	wire_snap_info_set(info, "lock_ms", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)start.checkpoint_lsn);
	wire_snap_info_set(info, "redo_checkpoint_lsn", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)written);
	wire_snap_info_set(info, "redo_lsn", num);
	donor_log("%s: backup lock held for %lld ms (BACKUP STAGE BLOCK_COMMIT to BACKUP STAGE END); "
		  "reflinks of %zu files in %lld ms into %s; redo log from checkpoint LSN %llu (the copy's own: "
		  "%llu) to LSN %llu (%llu of its %llu bytes)", label, held, c.files, elapsed_ms(&t0), dest,
		  (unsigned long long)start.checkpoint_lsn, (unsigned long long)cloned.checkpoint_lsn,
		  (unsigned long long)written,
		  (unsigned long long)(written - start.checkpoint_lsn), (unsigned long long)start.capacity);
	return 0;
fail_fds:
	if (c.src_root >= 0)
		close(c.src_root);
	if (c.dst_root >= 0)
		close(c.dst_root);
	later_release(&c.later);
	return -1;
}

int snap_reflink_check(MYSQL *db, char *real, size_t realsz, struct wire_snap_info *info, struct cfs_err *err)
{
	char datadir[4096], why[PATH_MAX + 300];
	if (!donor_is_mariadb(db))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink needs MariaDB 10.8 or later (its redo "
				   "log format); the server is MySQL %s", mysql_get_server_info(db));
	if (realsz < PATH_MAX)
		return cfs_err_set(err, CFS_ER_IO, "snap_reflink_check: buffer too small");
	if (donor_query1(db, "SELECT @@datadir", datadir, sizeof(datadir), err))
		return -1;
	if (!realpath(datadir, real))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink: cannot resolve the datadir '%s': %s",
				   datadir, strerror(errno));
	if (!snap_reflink_usable(real, why, sizeof(why)))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=reflink: %s", why);
	return check_layout(db, real, info, err);
}

int snap_reflink_take(struct snapshot *s, MYSQL *db, struct cfs_err *err)
{
	char real[PATH_MAX], where[PATH_MAX], label[96];
	if (snap_reflink_check(db, real, sizeof(real), &s->info, err) ||
	    snap_place_make(s, real, SNAP_PLACE_REFLINK, where, sizeof(where), err))
		return -1;
	if ((size_t)snprintf(s->root, sizeof(s->root), "%s/data", where) >= sizeof(s->root))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "the snapshot path under '%s' is too long", where);
	s->owns_root = true;
	if (snap_reflink_mkroot(real, s->root, err))
		return -1;
	snprintf(label, sizeof(label), "snapshot %s", s->id);
	return snap_reflink_copy(db, real, s->root, label, &s->info, err);
}

int snap_reflink_mkroot(const char *real, const char *root, struct cfs_err *err)
{
	struct stat dst;
	if (mkdir(root, 0700))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot create '%s': %s", root, strerror(errno));
	if (stat(real, &dst) || chmod(root, dst.st_mode & 07777) || chown(root, dst.st_uid, dst.st_gid))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot give '%s' the datadir's mode and owner: %s", root,
				   strerror(errno));
	return 0;
}
