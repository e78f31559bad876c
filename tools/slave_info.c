/* slave_info.c: writes what a clone runs to become a replica: of the donor's primary (the donor's
 * gtid_slave_pos and the primary's coordinates, as mariabackup --slave-info writes them) or of the
 * donor itself (its binary log file, position and GTID), from a snapshot's facts. */
#include "tools/slave_info.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fs/json.h"

static void put(struct wbuf *b, const char *s)
{
	wbuf_put(b, s, strlen(s));
}

static void putf(struct wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct wbuf *b, const char *fmt, ...)
{
	char line[8400];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		wbuf_put(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* v with ' doubled, for a SQL literal. */
static void quoted(struct wbuf *b, const char *v)
{
	put(b, "'");
	for (const char *p = v; *p; p++) {
		if (*p == '\'' || *p == '\\')
			wbuf_u8(b, (uint8_t)*p);
		wbuf_u8(b, (uint8_t)*p);
	}
	put(b, "'");
}

/* The statements of the fact slave_info, one a line (the facts file turned its newlines into spaces). */
static void statements(struct wbuf *b, const char *text, const char *prefix)
{
	const char *p = text;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) + 1 : strlen(p);
		put(b, prefix);
		wbuf_put(b, p, n);
		put(b, "\n");
		p += n;
	}
}

void slave_info_text(const struct mountinfo *mi, struct wbuf *b)
{
	const char *slave = mountinfo_get(mi, "slave_info");
	const char *of = mountinfo_get(mi, "replica_of");
	const char *file = mountinfo_get(mi, "binlog_file"), *pos = mountinfo_get(mi, "binlog_pos");
	const char *bgtid = mountinfo_get(mi, "gtid_binlog_pos");
	const char *host = mountinfo_get(mi, "hostname"), *port = mountinfo_get(mi, "port");
	putf(b, "-- clonefs_slave_info: how this clone becomes a replica (snapshot %s, method %s).\n",
	     mountinfo_get(mi, "snapshot_id"), mountinfo_get(mi, "method"));
	put(b, "-- It starts with no replication configured: the donor's master.info, relay-log.info and relay logs\n"
	       "-- were left out. Run on the started clone, with MASTER_HOST, MASTER_PORT, MASTER_USER and\n"
	       "-- MASTER_PASSWORD in a CHANGE MASTER TO before these statements, then START SLAVE.\n");
	bool replica = *slave != 0;
	if (replica) {
		putf(b, "--\n-- A replica of the donor's primary (the donor replicated from %s), as mariabackup\n"
			"-- --slave-info writes it:\n", *of ? of : "a primary");
		if (*mountinfo_get(mi, "replica_note"))
			putf(b, "-- (%s)\n", mountinfo_get(mi, "replica_note"));
		statements(b, slave, "");
		if (*mountinfo_get(mi, "primary_log_file"))
			putf(b, "-- or by the primary's file and position: CHANGE MASTER TO MASTER_LOG_FILE='%s', MASTER_LOG_POS=%s;\n",
			     mountinfo_get(mi, "primary_log_file"), mountinfo_get(mi, "primary_log_pos"));
	}
	if (!*file) {
		put(b, "--\n-- The donor wrote no binary log: the clone cannot become a replica of the donor.\n");
		return;
	}
	const char *pre = replica ? "-- " : "";
	putf(b, "--\n-- A replica of the donor itself (%s:%s), from its binary log %s:%s%s%s:\n", host, port, file, pos,
	     *bgtid ? ", GTID " : "", bgtid);
	put(b, pre);
	put(b, "CHANGE MASTER TO MASTER_LOG_FILE=");
	quoted(b, file);
	putf(b, ", MASTER_LOG_POS=%s, MASTER_USE_GTID=no;\n", pos);
	if (*bgtid) {
		put(b, "-- or by GTID (the donor's binary log holds every GTID up to here):\n-- SET GLOBAL gtid_slave_pos = ");
		quoted(b, bgtid);
		put(b, "; CHANGE MASTER TO master_use_gtid = slave_pos;\n");
	}
}

void slave_info_json(const struct mountinfo *mi, struct wbuf *b)
{
	static const char *const keys[] = { "gtid_binlog_pos", "gtid_slave_pos", "replica_of", "primary_log_file",
					    "primary_log_pos", "slave_info", "replica_note" };
	json_raw(b, ",\"replication\":{");
	json_kv_str(b, "replica_state", "left out: the clone starts with no replication configured (no master.info, "
		    "relay-log.info or relay logs); clonefs_slave_info says what to run", 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_kv_str(b, keys[i], mountinfo_get(mi, keys[i]), 1);
	json_raw(b, "}");
}

void slave_info_innodb_note(const struct mountinfo *mi, char *out, size_t n)
{
	const char *v = mountinfo_get(mi, "innodb_outside");
	out[0] = 0;
	if (!*v)
		return;
	bool undo = false, redo = false, sys = false;
	struct wbuf names;
	wbuf_init(&names, 1024);
	for (const char *p = v; *p;) {
		size_t len = strcspn(p, ","), eq = strcspn(p, "=");
		if (eq > len)
			eq = len;
		if (!strncmp(p, "undo", 4))
			undo = true;
		else if (!strncmp(p, "ib_logfile", 10))
			redo = true;
		else
			sys = true;
		if (names.len)
			put(&names, ", ");
		wbuf_put(&names, p, eq);
		p += len;
		if (*p)
			p++;
	}
	wbuf_u8(&names, 0);
	snprintf(out, n, "the donor kept %s outside its datadir; the clone has them in its data directory: start it "
		 "with%s%s%s%s (or without %s)", names.over ? "InnoDB files" : (const char *)names.p,
		 undo ? " innodb_undo_directory=." : "", redo ? " innodb_log_group_home_dir=." : "",
		 sys ? " innodb_data_home_dir=." : "", sys ? " and innodb_data_file_path naming the files only" : "",
		 "those settings");
	wbuf_release(&names);
}
