/* test_snap_clone.c: the clone method's parts that need no server: which version strings it
 * applies to and why not, the CLONE LOCAL statement it builds (quotes, backslashes, sql_mode),
 * the errors a recipient sees, and the binlog facts taken from performance_schema.clone_status. */
#include <string.h>

#include "tests/unit/tap.h"
#include "transport/donor/donor.h"
#include "transport/donor/snap_clone.h"

/* Defined by clonefsd's main, which the library leaves out; snap_clone.o's method refers to it,
 * the helpers tested here never read it. */
struct donor_config donor_cfg;

static char why[600];

static bool applies(const char *v)
{
	why[0] = 0;
	return snap_clone_applies(v, why, sizeof(why));
}

static bool version_is(const char *s, unsigned major, unsigned minor, unsigned patch, bool mariadb)
{
	struct snap_clone_version v;
	return snap_clone_parse_version(s, &v) == 0 && v.major == major && v.minor == minor && v.patch == patch &&
	       v.mariadb == mariadb;
}

static void test_version_parsing(void)
{
	CHECK(version_is("8.0.36", 8, 0, 36, false));
	CHECK(version_is("8.4.0-commercial", 8, 4, 0, false));
	CHECK(version_is("5.7.44-log", 5, 7, 44, false));
	CHECK(version_is("10.11.6-MariaDB-0+deb12u1", 10, 11, 6, true));
	CHECK(version_is("5.5.5-10.11.6-MariaDB", 10, 11, 6, true));
	CHECK(version_is("8.0.36-28", 8, 0, 36, false)); /* Percona Server */
	struct snap_clone_version v;
	CHECK(snap_clone_parse_version("8.0", &v) == -1);
	CHECK(snap_clone_parse_version("8.0.x", &v) == -1);
	CHECK(snap_clone_parse_version("8.0.36beta", &v) == -1);
	CHECK(snap_clone_parse_version("", &v) == -1);
	CHECK(snap_clone_parse_version(NULL, &v) == -1);
	CHECK(snap_clone_parse_version("-8.0.36", &v) == -1);
	CHECK(snap_clone_parse_version("99999999999999999999.0.1", &v) == -1);
}

static void test_applicability_and_reason(void)
{
	CHECK(applies("8.0.36") && strstr(why, "MySQL 8.0.36"));
	CHECK(applies("8.0.17"));
	CHECK(applies("8.4.0-commercial"));
	CHECK(applies("9.1.0"));
	CHECK(!applies("8.0.16") && strstr(why, "MySQL 8.0.16") && strstr(why, "8.0.17 or later"));
	CHECK(!applies("5.7.44-log") && strstr(why, "MySQL 5.7.44"));
	CHECK(!applies("10.11.6-MariaDB-0+deb12u1") && strstr(why, "MariaDB 10.11.6"));
	CHECK(!applies("11.4.2-MariaDB") && strstr(why, "MariaDB"));
	CHECK(!applies("garbage") && strstr(why, "'garbage'"));
	CHECK(!applies(NULL));
}

static void test_sql_built(void)
{
	char sql[256];
	struct cfs_err err = { 0 };
	CHECK(snap_clone_sql("/var/lib/clonefs/20260101-000000-abcdef012345/data", false, sql, sizeof(sql), &err) == 0);
	CHECK(!strcmp(sql, "CLONE LOCAL DATA DIRECTORY = '/var/lib/clonefs/20260101-000000-abcdef012345/data'"));
	/* A quote is doubled (valid in every sql_mode); a backslash doubled unless NO_BACKSLASH_ESCAPES. */
	CHECK(snap_clone_sql("/st/it's\\x", false, sql, sizeof(sql), &err) == 0);
	CHECK(!strcmp(sql, "CLONE LOCAL DATA DIRECTORY = '/st/it''s\\\\x'"));
	CHECK(snap_clone_sql("/st/it's\\x", true, sql, sizeof(sql), &err) == 0);
	CHECK(!strcmp(sql, "CLONE LOCAL DATA DIRECTORY = '/st/it''s\\x'"));
	CHECK(snap_clone_sql("/'", false, sql, sizeof(sql), &err) == 0);
	CHECK(!strcmp(sql, "CLONE LOCAL DATA DIRECTORY = '/'''"));
	/* Not absolute: refused as MySQL refuses it (1525). */
	cfs_err_clear(&err);
	CHECK(snap_clone_sql("data", false, sql, sizeof(sql), &err) == -1);
	CHECK(err.code == ER_WRONG_VALUE && !strcmp(err.msg, "Incorrect path value: 'data'"));
	cfs_err_clear(&err);
	CHECK(snap_clone_sql("", false, sql, sizeof(sql), &err) == -1 && err.code == ER_WRONG_VALUE);
	/* Does not fit: 1680, never cut short. */
	char small[40];
	cfs_err_clear(&err);
	CHECK(snap_clone_sql("/a/b", false, small, sizeof(small), &err) == 0);
	CHECK(snap_clone_sql("/a/long/enough/path", false, small, sizeof(small), &err) == -1 && err.code == ER_PATH_LENGTH);
	/* Exactly fitting, and one more byte (a doubled quote) too many. */
	char exact[sizeof("CLONE LOCAL DATA DIRECTORY = '/ab'")];
	CHECK(snap_clone_sql("/ab", false, exact, sizeof(exact), &err) == 0);
	CHECK(snap_clone_sql("/a'", false, exact, sizeof(exact), &err) == -1);
}

