/* materialize.c: clonefs materialize: copies a mounted snapshot into CLONE_DIR under the seed's DATA
 * DIRECTORY rules; builds beside it and renames at the end, resumes, keeps files sparse, fsyncs,
 * sets ownership, and records the binlog/GTID position (DESIGN §5, §9). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fs/ctl.h"
#include "fs/json.h"
#include "tools/cache_copy.h"
#include "tools/human.h"
#include "tools/commands.h"
#include "tools/materialize.h"
#include "tools/mountinfo.h"
#include "tools/rmtree.h"
#include "tools/slave_info.h"
#include "transport/path.h"
#include "transport/clock.h"

/* Files are made durable in groups (one syncfs) before the journal records them: one sync per
 * group instead of one fsync per file, which on a datadir of many small files is most of the time. */
/* In the partial directory while it is built: which snapshot it holds, and the files complete. */
#define SNAPSHOT_MARKER_NAME ".clonefs-snapshot"
#define JOURNAL_NAME ".clonefs-journal"

enum { COPY_BLOCK = 1 << 20, SPARSE_BLOCK = 4096, SYNC_GROUP_FILES = 512, SYNC_GROUP_BYTES = 256 << 20 };

struct mat {
	const char *mount;
	char clone_dir[PATH_MAX];
	char partial[PATH_MAX];     /* <parent>/.<name>.clonefs-partial, renamed to clone_dir at the end */
	char parent[PATH_MAX];
	struct mountinfo mi;
	uid_t uid;
	gid_t gid;
	bool chown;
	bool progress;
	bool through_mount;         /* --through-mount: never ask the mount for its cache (D5's path) */
	uint64_t total, done, files;
	int64_t start_ms, last_draw_ms;
	FILE *journal;              /* relative paths of files already complete and durable (resume) */
	char **pending;             /* copied, not yet synced: journaled after the next syncfs */
	size_t npending;
	uint64_t pending_bytes;
	size_t group_files;
	int64_t read_ms, write_ms, sync_ms;  /* where the time went, printed at the end */
	uint64_t files_handed_off, files_range_copied; /* taken from the mount's cache, not read through it */
	char **completed;
	size_t ncompleted;
	uint8_t *buf;
	const char *clone_dir_arg;  /* as given: check_clone_dir makes clone_dir of it */
	const char *owner;
	struct cfs_err err;
};

static void draw(struct mat *m, bool final)
{
	if (!m->progress)
		return;
	int64_t t = mono_ms();
	if (!final && t - m->last_draw_ms < 200)
		return;
	m->last_draw_ms = t;
	char d[32], tot[32], rate[32];
	double secs = (double)(t - m->start_ms) / 1000.0;
	double r = secs > 0 ? (double)m->done / secs : 0;
	human_bytes(m->done, d, sizeof(d));
	human_bytes(m->total, tot, sizeof(tot));
	human_bytes((uint64_t)r, rate, sizeof(rate));
	int pct = m->total ? (int)(m->done * 100 / m->total) : 100;
	int bar = pct / 5;
	fprintf(stderr, "\rmaterialize [%.*s%*s] %3d%% %s / %s  %s/s  ETA %llds   ", bar, "####################",
		20 - bar, "", pct, d, tot, rate,
		r > 0 ? (long long)((double)(m->total - m->done) / r) : 0LL);
	if (final)
		fputc('\n', stderr);
}

static int io_fail(struct mat *m, const char *what, const char *path)
{
	return cfs_err_set(&m->err, CFS_ER_IO, "cannot %s '%s': %s", what, path, strerror(errno));
}

