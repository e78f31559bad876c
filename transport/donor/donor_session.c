/* donor_session.c: one recipient connection on the donor: handshake, TLS, authentication against
 * the server's accounts, snapshot open, manifest and chunk serving (docs/protocol.md §3), with the
 * shared bandwidth limit. Any malformed frame ends the connection. */
#include "transport/donor/donor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <zstd.h>

#include "transport/chunk.h"
#include "transport/conn.h"

struct session {
	struct cfs_conn conn;
	char peer[128];
	char user[WIRE_USER_MAX + 1];
	char password[WIRE_SECRET_MAX + 1];
	MYSQL *db;
	struct snapshot *snap;
	uint8_t nonce[WIRE_NONCE_LEN];
	struct wbuf in, out;
	ZSTD_CCtx *zctx;
	uint8_t *raw;
	uint32_t progress_req;  /* the SNAP_OPEN that PROGRESS frames answer */
};

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
	if (bw_last.tv_sec == 0)
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
	conn_send(&s->conn, WIRE_PROGRESS, 0, s->progress_req, b.p, b.len, &ignored);
	wbuf_release(&b);
}

static int handshake(struct session *s, struct cfs_err *err)
{
	struct wire_hdr h;
	struct wire_hello hello;
	if (conn_recv(&s->conn, 4096, &h, &s->in, err))
		return -1;
	if (h.type != WIRE_HELLO || wire_hello_decode(s->in.p, s->in.len, &hello, err))
		return cfs_err_set(err, CFS_ER_PROTOCOL, "expected HELLO from %s", s->peer);
	if (hello.proto_min > WIRE_PROTO_VERSION || hello.proto_max < WIRE_PROTO_VERSION)
		return cfs_err_set(err, ER_CLONE_PROTOCOL, "Clone received unexpected response from Donor : protocol "
				   "versions %u-%u asked, this donor speaks %d.", hello.proto_min, hello.proto_max, WIRE_PROTO_VERSION);
	struct wire_hello_ok ok = { .proto = WIRE_PROTO_VERSION, .tls_offered = donor_cfg.tls != NULL,
				    .max_frame = WIRE_FRAME_MAX };
	RAND_bytes(s->nonce, sizeof(s->nonce));
	memcpy(ok.nonce, s->nonce, sizeof(s->nonce));
	snprintf(ok.rsa_pem, sizeof(ok.rsa_pem), "%s", donor_cfg.rsa_pem);
	wbuf_reset(&s->out);
	wire_hello_ok_encode(&s->out, &ok);
	if (send_buf(s, WIRE_HELLO_OK, h.req_id, &s->out, err))
		return -1;
	if (hello.tls == WIRE_TLS_YES && donor_cfg.tls && conn_tls_server(&s->conn, donor_cfg.tls, err))
		return -1;

	struct wire_auth a;
	memset(&a, 0, sizeof(a));
	if (conn_recv(&s->conn, 4096, &h, &s->in, err))
		return -1;
	if (h.type != WIRE_AUTH || wire_auth_decode(s->in.p, s->in.len, &a, err))
		return cfs_err_set(err, CFS_ER_PROTOCOL, "expected AUTH from %s", s->peer);
	uint32_t req = h.req_id;
	int rc = -1;
	snprintf(s->user, sizeof(s->user), "%s", a.user);
	if (a.scheme == WIRE_AUTH_CLEAR_IN_TLS) {
		if (!s->conn.ssl) {
			cfs_err_set(err, CR_SSL_CONNECTION_ERROR, CR_SSL_CONNECTION_ERROR_MSG,
				    "a password in clear is accepted only inside TLS");
			goto reply;
		}
		if (memchr(a.secret, 0, a.secret_len)) {
			cfs_err_set(err, CFS_ER_PROTOCOL, "password holds a NUL byte");
			goto reply;
		}
		memcpy(s->password, a.secret, a.secret_len);
		s->password[a.secret_len] = 0;
	} else if (donor_rsa_decrypt(a.secret, a.secret_len, s->nonce, s->password, sizeof(s->password), err)) {
		goto reply;
	}
	s->db = donor_login(s->user, s->password, err);
	if (!s->db || donor_check_privilege(s->db, err))
		goto reply;
	rc = 0;
reply:
	OPENSSL_cleanse(&a, sizeof(a));
	if (rc) {
		donor_log("%s: authentication of '%s' refused: ERROR %d: %s", s->peer, s->user, err->code, err->msg);
		struct cfs_err ignored;
		conn_send_error(&s->conn, req, err, &ignored);
		return -1;
	}
	donor_log("%s: '%s' authenticated (%s)", s->peer, s->user, s->conn.ssl ? "TLS" : "no TLS, RSA password");
	return send_buf(s, WIRE_AUTH_OK, req, NULL, err);
}

