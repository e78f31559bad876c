/* donor_facts.c: asks the donor server for the facts a snapshot records (docs/protocol.md §3):
 * version, platform, InnoDB and character-set settings, plugins, collations, encryption, page
 * compression and tablespaces outside the datadir. */
#include "transport/donor/donor.h"

#include <stdio.h>
#include <string.h>

int donor_query1(MYSQL *db, const char *sql, char *out, size_t outsz, struct cfs_err *err)
{
	out[0] = 0;
	if (mysql_query(db, sql))
		return cfs_err_set(err, (int)mysql_errno(db), "%s (while asking: %.80s)", mysql_error(db), sql);
	MYSQL_RES *res = mysql_store_result(db);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	if (row && row[0])
		snprintf(out, outsz, "%s", row[0]);
	mysql_free_result(res);
	return 0;
}

/* Any encrypted tablespace: then a snapshot may travel only inside TLS. */
static const char *encrypted_sql(bool mariadb)
{
	return mariadb ? "SELECT COUNT(*) > 0 FROM information_schema.INNODB_TABLESPACES_ENCRYPTION WHERE ENCRYPTION_SCHEME <> 0"
		       : "SELECT COUNT(*) > 0 FROM information_schema.INNODB_TABLESPACES WHERE ENCRYPTION = 'Y'";
}

bool donor_has_encrypted(MYSQL *db)
{
	char val[16];
	struct cfs_err ignored;
	return donor_query1(db, encrypted_sql(strstr(mysql_get_server_info(db), "MariaDB") != NULL), val, sizeof(val),
			    &ignored) == 0 && !strcmp(val, "1");
}

int donor_facts(MYSQL *db, struct wire_snap_info *info, struct cfs_err *err)
{
	bool mariadb = strstr(mysql_get_server_info(db), "MariaDB") != NULL;
	static const char *const vars[] = {
		"version", "version_comment", "version_compile_os", "version_compile_machine", "hostname", "port",
		"datadir", "innodb_page_size", "innodb_data_file_path", "innodb_checksum_algorithm",
		"character_set_server", "collation_server", "character_set_filesystem", "max_allowed_packet",
		"innodb_undo_tablespaces", "log_bin_basename",
	};
	char sql[256], val[WIRE_FACT_VALUE_MAX + 1];
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT @@%s", vars[i]);
		if (donor_query1(db, sql, val, sizeof(val), err))
			return -1;
		wire_snap_info_set(info, vars[i], val);
	}
	struct { const char *key, *sql; } q[] = {
		{ "plugins", "SELECT GROUP_CONCAT(PLUGIN_NAME ORDER BY PLUGIN_NAME) FROM information_schema.PLUGINS "
			     "WHERE PLUGIN_STATUS = 'ACTIVE'" },
		{ "collations", "SELECT GROUP_CONCAT(DISTINCT COLLATION_NAME ORDER BY COLLATION_NAME) FROM ("
				"SELECT TABLE_COLLATION AS COLLATION_NAME FROM information_schema.TABLES WHERE TABLE_COLLATION IS NOT NULL "
				"UNION SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA) c" },
		{ "encrypted", encrypted_sql(mariadb) },
		{ "page_compressed", "SELECT COUNT(*) > 0 FROM information_schema.TABLES "
				     "WHERE CREATE_OPTIONS LIKE '%page_compressed%' OR CREATE_OPTIONS LIKE '%COMPRESSION=%'" },
		{ "external_paths", mariadb ? "SELECT IFNULL(GROUP_CONCAT(PATH), '') FROM information_schema.INNODB_SYS_DATAFILES "
					      "WHERE PATH LIKE '/%' AND PATH NOT LIKE CONCAT(@@datadir, '%')"
					    : "SELECT IFNULL(GROUP_CONCAT(FILE_NAME), '') FROM information_schema.FILES "
					      "WHERE FILE_NAME LIKE '/%' AND FILE_NAME NOT LIKE CONCAT(@@datadir, '%')" },
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		/* A fact the server cannot give (an old version, a missing table) is left empty, not fatal. */
		struct cfs_err ignored;
		if (donor_query1(db, q[i].sql, val, sizeof(val), &ignored))
			val[0] = 0;
		wire_snap_info_set(info, q[i].key, val);
	}
	wire_snap_info_set(info, "flavor", mariadb ? "MariaDB" : "MySQL");
	return 0;
}
