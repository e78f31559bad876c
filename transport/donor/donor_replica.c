/* donor_replica.c: a snapshot's replication facts, the same for every method, for both uses of a
 * clone: a replica of the donor (its own binary log: file, position, gtid_binlog_pos) and a replica
 * of the donor's primary (gtid_slave_pos and the primary's coordinates, the statements mariabackup
 * --slave-info writes); and the donor's own replica state (master.info, relay-log.info, relay
 * logs), which a clone never carries: it starts with no replication configured. */
#include "transport/donor/donor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transport/buf.h"

/* The text of the fact slave_info: a few statements per replication connection. */
#define SLAVE_INFO_MAX WIRE_FACT_VALUE_MAX

/* A fact too long for the protocol is left out and said so, never cut. */
static void set_fact(struct wire_snap_info *info, const char *key, const char *val)
{
	if (wire_snap_info_set(info, key, val))
		donor_log("fact %s (%zu bytes) exceeds the protocol's %u bytes: not sent", key, strlen(val),
			  WIRE_FACT_VALUE_MAX);
}

/* v as a SQL string literal's body: ' and \ doubled (both safe under any sql_mode). */
static void sql_quote(struct wbuf *b, const char *v)
{
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\'' || *p == '\\')
			wbuf_u8(b, (uint8_t)*p);
		wbuf_u8(b, (uint8_t)*p);
	}
}

static void put(struct wbuf *b, const char *s)
{
	wbuf_put(b, s, strlen(s));
}

/* The column named name in res's current row, or "". */
static const char *col(MYSQL_RES *res, MYSQL_ROW row, const char *name)
{
	unsigned n = mysql_num_fields(res);
	MYSQL_FIELD *f = mysql_fetch_fields(res);
	for (unsigned i = 0; i < n; i++)
		if (!strcasecmp(f[i].name, name))
			return row[i] ? row[i] : "";
	return "";
}

/* "CHANGE MASTER TO" or "CHANGE MASTER 'name' TO" (multi-source). */
static void change_master(struct wbuf *b, const char *conn)
{
	put(b, "CHANGE MASTER ");
	if (*conn) {
		put(b, "'");
		sql_quote(b, conn);
		put(b, "' ");
	}
	put(b, "TO ");
}

/* SHOW ALL SLAVES STATUS, as mariabackup --slave-info turns it into statements: per connection,
 * with GTID "SET GLOBAL gtid_slave_pos = '...'; CHANGE MASTER TO master_use_gtid = slave_pos;",
 * without "CHANGE MASTER TO MASTER_LOG_FILE='...', MASTER_LOG_POS=...;". Sets slave_info,
 * replica_of (name=host:port,...), primary_log_file and primary_log_pos (of the first connection).
 * 0 (also when the server is no replica), or -1 when the server would not say (err). */
static int slave_status(MYSQL *db, const char *slave_pos, struct wire_snap_info *info, struct cfs_err *err)
{
	if (mysql_query(db, "SHOW ALL SLAVES STATUS")) {
		cfs_err_set(err, (int)mysql_errno(db), "%s", mysql_error(db));
		return -1;
	}
	MYSQL_RES *res = mysql_store_result(db);
	if (!res) {
		cfs_err_set(err, (int)mysql_errno(db), "%s", mysql_error(db));
		return -1;
	}
	struct wbuf si, of;
	wbuf_init(&si, SLAVE_INFO_MAX);
	wbuf_init(&of, WIRE_FACT_VALUE_MAX);
	bool gtid_set = false, first = true;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res))) {
		const char *conn = col(res, row, "Connection_name");
		const char *file = col(res, row, "Relay_Master_Log_File");
		const char *pos = col(res, row, "Exec_Master_Log_Pos");
		const char *gtid = col(res, row, "Using_Gtid");
		if (!first)
			put(&of, ",");
		put(&of, conn);
		put(&of, "=");
		put(&of, col(res, row, "Master_Host"));
		put(&of, ":");
		put(&of, col(res, row, "Master_Port"));
		if (first) {
			wire_snap_info_set(info, "primary_log_file", file);
			wire_snap_info_set(info, "primary_log_pos", pos);
		}
		first = false;
		if (*gtid && strcasecmp(gtid, "No")) {
			if (!gtid_set) {
				put(&si, "SET GLOBAL gtid_slave_pos = '");
				sql_quote(&si, slave_pos);
				put(&si, "';\n");
				gtid_set = true;
			}
			change_master(&si, conn);
			put(&si, "master_use_gtid = slave_pos;\n");
		} else {
			change_master(&si, conn);
			put(&si, "MASTER_LOG_FILE='");
			sql_quote(&si, file);
			put(&si, "', MASTER_LOG_POS=");
			put(&si, *pos ? pos : "4");
			put(&si, ";\n");
		}
	}
	mysql_free_result(res);
	wbuf_u8(&si, 0);
	wbuf_u8(&of, 0);
	int rc = 0;
	if (si.over || of.over)
		rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "the replication connections do not fit in %u bytes",
				 WIRE_FACT_VALUE_MAX);
	else {
		set_fact(info, "slave_info", (const char *)si.p);
		set_fact(info, "replica_of", (const char *)of.p);
	}
	wbuf_release(&si);
	wbuf_release(&of);
	return rc;
}

