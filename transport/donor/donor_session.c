/* donor_session.c: one recipient connection on the donor: handshake, TLS, authentication against
 * the server's accounts, snapshot open, manifest and chunk serving (docs/protocol.md §3), with the
 * shared bandwidth limit. Any malformed frame ends the connection. Owns the list of live sessions. */
#include "transport/donor/donor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <zstd.h>

#include "transport/chunk.h"
#include "transport/clock.h"
#include "transport/conn.h"
#include "transport/donor/zadapt.h"

/* Requests a recipient sends are small (the largest is AUTH, under 1 KiB). */
#define REQUEST_MAX 4096
/* The handshake must be over within this, whatever the idle timeout. */
#define HANDSHAKE_TIMEOUT_MS (30 * 1000)
/* After a final ERROR frame, how long the recipient gets to read it and close. */
#define LINGER_MS 2000
/* MANIFEST slices: 1 MiB each, well under WIRE_FRAME_MAX. */
#define MANIFEST_SLICE (1u << 20)

/* One connection. Owned by its thread; the progress thread only sends on conn (conn_send is
 * thread-safe) and reads progress_req, which is set before it starts. */
struct session {
	struct cfs_conn conn;
	char peer[128];
	struct donor_peer from; /* the recipient's address, for the server to judge its logins by (D20) */
	char user[WIRE_USER_MAX + 1];
	char password[WIRE_SECRET_MAX + 1]; /* kept for mariabackup, which logs in as the recipient; cleansed at the end */
	MYSQL *db;
	struct snapshot *snap;
	uint8_t nonce[WIRE_NONCE_LEN];
	struct wbuf in, out;
	ZSTD_CCtx *zctx;
	struct zadapt za;       /* compress or not, with --compression=auto */
	enum chunk_digest_alg digest; /* by the protocol version agreed in HELLO */
	uint8_t *raw;           /* one raw chunk: WIRE_CHUNK_MAX bytes, enough for any snapshot's chunk size */
	uint32_t progress_req;  /* the SNAP_OPEN that PROGRESS frames answer */
	bool logged;            /* the error that ends the session is in the log already */
	bool refused;           /* an ERROR frame ends the session: close gracefully so it arrives */
	struct session *next;   /* in the live list; guarded by sessions_lock */
};

static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER; /* guards sessions, nsessions, stopping */
static pthread_cond_t sessions_cond = PTHREAD_COND_INITIALIZER;  /* signalled when a session ends */
static struct session *sessions;
static int nsessions;
static bool stopping;

/* Bandwidth: a token bucket over all sessions (--max-bandwidth). */
static pthread_mutex_t bw_lock = PTHREAD_MUTEX_INITIALIZER; /* guards bw_tokens, bw_last */
static double bw_tokens;
static struct timespec bw_last;

