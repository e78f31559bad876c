/* donor.h: what the parts of clonefsd share: its configuration, the snapshot registry, the
 * snapshot methods, the server account checks and the donor facts. */
#ifndef CLONEFS_DONOR_H
#define CLONEFS_DONOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <mysql.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "transport/errors.h"
#include "transport/manifest.h"
#include "transport/wire.h"

enum snap_method { SNAP_AUTO, SNAP_MARIABACKUP, SNAP_DIR, SNAP_BTRFS, SNAP_CLONE };

/* --chunk-size bounds. The floor is 64 KiB (4 InnoDB pages of 16 KiB): below it the per-chunk costs
 * (a 49-byte CHUNK header, a SHA-256, a 48-byte cache record, one frame) stop being small against
 * the data, and hydration's 16-chunk READs shrink to under 1 MiB. The ceiling is what a recipient
 * accepts (WIRE_CHUNK_MAX). Recipients require a multiple of 4096 (docs/protocol.md §3). */
#define DONOR_CHUNK_SIZE_MIN (64u << 10)
#define DONOR_CHUNK_SIZE_MAX WIRE_CHUNK_MAX
#define DONOR_CHUNK_SIZE_ALIGN 4096u

/* Set by main before the first connection; read-only afterwards. */
struct donor_config {
	char listen[300];
	char socket[4096];
	char datadir[4096];
	char state_dir[3800];        /* short enough that <state_dir>/<id>/data/... fits PATH_MAX */
	enum snap_method method;
	SSL_CTX *tls;               /* NULL: no TLS offered; replaced on reload: take it with donor_tls_get */
	EVP_PKEY *rsa;              /* for passwords sent without TLS */
	char rsa_pem[WIRE_RSA_PEM_MAX];
	uint64_t max_bandwidth;     /* bytes/s over all sessions; 0 = unlimited */
	int max_connections;
	int snapshot_ttl_s;
	int snapshot_timeout_s;     /* bound on making one snapshot (mariabackup --backup + --prepare, CLONE) */
	int idle_timeout_s;
	int parallel;               /* the mariabackup method's copy threads (mariabackup --parallel) */
	int zstd_level;             /* when compressing: < 0 zstd's fast levels, > 0 its normal levels */
	enum { COMPRESS_AUTO, COMPRESS_ON, COMPRESS_OFF } compression; /* auto: per session, D15 */
	uint32_t chunk_size;        /* of snapshots made from now on; a snapshot keeps the size it was made
				       with (info.chunk_size, saved in snapshot.meta) */
};

extern struct donor_config donor_cfg;

/* donor_log.c: one line per event, `ts=... event=NAME msg="..."`, on stderr (the journal under systemd,
 * the log file when daemonized). Never a password. donor_log is event "log". */
