/* donor.h: what the parts of clonefsd share: its configuration, the snapshot registry, the
 * snapshot methods, the server account checks and the donor facts. */
#ifndef CLONEFS_DONOR_H
#define CLONEFS_DONOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <arpa/inet.h>
#include <mysql.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "transport/errors.h"
#include "transport/manifest.h"
#include "transport/wire.h"

enum snap_method { SNAP_AUTO, SNAP_MARIABACKUP, SNAP_DIR, SNAP_BTRFS, SNAP_CLONE, SNAP_REFLINK };

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
	char snapshot_dir[3800];     /* where the reflink and btrfs methods put snapshot data; "" = beside the
				       datadir (snap_place.c) */
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
	bool proxy_protocol;        /* logins carry the recipient's address (PROXY protocol header); off:
				       every recipient is 'user'@'localhost' to the server (D20) */
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
/* A recipient as the server must judge it (D20): its address, and the PROXY protocol line that tells
 * the server so when clonefsd logs in for it over the local socket. */
struct donor_peer {
	char ip[INET6_ADDRSTRLEN];  /* numeric, as the server names it ('u'@'ip'); IPv4-mapped IPv6 as IPv4 */
	char proxy[160];            /* "PROXY TCP4 <ip> <our ip> <port> <our port>\r\n"; "" with
				       --proxy-protocol=off */
};
/* Fill p from the recipient's connection fd. 0, or -errno. */
int donor_peer_of(int fd, struct donor_peer *p);
/* Log in to the server as user/password through --socket, as coming from peer (NULL: no header);
 * the server's error on failure. */
MYSQL *donor_login(const char *user, const char *password, const struct donor_peer *peer, struct cfs_err *err);
/* At start-up: the server accepts clonefsd's PROXY headers on --socket. 0; 1 when the server cannot be
 * reached now (checked again at each login); -1 + err saying what the donor must configure. */
int donor_proxy_check(struct cfs_err *err);
/* The account host pattern host (from CURRENT_USER()) matches the address ip as the server matches
 * it without name resolution: % and _ wildcards, or IPv4 "net/mask". */
bool donor_host_matches(const char *host, const char *ip);
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

/* The first row's first two columns of sql (SHOW MASTER STATUS's File, Position); "" without a row. */
int donor_query2(MYSQL *db, const char *sql, char *a, size_t asz, char *b, size_t bsz, struct cfs_err *err);
/* The tables' tablespaces outside the datadir (DATA DIRECTORY=), comma-separated ("" when none or unknown). */
void donor_external_paths(MYSQL *db, char *out, size_t n);
/* A whole small file, NUL-terminated (malloc'd); NULL when missing, unreadable or over max bytes. */
char *donor_slurp(const char *path, size_t max, size_t *len);

/* donor_replica.c: replication facts, the same for every method (docs/donor.md "Replica donors"). */
/* Under the commit lock: binlog_file/pos, gtid_pos (gtid_current_pos), gtid_binlog_pos,
 * gtid_slave_pos, and from SHOW ALL SLAVES STATUS slave_info, replica_of, primary_log_file/pos. */
int donor_replica_record(MYSQL *db, struct wire_snap_info *info, struct cfs_err *err);
/* The server replicates from a primary: 1 (and the fact replica_of), 0 when not, -1 + err when it
 * would not say. */
int donor_replica_sources(MYSQL *db, struct wire_snap_info *info, struct cfs_err *err);
/* A backup's (mariabackup, or one served by the dir method) [xtrabackup|mariadb_backup]_slave_info
 * in dir and mariabackup's log (may be NULL): slave_info, gtid_slave_pos, primary_log_file/pos;
 * with db, gtid_binlog_pos of binlog_file:binlog_pos from the server (BINLOG_GTID_POS). */
void donor_replica_from_backup(MYSQL *db, const char *dir, const char *log, struct wire_snap_info *info);
/* The replication connections whose SQL thread a snapshot stopped (at most this many are stopped). */
enum { DONOR_REPLICA_CONN_MAX = 64 };
struct donor_replica_paused {
	size_t n;
	char names[DONOR_REPLICA_CONN_MAX][256]; /* as SQL literals */
};
/* On a replica, before the snapshot: stop each running SQL thread (STOP SLAVE 'name' SQL_THREAD,
 * which ends at an event-group boundary), so that tables of non-transactional engines and
 * gtid_slave_pos agree, as mariabackup --safe-slave-backup does. Without the privilege: logged and
 * said in the fact replica_note. The number stopped. */