int donor_replica_sources(MYSQL *db, struct wire_snap_info *info, struct cfs_err *err)
{
	if (!donor_is_mariadb(db))
		return 0;
	struct wire_snap_info tmp;
	memset(&tmp, 0, sizeof(tmp));
	int rc = slave_status(db, "", &tmp, err);
	const char *of = wire_snap_info_get(&tmp, "replica_of");
	if (rc == 0 && of && *of) {
		set_fact(info, "replica_of", of); /* where from does not change; the position is the backup's */
		rc = 1;
	}
	wire_snap_info_release(&tmp);
	return rc;
}

/* The server would not show its replication connections (no SLAVE MONITOR): say what the clone
 * can still be given, from gtid_slave_pos, rather than fail a donor that may be no replica. */
static void slave_status_unknown(const char *slave_pos, const struct cfs_err *why, struct wire_snap_info *info)
{
	char text[WIRE_FACT_VALUE_MAX];
	if (!*slave_pos)
		return; /* it never replicated: nothing is missing */
	donor_log("SHOW ALL SLAVES STATUS failed (ERROR %d: %s): the primary's coordinates are not recorded; grant "
		  "SLAVE MONITOR to the clone account on a replica", why->code, why->msg);
	wire_snap_info_set(info, "replica_note", "the clone account may not run SHOW ALL SLAVES STATUS (grant SLAVE "
			   "MONITOR): only gtid_slave_pos is known");
	if (strlen(slave_pos) < sizeof(text) - 100) {
		snprintf(text, sizeof(text), "SET GLOBAL gtid_slave_pos = '%.3990s';\nCHANGE MASTER TO master_use_gtid = slave_pos;\n",
			 slave_pos);
		set_fact(info, "slave_info", text);
	}
}

int donor_replica_record(MYSQL *db, struct wire_snap_info *info, struct cfs_err *err)
{
	bool mariadb = donor_is_mariadb(db);
	char file[512], pos[32], gtid[WIRE_FACT_VALUE_MAX];
	int rc = donor_query2(db, "SHOW MASTER STATUS", file, sizeof(file), pos, sizeof(pos), err);
	if (rc && !mariadb) /* MySQL 8.4 dropped SHOW MASTER STATUS for SHOW BINARY LOG STATUS */
		rc = donor_query2(db, "SHOW BINARY LOG STATUS", file, sizeof(file), pos, sizeof(pos), err);
	if (rc)
		return -1;
	wire_snap_info_set(info, "binlog_file", file);
	wire_snap_info_set(info, "binlog_pos", pos);
	if (!mariadb) { /* MySQL (untested here): gtid_executed is both what was executed and what was logged */
		if (donor_query1(db, "SELECT @@GLOBAL.gtid_executed", gtid, sizeof(gtid), err))
			return -1;
		set_fact(info, "gtid_pos", gtid);
		set_fact(info, "gtid_binlog_pos", gtid);
		return 0;
	}
	/* gtid_current_pos, as mariabackup's xtrabackup_binlog_info: what the donor has executed (its
	 * binary log's and its replica's positions), what a clone replicating by GTID starts from. */
	static const struct { const char *key, *sql; } vars[] = {
		{ "gtid_pos", "SELECT @@GLOBAL.gtid_current_pos" },
		{ "gtid_binlog_pos", "SELECT @@GLOBAL.gtid_binlog_pos" },
		{ "gtid_slave_pos", "SELECT @@GLOBAL.gtid_slave_pos" },
	};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (donor_query1(db, vars[i].sql, gtid, sizeof(gtid), err))
			return -1;
		set_fact(info, vars[i].key, gtid);
	}
	struct cfs_err why = { 0 };
	if (slave_status(db, gtid, info, &why))
		slave_status_unknown(gtid, &why, info);
	return 0;
}