static void test_error_mapping(void)
{
	struct cfs_err err = { 0 };
	CHECK(snap_clone_map_error(1227, "42000", "Access denied; you need (at least one of) the BACKUP_ADMIN "
				   "privilege(s) for this operation", &err) == -1);
	CHECK(err.code == 1227 && !strcmp(err.sqlstate, "42000") && strstr(err.msg, "BACKUP_ADMIN"));
	CHECK(!strcmp(err.msg, "Access denied; you need (at least one of) the BACKUP_ADMIN privilege(s) for this operation"));

	cfs_err_clear(&err);
	snap_clone_map_error(3634, "HY000", "Too many concurrent clone operations. Maximum allowed - 1.", &err);
	CHECK(err.code == 3634 && !strcmp(err.sqlstate, "HY000") &&
	      !strcmp(err.msg, "Too many concurrent clone operations. Maximum allowed - 1."));

	cfs_err_clear(&err);
	snap_clone_map_error(1524, "HY000", "Plugin 'clone' is not loaded", &err);
	CHECK(err.code == 7005 && !strcmp(err.sqlstate, "HY000"));
	CHECK(strstr(err.msg, "INSTALL PLUGIN clone SONAME 'mysql_clone.so'") && strstr(err.msg, "1524"));

	cfs_err_clear(&err);
	snap_clone_map_error(1064, "42000", "You have an error in your SQL syntax; ... near 'CLONE LOCAL", &err);
	CHECK(err.code == 7005 && strstr(err.msg, "8.0.17") && strstr(err.msg, "MariaDB"));

	cfs_err_clear(&err);
	snap_clone_map_error(1086, "HY000", "File '/ext/t1.ibd' already exists", &err);
	CHECK(err.code == 1086 && strstr(err.msg, "File '/ext/t1.ibd' already exists") && strstr(err.msg, "btrfs"));

	cfs_err_clear(&err);
	snap_clone_map_error(1006, "HY000", "Can't create database '/s/x/data' (errno: 13 - Permission denied)", &err);
	CHECK(err.code == 1006 && strstr(err.msg, "errno: 13") && strstr(err.msg, "--state-dir"));

	cfs_err_clear(&err);
	snap_clone_map_error(1142, "42000", "SELECT command denied to user 'u'@'localhost' for table 'clone_status'", &err);
	CHECK(err.code == 1142 && !strcmp(err.sqlstate, "42000") && strstr(err.msg, "GRANT SELECT ON performance_schema"));

	/* Anything else: relayed with the server's code, SQLSTATE and words. */
	cfs_err_clear(&err);
	snap_clone_map_error(3873, "HY000", "Clone estimated database size is 10 GiB. Available space 1 GiB is not enough.",
			     &err);
	CHECK(err.code == 3873 && !strcmp(err.sqlstate, "HY000") && !strncmp(err.msg, "Clone estimated", 15));
	cfs_err_clear(&err);
	snap_clone_map_error(1317, "70100", "Query execution was interrupted", &err);
	CHECK(err.code == 1317 && !strcmp(err.sqlstate, "70100"));
	cfs_err_clear(&err);
	snap_clone_map_error(2013, "HY000", NULL, &err);
	CHECK(err.code == 2013 && err.msg[0] == 0);
}

static bool fact_is(const struct wire_snap_info *info, const char *key, const char *want)
{
	const char *v = wire_snap_info_get(info, key);
	return v && !strcmp(v, want);
}

static void test_clone_status_facts(void)
{
	const char *dir = "/state/id/data";
	struct wire_snap_info info;
	struct cfs_err err = { 0 };
	memset(&info, 0, sizeof(info));
	struct snap_clone_status st = {
		.state = "Completed", .destination = "/state/id/data/", .error_no = "0", .error_message = "",
		.binlog_file = "binlog.000007", .binlog_pos = "1307",
		.gtid_executed = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-2",
	};
	CHECK(snap_clone_status_facts(&st, dir, &info, &err) == 0);
	CHECK(fact_is(&info, "binlog_file", "binlog.000007") && fact_is(&info, "binlog_pos", "1307"));
	CHECK(fact_is(&info, "gtid_pos", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-2"));

	/* No binary log: empty file, the position left empty too (the keys the other methods fill). */
	struct snap_clone_status nolog = { .state = "Completed", .destination = dir, .binlog_file = "",
					   .binlog_pos = "0", .gtid_executed = NULL };
	CHECK(snap_clone_status_facts(&nolog, dir, &info, &err) == 0);
	CHECK(fact_is(&info, "binlog_file", "") && fact_is(&info, "binlog_pos", "") && fact_is(&info, "gtid_pos", ""));

	struct snap_clone_status bad = st;
	bad.state = "Failed";
	bad.error_no = "3873";
	bad.error_message = "not enough space";
	cfs_err_clear(&err);
	CHECK(snap_clone_status_facts(&bad, dir, &info, &err) == -1 && err.code == 7005 && strstr(err.msg, "3873"));

	bad = st;
	bad.destination = "/elsewhere";
	cfs_err_clear(&err);
	CHECK(snap_clone_status_facts(&bad, dir, &info, &err) == -1 && err.code == 7005 && strstr(err.msg, "/elsewhere"));

	bad = st;
	bad.binlog_pos = "12x";
	cfs_err_clear(&err);
	CHECK(snap_clone_status_facts(&bad, dir, &info, &err) == -1 && err.code == 7005);

	struct snap_clone_status empty = { 0 };
	cfs_err_clear(&err);
	CHECK(snap_clone_status_facts(&empty, dir, &info, &err) == -1 && err.code == 7005 && strstr(err.msg, "no row"));
	wire_snap_info_release(&info);
}

int main(void)
{
	test_version_parsing();
	test_applicability_and_reason();
	test_sql_built();
	test_error_mapping();
	test_clone_status_facts();
	return tap_done();
}
