/* snap_clone.c: the clone method (MySQL >= 8.0.17): CLONE LOCAL DATA DIRECTORY into the snapshot's
 * directory and the binlog position from performance_schema.clone_status. Written from MySQL's
 * documentation: it has not run against a real MySQL server (none is installable here). */
#include "transport/donor/donor.h"
#include "transport/donor/snap_clone.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* No MySQL or MariaDB release number has more digits; bounds strtoul's result. */
#define VERSION_PART_MAX 9999ul
/* MariaDB before 11 announces itself to old clients as "5.5.5-<version>-MariaDB". */
#define MARIADB_RPL_PREFIX "5.5.5-"
#define CLONE_SQL_HEAD "CLONE LOCAL DATA DIRECTORY = '"
/* How often the wait for CLONE looks at the clock and the cancel flag. */
#define POLL_MS 200
/* After KILL QUERY, how long the server gets to end the clone before the connection is cut. */
#define KILL_GRACE_S 30

#define STATUS_SQL                                                                                        \
	"SELECT STATE, DESTINATION, ERROR_NO, ERROR_MESSAGE, BINLOG_FILE, BINLOG_POSITION, GTID_EXECUTED " \
	"FROM performance_schema.clone_status ORDER BY ID DESC LIMIT 1"
#define STATUS_COLUMNS 7

static int parse_part(const char **p, unsigned *out)
{
	char *end;
	if (!isdigit((unsigned char)**p))
		return -1;
	errno = 0;
	unsigned long n = strtoul(*p, &end, 10);
	if (errno || n > VERSION_PART_MAX)
		return -1;
	*out = (unsigned)n;
	*p = end;
	return 0;
}

int snap_clone_parse_version(const char *v, struct snap_clone_version *out)
{
	memset(out, 0, sizeof(*out));
	if (!v)
		return -1;
	out->mariadb = strstr(v, "MariaDB") != NULL;
	if (out->mariadb && !strncmp(v, MARIADB_RPL_PREFIX, strlen(MARIADB_RPL_PREFIX)))
		v += strlen(MARIADB_RPL_PREFIX);
	const char *p = v;
	if (parse_part(&p, &out->major) || *p++ != '.' || parse_part(&p, &out->minor) || *p++ != '.' ||
	    parse_part(&p, &out->patch))
		return -1;
	return *p == 0 || *p == '-' ? 0 : -1;
}

/* One number ordered as the versions are (each part is at most VERSION_PART_MAX). */
static unsigned long long version_key(unsigned major, unsigned minor, unsigned patch)
{
	return ((unsigned long long)major * (VERSION_PART_MAX + 1) + minor) * (VERSION_PART_MAX + 1) + patch;
}

bool snap_clone_applies(const char *version, char *why, size_t whysz)
{
	struct snap_clone_version v;
	if (snap_clone_parse_version(version, &v)) {
		snprintf(why, whysz, "the server version '%.64s' is not of the form X.Y.Z", version ? version : "");
		return false;
	}
	if (v.mariadb) {
		snprintf(why, whysz, "the server is MariaDB %u.%u.%u: the clone plugin is MySQL's (MariaDB has no CLONE)",
			 v.major, v.minor, v.patch);
		return false;
	}
	if (version_key(v.major, v.minor, v.patch) <
	    version_key(SNAP_CLONE_MIN_MAJOR, SNAP_CLONE_MIN_MINOR, SNAP_CLONE_MIN_PATCH)) {
		snprintf(why, whysz, "the server is MySQL %u.%u.%u: CLONE LOCAL DATA DIRECTORY needs MySQL %u.%u.%u or later",
			 v.major, v.minor, v.patch, SNAP_CLONE_MIN_MAJOR, SNAP_CLONE_MIN_MINOR, SNAP_CLONE_MIN_PATCH);
		return false;
	}
	snprintf(why, whysz, "the server is MySQL %u.%u.%u (%u.%u.%u or later has CLONE LOCAL DATA DIRECTORY)", v.major,
		 v.minor, v.patch, SNAP_CLONE_MIN_MAJOR, SNAP_CLONE_MIN_MINOR, SNAP_CLONE_MIN_PATCH);
	return true;
}

