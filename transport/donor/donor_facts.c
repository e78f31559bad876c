/* donor_facts.c: asks the donor server for the facts a snapshot records (docs/protocol.md §3):
 * version, platform, InnoDB and character-set settings, plugins, collations, encryption, page
 * compression and tablespaces outside the datadir. */
#include "transport/donor/donor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

bool donor_is_mariadb(MYSQL *db)
{
	const char *v = mysql_get_server_info(db);
	return v && strstr(v, "MariaDB") != NULL;
}

/* The server's own error, code, SQLSTATE and words, as a recipient should see it. */
static int server_err(MYSQL *db, struct cfs_err *err)
{
	cfs_err_set(err, (int)mysql_errno(db), "%s", mysql_error(db));
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", mysql_sqlstate(db));
	return -1;
}

int donor_query1(MYSQL *db, const char *sql, char *out, size_t outsz, struct cfs_err *err)
{
	out[0] = 0;
	if (mysql_query(db, sql))
		return server_err(db, err);
	MYSQL_RES *res = mysql_store_result(db);
	if (!res && mysql_field_count(db))
		return server_err(db, err);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	if (row && row[0])
		snprintf(out, outsz, "%s", row[0]);
	mysql_free_result(res);
	return 0;
}

int donor_query2(MYSQL *db, const char *sql, char *a, size_t asz, char *b, size_t bsz, struct cfs_err *err)
{
	a[0] = b[0] = 0;
	if (mysql_query(db, sql))
		return server_err(db, err);
	MYSQL_RES *res = mysql_store_result(db);
	if (!res)
		return server_err(db, err);
	MYSQL_ROW row = mysql_num_fields(res) >= 2 ? mysql_fetch_row(res) : NULL;
	if (row && row[0] && row[1]) {
		snprintf(a, asz, "%s", row[0]);
		snprintf(b, bsz, "%s", row[1]);
	}
	mysql_free_result(res);
	return 0;
}

char *donor_slurp(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf || n > max) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/* Any encrypted data, of any engine: then a snapshot may travel only inside TLS. MariaDB: an
 * encrypted InnoDB tablespace, Aria tables encrypted (aria_encrypt_tables: every Aria table created
 * while it is on), or an encrypted redo log (innodb_encrypt_log); MySQL: an encrypted tablespace. */
static const char *encrypted_sql(bool mariadb)
{
	return mariadb ? "SELECT (SELECT COUNT(*) > 0 FROM information_schema.INNODB_TABLESPACES_ENCRYPTION "
			 "WHERE ENCRYPTION_SCHEME <> 0) OR @@GLOBAL.aria_encrypt_tables OR @@GLOBAL.innodb_encrypt_log"
		       : "SELECT COUNT(*) > 0 FROM information_schema.INNODB_TABLESPACES WHERE ENCRYPTION = 'Y'";
}

int donor_has_encrypted(MYSQL *db, struct cfs_err *err)
{
	char val[16];
	if (donor_query1(db, encrypted_sql(donor_is_mariadb(db)), val, sizeof(val), err))
		return -1;
	return !strcmp(val, "1");
}

/* Tables' tablespaces outside the datadir (DATA DIRECTORY=), by the server's own dictionary: MariaDB
 * >= 10.6, MariaDB < 10.6, MySQL. Only a table's ("schema/table"): undo and system tablespaces go
 * into the clone's data directory (snap_innodb.c), not back to their donor's path. */
static const char *const external_sql[] = {
	"SELECT IFNULL(GROUP_CONCAT(FILENAME), '') FROM information_schema.INNODB_SYS_TABLESPACES "
	"WHERE FILENAME LIKE '/%' AND LEFT(FILENAME, LENGTH(@@datadir)) <> @@datadir AND NAME LIKE '%/%'",
	"SELECT IFNULL(GROUP_CONCAT(PATH), '') FROM information_schema.INNODB_SYS_DATAFILES "
	"WHERE PATH LIKE '/%' AND LEFT(PATH, LENGTH(@@datadir)) <> @@datadir AND PATH LIKE '%.ibd'",
	"SELECT IFNULL(GROUP_CONCAT(FILE_NAME), '') FROM information_schema.FILES "
	"WHERE FILE_NAME LIKE '/%' AND LEFT(FILE_NAME, LENGTH(@@datadir)) <> @@datadir AND FILE_NAME LIKE '%.ibd'",
};