static int do_snap_open(struct session *s, uint32_t req, struct cfs_err *err)
{
	struct wire_snap_open m;
	if (wire_snap_open_decode(s->in.p, s->in.len, &m, err))
		return -1;
	if (s->snap) {
		snap_release(s->snap);
		s->snap = NULL;
	}
	struct cfs_err e = { 0 };
	s->progress_req = req;
	bool is_new = !strcmp(m.snap, "new");
	struct snapshot *snap = NULL;
	/* Encrypted data needs TLS: refused before any copy is made. */
	if (is_new && !s->conn.ssl && donor_has_encrypted(s->db))
		cfs_err_set(&e, ER_CLONE_ENCRYPTION, ER_CLONE_ENCRYPTION_MSG);
	else
		snap = is_new ? snap_create(s->db, s->user, s->password, progress_cb, s, &e) : snap_open(m.snap, &e);
	if (snap && snap->encrypted && !s->conn.ssl) {
		snap_release(snap);
		snap = NULL;
		cfs_err_set(&e, ER_CLONE_ENCRYPTION, ER_CLONE_ENCRYPTION_MSG);
	}
	if (!snap) {
		donor_log("%s: snapshot '%s' for '%s' refused: ERROR %d: %s", s->peer, m.snap, s->user, e.code, e.msg);
		return conn_send_error(&s->conn, req, &e, err);
	}
	s->snap = snap;
	wbuf_reset(&s->out);
	wire_snap_info_encode(&s->out, &snap->info);
	return send_buf(s, WIRE_SNAP_INFO, req, &s->out, err);
}

static int do_manifest(struct session *s, uint32_t req, struct cfs_err *err)
{
	if (!s->snap) {
		struct cfs_err e;
		cfs_err_set(&e, CFS_ER_PROTOCOL, "MANIFEST_GET before SNAP_OPEN");
		return conn_send_error(&s->conn, req, &e, err);
	}
	const size_t slice = 1u << 20;
	size_t off = 0;
	do {
		size_t n = s->snap->blob_len - off < slice ? s->snap->blob_len - off : slice;
		wbuf_reset(&s->out);
		wbuf_bytes(&s->out, s->snap->blob + off, (uint32_t)n);
		off += n;
		if (conn_send(&s->conn, WIRE_MANIFEST, off < s->snap->blob_len ? WIRE_FLAG_MORE : 0, req, s->out.p,
			      s->out.len, err))
			return -1;
	} while (off < s->snap->blob_len);
	return 0;
}