void donor_event(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void donor_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void donor_log_lock(void);
void donor_log_unlock(void);

/* donor_metrics.c: counters for clonefsd --metrics (Prometheus text format). */
void donor_metrics_session(int delta);                 /* +1 a session starts, -1 it ends */
void donor_metrics_auth_failed(void);
void donor_metrics_served(enum snap_method m, uint64_t raw, uint64_t wire); /* one chunk sent */
void donor_metrics_error(int code);                    /* an ERROR frame sent to a recipient */
/* A snapshot made (ok) or failed after ns; lock_ms: how long the server's lock was held, or -1. */
void donor_metrics_snapshot(enum snap_method m, bool ok, uint64_t ns, long long lock_ms);
void donor_metrics_reload(bool ok);
/* Everything above in the text format; arg unused (a metrics_render_fn). */
struct wbuf;
void donor_metrics_render(struct wbuf *out, void *arg);

/* donor_service.c: clonefsd as a service. */
/* sd_notify(state) under systemd with libsystemd; nothing otherwise. */
void donor_notify(const char *state);
/* The TLS context for a new session, referenced (SSL_CTX_free it), or NULL: no TLS offered. */
SSL_CTX *donor_tls_get(void);
/* Replace it (taking ctx's reference); sessions holding the previous one keep it. */
void donor_tls_set(SSL_CTX *ctx);
/* A new context from these files for new sessions, logged with the certificate's serial and
 * fingerprint; on failure the previous one stays (logged). */
int donor_tls_reload(const char *cert, const char *key, const char *ca, bool require_client_cert);
/* SIGHUP of a daemonized clonefsd: stderr onto path again (after logrotate moved it). */
int donor_log_reopen(const char *path);

/* donor_auth.c: the donor server's own accounts. */
/* Log in to the server as user/password through --socket; the server's error on failure. */
MYSQL *donor_login(const char *user, const char *password, struct cfs_err *err);
/* The privilege the snapshot needs: MariaDB RELOAD, MySQL BACKUP_ADMIN. 1227 when missing. */
int donor_check_privilege(MYSQL *db, struct cfs_err *err);
/* RSA key for passwords without TLS: loaded from or saved to <state_dir>/rsa.pem. */
int donor_rsa_init(struct cfs_err *err);
/* Decrypt RSA-OAEP(nonce || password); checks the nonce. */
int donor_rsa_decrypt(const uint8_t *ct, size_t ctlen, const uint8_t nonce[WIRE_NONCE_LEN], char *pw,
		      size_t pwsz, struct cfs_err *err);

/* auth_limit.c: failed logins per host (MySQL's max_connect_errors, time-bounded). */
enum { AUTH_LIMIT_FAILURES = 10, AUTH_LIMIT_WINDOW_S = 60, AUTH_LIMIT_BLOCK_S = 60, AUTH_LIMIT_HOSTS = 1024 };
/* 0, or -1 with 1129 while peer's host is blocked. */
int donor_auth_allowed(const char *peer, struct cfs_err *err);
/* Count a login of peer's host: a failure towards the block, a success resets it. */
void donor_auth_result(const char *peer, bool ok);

/* donor_facts.c: the facts a snapshot records (docs/protocol.md §3), asked of the server. */
int donor_facts(MYSQL *db, struct wire_snap_info *info, struct cfs_err *err);
/* 1 when a tablespace is encrypted, 0 when none is, -1 + err when the server would not say. */
int donor_has_encrypted(MYSQL *db, struct cfs_err *err);
bool donor_is_mariadb(MYSQL *db);
/* One value of a query's first row, or "" (NULL result). -1 on a query error. */
int donor_query1(MYSQL *db, const char *sql, char *out, size_t outsz, struct cfs_err *err);

/* A snapshot: its files under root, its facts and manifest. Owned by the registry. */
struct snapshot {
	char id[WIRE_SNAP_ID_MAX + 1];
	char dir[4096];             /* <state_dir>/<id> */
	char root[4200];            /* the tree served: <dir>/data (mariabackup, clone), <dir>/subvol/<datadir
				       in it> (btrfs), or the datadir for method dir */
	bool owns_root;             /* delete root with the snapshot (not for method dir) */
	enum snap_method method;    /* the method that made it (never SNAP_AUTO) */
	struct wire_snap_info info;
	struct manifest m;
	char **src;                 /* per entry id: the file to read when it is not root/path (.external) */
	uint8_t *blob;              /* encoded manifest, sent in slices */
	size_t blob_len;
	bool encrypted;             /* holds an encrypted tablespace: TLS only */
	int refs;                   /* sessions that have it open; guarded by the registry lock */
	time_t released;            /* when refs last dropped to 0 */
	struct snapshot *next;
};

/* snapshot.c: the registry. Immutable once made: sessions read info, m, src and blob without a lock. */
int snap_registry_init(struct cfs_err *err);   /* loads snapshots left in state_dir; no thread yet */
int snap_reaper_start(struct cfs_err *err);    /* the TTL reaper (after daemonizing: threads do not fork) */
void snap_registry_shutdown(void);
int snap_count(void);                          /* snapshots held now */
/* While a snapshot is being made: a line for the PROGRESS frames (the method's latest step). */
void snap_set_status(const char *line);
/* Stop the snapshot being made (shutdown): its tool is killed, the make fails. */
void snap_cancel(void);
bool snap_cancelled(void);
/* Make a new snapshot with the configured method, as the authenticated user. progress() is called
 * every 2 s from another thread while it runs. 3634 if one is being made already. */
struct snapshot *snap_create(MYSQL *db, const char *user, const char *password,
			     void (*progress)(void *arg, const char *line), void *arg, struct cfs_err *err);
struct snapshot *snap_open(const char *id, struct cfs_err *err);
void snap_release(struct snapshot *s);

/* snap_tree.c: the manifest of a snapshot's tree. */
/* Build the manifest of root (skipping what is not data), s->src for .external files, and the blob. */
int snap_build_manifest(struct snapshot *s, struct cfs_err *err);
void snap_tree_release(struct snapshot *s);
/* rel (a path relative to the root) is not data: pid files, logs, binary logs, backup metadata. */
bool snap_tree_skip(const char *rel, const char *binlog_base);
/* A symlink at rel pointing to target stays inside the tree. */
bool snap_tree_link_inside(const char *rel, const char *target);
/* Open a regular entry's bytes read-only. fd, or -1 + err (7005). */
int snap_file_open(const struct snapshot *s, const struct manifest_entry *e, struct cfs_err *err);

/* The methods: fill s->root (and s->info's binlog facts) from the live server. */
int snap_mariabackup_take(struct snapshot *s, MYSQL *db, const char *user, const char *password,
			  struct cfs_err *err);
int snap_dir_take(struct snapshot *s, MYSQL *db, struct cfs_err *err);
/* snap_btrfs.c: backup lock, binlog position, read-only snapshot of the datadir's subvolume at
 * <dir>/subvol, release; the lock time in the fact lock_ms. */
int snap_btrfs_take(struct snapshot *s, MYSQL *db, struct cfs_err *err);
/* Delete <dir>/subvol if it is a btrfs subvolume (btrfs subvolume delete). 0, or -1 (logged). */
int snap_btrfs_remove(const char *dir);
/* After the manifest is built: tablespaces outside the datadir but in the snapshotted subvolume are
 * read from the snapshot, not their live path (sizes, times and the blob follow). 0, or -1 + err. */
int snap_btrfs_map_external(struct snapshot *s, struct cfs_err *err);
bool snap_btrfs_is_btrfs(const char *path);
/* The datadir is in a btrfs subvolume on the filesystem of --state-dir; why says what was found. */
bool snap_btrfs_usable(const char *datadir, char *why, size_t whysz);
/* Read xtrabackup_binlog_info / mariadb_backup_binlog_info from dir into the facts. */
void snap_read_binlog_info(const char *dir, struct wire_snap_info *info);
/* Parse one "FILE<TAB>POS<TAB>GTID" line (GTID may be missing). 0, or -1 when it is not one. */
int snap_parse_binlog_line(char *line, char **file, char **pos, char **gtid);
/* An option-file value, quoted and escaped for MariaDB's parser ("a\"b\nc"); 0, or -1 if it does not fit. */
int snap_cnf_quote(const char *v, char *out, size_t outsz);
/* snap_clone.c (MySQL >= 8.0.17; pure helpers in snap_clone.h): CLONE LOCAL DATA DIRECTORY into
 * <dir>/data as the authenticated user (user/password open a second connection only to KILL QUERY
 * it at --snapshot-timeout or shutdown); binlog facts from performance_schema.clone_status. */
int snap_clone_take(struct snapshot *s, MYSQL *db, const char *user, const char *password, struct cfs_err *err);
/* The server is MySQL >= 8.0.17 with the clone plugin ACTIVE; why says what was found. */
bool snap_clone_usable(MYSQL *db, char *why, size_t whysz);
const char *snap_method_name(enum snap_method m);
/* snap_auto.c: the method --snapshot-method=auto takes for this server: 0, or 7005 naming what is missing. */
int snap_method_pick(MYSQL *db, enum snap_method *out, struct cfs_err *err);
bool snap_have_mariabackup(void);
/* Whether method m can work here and why, from the filesystem and PATH only (the server is not
 * asked: clonefsd has no account of its own); datadir may be "" (not known). */
bool snap_method_available(enum snap_method m, const char *datadir, char *why, size_t whysz);

/* donor_session.c: one recipient connection, start to end. */
void donor_session_run(int fd, const char *peer);
/* Shutdown: end every session (their sockets are shut down) and wait for them, at most timeout_s. */
int donor_sessions_stop(int timeout_s);

#endif