void donor_external_paths(MYSQL *db, char *out, size_t n)
{
	out[0] = 0;
	for (size_t i = 0; i < sizeof(external_sql) / sizeof(external_sql[0]); i++) {
		struct cfs_err ignored;
		if (donor_query1(db, external_sql[i], out, n, &ignored) == 0)
			return;
		out[0] = 0;
	}
}

/* A fact longer than the protocol allows is left out (and said so), never cut short. */
static void set_fact(struct wire_snap_info *info, const char *key, const char *val)
{
	if (wire_snap_info_set(info, key, val))
		donor_event("fact_too_long", "fact %s (%zu bytes) exceeds the protocol's %u bytes: not sent", key, strlen(val),
			  WIRE_FACT_VALUE_MAX);
}

int donor_facts(MYSQL *db, struct wire_snap_info *info, struct cfs_err *err)
{
	bool mariadb = donor_is_mariadb(db);
	/* MySQL's default of 1024 would cut the plugin and collation lists silently. */
	mysql_query(db, "SET SESSION group_concat_max_len = 1048576");
	static const char *const vars[] = {
		"version", "version_comment", "version_compile_os", "version_compile_machine", "hostname", "port",
		"datadir", "innodb_page_size", "innodb_data_file_path", "innodb_checksum_algorithm",
		"character_set_server", "collation_server", "character_set_filesystem", "max_allowed_packet",
		"innodb_undo_tablespaces", "log_bin_basename",
	};
	/* Larger than a fact may be, so that a longer answer is noticed (set_fact) rather than cut. */
	char sql[512], val[16 * WIRE_FACT_VALUE_MAX];
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT @@%s", vars[i]);
		if (donor_query1(db, sql, val, sizeof(val), err))
			return -1;
		set_fact(info, vars[i], val);
	}
	/* Whether data is encrypted decides whether it may leave without TLS: no answer, no snapshot. */
	int enc = donor_has_encrypted(db, err);
	if (enc < 0)
		return -1;
	wire_snap_info_set(info, "encrypted", enc ? "1" : "0");
	struct { const char *key, *sql; } q[] = {
		{ "plugins", "SELECT GROUP_CONCAT(PLUGIN_NAME ORDER BY PLUGIN_NAME) FROM information_schema.PLUGINS "
			     "WHERE PLUGIN_STATUS = 'ACTIVE'" },
		/* Plugins from a library (INSTALL SONAME, plugin-load): name=library, what a recipient without a
		 * running server can still check in its plugin_dir. */
		{ "plugin_libraries", "SELECT GROUP_CONCAT(CONCAT(PLUGIN_NAME, '=', PLUGIN_LIBRARY) ORDER BY PLUGIN_NAME) "
				      "FROM information_schema.PLUGINS WHERE PLUGIN_STATUS = 'ACTIVE' AND PLUGIN_LIBRARY IS NOT NULL" },
		/* The collations the data uses (tables and schemas), which the recipient must have. */
		{ "collations", "SELECT GROUP_CONCAT(DISTINCT COLLATION_NAME ORDER BY COLLATION_NAME) FROM ("
				"SELECT TABLE_COLLATION AS COLLATION_NAME FROM information_schema.TABLES WHERE TABLE_COLLATION IS NOT NULL "
				"UNION SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA) c" },
		{ "page_compressed", "SELECT COUNT(*) > 0 FROM information_schema.TABLES "
				     "WHERE CREATE_OPTIONS LIKE '%page_compressed%' OR CREATE_OPTIONS LIKE '%COMPRESSION=%'" },
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		/* A fact the server cannot give (an old version, a missing table) is left empty, not fatal. */
		struct cfs_err ignored;
		if (donor_query1(db, q[i].sql, val, sizeof(val), &ignored))
			val[0] = 0;
		set_fact(info, q[i].key, val);
	}
	donor_external_paths(db, val, sizeof(val));
	set_fact(info, "external_paths", val);
	donor_replica_facts(db, info);
	wire_snap_info_set(info, "flavor", mariadb ? "MariaDB" : "MySQL");
	/* The block size of the datadir's file system: page-compressed tables punch holes in units of it. */
	const char *datadir = wire_snap_info_get(info, "datadir");
	struct statvfs sv;
	if (datadir && statvfs(datadir, &sv) == 0) {
		snprintf(val, sizeof(val), "%lu", (unsigned long)sv.f_bsize);
		wire_snap_info_set(info, "fs_block_size", val);
	}
	return 0;
}