static int do_read(struct session *s, uint32_t req, struct cfs_err *err)
{
	struct wire_read rd;
	struct cfs_err e = { 0 };
	if (wire_read_decode(s->in.p, s->in.len, &rd, err))
		return -1;
	const struct manifest_entry *f = s->snap && rd.file_id < s->snap->m.n ? &s->snap->m.e[rd.file_id] : NULL;
	uint64_t nchunks = f ? manifest_chunks(f->size, WIRE_CHUNK_SIZE) : 0;
	if (!f || f->type != MANIFEST_REG || rd.first_chunk >= nchunks || rd.count > nchunks - rd.first_chunk) {
		cfs_err_set(&e, CFS_ER_PROTOCOL, "READ of chunks %llu+%u of file %u: out of range",
			    (unsigned long long)rd.first_chunk, rd.count, rd.file_id);
		conn_send_error(&s->conn, req, &e, err);
		return -1;
	}
	char path[8400];
	snprintf(path, sizeof(path), "%s/%s", s->snap->root, f->path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		cfs_err_set(&e, CFS_ER_SNAPSHOT, "snapshot file '%s' cannot be read: %s", f->path, strerror(errno));
		return conn_send_error(&s->conn, req, &e, err);
	}
	int rc = 0;
	for (uint32_t i = 0; i < rd.count && rc == 0; i++) {
		uint64_t idx = rd.first_chunk + i, off = idx * WIRE_CHUNK_SIZE;
		uint32_t len = (uint32_t)(f->size - off < WIRE_CHUNK_SIZE ? f->size - off : WIRE_CHUNK_SIZE);
		/* A chunk that is entirely a hole is never read: it goes out as a zero marker. */
		off_t data = lseek(fd, (off_t)off, SEEK_DATA);
		if ((data < 0 && errno == ENXIO) || (data >= 0 && (uint64_t)data >= off + len)) {
			memset(s->raw, 0, len);
		} else {
			ssize_t got = 0;
			while ((uint32_t)got < len) {
				ssize_t n = pread(fd, s->raw + got, len - (size_t)got, (off_t)off + got);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break;
				got += n;
			}
			if ((uint32_t)got != len) {
				cfs_err_set(&e, CFS_ER_SNAPSHOT, "snapshot file '%s' is shorter than its manifest says", f->path);
				rc = conn_send_error(&s->conn, req, &e, err);
				break;
			}
		}
		if (chunk_encode(&s->out, f->id, idx, s->raw, len, donor_cfg.zstd_level, s->zctx)) {
			rc = cfs_err_set(err, CFS_ER_IO, "out of memory encoding a chunk");
			break;
		}
		bandwidth_take(s->out.len);
		rc = send_buf(s, WIRE_CHUNK, req, &s->out, err);
	}
	close(fd);
	return rc;
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
	conn_init_fd(&s->conn, fd, 30 * 1000, peer);
	wbuf_init(&s->in, 64 * 1024);
	wbuf_init(&s->out, WIRE_FRAME_MAX);
	s->zctx = ZSTD_createCCtx();
	s->raw = malloc(WIRE_CHUNK_SIZE);
	if (!s->zctx || !s->raw || handshake(s, &err))
		goto out;
	s->conn.timeout_ms = donor_cfg.idle_timeout_s * 1000;
	for (;;) {
		struct wire_hdr h;
		if (conn_recv(&s->conn, 64 * 1024, &h, &s->in, &err))
			break;
		int rc;
		switch ((enum wire_type)h.type) {
		case WIRE_SNAP_OPEN: rc = do_snap_open(s, h.req_id, &err); break;
		case WIRE_MANIFEST_GET: rc = do_manifest(s, h.req_id, &err); break;
		case WIRE_READ: rc = do_read(s, h.req_id, &err); break;
		case WIRE_PING: rc = send_buf(s, WIRE_PONG, h.req_id, NULL, &err); break;
		case WIRE_CLOSE: goto out;
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
			rc = cfs_err_set(&err, CFS_ER_PROTOCOL, "unexpected %s frame", wire_type_name(h.type));
			break;
		}
		if (rc)
			break;
	}
	if (err.code && err.code != CFS_ER_NETWORK)
		donor_log("%s: session of '%s' ended: ERROR %d: %s", s->peer, s->user, err.code, err.msg);
out:
	if (err.code == CFS_ER_PROTOCOL) {
		struct cfs_err ignored;
		conn_send_error(&s->conn, 0, &err, &ignored);
	}
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
