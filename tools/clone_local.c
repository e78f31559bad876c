/* clone_local.c: clonefs clone "CLONE LOCAL DATA DIRECTORY = '/d'": a consistent datadir of the local
 * MariaDB server put at /d by the reflink method itself (transport/donor/snap_reflink.c, in-process),
 * or as a writable btrfs snapshot when the datadir is a subvolume of its own and /d on its btrfs
 * (snap_btrfs.c's lock steps), or a copy of a reflink snapshot when /d is on another filesystem;
 * with clonefs_binlog_info and clonefs_info.json as a remote clone has; /d starts with mysqld_safe. */
#include "tools/clone_local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/json.h"
#include "tools/mycnf.h"
#include "transport/endpoint.h"
#include "tools/rmtree.h"
#include "transport/donor/donor.h"

enum { LOCAL_CONNECT_TIMEOUT_S = 30, LOCAL_SNAPSHOT_TIMEOUT_S = 3600 };

static MYSQL *login(const struct recipient *r, struct cfs_err *err)
{
	MYSQL *db = mysql_init(NULL);
	unsigned timeout = LOCAL_CONNECT_TIMEOUT_S;
	if (!db) {
		cfs_err_set(err, CFS_ER_IO, "out of memory");
		return NULL;
	}
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	if (!mysql_real_connect(db, NULL, r->user[0] ? r->user : NULL, r->password[0] ? r->password : NULL, NULL, 0,
				r->socket[0] ? r->socket : NULL, 0)) {
		cfs_err_set(err, (int)mysql_errno(db), "%s", mysql_error(db));
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", mysql_sqlstate(db));
		mysql_close(db);
		return NULL;
	}
	return db;
}

#define DEFAULT_SOCKET "/run/mysqld/mysqld.sock"

static const char *const client_groups[] = { "client", "client-server", "client-mariadb", "mysql", "clonefs", NULL };

static void set(char *dst, size_t n, const char *v)
{
	if (v)
		snprintf(dst, n, "%s", v);
}

int clone_local_login(const char *defaults_file, const struct clone_local_login *l, struct recipient *r,
		      struct cfs_err *err)
{
	{ /* as the mysql client: its groups of defaults_file, else of the default option files */
		struct mycnf c = { 0 };
		if (mycnf_load(defaults_file, client_groups, NULL, &c, err))
			return -1;
		set(r->socket, sizeof(r->socket), mycnf_get(&c, "socket"));
		set(r->user, sizeof(r->user), mycnf_get(&c, "user"));
		set(r->password, sizeof(r->password), mycnf_get(&c, "password"));
		mycnf_release(&c);
	}
	set(r->socket, sizeof(r->socket), l->socket);
	set(r->user, sizeof(r->user), l->user);
	set(r->password, sizeof(r->password), l->password);
	if (l->prompt && endpoint_password(NULL, r->password, sizeof(r->password), err))
		return -1;
	if (!r->socket[0])
		set(r->socket, sizeof(r->socket), DEFAULT_SOCKET);
	if (!r->user[0]) {
		const char *u = getenv("USER");
		set(r->user, sizeof(r->user), u && *u ? u : "root");
	}
	MYSQL *db = login(r, err);
	if (!db)
		return -1;
	int rc = donor_query1(db, "SELECT @@datadir", r->datadir, sizeof(r->datadir), err);
	mysql_close(db);
	size_t n = strlen(r->datadir);
	while (n > 1 && r->datadir[n - 1] == '/')
		r->datadir[--n] = 0;
	r->running = rc == 0;
	return rc;
}

