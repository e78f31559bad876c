/* snap_clone.h: the parts of the clone method (snap_clone.c) that need no server, so that a unit
 * test can call them: which servers the method applies to, the statement it sends, what a recipient
 * sees for the server's errors, and the binary log position read back from clone_status. */
#ifndef CLONEFS_SNAP_CLONE_H
#define CLONEFS_SNAP_CLONE_H

#include <stdbool.h>
#include <stddef.h>

#include "transport/errors.h"
#include "transport/wire.h"

/* The first MySQL release with the clone plugin and CLONE LOCAL DATA DIRECTORY. */
#define SNAP_CLONE_MIN_MAJOR 8u
#define SNAP_CLONE_MIN_MINOR 0u
#define SNAP_CLONE_MIN_PATCH 17u

/* Server errors the method recognizes but never raises itself, so not in errors.h's table
 * (MySQL's share/messages_to_clients.txt). */
#define SNAP_CLONE_ER_TABLEACCESS_DENIED 1142  /* ER_TABLEACCESS_DENIED_ERROR: no SELECT on clone_status */
#define SNAP_CLONE_ER_PLUGIN_NOT_LOADED 1524   /* ER_PLUGIN_IS_NOT_LOADED: "Plugin 'clone' is not loaded" */

/* A server version string: "8.0.36", "8.4.0-commercial", "10.11.6-MariaDB-0+deb12u1". */
struct snap_clone_version {
	unsigned major, minor, patch;
	bool mariadb;
};

/* Parse v (MariaDB's "5.5.5-" replication prefix skipped). 0, or -1 when it is not X.Y.Z[-suffix]. */
int snap_clone_parse_version(const char *v, struct snap_clone_version *out);

/* Whether the clone method applies to a server of this version (MySQL, not MariaDB, >= 8.0.17);
 * why says so either way, for --explain-methods, auto and the error. */
bool snap_clone_applies(const char *version, char *why, size_t whysz);

/* CLONE LOCAL DATA DIRECTORY = '<dir>', dir quoted for a MySQL string literal: a quote doubled, a
 * backslash doubled unless the session's sql_mode has NO_BACKSLASH_ESCAPES (then it is literal).
 * 0, or -1 + err: 1525 when dir is not absolute (MySQL's own answer), 1680 when too long for out. */
int snap_clone_sql(const char *dir, bool no_backslash_escapes, char *out, size_t outsz, struct cfs_err *err);

/* What a recipient sees for the server's error after CLONE LOCAL or the clone_status read: 1227 stays
 * 1227 naming BACKUP_ADMIN, 3634 stays 3634, the plugin not loaded (1524) or a server that does not
 * know CLONE (1064) become 7005 saying what to do; others are relayed with their code and SQLSTATE
 * (a hint added for 1006, 1086 and 1142). Returns -1. */
int snap_clone_map_error(unsigned code, const char *sqlstate, const char *msg, struct cfs_err *err);

/* The row of performance_schema.clone_status after the clone (NULL columns as NULL). */
struct snap_clone_status {
	const char *state;          /* "Completed" */
	const char *destination;    /* the directory the clone went to */
	const char *error_no, *error_message;
	const char *binlog_file, *binlog_pos, *gtid_executed;
};

/* Check the row is our completed clone into dir and fill the facts binlog_file, binlog_pos and
 * gtid_pos from it (the position the clone is consistent with). 0, or -1 + err (7005). */
int snap_clone_status_facts(const struct snap_clone_status *st, const char *dir, struct wire_snap_info *info,
			    struct cfs_err *err);

#endif