/* "... MySQL slave binlog position: master 'h' filename 'f' position 'p'..." in mariabackup's log. */
static void primary_from_log(const char *log, struct wire_snap_info *info)
{
	FILE *f = fopen(log, "re");
	char line[2048], file[512], pos[32];
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "slave binlog position: master '");
		const char *fn = p ? strstr(p, "' filename '") : NULL;
		const char *ps = fn ? strstr(fn, "' position '") : NULL;
		if (!ps || fn[12] == '\'')
			continue;
		size_t nf = (size_t)(ps - fn - 12);
		size_t np = strcspn(ps + 12, "'");
		if (nf >= sizeof(file) || np >= sizeof(pos))
			continue;
		memcpy(file, fn + 12, nf);
		file[nf] = 0;
		memcpy(pos, ps + 12, np);
		pos[np] = 0;
		wire_snap_info_set(info, "primary_log_file", file);
		wire_snap_info_set(info, "primary_log_pos", pos);
		break;
	}
	if (f)
		fclose(f);
}

void donor_replica_from_backup(MYSQL *db, const char *dir, const char *log, struct wire_snap_info *info)
{
	/* mariabackup --slave-info's statements; 11.x names the file mariadb_backup_slave_info. */
	static const char *const names[] = { "xtrabackup_slave_info", "mariadb_backup_slave_info" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		size_t len = 0;
		char *text = donor_slurp(path, WIRE_FACT_VALUE_MAX, &len);
		if (!text)
			continue;
		set_fact(info, "slave_info", text);
		/* The GTID in "SET GLOBAL gtid_slave_pos = '...'" is the donor's gtid_slave_pos. */
		const char *g = strstr(text, "gtid_slave_pos = '");
		if (g) {
			g += 18;
			char val[WIRE_FACT_VALUE_MAX];
			snprintf(val, sizeof(val), "%.*s", (int)strcspn(g, "'"), g);
			set_fact(info, "gtid_slave_pos", val);
		}
		free(text);
		break;
	}
	if (log)
		primary_from_log(log, info);
	/* The donor's own binary log's GTID at the recorded position (mariabackup records
	 * gtid_current_pos only): BINLOG_GTID_POS reads it from the binary log itself. */
	const char *file = wire_snap_info_get(info, "binlog_file");
	const char *pos = wire_snap_info_get(info, "binlog_pos");
	if (!db || !file || !*file || !pos || !*pos || !donor_is_mariadb(db) || strlen(file) > 400 ||
	    strspn(pos, "0123456789") != strlen(pos))
		return;
	struct wbuf q;
	wbuf_init(&q, 1024);
	put(&q, "SELECT BINLOG_GTID_POS('");
	sql_quote(&q, file);
	put(&q, "', ");
	put(&q, pos);
	put(&q, ")");
	wbuf_u8(&q, 0);
	char gtid[WIRE_FACT_VALUE_MAX];
	struct cfs_err why = { 0 };
	if (!q.over && donor_query1(db, (const char *)q.p, gtid, sizeof(gtid), &why) == 0)
		set_fact(info, "gtid_binlog_pos", gtid);
	else
		donor_log("BINLOG_GTID_POS('%s', %s) failed: ERROR %d: %s", file, pos, why.code, why.msg);
	wbuf_release(&q);
}