int donor_replica_pause(MYSQL *db, struct donor_replica_paused *p, struct wire_snap_info *info);
/* Start again what donor_replica_pause stopped. */
void donor_replica_resume(MYSQL *db, struct donor_replica_paused *p);
/* The server's names for its replica state (relay_log_basename, master_info_file, relay_log_info_file). */
void donor_replica_facts(MYSQL *db, struct wire_snap_info *info);
/* name (in the datadir's top level) is replica state a clone must not carry: master.info,
 * relay-log.info, multi-master.info, a connection's master-*.info / relay-log-*.info, relay logs. */
bool donor_replica_state_file(const char *name, const struct wire_snap_info *info);

/* A snapshot: its files under root, its facts and manifest. Owned by the registry. */
struct snapshot {
	char id[WIRE_SNAP_ID_MAX + 1];
	char dir[4096];             /* <state_dir>/<id> */
	char root[4200];            /* the tree served: <dir>/data (mariabackup, clone), <dir>/subvol/<datadir
				       in it> (btrfs), or the datadir for method dir */
	bool owns_root;             /* delete root with the snapshot (not for method dir) */
	enum snap_method method;    /* the method that made it (never SNAP_AUTO) */
	struct donor_peer maker;    /* while it is made: the recipient it is made for, whose address the
				       method's own logins carry (mariabackup's, KILL QUERY's) */
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
/* A test's deliberate delay at a step of a method: the milliseconds in the environment variable env
 * (at most 60 s; unset: none), logged with what. */
void snap_test_pause(const char *env, const char *what);
/* id has the shape of our snapshot ids ("YYYYMMDD-HHMMSS-" and 12 hex digits): nothing else in the
 * state dir or a snapshot dir is ever removed. */
bool snap_is_id(const char *id);
/* Make a new snapshot with the configured method, as the authenticated user. progress() is called
 * every 2 s from another thread while it runs. 3634 if one is being made already. */
struct snapshot *snap_create(MYSQL *db, const char *user, const char *password, const struct donor_peer *peer,
			     void (*progress)(void *arg, const char *line), void *arg, struct cfs_err *err);
struct snapshot *snap_open(const char *id, struct cfs_err *err);
void snap_release(struct snapshot *s);

/* snap_innodb.c: InnoDB files outside the datadir (redo log, undo tablespaces, system tablespace). */
enum { SNAP_OUTSIDE_MAX = 160 };
struct snap_outside {
	size_t n;
	struct {
		char kind[24];      /* "redo log", "undo tablespace", "system tablespace" */
		char name[256];     /* its name in a clone's data directory */
		char path[4096];    /* where the server keeps it */
	} f[SNAP_OUTSIDE_MAX];
};
/* From the server's settings (innodb_log_group_home_dir, innodb_undo_directory, innodb_data_home_dir
 * and innodb_data_file_path) and what those directories hold: the files outside datadir. 0, or -1 + err. */
int snap_innodb_outside(MYSQL *db, const char *datadir, struct snap_outside *o, struct cfs_err *err);
/* For a method that snapshots one tree (btrfs: a subvolume; reflink: a filesystem): every file
 * must be under holder on device dev, else 7005 naming the file, its kind and the method that
 * would work. Call it before taking any lock. */
int snap_innodb_outside_check(const struct snap_outside *o, const char *holder, dev_t dev, const char *method,
			      struct cfs_err *err);
/* The fact innodb_outside: "name=path,..." (the tree's manifest serves each at the root when the
 * method left it out; the recipient says where the clone has them). */
void snap_innodb_outside_fact(const struct snap_outside *o, struct wire_snap_info *info);

/* snap_tree.c: the manifest of a snapshot's tree. */
/* Build the manifest of root (skipping what is not data), s->src for .external files, and the blob. */
int snap_build_manifest(struct snapshot *s, struct cfs_err *err);
void snap_tree_release(struct snapshot *s);
/* rel (a path relative to the root) is not data: pid files, logs, binary logs, backup metadata. */
bool snap_tree_skip(const char *rel, const char *binlog_base);
/* Open a regular entry's bytes read-only. fd, or -1 + err (7005). */
int snap_file_open(const struct snapshot *s, const struct manifest_entry *e, struct cfs_err *err);

/* snap_confine.c: nothing from outside the datadir, whatever the method made (docs/donor.md). */
struct snap_confine {
	const struct snapshot *s;
	char origin[4096];          /* the datadir a copying method (mariabackup, clone) copied from; "" when
				       the tree holds the datadir's own files (dir, btrfs) */
	struct confine_link *links; /* files whose data has more than one link */
	size_t n, cap;
};
/* 0, or -1 when a copy cannot be traced back to its datadir (the snapshot must not be served). */
int snap_confine_begin(struct snap_confine *c, const struct snapshot *s);
/* A regular file or directory of the walk at rel: 1 serve it, 0 leave it out (logged: it came through
 * a symlink leaving the datadir), -1 out of memory. Files with several links are kept for
 * snap_confine_end. */
int snap_confine_entry(struct snap_confine *c, const char *rel, const struct stat *st);
/* Drop from m (before manifest_finish) every file sharing its data with a file outside the snapshot. */
void snap_confine_end(struct snap_confine *c, struct manifest *m);
/* An .isl's tablespace path abs is servable: an .ibd, a regular file, no symlink on its way, one link. */
bool snap_confine_external(const struct snapshot *s, const char *isl, const char *abs);

/* server_relay.c: for a tool that logs in as the recipient (mariabackup): sock is set to a private
 * socket relayed to --socket behind s->maker's PROXY header while it runs, or to --socket itself
 * when logins carry no header. *out NULL then. 0, or -1 + err. */
struct donor_relay;
int donor_relay_start(const struct snapshot *s, struct donor_relay **out, char *sock, size_t socksz,
		      struct cfs_err *err);
/* Close the relay and every connection through it; NULL is a no-op. */
void donor_relay_stop(struct donor_relay *r);

/* The methods: fill s->root (and s->info's binlog facts) from the live server. */
int snap_mariabackup_take(struct snapshot *s, MYSQL *db, const char *user, const char *password,
			  struct cfs_err *err);
int snap_dir_take(struct snapshot *s, MYSQL *db, struct cfs_err *err);
/* snap_btrfs.c: backup lock, binlog position, read-only snapshot of the datadir's subvolume at
 * <snapshot dir>/<id>/subvol (snap_place.c), release; the lock time in the fact lock_ms. */
int snap_btrfs_take(struct snapshot *s, MYSQL *db, struct cfs_err *err);
/* Under the backup lock (its steps and bounds as snap_btrfs_take's), the binlog and replication facts
 * recorded into info and a snapshot of the subvolume subvol made as dir/name, read-only or writable
 * (CLONE LOCAL); lock_ms into info. 0, or -1 + err. */
int snap_btrfs_copy(MYSQL *db, const char *subvol, const char *dir, const char *name, bool readonly,
		    struct wire_snap_info *info, struct cfs_err *err);
/* Delete <dir>/subvol if it is a btrfs subvolume: a snapshot made before D46, in its state directory
 * dir. 0, or -1 (logged). */
int snap_btrfs_remove(const char *dir);
/* Delete the btrfs subvolume at path (btrfs subvolume delete); nothing when path is not one. 0, or -1
 * (logged). */
int snap_btrfs_delete(const char *path);
/* a and b are on the same btrfs filesystem (its UUID), whichever subvolumes hold them. */
bool snap_btrfs_same_fs(const char *a, const char *b);
/* path is the root directory of a btrfs subvolume. */
bool snap_btrfs_subvol_root(const char *path);
/* For auto and --explain-methods: the datadir's subvolume is not the filesystem's top-level one (a
 * snapshot of that would hold the whole filesystem: auto takes reflink there); why says which. */
bool snap_btrfs_own_subvol(const char *datadir, char *why, size_t whysz);
/* After the manifest is built: tablespaces outside the datadir but in the snapshotted subvolume are
 * read from the snapshot, not their live path (sizes, times and the blob follow). 0, or -1 + err. */
int snap_btrfs_map_external(struct snapshot *s, struct cfs_err *err);
bool snap_btrfs_is_btrfs(const char *path);
/* For auto: btrfs is usable and its snapshot would hold every file the server uses (tables outside
 * the datadir, the redo log, undo and system tablespaces); why says what was found. */
bool snap_btrfs_holds_all(MYSQL *db, const char *datadir, char *why, size_t whysz);
/* The datadir is in a btrfs subvolume and the snapshot directory on its filesystem; why says what was
 * found. */
bool snap_btrfs_usable(const char *datadir, char *why, size_t whysz);
/* Read xtrabackup_binlog_info / mariadb_backup_binlog_info from dir into the facts. */
void snap_read_binlog_info(const char *dir, struct wire_snap_info *info);
/* Parse one "FILE<TAB>POS<TAB>GTID" line (GTID may be missing). 0, or -1 when it is not one. */
int snap_parse_binlog_line(char *line, char **file, char **pos, char **gtid);
/* An option-file value, quoted and escaped for MariaDB's parser ("a\"b\nc"); 0, or -1 if it does not fit. */
int snap_cnf_quote(const char *v, char *out, size_t outsz);
/* snap_reflink.c: per-file reflinks (FICLONE) of the datadir under BLOCK_DDL (InnoDB files) and
 * BLOCK_COMMIT (the rest, the redo log last) into <snapshot dir>/<id>/data, the cloned redo log's
 * checkpoint reset to the one recorded before the first clone; refused when the log wrapped past it. */
int snap_reflink_take(struct snapshot *s, MYSQL *db, struct cfs_err *err);
/* What the method needs of the server: MariaDB, its datadir (resolved into real, PATH_MAX bytes) on a
 * filesystem that clones, InnoDB's files in it. 0, or -1 + err (7005). */
int snap_reflink_check(MYSQL *db, char *real, size_t realsz, struct wire_snap_info *info, struct cfs_err *err);
/* Create root (it must not exist) with the mode and owner of the datadir real. */
int snap_reflink_mkroot(const char *real, const char *root, struct cfs_err *err);
/* The snapshot itself, from the datadir real into the empty directory dest on its filesystem: the
 * binlog facts, lock_ms, redo_checkpoint_lsn and redo_lsn into info; label names it in the log. */
int snap_reflink_copy(MYSQL *db, const char *real, const char *dest, const char *label, struct wire_snap_info *info,
		      struct cfs_err *err);
/* The datadir's filesystem shares extents and the snapshot dir is on it; why says what was found. */
bool snap_reflink_usable(const char *datadir, char *why, size_t whysz);
/* snap_place.c: where the reflink and btrfs methods put snapshot data (D30, D46): <snapshot dir>/<id>,
 * recorded in <state>/<id>/<method>.where before it is made. */
#define SNAP_PLACE_DIR_NAME ".clonefs-snapshots" /* the snapshot dir's name beside (or in) the datadir */
#define SNAP_PLACE_REFLINK "reflink.where"
#define SNAP_PLACE_BTRFS "btrfs.where"
#define SNAP_PLACE_SUBVOL "subvol" /* the btrfs method's subvolume in <snapshot dir>/<id> */
/* Where snapshot data goes for the datadir real (--snapshot-dir, or .clonefs-snapshots beside or
 * inside it); -1 with why when --snapshot-dir is not on the datadir's filesystem. */
int snap_place_base(const char *real, char *out, size_t outsz, char *why, size_t whysz);
/* For snapshot s of the datadir real: <snapshot dir>/<id> into where, recorded in s->dir as record
 * (SNAP_PLACE_*), then created (mode 0700). 0, or -1 + err (7005). */
int snap_place_make(const struct snapshot *s, const char *real, const char *record, char *where, size_t wheresz,
		    struct cfs_err *err);
/* The path the state directory dir's record names, checked to be absolute and end in dir's id. 0, or -1. */
int snap_place_read(const char *dir, const char *record, char *out, size_t outsz);
/* root (the tree served) is in the data that the state directory dir records. */
bool snap_place_owns(const char *dir, const char *root);
/* Remove the data the records in the state directory dir name (a btrfs subvolume too). */
void snap_place_remove(const char *dir);
/* At start-up, after the registry is loaded: snapshot data under the snapshot directory of
 * --datadir (or --snapshot-dir) whose metadata is gone from --state-dir is removed. */
void snap_place_sweep(void);
/* snap_btrfs.c's lock steps, shared with the reflink method: run statements in order (*done counts
 * those that succeeded), release them (errors logged). */
int snap_run_all(MYSQL *db, const char *const *sql, size_t n, size_t *done, struct cfs_err *err);
void snap_release_all(MYSQL *db, const char *const *sql, size_t n);
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