int snap_clone_sql(const char *dir, bool no_backslash_escapes, char *out, size_t outsz, struct cfs_err *err)
{
	/* MySQL's own checks, in its order: an absolute path, then its length. */
	if (!dir || dir[0] != '/')
		return cfs_err_set(err, ER_WRONG_VALUE, ER_WRONG_VALUE_MSG, dir ? dir : "");
	if (strlen(dir) >= PATH_MAX)
		return cfs_err_set(err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
	size_t o = strlen(CLONE_SQL_HEAD);
	if (outsz < o + 2)
		return cfs_err_set(err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
	memcpy(out, CLONE_SQL_HEAD, o);
	for (const char *p = dir; *p; p++) {
		/* A doubled quote is a quote in either sql_mode; a backslash escapes only without
		 * NO_BACKSLASH_ESCAPES. */
		bool twice = *p == '\'' || (*p == '\\' && !no_backslash_escapes);
		size_t n = twice ? 2 : 1;
		if (o + n + 2 > outsz)
			return cfs_err_set(err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
		out[o++] = *p;
		if (twice)
			out[o++] = *p;
	}
	out[o++] = '\'';
	out[o] = 0;
	return 0;
}

/* The server's error as it is, its SQLSTATE kept, with hint (may be "") after its words. */
static int relay(unsigned code, const char *sqlstate, const char *msg, const char *hint, struct cfs_err *err)
{
	cfs_err_set(err, (int)code, "%.400s%s", msg, hint);
	if (sqlstate && strlen(sqlstate) == 5)
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", sqlstate);
	return -1;
}

int snap_clone_map_error(unsigned code, const char *sqlstate, const char *msg, struct cfs_err *err)
{
	msg = msg ? msg : "";
	switch (code) {
	case ER_SPECIFIC_ACCESS_DENIED_ERROR:
		/* The only privilege CLONE LOCAL checks. */
		return cfs_err_set(err, ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR_MSG, "BACKUP_ADMIN");
	case ER_CLONE_TOO_MANY_CONCURRENT_CLONES:
		return relay(code, sqlstate, msg, "", err);
	case SNAP_CLONE_ER_PLUGIN_NOT_LOADED:
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=clone: the donor server has no clone plugin "
				   "(ERROR 1524: %.200s): INSTALL PLUGIN clone SONAME 'mysql_clone.so' on it (or "
				   "plugin-load-add=mysql_clone.so under [mysqld]), or choose another --snapshot-method", msg);
	case ER_PARSE_ERROR:
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=clone: the donor server does not know CLONE "
				   "(ERROR 1064: %.200s): the method needs MySQL %u.%u.%u or later, not MariaDB", msg,
				   SNAP_CLONE_MIN_MAJOR, SNAP_CLONE_MIN_MINOR, SNAP_CLONE_MIN_PATCH);
	case ER_CANT_CREATE_DB:
		return relay(code, sqlstate, msg, " (the server creates the snapshot's directory as its own OS user: "
			     "it must be able to enter --state-dir and write the snapshot directory in it)", err);
	case ER_FILE_EXISTS_ERROR:
		return relay(code, sqlstate, msg, " (a local clone cannot copy a tablespace outside the datadir: "
			     "use --snapshot-method=btrfs)", err);
	case SNAP_CLONE_ER_TABLEACCESS_DENIED:
		return relay(code, sqlstate, msg, " (the snapshot's binary log position is read there: "
			     "GRANT SELECT ON performance_schema.clone_status)", err);
	default:
		return relay(code, sqlstate, msg, "", err);
	}
}

/* a and b name the same directory, up to trailing slashes. */
static bool same_dir(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	while (na > 1 && a[na - 1] == '/')
		na--;
	while (nb > 1 && b[nb - 1] == '/')
		nb--;
	return na == nb && !memcmp(a, b, na);
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

int snap_clone_status_facts(const struct snap_clone_status *st, const char *dir, struct wire_snap_info *info,
			    struct cfs_err *err)
{
	if (!st->state)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "performance_schema.clone_status has no row after CLONE LOCAL "
				   "into '%s': the snapshot's binary log position is not known", dir);
	if (strcmp(st->state, "Completed"))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "performance_schema.clone_status says the clone into '%.300s' is "
				   "'%.32s' (ERROR %.16s: %.120s)", or_empty(st->destination), st->state,
				   or_empty(st->error_no), or_empty(st->error_message));
	if (!same_dir(or_empty(st->destination), dir))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "performance_schema.clone_status describes a clone into '%.200s', "
				   "not '%.200s' (another clone ran since): the snapshot's binary log position is not known",
				   or_empty(st->destination), dir);
	const char *file = or_empty(st->binlog_file), *pos = or_empty(st->binlog_pos);
	if (*file && (!*pos || strspn(pos, "0123456789") != strlen(pos)))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "performance_schema.clone_status gives the binary log position "
				   "'%.32s' in '%.200s': not a number", pos, file);
	/* gtid_executed's text breaks the set after each comma ("uuid:1-5,\nuuid:1-3"): one line here. */
	const char *g = or_empty(st->gtid_executed);
	char *gtid = malloc(strlen(g) + 1);
	if (!gtid)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	size_t n = 0;
	for (; *g; g++)
		if (*g != '\n' && *g != '\r')
			gtid[n++] = *g;
	gtid[n] = 0;
	const char *bad = wire_snap_info_set(info, "binlog_file", file) ? "binlog_file"
			: wire_snap_info_set(info, "binlog_pos", *file ? pos : "") ? "binlog_pos"
			: wire_snap_info_set(info, "gtid_pos", gtid) ? "gtid_pos" : NULL;
	free(gtid);
	if (bad)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "the clone's %s is longer than the protocol's %u bytes for a fact",
				   bad, WIRE_FACT_VALUE_MAX);
	return 0;
}