static void bandwidth_take(size_t n)
{
	if (!donor_cfg.max_bandwidth)
		return;
	double rate = (double)donor_cfg.max_bandwidth;
	pthread_mutex_lock(&bw_lock);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (bw_last.tv_sec == 0 && bw_last.tv_nsec == 0)
		bw_last = now;
	double dt = (double)(now.tv_sec - bw_last.tv_sec) + (double)(now.tv_nsec - bw_last.tv_nsec) / 1e9;
	bw_last = now;
	bw_tokens += dt * rate;
	if (bw_tokens > rate)
		bw_tokens = rate; /* at most a second's burst */
	bw_tokens -= (double)n;
	double wait = bw_tokens < 0 ? -bw_tokens / rate : 0;
	pthread_mutex_unlock(&bw_lock);
	if (wait > 0) {
		struct timespec ts = { .tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

static int send_buf(struct session *s, uint8_t type, uint32_t req, const struct wbuf *b, struct cfs_err *err)
{
	if (b && b->over)
		return cfs_err_set(err, CFS_ER_IO, "cannot encode a %s frame", wire_type_name(type));
	return conn_send(&s->conn, type, 0, req, b ? b->p : NULL, b ? b->len : 0, err);
}

static void progress_cb(void *arg, const char *line)
{
	struct session *s = arg;
	struct wbuf b;
	struct cfs_err ignored;
	wbuf_init(&b, 1024);
	wbuf_str(&b, line);
	/* The session thread is not reading while a snapshot is made: this send is safe alongside it. */
	if (!b.over)
		conn_send(&s->conn, WIRE_PROGRESS, 0, s->progress_req, b.p, b.len, &ignored);
	wbuf_release(&b);
}

/* Send e as the answer to req, log it, and end the connection (return -1 with err = e). */
static int refuse(struct session *s, uint32_t req, const struct cfs_err *e, struct cfs_err *err)
{
	struct cfs_err ignored;
	donor_metrics_error(e->code ? e->code : CFS_ER_PROTOCOL);
	if (conn_send_error(&s->conn, req, e, &ignored) == 0)
		s->refused = true;
	*err = *e;
	err->code = err->code ? err->code : CFS_ER_PROTOCOL;
	return -1;
}

/* Receive one request; a malformed header (bad magic, oversized) is answered with ERROR 7000. */
static int recv_request(struct session *s, struct wire_hdr *h, struct cfs_err *err)
{
	if (conn_recv(&s->conn, REQUEST_MAX, h, &s->in, err) == 0)
		return 0;
	if (err->code == CFS_ER_PROTOCOL) {
		struct cfs_err e = *err;
		refuse(s, 0, &e, err);
	}
	return -1;
}

static int hello(struct session *s, struct cfs_err *err)
{
	struct wire_hdr h;
	struct wire_hello m;
	struct cfs_err e = { 0 };
	if (recv_request(s, &h, err))
		return -1;
	if (h.type != WIRE_HELLO) {
		cfs_err_set(&e, CFS_ER_PROTOCOL, "expected HELLO, got %s", wire_type_name(h.type));
		return refuse(s, h.req_id, &e, err);
	}
	if (wire_hello_decode(s->in.p, s->in.len, &m, &e))
		return refuse(s, h.req_id, &e, err);
	if (m.proto_min > WIRE_PROTO_VERSION || m.proto_max < WIRE_PROTO_MIN) {
		cfs_err_set(&e, ER_CLONE_PROTOCOL, "Clone received unexpected response from Donor : protocol versions "
			    "%u-%u asked, this donor speaks %d-%d.", m.proto_min, m.proto_max, WIRE_PROTO_MIN,
			    WIRE_PROTO_VERSION);
		return refuse(s, h.req_id, &e, err);
	}
	/* The highest version both speak. */
	unsigned proto = m.proto_max < WIRE_PROTO_VERSION ? m.proto_max : WIRE_PROTO_VERSION;
	s->digest = chunk_digest_of_proto(proto);
	SSL_CTX *tls = donor_tls_get(); /* the certificate of the last reload, for the whole handshake */
	struct wire_hello_ok ok = { .proto = (uint16_t)proto, .tls_offered = tls != NULL,
				    .max_frame = WIRE_FRAME_MAX };
	int rc = 0;
	if (RAND_bytes(s->nonce, sizeof(s->nonce)) != 1)
		rc = cfs_err_set(err, CFS_ER_IO, "no randomness for the nonce");
	memcpy(ok.nonce, s->nonce, sizeof(s->nonce));
	snprintf(ok.rsa_pem, sizeof(ok.rsa_pem), "%s", donor_cfg.rsa_pem);
	wbuf_reset(&s->out);
	wire_hello_ok_encode(&s->out, &ok);
	if (rc == 0)
		rc = send_buf(s, WIRE_HELLO_OK, h.req_id, &s->out, err);
	if (rc == 0 && m.tls == WIRE_TLS_YES && tls && conn_tls_server(&s->conn, tls, err)) {
		donor_event("tls_failed", "%s: TLS handshake failed: ERROR %d: %s", s->peer, err->code, err->msg);
		s->logged = true;
		rc = -1;
	}
	SSL_CTX_free(tls); /* the session's SSL holds its own reference */
	return rc;
}

static int auth(struct session *s, struct cfs_err *err)
{
	struct wire_hdr h;
	struct wire_auth a;
	struct cfs_err e = { 0 };
	memset(&a, 0, sizeof(a));
	if (recv_request(s, &h, err))
		return -1;
	if (h.type != WIRE_AUTH) {
		cfs_err_set(&e, CFS_ER_PROTOCOL, "expected AUTH, got %s", wire_type_name(h.type));
		return refuse(s, h.req_id, &e, err);
	}
	int rc = -1;
	if (wire_auth_decode(s->in.p, s->in.len, &a, &e))
		goto reply;
	snprintf(s->user, sizeof(s->user), "%s", a.user);
	if (a.scheme == WIRE_AUTH_CLEAR_IN_TLS) {
		if (!s->conn.ssl) {
			cfs_err_set(&e, CR_SSL_CONNECTION_ERROR, CR_SSL_CONNECTION_ERROR_MSG,
				    "a password in clear is accepted only inside TLS");
			goto reply;
		}
		if (memchr(a.secret, 0, a.secret_len)) {
			cfs_err_set(&e, CFS_ER_PROTOCOL, "password holds a NUL byte");
			goto reply;
		}
		memcpy(s->password, a.secret, a.secret_len);
		s->password[a.secret_len] = 0;
	} else if (donor_rsa_decrypt(a.secret, a.secret_len, s->nonce, s->password, sizeof(s->password), &e)) {
		goto reply;
	}
	if (donor_auth_allowed(s->peer, &e))
		goto reply;
	s->db = donor_login(s->user, s->password, &s->from, &e);
	/* Only a wrong password counts towards the block; a missing privilege is not a guess. */
	donor_auth_result(s->peer, s->db != NULL);
	if (!s->db || donor_check_privilege(s->db, &e))
		goto reply;
	rc = 0;
reply:
	OPENSSL_cleanse(&a, sizeof(a));
	if (rc) {
		donor_metrics_auth_failed();
		donor_event("auth_refused", "%s: authentication of '%s' refused: ERROR %d (%s): %s", s->peer, s->user, e.code, e.sqlstate, e.msg);
		s->logged = true;
		return refuse(s, h.req_id, &e, err);
	}
	donor_event("auth_ok", "%s: '%s' authenticated (%s)", s->peer, s->user, s->conn.ssl ? "TLS" : "no TLS, RSA password");
	return send_buf(s, WIRE_AUTH_OK, h.req_id, NULL, err);
}

/* The server connection of an idle session may have timed out (wait_timeout): log in again. */
static int server_alive(struct session *s, struct cfs_err *err)
{
	if (s->db && mysql_ping(s->db) == 0)
		return 0;
	if (s->db)
		mysql_close(s->db);
	s->db = donor_login(s->user, s->password, &s->from, err);
	return s->db && donor_check_privilege(s->db, err) == 0 ? 0 : -1;
}

static int do_snap_open(struct session *s, uint32_t req, struct cfs_err *err)
{
	struct wire_snap_open m;
	struct cfs_err e = { 0 };
	if (wire_snap_open_decode(s->in.p, s->in.len, &m, &e))
		return refuse(s, req, &e, err);
	if (s->snap) {
		snap_release(s->snap);
		s->snap = NULL;
	}
	s->progress_req = req;
	bool is_new = !strcmp(m.snap, "new");
	struct snapshot *snap = NULL;
	if (is_new) {
		/* Encrypted data needs TLS: refused before any copy is made. */
		int enc = server_alive(s, &e) ? -1 : s->conn.ssl ? 0 : donor_has_encrypted(s->db, &e);
		if (enc > 0)
			cfs_err_set(&e, ER_CLONE_ENCRYPTION, ER_CLONE_ENCRYPTION_MSG);
		else if (enc == 0)
			snap = snap_create(s->db, s->user, s->password, &s->from, progress_cb, s, &e);
	} else {
		snap = snap_open(m.snap, &e);
	}
	if (snap && snap->encrypted && !s->conn.ssl) {
		snap_release(snap);
		snap = NULL;
		cfs_err_set(&e, ER_CLONE_ENCRYPTION, ER_CLONE_ENCRYPTION_MSG);
	}
	if (!snap) {
		donor_event("snapshot_refused", "%s: snapshot '%s' for '%s' refused: ERROR %d (%s): %s", s->peer, m.snap, s->user, e.code,
			  e.sqlstate, e.msg);
		donor_metrics_error(e.code);
		return conn_send_error(&s->conn, req, &e, err);
	}
	s->snap = snap;
	if (!is_new)
		donor_event("snapshot_opened", "%s: '%s' opened snapshot %s", s->peer, s->user, snap->id);
	wbuf_reset(&s->out);
	wire_snap_info_encode(&s->out, &snap->info);
	return send_buf(s, WIRE_SNAP_INFO, req, &s->out, err);
}

static int do_manifest(struct session *s, uint32_t req, struct cfs_err *err)
{
	struct cfs_err e = { 0 };
	if (s->in.len) {
		cfs_err_set(&e, CFS_ER_PROTOCOL, "MANIFEST_GET carries %zu bytes", s->in.len);
		return refuse(s, req, &e, err);
	}
	if (!s->snap) {
		cfs_err_set(&e, CFS_ER_PROTOCOL, "MANIFEST_GET before SNAP_OPEN");
		return refuse(s, req, &e, err);
	}
	size_t off = 0;
	do {
		size_t n = s->snap->blob_len - off < MANIFEST_SLICE ? s->snap->blob_len - off : MANIFEST_SLICE;
		wbuf_reset(&s->out);
		wbuf_bytes(&s->out, s->snap->blob + off, (uint32_t)n);
		off += n;
		bandwidth_take(s->out.len);
		if (conn_send(&s->conn, WIRE_MANIFEST, off < s->snap->blob_len ? WIRE_FLAG_MORE : 0, req, s->out.p,
			      s->out.len, err))
			return -1;
	} while (off < s->snap->blob_len);
	return 0;
}

/* Fill s->raw with chunk idx of the open file fd (len bytes, chunks of cs bytes). A chunk that is
 * entirely a hole is never read: zeros, which chunk_encode sends as a zero marker. 0, or -1 + e. */
static int read_chunk(struct session *s, int fd, const struct manifest_entry *f, uint64_t idx, uint32_t cs,
		      uint32_t len, struct cfs_err *e)
{
	uint64_t off = idx * cs;
	off_t data = lseek(fd, (off_t)off, SEEK_DATA);
	if ((data < 0 && errno == ENXIO) || (data >= 0 && (uint64_t)data >= off + len)) {
		memset(s->raw, 0, len);
		return 0;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, s->raw + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cfs_err_set(e, CFS_ER_SNAPSHOT, "snapshot file '%s' cannot be read: %s", f->path, strerror(errno));
		if (n == 0)
			return cfs_err_set(e, CFS_ER_SNAPSHOT, "snapshot file '%s' is shorter than its manifest says", f->path);
		got += (size_t)n;
	}
	return 0;
}

static int do_read(struct session *s, uint32_t req, struct cfs_err *err)
{
	struct wire_read rd;
	struct cfs_err e = { 0 };
	if (wire_read_decode(s->in.p, s->in.len, &rd, &e))
		return refuse(s, req, &e, err);
	const struct manifest_entry *f = s->snap && rd.file_id < s->snap->m.n ? &s->snap->m.e[rd.file_id] : NULL;
	/* The snapshot's chunk size (--chunk-size when it was made), never above WIRE_CHUNK_MAX: checked
	 * by the option and again when snapshot.meta is reloaded. */
	uint32_t cs = s->snap ? s->snap->info.chunk_size : WIRE_CHUNK_SIZE;
	uint64_t nchunks = f && cs && cs <= WIRE_CHUNK_MAX ? manifest_chunks(f->size, cs) : 0;
	if (!f || f->type != MANIFEST_REG || rd.first_chunk >= nchunks || rd.count > nchunks - rd.first_chunk) {
		cfs_err_set(&e, CFS_ER_PROTOCOL, "READ of chunks %llu+%u of file %u: %s", (unsigned long long)rd.first_chunk,
			    rd.count, rd.file_id, !s->snap ? "no snapshot is open" : "out of range");
		return refuse(s, req, &e, err);
	}
	int fd = snap_file_open(s->snap, f, &e);
	if (fd < 0) {
		donor_metrics_error(e.code);
		return conn_send_error(&s->conn, req, &e, err);
	}
	int rc = 0;
	/* Compressed or raw: as configured, or (auto) as the READs before this one say pays (D15). */
	uint64_t first_off = rd.first_chunk * cs, end_off = (rd.first_chunk + rd.count) * cs;
	uint64_t raw_bytes = (end_off < f->size ? end_off : f->size) - first_off;
	bool compress = donor_cfg.compression == COMPRESS_AUTO ? zadapt_begin(&s->za, raw_bytes)
							       : donor_cfg.compression == COMPRESS_ON;
	int level = compress ? donor_cfg.zstd_level : 0;
	struct zadapt_sample zs = { 0 };
	for (uint32_t i = 0; i < rd.count && rc == 0; i++) {
		uint64_t idx = rd.first_chunk + i, off = idx * cs;
		uint32_t len = (uint32_t)(f->size - off < cs ? f->size - off : cs);
		if (read_chunk(s, fd, f, idx, cs, len, &e)) {
			donor_event("read_failed", "%s: READ of '%s' failed: ERROR %d: %s", s->peer, f->path, e.code, e.msg);
			donor_metrics_error(e.code);
			rc = conn_send_error(&s->conn, req, &e, err);
			break;
		}
		uint64_t t0 = mono_ns();
		if (chunk_encode(&s->out, f->id, idx, s->raw, len, level, s->zctx, s->digest)) {
			rc = cfs_err_set(err, CFS_ER_IO, "out of memory encoding a chunk");
			break;
		}
		uint64_t t1 = mono_ns();
		if (s->out.p[CHUNK_ENC_OFFSET] != CHUNK_ZERO) {
			zs.raw_bytes += len;
			zs.wire_bytes += s->out.len;
			zs.encode_ns += t1 - t0;
		}
		bandwidth_take(s->out.len);
		rc = send_buf(s, WIRE_CHUNK, req, &s->out, err);
		zs.send_ns += mono_ns() - t1;
		if (rc == 0)
			donor_metrics_served(s->snap->method, len, s->out.len);
	}
	close(fd);
	if (rc == 0 && donor_cfg.compression == COMPRESS_AUTO) {
		bool was = s->za.compress;
		zadapt_end(&s->za, compress, &zs);
		if (s->za.compress != was)
			donor_event("compression_switched", "%s: compression %s (zstd shrank the data %.1fx at %.0f MB/s; sending took %.1f ms of %.1f)",
				  s->peer, s->za.compress ? "on" : "off", s->za.ratio,
				  s->za.zstd_ns_per_b > 0 ? 1e3 / s->za.zstd_ns_per_b : 0, (double)zs.send_ns / 1e6,
				  (double)(zs.send_ns + zs.encode_ns) / 1e6);
	}
	return rc;
}

static int do_request(struct session *s, const struct wire_hdr *h, struct cfs_err *err)
{
	struct cfs_err e = { 0 };
	switch ((enum wire_type)h->type) {
	case WIRE_SNAP_OPEN: return do_snap_open(s, h->req_id, err);
	case WIRE_MANIFEST_GET: return do_manifest(s, h->req_id, err);
	case WIRE_READ: return do_read(s, h->req_id, err);
	case WIRE_PING:
		if (s->in.len)
			break;
		return send_buf(s, WIRE_PONG, h->req_id, NULL, err);
	case WIRE_CLOSE:
		return 1;
	case WIRE_HELLO:
	case WIRE_HELLO_OK:
	case WIRE_AUTH:
	case WIRE_AUTH_OK:
	case WIRE_SNAP_INFO:
	case WIRE_MANIFEST:
	case WIRE_CHUNK:
	case WIRE_PROGRESS:
	case WIRE_PONG:
	case WIRE_ERROR:
	default:
		break;
	}
	cfs_err_set(&e, CFS_ER_PROTOCOL, "unexpected %s frame (%u bytes) from the recipient", wire_type_name(h->type), h->len);
	return refuse(s, h->req_id, &e, err);
}

/* After a final ERROR frame: stop sending and read what the recipient still sends (until it
 * closes, at most LINGER_MS), so that closing does not reset the connection and destroy the ERROR
 * frame before the recipient has read it. */
static void linger(struct session *s)
{
	if (s->conn.ssl)
		SSL_shutdown(s->conn.ssl);
	shutdown(s->conn.fd, SHUT_WR);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = LINGER_MS - (long)((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pfd = { .fd = s->conn.fd, .events = POLLIN };
		char sink[4096];
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0 || read(s->conn.fd, sink, sizeof(sink)) <= 0)
			break;
	}
}

static void session_free(struct session *s)
{
	if (s->refused && s->conn.fd >= 0)
		linger(s);
	if (s->snap)
		snap_release(s->snap);
	if (s->db)
		mysql_close(s->db);
	OPENSSL_cleanse(s->password, sizeof(s->password));
	conn_close(&s->conn);
	ZSTD_freeCCtx(s->zctx);
	free(s->raw);
	wbuf_release(&s->in);
	wbuf_release(&s->out);
	free(s);
}

void donor_session_run(int fd, const char *peer)
{
	struct session *s = calloc(1, sizeof(*s));
	struct cfs_err err = { 0 };
	if (!s) {
		close(fd);
		return;
	}
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	int perr = donor_peer_of(fd, &s->from);
	if (perr)
		donor_log("%s: cannot tell the recipient's address: %s", peer, strerror(-perr));
	conn_init_fd(&s->conn, fd, HANDSHAKE_TIMEOUT_MS, peer);
	wbuf_init(&s->in, REQUEST_MAX);
	wbuf_init(&s->out, WIRE_FRAME_MAX);
	s->zctx = ZSTD_createCCtx();
	zadapt_init(&s->za);
	s->raw = malloc(WIRE_CHUNK_MAX);

	pthread_mutex_lock(&sessions_lock);
	bool refused = stopping;
	if (!refused) {
		s->next = sessions;
		sessions = s;
		nsessions++;
	}
	pthread_mutex_unlock(&sessions_lock);
	if (refused) {
		session_free(s);
		return;
	}
	donor_metrics_session(1);

	if (!s->zctx || !s->raw) {
		cfs_err_set(&err, CFS_ER_IO, "out of memory");
	} else if (hello(s, &err) == 0 && auth(s, &err) == 0) {
		s->conn.timeout_ms = donor_cfg.idle_timeout_s * 1000;
		for (;;) {
			struct wire_hdr h;
			if (recv_request(s, &h, &err))
				break;
			if (do_request(s, &h, &err))
				break;
		}
	}
	if (!s->logged && err.code && err.code != CFS_ER_NETWORK)
		donor_event("session_error", "%s: session of '%s' ended: ERROR %d: %s", s->peer, s->user, err.code, err.msg);
	else if (!s->logged && err.code == CFS_ER_NETWORK && !strstr(err.msg, "closed"))
		donor_event("session_lost", "%s: session of '%s' ended: %s", s->peer, s->user, err.msg);

	pthread_mutex_lock(&sessions_lock);
	for (struct session **p = &sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	pthread_mutex_unlock(&sessions_lock);
	donor_metrics_session(-1);
	/* Everything this thread holds is released before it counts as ended: donor_sessions_stop lets
	 * clonefsd exit once none is left, and a leak checker then sees only real leaks (OpenSSL keeps
	 * per-thread random generators until the thread stops). */
	session_free(s);
	mysql_thread_end();
	OPENSSL_thread_stop();
	pthread_mutex_lock(&sessions_lock);
	nsessions--;
	pthread_cond_broadcast(&sessions_cond);
	pthread_mutex_unlock(&sessions_lock);
}

int donor_sessions_stop(int timeout_s)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_s;
	pthread_mutex_lock(&sessions_lock);
	stopping = true;
	for (struct session *s = sessions; s; s = s->next)
		conn_shutdown(&s->conn); /* under the lock: the session cannot close its socket meanwhile */
	while (nsessions > 0 && pthread_cond_timedwait(&sessions_cond, &sessions_lock, &deadline) == 0)
		;
	int left = nsessions;
	pthread_mutex_unlock(&sessions_lock);
	return left;
}
