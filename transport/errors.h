/* errors.h: the errors clonefs shows a DBA, in MySQL's form "ERROR <code> (<sqlstate>): <message>".
 * Owns the one table of codes, SQLSTATEs and message formats (shared/ERRORS.md, docs/errors.md). */
#ifndef CLONEFS_ERRORS_H
#define CLONEFS_ERRORS_H

#include <stdarg.h>
#include <stdio.h>

enum { CFS_ERR_MSG_MAX = 512 };

/* Filled once, where the cause is known, with the facts; printed by the program's main. */
struct cfs_err {
	int code;          /* MySQL's code, or clonefs's own range 7000-7099; 0 = no error */
	char sqlstate[6];
	char msg[CFS_ERR_MSG_MAX];
};

/* MySQL's codes and message formats (share/messages_to_clients.txt). Pass the _MSG macro as the
 * format so the compiler checks the arguments: cfs_err_set(e, ER_WRONG_VALUE, ER_WRONG_VALUE_MSG, p). */
#define ER_CANT_CREATE_DB 1006
#define ER_CANT_CREATE_DB_MSG "Can't create database '%s' (errno: %d - %s)"
#define ER_DB_CREATE_EXISTS 1007
#define ER_DB_CREATE_EXISTS_MSG "Can't create database '%s'; database exists"
#define ER_ACCESS_DENIED_ERROR 1045
#define ER_ACCESS_DENIED_ERROR_MSG "Access denied for user '%s'@'%s' (using password: %s)"
#define ER_HOST_NOT_PRIVILEGED 1130 /* "Host '%s' is not allowed to connect", and MariaDB's "Proxy header is not accepted from %s" */
#define ER_PARSE_ERROR 1064
#define ER_PARSE_ERROR_MSG "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '%s' at line %d"
#define ER_FILE_EXISTS_ERROR 1086
#define ER_FILE_EXISTS_ERROR_MSG "File '%s' already exists"
#define ER_HOST_IS_BLOCKED 1129
#define ER_HOST_IS_BLOCKED_MSG "Host '%s' is blocked because of many connection errors; clonefsd unblocks it in %ld s"
#define ER_LOCK_WAIT_TIMEOUT 1205
#define ER_LOCK_WAIT_TIMEOUT_MSG "Lock wait timeout exceeded; try restarting transaction"
#define ER_SPECIFIC_ACCESS_DENIED_ERROR 1227
#define ER_SPECIFIC_ACCESS_DENIED_ERROR_MSG "Access denied; you need (at least one of) the %s privilege(s) for this operation"
#define ER_QUERY_INTERRUPTED 1317
#define ER_QUERY_INTERRUPTED_MSG "Query execution was interrupted"
#define ER_WRONG_STRING_LENGTH 1470
#define ER_WRONG_STRING_LENGTH_MSG "String '%-.70s' is too long for %s (should be no longer than %d)"
#define ER_WRONG_VALUE 1525
#define ER_WRONG_VALUE_MSG "Incorrect path value: '%s'"
#define ER_PATH_LENGTH 1680
#define ER_PATH_LENGTH_MSG "The path specified for DATA DIRECTORY is too long."
#define CR_CONN_HOST_ERROR 2003
#define CR_CONN_HOST_ERROR_MSG "Can't connect to MySQL server on '%s' (%d)"
#define CR_SSL_CONNECTION_ERROR 2026
#define CR_SSL_CONNECTION_ERROR_MSG "SSL connection error: %s"
/* The mysql client's refusal to send a caching_sha2_password secret to a key it was not given:
 * clonefs's RSA password exchange is that plugin's (docs/security.md). */