/* The clone plugin's PLUGIN_STATUS ("ACTIVE"), "" when it is not installed. */
static int plugin_status(MYSQL *db, char *out, size_t outsz, struct cfs_err *err)
{
	return donor_query1(db, "SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'clone'", out,
			    outsz, err);
}

bool snap_clone_usable(MYSQL *db, char *why, size_t whysz)
{
	const char *version = mysql_get_server_info(db);
	if (!snap_clone_applies(version, why, whysz))
		return false;
	char st[64];
	struct cfs_err e = { 0 };
	if (plugin_status(db, st, sizeof(st), &e)) {
		snprintf(why, whysz, "cannot read information_schema.PLUGINS: ERROR %d: %.200s", e.code, e.msg);
		return false;
	}
	if (!*st) {
		snprintf(why, whysz, "the server is MySQL %.64s without the clone plugin "
			 "(INSTALL PLUGIN clone SONAME 'mysql_clone.so')", version);
		return false;
	}
	if (strcmp(st, "ACTIVE")) {
		snprintf(why, whysz, "the server's clone plugin is %.32s, not ACTIVE", st);
		return false;
	}
	snprintf(why, whysz, "the server is MySQL %.64s with the clone plugin ACTIVE", version);
	return true;
}

/* mysqld creates <dir>/data as its own OS user. When clonefsd runs as root, the snapshot directory
 * goes to the owner of the server's datadir so that it may; root still reads and removes it. */
static void give_to_server(MYSQL *db, const char *dir)
{
	char datadir[4096];
	struct stat st;
	struct cfs_err ignored;
	if (geteuid() != 0 || donor_query1(db, "SELECT @@datadir", datadir, sizeof(datadir), &ignored) ||
	    stat(datadir, &st) || st.st_uid == 0)
		return;
	if (chown(dir, st.st_uid, st.st_gid))
		donor_event("snapshot_chown_failed", "cannot give '%s' to the server's user (uid %u): %s", dir, (unsigned)st.st_uid, strerror(errno));
}

/* End the running CLONE from a second connection as the same account (KILL QUERY needs no more for
 * the account's own thread). */
static void kill_clone(unsigned long thread, const char *user, const char *password, const struct donor_peer *peer)
{
	struct cfs_err e = { 0 };
	MYSQL *k = donor_login(user, password, peer, &e);
	if (!k) {
		donor_event("snapshot_cancel_failed", "cannot stop CLONE LOCAL (thread %lu): ERROR %d: %s", thread, e.code, e.msg);
		return;
	}
	char sql[64];
	snprintf(sql, sizeof(sql), "KILL QUERY %lu", thread);
	if (mysql_query(k, sql))
		donor_event("snapshot_sql_failed", "%s failed: ERROR %u: %s", sql, mysql_errno(k), mysql_error(k));
	mysql_close(k);
}

/* Send sql and wait for its answer, at most until --snapshot-timeout and while no shutdown cancels
 * it (then KILL QUERY, and the connection is cut if the server does not end it within KILL_GRACE_S).
 * Not mysql_query: the connection's read timeout is shorter than a large clone. 0, or -1 + err. */