/* The seed's DATA DIRECTORY rules, in MySQL's order: absolute, length, exists, creatable. */
static int check_clone_dir(struct mat *m, const char *dir)
{
	if (dir[0] != '/')
		return cfs_err_set(&m->err, ER_WRONG_VALUE, ER_WRONG_VALUE_MSG, dir);
	if (strlen(dir) >= PATH_MAX - 64)
		return cfs_err_set(&m->err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
	snprintf(m->clone_dir, sizeof(m->clone_dir), "%s", dir);
	size_t n = strlen(m->clone_dir);
	while (n > 1 && m->clone_dir[n - 1] == '/')
		m->clone_dir[--n] = 0;
	struct stat st;
	if (lstat(m->clone_dir, &st) == 0)
		return cfs_err_set(&m->err, ER_DB_CREATE_EXISTS, ER_DB_CREATE_EXISTS_MSG, m->clone_dir);
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", m->clone_dir);
	snprintf(m->parent, sizeof(m->parent), "%s", dirname(tmp));
	if (stat(m->parent, &st) != 0 || !S_ISDIR(st.st_mode) || access(m->parent, W_OK | X_OK) != 0) {
		int e = errno ? errno : ENOTDIR;
		return cfs_err_set(&m->err, ER_CANT_CREATE_DB, ER_CANT_CREATE_DB_MSG, m->clone_dir, e, strerror(e));
	}
	if (materialize_partial_path(m->clone_dir, m->partial, sizeof(m->partial)))
		return cfs_err_set(&m->err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
	return 0;
}

int materialize_partial_path(const char *clone_dir, char *out, size_t n)
{
	char dir[PATH_MAX], base[PATH_MAX];
	if (path_fmt(dir, sizeof(dir), "%s", clone_dir))
		return -ENAMETOOLONG;
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		dir[--len] = 0;
	snprintf(base, sizeof(base), "%s", dir);
	return path_fmt(out, n, "%s/.%s.clonefs-partial", dirname(dir), basename(base));
}


static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_completed(const struct mat *m, const char *rel)
{
	return m->ncompleted && bsearch(&rel, m->completed, m->ncompleted, sizeof(char *), cmp_str);
}

/* Prepare the partial directory: fresh, or resumed when it belongs to the same snapshot. */
static int open_partial(struct mat *m)
{
	char marker[PATH_MAX], jpath[PATH_MAX];
	const char *snap = mountinfo_get(&m->mi, CTL_FACT_SNAPSHOT_ID);
	if (path_join(marker, sizeof(marker), m->partial, SNAPSHOT_MARKER_NAME) ||
	    path_join(jpath, sizeof(jpath), m->partial, JOURNAL_NAME))
		return cfs_err_set(&m->err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
	char *old = mountinfo_slurp(marker, 256, NULL);
	bool resume = old && !strcmp(old, snap);
	free(old);
	struct stat st;
	if (!resume && lstat(m->partial, &st) == 0) {
		fprintf(stderr, "clonefs: removing an unfinished materialization of another snapshot: %s\n", m->partial);
		if (rm_tree(m->partial))
			return io_fail(m, "remove", m->partial);
	}
	if (!resume) {
		if (mkdir(m->partial, 0750))
			return io_fail(m, "create", m->partial);
		FILE *f = fopen(marker, "we");
		if (!f || fputs(snap, f) < 0 || fflush(f) || fsync(fileno(f))) {
			if (f)
				fclose(f);
			return io_fail(m, "write", marker);
		}
		fclose(f);
	} else {
		FILE *f = fopen(jpath, "re");
		char line[PATH_MAX + 2];
		while (f && fgets(line, sizeof(line), f)) {
			size_t n = strlen(line);
			if (!n || line[n - 1] != '\n')
				break; /* a torn last line: that file is copied again */
			line[n - 1] = 0;
			char **c = realloc(m->completed, (m->ncompleted + 1) * sizeof(char *));
			if (!c || !(c[m->ncompleted] = strdup(line)))
				break;
			m->completed = c;
			m->ncompleted++;
		}
		if (f)
			fclose(f);
		qsort(m->completed, m->ncompleted, sizeof(char *), cmp_str);
		fprintf(stderr, "clonefs: resuming %s (%zu files already complete)\n", m->partial, m->ncompleted);
	}
	m->journal = fopen(jpath, "ae");
	if (!m->journal)
		return io_fail(m, "open", jpath);
	return 0;
}

/* Make the pending files durable (one syncfs of CLONE_DIR's file system), then journal them. */
static int sync_group(struct mat *m)
{
	if (m->npending == 0)
		return 0;
	int64_t t0 = mono_ms();
	int fd = open(m->partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 || syncfs(fd) ? io_fail(m, "sync", m->partial) : 0;
	if (fd >= 0)
		close(fd);
	m->sync_ms += mono_ms() - t0;
	for (size_t i = 0; i < m->npending; i++) {
		if (rc == 0 && fprintf(m->journal, "%s\n", m->pending[i]) < 0)
			rc = io_fail(m, "write the journal of", m->partial);
		free(m->pending[i]);
	}
	if (rc == 0 && fflush(m->journal))
		rc = io_fail(m, "write the journal of", m->partial);
	m->npending = 0;
	m->pending_bytes = 0;
	return rc;
}

static int copied(struct mat *m, const char *rel, uint64_t size)
{
	char **p = realloc(m->pending, (m->npending + 1) * sizeof(char *));
	if (!p || !(p[m->npending] = strdup(rel))) {
		if (p)
			m->pending = p;
		return cfs_err_set(&m->err, CFS_ER_IO, "out of memory");
	}
	m->pending = p;
	m->npending++;
	m->pending_bytes += size;
	if (m->npending >= m->group_files || m->pending_bytes >= SYNC_GROUP_BYTES)
		return sync_group(m);
	return 0;
}

/* The mount could not give a file's bytes (the donor gone past network_timeout, a bad chunk): the
 * mount knows why, so say that. */
static int mount_read_failed(struct mat *m, const char *src, int e)
{
	if (e != EIO || mountinfo_last_error(m->mount, &m->err))
		cfs_err_set(&m->err, CFS_ER_IO, "cannot read '%s' through the mount: %s (see clonefs status %s)", src,
			    strerror(e), m->mount);
	return -1;
}

/* Read src through the mount into out: all-zero 4 KiB blocks become holes. Returns bytes copied. */
static int copy_through_mount(struct mat *m, const char *src, const char *dst, int out, uint64_t *copied)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return io_fail(m, "open (through the mount)", src);
	uint64_t off = 0;
	int rc = 0;
	for (;;) {
		int64_t t0 = mono_ms();
		ssize_t n = pread(in, m->buf, COPY_BLOCK, (off_t)off);
		int64_t t1 = mono_ms();
		m->read_ms += t1 - t0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = mount_read_failed(m, src, errno);
			break;
		}
		if (n == 0)
			break;
		for (ssize_t b = 0; b < n && rc == 0; b += SPARSE_BLOCK) {
			size_t len = (size_t)(n - b) < SPARSE_BLOCK ? (size_t)(n - b) : SPARSE_BLOCK;
			const uint8_t *p = m->buf + b;
			if (p[0] == 0 && !memcmp(p, p + 1, len - 1))
				continue; /* leave a hole */
			if (pwrite(out, p, len, (off_t)(off + (uint64_t)b)) != (ssize_t)len)
				rc = io_fail(m, "write", dst);
		}
		m->write_ms += mono_ms() - t1;
		off += (uint64_t)n;
		m->done += (uint64_t)n;
		draw(m, false);
		if (rc)
			break;
	}
	close(in);
	*copied = off;
	return rc;
}

/* Copy one regular file, from the mount's cache when it offers that, else through the mount; holes
 * where the donor's file has all-zero 4 KiB blocks. Durable at the next sync_group. */
static int copy_file(struct mat *m, const char *src, const char *dst, const struct stat *st)
{
	enum cache_copy_how how = CACHE_COPY_NONE;
	int64_t t0 = mono_ms();
	int out = m->through_mount ? -2 : cache_copy(src, dst, (uint64_t)st->st_size, st->st_mode, &how);
	m->read_ms += mono_ms() - t0; /* mostly waiting for the file's chunks to arrive */
	if (out == -1)
		return how == CACHE_COPY_NONE ? mount_read_failed(m, src, errno) : io_fail(m, "copy from the mount's cache to", dst);
	uint64_t off = (uint64_t)st->st_size;
	int rc = 0;
	if (out >= 0) {
		m->files_handed_off += how == CACHE_COPY_HANDOFF;
		m->files_range_copied += how == CACHE_COPY_RANGE;
		m->done += off;
		draw(m, false);
	} else {
		out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st->st_mode & 07777);
		if (out < 0)
			return io_fail(m, "create", dst);
		rc = copy_through_mount(m, src, dst, out, &off);
	}
	if (rc == 0 && off != (uint64_t)st->st_size)
		rc = cfs_err_set(&m->err, CFS_ER_INCOMPLETE, "'%s' ended at %llu bytes, the snapshot says %lld", src,
				 (unsigned long long)off, (long long)st->st_size);
	if (rc == 0 && ftruncate(out, (off_t)off))
		rc = io_fail(m, "truncate", dst);
	if (rc == 0) {
		struct timespec times[2] = { st->st_mtim, st->st_mtim };
		futimens(out, times);
		if (m->chown && fchown(out, m->uid, m->gid))
			rc = io_fail(m, "chown", dst);
	}
	if (close(out) && rc == 0)
		rc = io_fail(m, "close", dst);
	return rc;
}

/* Copy the tree under src (the mount, or a subdirectory) into dst; rel is the path for the journal. */
static int copy_tree(struct mat *m, const char *src, const char *dst, const char *rel, bool top)
{
	DIR *d = opendir(src);
	if (!d)
		return io_fail(m, "read directory (through the mount)", src);
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (top && (!strcmp(name, CTL_DIR_NAME) || !strcmp(name, CTL_EXTERNAL_NAME)))
			continue;
		char s[PATH_MAX], t[PATH_MAX], r[PATH_MAX];
		if (path_join(s, sizeof(s), src, name) || path_join(t, sizeof(t), dst, name) ||
		    path_fmt(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", name)) {
			rc = cfs_err_set(&m->err, CFS_ER_IO, "path too long under '%s'", dst);
			break;
		}
		struct stat st;
		if (lstat(s, &st)) {
			rc = io_fail(m, "stat (through the mount)", s);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (mkdir(t, st.st_mode & 07777) && errno != EEXIST) {
				rc = io_fail(m, "create", t);
				break;
			}
			rc = copy_tree(m, s, t, r, false);
			if (rc == 0) {
				struct timespec times[2] = { st.st_mtim, st.st_mtim };
				utimensat(AT_FDCWD, t, times, AT_SYMLINK_NOFOLLOW);
				if (m->chown && lchown(t, m->uid, m->gid))
					rc = io_fail(m, "chown", t); /* made durable by the next sync_group */
			}
		} else if (is_completed(m, r)) {
			m->done += (uint64_t)st.st_size;
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlink(s, target, sizeof(target) - 1);
			if (n < 0) {
				rc = io_fail(m, "read link", s);
				break;
			}
			target[n] = 0;
			unlink(t);
			if (symlink(target, t) || (m->chown && lchown(t, m->uid, m->gid)))
				rc = io_fail(m, "create link", t);
		} else if (S_ISREG(st.st_mode)) {
			rc = copy_file(m, s, t, &st);
			m->files++;
			if (rc == 0)
				rc = copied(m, r, (uint64_t)st.st_size);
		}
	}
	if (rc == 0 && errno)
		rc = io_fail(m, "read directory (through the mount)", src);
	closedir(d);
	return rc;
}

/* Tablespaces outside the donor's datadir: .external/<abs path> goes to /<abs path>. Each target
 * must not exist (the seed's rule); files are written as <path>.clonefs-partial and renamed last. */
static int externals(struct mat *m, const char *srcdir, const char *abs, bool check_only)
{
	DIR *d = opendir(srcdir);
	if (!d)
		return errno == ENOENT ? 0 : io_fail(m, "read directory (through the mount)", srcdir);
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char s[PATH_MAX], t[PATH_MAX], tp[PATH_MAX];
		if (path_join(s, sizeof(s), srcdir, de->d_name) || path_join(t, sizeof(t), abs, de->d_name) ||
		    path_fmt(tp, sizeof(tp), "%s.clonefs-partial", t)) {
			rc = cfs_err_set(&m->err, CFS_ER_IO, "path too long under '%s'", abs);
			break;
		}
		struct stat st, ts;
		if (lstat(s, &st)) {
			rc = io_fail(m, "stat (through the mount)", s);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (!check_only && mkdir(t, st.st_mode & 07777) && errno != EEXIST)
				rc = io_fail(m, "create", t);
			if (rc == 0)
				rc = externals(m, s, t, check_only);
		} else if (S_ISREG(st.st_mode)) {
			if (lstat(t, &ts) == 0)
				rc = cfs_err_set(&m->err, ER_FILE_EXISTS_ERROR, ER_FILE_EXISTS_ERROR_MSG, t);
			else if (!check_only && ((rc = copy_file(m, s, tp, &st)) == 0 && rename(tp, t)))
				rc = io_fail(m, "rename", tp);
		}
	}
	closedir(d);
	return rc;
}