/* clonefs_binlog_info and clonefs_info.json in dir, owned as dir is. */
static int write_info(const char *dir, const char *real, const struct wire_snap_info *info, const char *method,
		      time_t made, struct cfs_err *err)
{
	struct wbuf b;
	char id[64], num[32];
	struct stat st;
	if (stat(dir, &st))
		return cfs_err_set(err, CFS_ER_IO, "cannot stat '%s': %s", dir, strerror(errno));
	snprintf(id, sizeof(id), "local-%lld", (long long)made);
	snprintf(num, sizeof(num), "%lld", (long long)made);
	wbuf_init(&b, 1u << 20);
	json_raw(&b, "{");
	json_kv_str(&b, "snapshot_id", id, 0);
	json_raw(&b, ",\"donor\":{");
	json_kv_str(&b, "host", "localhost", 0);
	json_kv_str(&b, "version", wire_snap_info_get(info, "version"), 1);
	json_kv_str(&b, "datadir", real, 1);
	json_raw(&b, "}");
	json_kv_str(&b, "binlog_file", wire_snap_info_get(info, "binlog_file"), 1);
	json_kv_str(&b, "binlog_pos", wire_snap_info_get(info, "binlog_pos"), 1);
	json_kv_str(&b, "gtid_pos", wire_snap_info_get(info, "gtid_pos"), 1);
	json_kv_str(&b, "method", method, 1);
	json_kv_str(&b, "created_at", num, 1);
	json_kv_u64(&b, "materialized_at", (uint64_t)time(NULL), 1);
	json_raw(&b, ",\"facts\":{");
	for (uint32_t i = 0; i < info->nfacts; i++)
		json_kv_str(&b, info->facts[i].key, info->facts[i].value, i > 0);
	json_raw(&b, "}}\n");
	char line[1024];
	int ln = snprintf(line, sizeof(line), "%s\t%s\t%s\n", wire_snap_info_get(info, "binlog_file"),
			  wire_snap_info_get(info, "binlog_pos"), wire_snap_info_get(info, "gtid_pos"));
	const char *names[2] = { "clonefs_info.json", "clonefs_binlog_info" };
	const char *texts[2] = { (const char *)b.p, line };
	size_t lens[2] = { b.len, ln > 0 && (size_t)ln < sizeof(line) ? (size_t)ln : 0 };
	int rc = b.over ? cfs_err_set(err, CFS_ER_IO, "clonefs_info.json is too large") : 0;
	for (int i = 0; i < 2 && rc == 0; i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd < 0 || write(fd, texts[i], lens[i]) != (ssize_t)lens[i] || fchown(fd, st.st_uid, st.st_gid) ||
		    fsync(fd))
			rc = cfs_err_set(err, CFS_ER_IO, "cannot write '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	wbuf_release(&b);
	return rc;
}

/* Copy the regular file s (open) into d (open, empty): its data extents only, so holes stay holes;
 * copy_file_range (the kernel copies, or shares extents where it can), else read and write. */
static int copy_data(int s, int d, off_t size)
{
	static char buf[1 << 20];
	off_t pos = 0;
	while (pos < size) {
		off_t data = lseek(s, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* a hole to the end */
		if (data < 0)
			return -1;
		off_t hole = lseek(s, data, SEEK_HOLE);
		if (hole < 0)
			return -1;
		for (off_t at = data; at < hole;) {
			off_t in = at, out = at;
			ssize_t n = copy_file_range(s, &in, d, &out, (size_t)(hole - at), 0);
			if (n < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)) {
				ssize_t r = pread(s, buf, (size_t)(hole - at) < sizeof(buf) ? (size_t)(hole - at) : sizeof(buf), at);
				n = r > 0 ? pwrite(d, buf, (size_t)r, at) : r;
				if (n >= 0 && n != r)
					n = -1;
			}
			if (n <= 0)
				return n == 0 ? (errno = EIO, -1) : -1;
			at += n;
		}
		pos = hole;
	}
	return ftruncate(d, size);
}

/* Copy the tree rel of src_root into dst_root: directories, regular files and symlinks, with their
 * modes, owners and times. */
static int copy_tree(int src_root, int dst_root, const char *rel, struct cfs_err *err)
{
	int fd = *rel ? openat(src_root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dup(src_root);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return cfs_err_set(err, CFS_ER_IO, "cannot read '%s' in the snapshot: %s", rel, strerror(errno));
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char path[PATH_MAX];
		struct stat st;
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= sizeof(path) ||
		    fstatat(src_root, path, &st, AT_SYMLINK_NOFOLLOW)) {
			rc = cfs_err_set(err, CFS_ER_IO, "cannot stat '%s' in the snapshot: %s", path, strerror(errno));
			break;
		}
		struct timespec t[2] = { st.st_atim, st.st_mtim };
		if (S_ISDIR(st.st_mode)) {
			if (mkdirat(dst_root, path, st.st_mode & 07777) || copy_tree(src_root, dst_root, path, err))
				rc = err->code ? -1 : cfs_err_set(err, CFS_ER_IO, "cannot create '%s': %s", path, strerror(errno));
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(src_root, path, target, sizeof(target) - 1);
			if (n < 0 || (target[n] = 0, symlinkat(target, dst_root, path)))
				rc = cfs_err_set(err, CFS_ER_IO, "cannot copy the symlink '%s': %s", path, strerror(errno));
		} else if (S_ISREG(st.st_mode)) {
			int s = openat(src_root, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			int d = openat(dst_root, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
			if (s < 0 || d < 0 || copy_data(s, d, st.st_size) || futimens(d, t))
				rc = cfs_err_set(err, CFS_ER_IO, "cannot copy '%s': %s", path, strerror(errno));
			if (s >= 0)
				close(s);
			if (d >= 0)
				close(d);
		}
		if (rc == 0 && fchownat(dst_root, path, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW))
			rc = cfs_err_set(err, CFS_ER_IO, "cannot give '%s' its owner: %s", path, strerror(errno));
		if (rc == 0 && S_ISDIR(st.st_mode) && utimensat(dst_root, path, t, AT_SYMLINK_NOFOLLOW))
			rc = cfs_err_set(err, CFS_ER_IO, "cannot set the times of '%s': %s", path, strerror(errno));
	}
	closedir(dir);
	return rc;
}

/* /d is on another filesystem: a reflink snapshot in the datadir's snapshot directory, copied into
 * partial, then removed. */
static int snapshot_and_copy(MYSQL *db, const char *real, const char *partial, struct wire_snap_info *info,
			     struct cfs_err *err)
{
	char base[PATH_MAX], tmp[PATH_MAX + 64], root[PATH_MAX + 80], why[PATH_MAX + 300];
	if (snap_place_base(real, base, sizeof(base), why, sizeof(why)))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "CLONE LOCAL: %s", why);
	snprintf(tmp, sizeof(tmp), "%s/local-%ld-%lld", base, (long)getpid(), (long long)time(NULL));
	snprintf(root, sizeof(root), "%s/data", tmp);
	if ((mkdir(base, 0700) && errno != EEXIST) || mkdir(tmp, 0700))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot create '%s': %s", tmp, strerror(errno));
	int rc = snap_reflink_mkroot(real, root, err);
	if (rc == 0)
		rc = snap_reflink_copy(db, real, root, "CLONE LOCAL (a snapshot, then a copy)", info, err);
	if (rc == 0) {
		int s = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		int d = open(partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (s < 0 || d < 0)
			rc = cfs_err_set(err, CFS_ER_IO, "cannot open '%s': %s", s < 0 ? root : partial, strerror(errno));
		else if ((rc = copy_tree(s, d, "", err)) == 0 && syncfs(d))
			rc = cfs_err_set(err, CFS_ER_IO, "cannot sync '%s': %s", partial, strerror(errno));
		if (s >= 0)
			close(s);
		if (d >= 0)
			close(d);
	}
	rm_tree(tmp);
	return rc;
}

/* A btrfs snapshot holds the whole datadir: what a reflink snapshot leaves out goes (pid files,
 * sockets, logs, binary logs, the server's replica state, a redo log being resized, our snapshot
 * directory), at rel ("" the root) and below. 0, or -1 + err. */
static int prune(const char *root, const char *rel, const struct wire_snap_info *info, struct cfs_err *err)
{
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s%s%s", root, *rel ? "/" : "", rel) >= sizeof(dir))
		return cfs_err_set(err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
	DIR *d = opendir(dir);
	if (!d)
		return cfs_err_set(err, CFS_ER_IO, "cannot read '%s': %s", dir, strerror(errno));
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		char r[PATH_MAX], full[PATH_MAX * 2];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= sizeof(r)) {
			rc = cfs_err_set(err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
			break;
		}
		snprintf(full, sizeof(full), "%s/%s", root, r);
		bool drop = snap_tree_skip(r, NULL) ||
			    (!*rel && (donor_replica_state_file(de->d_name, info) || !strcmp(de->d_name, SNAP_PLACE_DIR_NAME) ||
				       (!strncmp(de->d_name, "ib_logfile", 10) && strcmp(de->d_name, "ib_logfile0"))));
		struct stat st;
		if (lstat(full, &st))
			continue;
		if (drop || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) { /* a socket: not data */
			if (rm_tree(full))
				rc = cfs_err_set(err, CFS_ER_IO, "cannot remove '%s': %s", full, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			rc = prune(root, r, info, err);
		}
	}
	closedir(d);
	return rc;
}

static long long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

int clone_local_run(const struct recipient *r, const char *dir, struct cfs_err *err)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	time_t made = time(NULL);
	MYSQL *db = login(r, err);
	if (!db)
		return -1;
	struct wire_snap_info info;
	memset(&info, 0, sizeof(info));
	char real[PATH_MAX], partial[PATH_MAX + 32], parent[PATH_MAX], name[PATH_MAX];
	bool made_partial = false;
	int rc = -1;
	if (!donor_cfg.snapshot_timeout_s)
		donor_cfg.snapshot_timeout_s = LOCAL_SNAPSHOT_TIMEOUT_S; /* bounds every lock wait */
	if (donor_check_privilege(db, err) || donor_facts(db, &info, err) ||
	    snap_reflink_check(db, real, sizeof(real), &info, err))
		goto out;
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	snprintf(parent, sizeof(parent), "%s", dirname(tmp));
	snprintf(tmp, sizeof(tmp), "%s", dir);
	snprintf(name, sizeof(name), "%s", basename(tmp));
	struct stat ds, ps;
	if (stat(real, &ds) || stat(parent, &ps)) {
		cfs_err_set(err, CFS_ER_IO, "cannot stat '%s': %s", stat(real, &ds) ? real : parent, strerror(errno));
		goto out;
	}
	/* Reflinks cross btrfs subvolumes (each its own st_dev): a datadir that is a subvolume clones into
	 * another subvolume of its filesystem too. */
	bool same_fs = ds.st_dev == ps.st_dev || snap_btrfs_same_fs(real, parent);
	/* Built hidden beside /d and renamed into place once complete, as materialize does. */
	if ((size_t)snprintf(partial, sizeof(partial), "%s/.%s.clonefs-partial", strcmp(parent, "/") ? parent : "",
			     name) >= sizeof(partial)) {
		cfs_err_set(err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
		goto out;
	}
	snap_btrfs_delete(partial); /* an earlier btrfs clone's: rm_tree cannot remove a subvolume */
	if (rm_tree(partial)) {
		cfs_err_set(err, CFS_ER_IO, "cannot remove an earlier partial clone '%s': %s", partial, strerror(errno));
		goto out;
	}
	/* The datadir a subvolume of its own, /d on its btrfs: a writable snapshot of it is /d. */
	char why[PATH_MAX + 300];
	bool subvol = same_fs && snap_btrfs_subvol_root(real) && snap_btrfs_same_fs(real, parent) &&
		      snap_btrfs_own_subvol(real, why, sizeof(why));
	if (subvol) {
		const char *slash = strrchr(partial, '/');
		made_partial = true;
		if (snap_btrfs_copy(db, real, parent, slash + 1, false, &info, err) || prune(partial, "", &info, err))
			goto out;
	} else {
		if (snap_reflink_mkroot(real, partial, err))
			goto out;
		made_partial = true;
		if (same_fs ? snap_reflink_copy(db, real, partial, "CLONE LOCAL", &info, err)
			    : snapshot_and_copy(db, real, partial, &info, err))
			goto out;
	}
	if (write_info(partial, real, &info, subvol ? "btrfs" : "reflink", made, err))
		goto out;
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || rename(partial, dir) || fsync(pfd)) {
		cfs_err_set(err, CFS_ER_IO, "cannot rename '%s' to '%s': %s", partial, dir, strerror(errno));
		if (pfd >= 0)
			close(pfd);
		goto out;
	}
	close(pfd);
	made_partial = false;
	printf("CLONE LOCAL DATA DIRECTORY '%s': %s of '%s' in %lld ms (backup lock held %s ms); "
	       "binlog %s:%s, GTID %s; start it with mysqld_safe --datadir=%s\n", dir,
	       subvol ? "a btrfs subvolume snapshot" : same_fs ? "a reflink snapshot" : "a copy of a reflink snapshot",
	       real, ms_since(&t0),
	       wire_snap_info_get(&info, "lock_ms"), wire_snap_info_get(&info, "binlog_file"),
	       wire_snap_info_get(&info, "binlog_pos"), wire_snap_info_get(&info, "gtid_pos"), dir);
	rc = 0;
out:
	if (made_partial && snap_btrfs_delete(partial) == 0)
		rm_tree(partial);
	wire_snap_info_release(&info);
	mysql_close(db);
	return rc;
}