static int run_clone(MYSQL *db, const char *sql, const char *user, const char *password,
		     const struct donor_peer *peer, struct cfs_err *err)
{
	time_t deadline = time(NULL) + donor_cfg.snapshot_timeout_s, grace = 0;
	const char *why = NULL;
	snap_set_status("CLONE LOCAL DATA DIRECTORY");
	if (mysql_send_query(db, sql, (unsigned long)strlen(sql)))
		return snap_clone_map_error(mysql_errno(db), mysql_sqlstate(db), mysql_error(db), err);
	int fd = (int)mysql_get_socket(db);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, POLL_MS);
		if (r > 0 || (r < 0 && errno != EINTR))
			break; /* the answer, or an error mysql_read_query_result reports */
		if (!why && (snap_cancelled() || time(NULL) >= deadline)) {
			why = snap_cancelled() ? "clonefsd is stopping" : "the snapshot took longer than --snapshot-timeout";
			kill_clone(mysql_thread_id(db), user, password, peer);
			grace = time(NULL) + KILL_GRACE_S;
		} else if (why && time(NULL) >= grace) {
			donor_event("snapshot_cancel_cut", "CLONE LOCAL did not end %d s after KILL QUERY: cutting the connection", KILL_GRACE_S);
			shutdown(fd, SHUT_RDWR);
			break;
		}
	}
	if (mysql_read_query_result(db)) {
		if (why)
			return cfs_err_set(err, CFS_ER_SNAPSHOT, "CLONE LOCAL DATA DIRECTORY stopped: %s (ERROR %u: %.200s)", why,
					   mysql_errno(db), mysql_error(db));
		return snap_clone_map_error(mysql_errno(db), mysql_sqlstate(db), mysql_error(db), err);
	}
	if (why)
		donor_event("snapshot_cancel_late", "CLONE LOCAL DATA DIRECTORY completed although %s", why);
	return 0;
}

/* The clone_status row into st (pointing into *res, which the caller frees); st->state is NULL when
 * the table is empty. 0, or -1 + err. */
static int read_status(MYSQL *db, MYSQL_RES **res, struct snap_clone_status *st, struct cfs_err *err)
{
	memset(st, 0, sizeof(*st));
	*res = NULL;
	if (mysql_query(db, STATUS_SQL) || !(*res = mysql_store_result(db)))
		return snap_clone_map_error(mysql_errno(db), mysql_sqlstate(db), mysql_error(db), err);
	if (mysql_num_fields(*res) != STATUS_COLUMNS)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "performance_schema.clone_status has %u columns, not the %d "
				   "of MySQL 8.0.17 and later", mysql_num_fields(*res), STATUS_COLUMNS);
	MYSQL_ROW row = mysql_fetch_row(*res);
	if (row) {
		st->state = row[0];
		st->destination = row[1];
		st->error_no = row[2];
		st->error_message = row[3];
		st->binlog_file = row[4];
		st->binlog_pos = row[5];
		st->gtid_executed = row[6];
	}
	return 0;
}

int snap_clone_take(struct snapshot *s, MYSQL *db, const char *user, const char *password, struct cfs_err *err)
{
	char why[600], target[4200], nbe[8], sql[2 * sizeof(target) + 64];
	if (!snap_clone_usable(db, why, sizeof(why)))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=clone: %s", why);
	snprintf(target, sizeof(target), "%s/data", s->dir);
	/* MySQL creates the directory and refuses one that exists (1007). */
	struct stat st;
	if (lstat(target, &st) == 0)
		return cfs_err_set(err, ER_DB_CREATE_EXISTS, ER_DB_CREATE_EXISTS_MSG, target);
	if (errno != ENOENT)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot look at '%s': %s", target, strerror(errno));
	if (donor_query1(db, "SELECT @@SESSION.sql_mode LIKE '%NO_BACKSLASH_ESCAPES%'", nbe, sizeof(nbe), err) ||
	    snap_clone_sql(target, !strcmp(nbe, "1"), sql, sizeof(sql), err))
		return -1;
	snprintf(s->root, sizeof(s->root), "%s", target);
	s->owns_root = true;
	give_to_server(db, s->dir);

	time_t start = time(NULL);
	if (run_clone(db, sql, user, password, &s->maker, err))
		return -1;
	snap_set_status("reading performance_schema.clone_status");
	MYSQL_RES *res;
	struct snap_clone_status cs;
	int rc = read_status(db, &res, &cs, err);
	if (rc == 0)
		rc = snap_clone_status_facts(&cs, target, &s->info, err);
	mysql_free_result(res);
	if (rc)
		return -1;
	donor_event("snapshot_clone_done", "snapshot %s: CLONE LOCAL DATA DIRECTORY '%s' in %lld s, consistent with binlog %s:%s gtid %s", s->id,
		  target, (long long)(time(NULL) - start), wire_snap_info_get(&s->info, "binlog_file"),
		  wire_snap_info_get(&s->info, "binlog_pos"), wire_snap_info_get(&s->info, "gtid_pos"));
	return 0;
}