#define CR_AUTH_PLUGIN_ERR 2061
#define CR_AUTH_PLUGIN_ERR_PREFIX "Authentication plugin 'caching_sha2_password' reported error: "
#define CR_AUTH_PLUGIN_ERR_INSECURE CR_AUTH_PLUGIN_ERR_PREFIX "Authentication requires secure connection."
#define ER_PATH_IN_DATADIR 3632
#define ER_PATH_IN_DATADIR_MSG "Path is within the current data directory '%s'"
#define ER_CLONE_DDL_IN_PROGRESS 3633
#define ER_CLONE_DDL_IN_PROGRESS_MSG "Concurrent DDL is performed during clone operation. Please try again."
#define ER_CLONE_TOO_MANY_CONCURRENT_CLONES 3634
#define ER_CLONE_TOO_MANY_CONCURRENT_CLONES_MSG "Too many concurrent clone operations. Maximum allowed - %d."
#define ER_RESTART_SERVER_FAILED 3707
#define ER_RESTART_SERVER_FAILED_MSG "Restart server failed (%s)."
#define ER_CLONE_DONOR 3862
#define ER_CLONE_DONOR_MSG "Clone Donor Error: %.512s."
#define ER_CLONE_PROTOCOL 3863
#define ER_CLONE_PROTOCOL_MSG "Clone received unexpected response from Donor : %.512s."
#define ER_CLONE_DONOR_VERSION 3864
#define ER_CLONE_DONOR_VERSION_MSG "Clone Donor MySQL version: %.64s is different from Recipient MySQL version %.64s."
#define ER_CLONE_OS 3865
#define ER_CLONE_OS_MSG "Clone Donor OS: %.64s is different from Recipient OS: %.64s."
#define ER_CLONE_PLATFORM 3866
#define ER_CLONE_PLATFORM_MSG "Clone Donor platform: %.64s is different from Recipient platform: %.64s."
#define ER_CLONE_CHARSET 3867
#define ER_CLONE_CHARSET_MSG "Clone Donor collation: %.128s is unavailable in Recipient."
#define ER_CLONE_CONFIG 3868
#define ER_CLONE_CONFIG_MSG "Clone Configuration %.128s: Donor value: %.128s is different from Recipient value: %.128s."
#define ER_CLONE_SYS_CONFIG 3869
#define ER_CLONE_SYS_CONFIG_MSG "Clone system configuration: %.512s"
#define ER_CLONE_PLUGIN_MATCH 3870
#define ER_CLONE_PLUGIN_MATCH_MSG "Clone Donor plugin %.128s is not active in Recipient."
#define ER_CLONE_LOOPBACK 3871
#define ER_CLONE_LOOPBACK_MSG "Clone cannot use loop back connection while cloning into current data directory."
#define ER_CLONE_ENCRYPTION 3872
#define ER_CLONE_ENCRYPTION_MSG "Clone needs SSL connection for encrypted table."
#define ER_CLONE_DISK_SPACE 3873
#define ER_CLONE_DISK_SPACE_MSG "Clone estimated database size is %.64s. Available space %.64s is not enough."
#define ER_CLONE_IN_PROGRESS 3874
#define ER_CLONE_IN_PROGRESS_MSG "Concurrent clone in progress. Please try after clone is complete."
#define ER_CLONE_DISALLOWED 3875
#define ER_CLONE_DISALLOWED_MSG "The clone operation cannot be executed when %s."
#define ER_CLONE_NETWORK_PACKET 3957
#define ER_CLONE_NETWORK_PACKET_MSG "Clone needs max_allowed_packet value to be %u or more. Current value is %u"

/* clonefs's own range, 7000-7099, SQLSTATE HY000: causes MySQL's clone has no error for
 * (docs/errors.md). Messages are free text with the facts. */
#define CFS_ER_PROTOCOL 7000      /* malformed or out-of-limit frame, manifest or chunk from the peer */
#define CFS_ER_NETWORK 7001       /* connection lost and not recovered within network_timeout */
#define CFS_ER_DIGEST 7002        /* chunk bytes do not match the donor's digest */
#define CFS_ER_CACHE 7003         /* the local chunk cache cannot be opened, read or written */
#define CFS_ER_MOUNT 7004         /* FUSE mount failed, or a path is not a clonefs mount */
#define CFS_ER_SNAPSHOT 7005      /* the donor could not take, find or keep a snapshot */
#define CFS_ER_USAGE 7006         /* bad command line or option */
#define CFS_ER_IO 7007            /* a local read or write failed (errno and path in the message) */
#define CFS_ER_INCOMPLETE 7008    /* a source file changed or ended early while copying */

/* Set code, its SQLSTATE, and the formatted message. Returns -1 so callers can `return cfs_err_set(...)`. */
int cfs_err_set(struct cfs_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cfs_err_vset(struct cfs_err *e, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* SQLSTATE for a code (HY000 unless the table says otherwise). */
const char *cfs_err_sqlstate(int code);

/* "ERROR <code> (<sqlstate>): <message>\n" */
void cfs_err_print(const struct cfs_err *e, FILE *f);

static inline void cfs_err_clear(struct cfs_err *e) { e->code = 0; e->sqlstate[0] = 0; e->msg[0] = 0; }

#endif
