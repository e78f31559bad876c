/* clone_local.c: clonefs clone "CLONE LOCAL DATA DIRECTORY = '/d'": a consistent datadir of the local
 * MariaDB server put at /d by the reflink method itself (transport/donor/snap_reflink.c, in-process),
 * with clonefs_binlog_info and clonefs_info.json as a remote clone has; /d starts with mysqld_safe. */
#include "tools/clone_local.h"

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
	if (defaults_file) {
		struct mycnf c = { 0 };
		if (mycnf_read(defaults_file, &c, err))
			return -1;
		set(r->socket, sizeof(r->socket), mycnf_get(&c, client_groups, "socket"));
		set(r->user, sizeof(r->user), mycnf_get(&c, client_groups, "user"));
		set(r->password, sizeof(r->password), mycnf_get(&c, client_groups, "password"));
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
static int write_info(const char *dir, const char *real, const struct wire_snap_info *info, time_t made,
		      struct cfs_err *err)
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
	json_kv_str(&b, "method", "reflink", 1);
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
	if (ds.st_dev != ps.st_dev) {
		cfs_err_set(err, CFS_ER_SNAPSHOT, "CLONE LOCAL: DATA DIRECTORY '%s' is not on the filesystem of the datadir "
			    "'%s': a reflink cannot leave its filesystem (give a directory on it)", dir, real);
		goto out;
	}
	/* Built hidden beside /d and renamed into place once complete, as materialize does. */
	if ((size_t)snprintf(partial, sizeof(partial), "%s/.%s.clonefs-partial", strcmp(parent, "/") ? parent : "",
			     name) >= sizeof(partial)) {
		cfs_err_set(err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
		goto out;
	}
	if (rm_tree(partial)) {
		cfs_err_set(err, CFS_ER_IO, "cannot remove an earlier partial clone '%s': %s", partial, strerror(errno));
		goto out;
	}
	if (snap_reflink_mkroot(real, partial, err))
		goto out;
	made_partial = true;
	if (snap_reflink_copy(db, real, partial, "CLONE LOCAL", &info, err) || write_info(partial, real, &info, made, err))
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
	printf("CLONE LOCAL DATA DIRECTORY '%s': a reflink snapshot of '%s' in %lld ms (backup lock held %s ms); "
	       "binlog %s:%s, GTID %s; start it with mysqld_safe --datadir=%s\n", dir, real, ms_since(&t0),
	       wire_snap_info_get(&info, "lock_ms"), wire_snap_info_get(&info, "binlog_file"),
	       wire_snap_info_get(&info, "binlog_pos"), wire_snap_info_get(&info, "gtid_pos"), dir);
	rc = 0;
out:
	if (made_partial)
		rm_tree(partial);
	wire_snap_info_release(&info);
	mysql_close(db);
	return rc;
}