bool donor_replica_state_file(const char *name, const struct wire_snap_info *info)
{
	static const char *const fixed[] = { "master.info", "relay-log.info", "multi-master.info" };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!strcmp(name, fixed[i]))
			return true;
	size_t n = strlen(name);
	/* A multi-source connection's: master-<name>.info, relay-log-<name>.info. */
	if (n > 5 && !strcmp(name + n - 5, ".info") && (!strncmp(name, "master-", 7) || !strncmp(name, "relay-log-", 10)))
		return true;
	/* Relay logs: <host>-relay-bin.NNNNNN and .index (also "-relay-bin-<conn>."), or the configured names. */
	if (strstr(name, "-relay-bin"))
		return true;
	static const char *const keys[] = { "relay_log_basename", "master_info_file", "relay_log_info_file" };
	for (size_t i = 0; info && i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = wire_snap_info_get(info, keys[i]);
		const char *base = v && *v ? strrchr(v, '/') : NULL;
		base = base ? base + 1 : v;
		size_t b = base ? strlen(base) : 0;
		if (b && !strncmp(name, base, b) && (name[b] == 0 || name[b] == '.' || name[b] == '-'))
			return true;
	}
	return false;
}

void donor_replica_facts(MYSQL *db, struct wire_snap_info *info)
{
	/* Where the server keeps its replica state, when renamed from the defaults: left out of the tree. */
	static const char *const vars[] = { "relay_log_basename", "master_info_file", "relay_log_info_file" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		char sql[64], val[1024];
		struct cfs_err ignored;
		snprintf(sql, sizeof(sql), "SELECT @@GLOBAL.%s", vars[i]);
		if (donor_query1(db, sql, val, sizeof(val), &ignored))
			val[0] = 0;
		wire_snap_info_set(info, vars[i], val);
	}
}

/* A replication connection's name as a SQL literal, into out. */
static void conn_literal(const char *conn, char *out, size_t n)
{
	struct wbuf b;
	wbuf_init(&b, n);
	put(&b, "'");
	sql_quote(&b, conn);
	put(&b, "'");
	wbuf_u8(&b, 0);
	snprintf(out, n, "%s", b.over ? "''" : (const char *)b.p);
	wbuf_release(&b);
}

int donor_replica_pause(MYSQL *db, struct donor_replica_paused *p, struct wire_snap_info *info)
{
	memset(p, 0, sizeof(*p));
	if (!donor_is_mariadb(db) || mysql_query(db, "SHOW ALL SLAVES STATUS"))
		return 0;
	MYSQL_RES *res = mysql_store_result(db);
	MYSQL_ROW row;
	char names[DONOR_REPLICA_CONN_MAX][256];
	size_t n = 0;
	while (res && (row = mysql_fetch_row(res)) && n < DONOR_REPLICA_CONN_MAX)
		if (!strcasecmp(col(res, row, "Slave_SQL_Running"), "Yes"))
			conn_literal(col(res, row, "Connection_name"), names[n++], sizeof(names[0]));
	mysql_free_result(res);
	for (size_t i = 0; i < n; i++) {
		char sql[320];
		snprintf(sql, sizeof(sql), "STOP SLAVE %.255s SQL_THREAD", names[i]);
		snap_set_status(sql);
		if (mysql_query(db, sql)) {
			donor_log("%s failed (ERROR %u: %s): the snapshot is taken with replication applying; a table of a "
				  "non-transactional engine may be ahead of gtid_slave_pos (grant REPLICATION SLAVE ADMIN)",
				  sql, mysql_errno(db), mysql_error(db));
			wire_snap_info_set(info, "replica_note", "taken while replication applied events (the clone account "
					   "may not STOP SLAVE: grant REPLICATION SLAVE ADMIN): a table of a non-transactional "
					   "engine (Aria, MyISAM) written by replication may be ahead of gtid_slave_pos");
			break;
		}
		snprintf(p->names[p->n++], sizeof(p->names[0]), "%.255s", names[i]);
	}
	if (p->n)
		donor_log("replication's SQL thread stopped for the snapshot (%zu connection%s), as mariabackup "
			  "--safe-slave-backup does", p->n, p->n == 1 ? "" : "s");
	return (int)p->n;
}

void donor_replica_resume(MYSQL *db, struct donor_replica_paused *p)
{
	for (size_t i = 0; i < p->n; i++) {
		char sql[320];
		snprintf(sql, sizeof(sql), "START SLAVE %.255s SQL_THREAD", p->names[i]);
		if (mysql_query(db, sql))
			donor_log("%s failed: ERROR %u: %s: start it by hand", sql, mysql_errno(db), mysql_error(db));
	}
	p->n = 0;
}