static int write_info(struct mat *m)
{
	const struct mountinfo *mi = &m->mi;
	char path[PATH_MAX];
	struct wbuf b;
	wbuf_init(&b, 1u << 20);
	json_raw(&b, "{");
	json_kv_str(&b, "snapshot_id", mountinfo_get(mi, CTL_FACT_SNAPSHOT_ID), 0);
	json_raw(&b, ",\"donor\":{");
	json_kv_str(&b, "host", mountinfo_get(mi, CTL_FACT_DONOR_HOST), 0);
	json_kv_str(&b, "port", mountinfo_get(mi, CTL_FACT_DONOR_PORT), 1);
	json_kv_str(&b, "hostname", mountinfo_get(mi, "hostname"), 1);
	json_kv_str(&b, "version", mountinfo_get(mi, "version"), 1);
	json_kv_str(&b, "version_comment", mountinfo_get(mi, "version_comment"), 1);
	json_kv_str(&b, "datadir", mountinfo_get(mi, "datadir"), 1);
	json_raw(&b, "}");
	json_kv_str(&b, "binlog_file", mountinfo_get(mi, CTL_FACT_BINLOG_FILE), 1);
	json_kv_str(&b, "binlog_pos", mountinfo_get(mi, CTL_FACT_BINLOG_POS), 1);
	json_kv_str(&b, "gtid_pos", mountinfo_get(mi, CTL_FACT_GTID_POS), 1);
	json_kv_str(&b, "method", mountinfo_get(mi, "method"), 1);
	json_kv_str(&b, "created_at", mountinfo_get(mi, "created_at"), 1);
	slave_info_json(mi, &b);
	char note[2048];
	slave_info_innodb_note(mi, note, sizeof(note));
	if (*note)
		json_kv_str(&b, "innodb_note", note, 1);
	json_kv_u64(&b, "bytes", m->total, 1);
	json_kv_u64(&b, "materialized_at", (uint64_t)time(NULL), 1);
	json_raw(&b, ",\"facts\":{");
	for (unsigned i = 0; i < mi->n; i++)
		json_kv_str(&b, mi->key[i], mi->val[i], i > 0);
	json_raw(&b, "}}\n");
	struct wbuf si;
	wbuf_init(&si, 1u << 20);
	slave_info_text(mi, &si);
	struct { const char *name; const char *text; size_t len; } files[3];
	char line[1024];
	int ln = snprintf(line, sizeof(line), "%s\t%s\t%s\n", mountinfo_get(mi, CTL_FACT_BINLOG_FILE),
			  mountinfo_get(mi, CTL_FACT_BINLOG_POS), mountinfo_get(mi, CTL_FACT_GTID_POS));
	files[0].name = "clonefs_info.json";
	files[0].text = (const char *)b.p;
	files[0].len = b.len;
	files[1].name = "clonefs_binlog_info";
	files[1].text = line;
	files[1].len = (size_t)ln;
	files[2].name = "clonefs_slave_info";
	files[2].text = (const char *)si.p;
	files[2].len = si.len;
	int rc = 0;
	for (int i = 0; i < 3 && rc == 0; i++) {
		int fd = path_join(path, sizeof(path), m->partial, files[i].name) ? -1
			 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (fd < 0 || write(fd, files[i].text, files[i].len) != (ssize_t)files[i].len || fsync(fd) ||
		    (m->chown && fchown(fd, m->uid, m->gid)))
			rc = io_fail(m, "write", path);
		if (fd >= 0)
			close(fd);
	}
	wbuf_release(&b);
	wbuf_release(&si);
	return rc;
}

/* The whole run on m (m->mount, the options and m->clone_dir_arg set): 0, or -1 with m->err. */
static int materialize_run(struct mat *m)
{
	/* Every check before any byte is written. bytes_total counts external tablespaces too. */
	if (check_clone_dir(m, m->clone_dir_arg) || mountinfo_read(m->mount, &m->mi, &m->err))
		return -1;
	struct passwd *pw = getpwnam(m->owner ? m->owner : "mysql");
	if (m->owner && !pw) {
		cfs_err_set(&m->err, CFS_ER_USAGE, "--owner=%s: no such user", m->owner);
		return -1;
	}
	if (pw && (pw->pw_uid != getuid() || pw->pw_gid != getgid())) {
		if (geteuid() != 0) {
			if (m->owner) {
				cfs_err_set(&m->err, CFS_ER_USAGE, "--owner=%s needs root", m->owner);
				return -1;
			}
		} else {
			m->chown = true;
			m->uid = pw->pw_uid;
			m->gid = pw->pw_gid;
		}
	}
	char ext[PATH_MAX];
	if (path_join(ext, sizeof(ext), m->mount, CTL_EXTERNAL_NAME))
		return cfs_err_set(&m->err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
	struct statvfs sv;
	char *endp;
	m->total = strtoull(mountinfo_get(&m->mi, CTL_FACT_BYTES_TOTAL), &endp, 10);
	if (externals(m, ext, "", true))
		return -1;
	if (statvfs(m->parent, &sv) == 0) {
		uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		if (avail < m->total) {
			char need[32], have[32];
			human_bytes(m->total, need, sizeof(need));
			human_bytes(avail, have, sizeof(have));
			cfs_err_set(&m->err, ER_CLONE_DISK_SPACE, ER_CLONE_DISK_SPACE_MSG, need, have);
			return -1;
		}
	}
	m->buf = malloc(COPY_BLOCK);
	if (!m->buf) {
		cfs_err_set(&m->err, CFS_ER_IO, "out of memory");
		return -1;
	}
	m->start_ms = mono_ms();

	if (open_partial(m) || copy_tree(m, m->mount, m->partial, "", true) || externals(m, ext, "", false) ||
	    write_info(m) || sync_group(m))
		return -1;
	fclose(m->journal);
	m->journal = NULL;
	char path[PATH_MAX];
	if (path_join(path, sizeof(path), m->partial, JOURNAL_NAME) == 0)
		unlink(path);
	if (path_join(path, sizeof(path), m->partial, SNAPSHOT_MARKER_NAME) == 0)
		unlink(path);
	chmod(m->partial, 0750);
	/* Everything in it durable (directories, times, owners too: one syncfs), then the rename. */
	int pfd = open(m->partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool synced = pfd >= 0 && syncfs(pfd) == 0;
	if (pfd >= 0)
		close(pfd);
	if (!synced || (m->chown && chown(m->partial, m->uid, m->gid)) || fsync_path(m->partial) ||
	    rename(m->partial, m->clone_dir) || fsync_path(m->parent)) {
		io_fail(m, "finish", m->clone_dir);
		return -1;
	}
	draw(m, true);
	char size[32];
	human_bytes(m->done, size, sizeof(size));
	printf("materialized %llu files, %s, from snapshot %s into %s\n", (unsigned long long)m->files, size,
	       mountinfo_get(&m->mi, CTL_FACT_SNAPSHOT_ID), m->clone_dir);
	printf("binlog position: %s:%s  gtid: %s\n", mountinfo_get(&m->mi, CTL_FACT_BINLOG_FILE),
	       mountinfo_get(&m->mi, CTL_FACT_BINLOG_POS), mountinfo_get(&m->mi, CTL_FACT_GTID_POS));
	printf("time: reading through the mount %.2f s, writing %.2f s, syncing %.2f s\n", (double)m->read_ms / 1000,
	       (double)m->write_ms / 1000, (double)m->sync_ms / 1000);
	printf("from the mount's cache: %llu files handed off, %llu copied with copy_file_range, %llu read through the mount\n",
	       (unsigned long long)m->files_handed_off, (unsigned long long)m->files_range_copied,
	       (unsigned long long)(m->files - m->files_handed_off - m->files_range_copied));
	char note[2048];
	slave_info_innodb_note(&m->mi, note, sizeof(note));
	if (*note)
		printf("note: %s\n", note);
	printf("start it with: mysqld_safe --datadir=%s\n", m->clone_dir);
	printf("to make it a replica: %s/clonefs_slave_info\n", m->clone_dir);
	return 0;
}

/* A test's knob, CLONEFS_SYNC_GROUP_FILES: a smaller sync group. Not a number, or 0: the default. */
static size_t env_group_files(void)
{
	const char *group = getenv("CLONEFS_SYNC_GROUP_FILES");
	char *end;
	unsigned long g = group ? strtoul(group, &end, 10) : 0;
	return group && *group && !*end && g > 0 && g < SIZE_MAX ? (size_t)g : SYNC_GROUP_FILES;
}

int materialize(const struct materialize_opts *o, struct cfs_err *err)
{
	struct mat *m = calloc(1, sizeof(*m));
	if (!m)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	m->mount = o->mount;
	m->clone_dir_arg = o->clone_dir;
	m->owner = o->owner;
	m->progress = o->progress;
	m->through_mount = o->through_mount;
	m->group_files = o->sync_group_files ? o->sync_group_files : env_group_files();
	int rc = materialize_run(m);
	if (rc)
		*err = m->err;
	for (size_t i = 0; i < m->npending; i++)
		free(m->pending[i]);
	free(m->pending);
	for (size_t i = 0; i < m->ncompleted; i++)
		free(m->completed[i]);
	free(m->completed);
	if (rc && m->progress && m->done)
		fputc('\n', stderr);
	if (m->journal)
		fclose(m->journal);
	mountinfo_release(&m->mi);
	free(m->buf);
	free(m);
	return rc;
}

static int usage_err(const char *msg)
{
	fprintf(stderr, "ERROR %d (HY000): %s\nusage: clonefs materialize MOUNTPOINT CLONE_DIR [--owner=USER] [--no-progress] [--through-mount]\n",
		CFS_ER_USAGE, msg);
	return 2;
}

int cmd_materialize(int argc, char **argv)
{
	struct materialize_opts o = { 0 };
	const char *args[2] = { NULL, NULL };
	int nargs = 0;
	bool no_progress = false;
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--owner=", 8))
			o.owner = argv[i] + 8;
		else if (!strcmp(argv[i], "--no-progress"))
			no_progress = true;
		else if (!strcmp(argv[i], "--through-mount"))
			o.through_mount = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: clonefs materialize MOUNTPOINT CLONE_DIR [--owner=USER] [--no-progress] [--through-mount]\n"
			       "  --through-mount  read every file through the mount, as any program would, instead of\n"
			       "                   taking it from the mount's cache (copy_file_range, or handoff=on)\n");
			return 0;
		} else if (argv[i][0] == '-' || nargs == 2)
			return usage_err("unexpected argument");
		else
			args[nargs++] = argv[i];
	}
	if (nargs != 2)
		return usage_err("materialize needs a mount point and a CLONE_DIR");
	o.mount = args[0];
	o.clone_dir = args[1];
	o.progress = !no_progress && isatty(2);
	struct cfs_err err = { 0 };
	if (materialize(&o, &err) == 0)
		return 0;
	cfs_err_print(&err, stderr);
	return 1;
}
