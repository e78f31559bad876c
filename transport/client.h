/* client.h: the recipient's side of one connection to clonefsd: handshake, TLS per ssl_mode,
 * authentication, snapshot open, manifest download and verified chunk reads (docs/protocol.md). */
#ifndef CLONEFS_CLIENT_H
#define CLONEFS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "transport/chunk.h"
#include "transport/conn.h"
#include "transport/keypin.h"
#include "transport/manifest.h"
#include "transport/wire.h"

enum cfs_ssl_mode { CFS_SSL_PREFERRED = 0, CFS_SSL_REQUIRED, CFS_SSL_DISABLED };

/* What a recipient needs to reach a donor; strings are borrowed, not copied. */
struct cfs_client_opts {
	const char *host;
	unsigned port;
	const char *user;
	const char *password;
	enum cfs_ssl_mode ssl_mode;
	const char *ssl_ca, *ssl_cert, *ssl_key;
	/* Without TLS verified against ssl_ca, the password goes only to a pinned RSA key
	 * (docs/security.md): the one in server_public_key (a PEM file), else the first one's of a
	 * mount (key_pin), else the one known_donors holds or records on first use. */
	const char *server_public_key;  /* NULL: none */
	const char *known_donors;       /* the store (NULL: keypin_store_path's default; "none": no store) */
	char key_pin[KEYPIN_FP_MAX];    /* set: the only key fingerprint accepted */
	const char *bind_address; /* connect from this local address (MySQL's --bind-address); NULL or "": any */
	int timeout_ms;         /* bound on every single network wait */
	unsigned proto;         /* 0: offer every version this build speaks; else exactly this one (a
				   mount's later connections keep its first one's, and its cache's digest) */
	const char *store_url;      /* s3://BUCKET/PREFIX: read a published snapshot from an object store
				       instead of a donor (store_reader.c); NULL: a donor */
	const char *store_key_file, *s3_endpoint;
	int cancel_fd;          /* > 0: an fd that, once readable, ends every wait of the session's
				   connection (conn.cancel_fd); 0: none (options are zero-initialized) */
};

/* One authenticated connection. Not thread-safe: one request at a time (the fetcher owns a pool). */
struct cfs_session {
	struct cfs_conn conn;
	SSL_CTX *ctx;
	bool tls;
	uint32_t next_req;
	uint32_t chunk_size;    /* from SNAP_INFO */
	unsigned proto;         /* agreed in HELLO_OK; it decides the chunks' digest (chunk_digest_of_proto) */
	char key_fp[KEYPIN_FP_MAX]; /* the pinned donor key the password was encrypted to ("" in verified TLS) */
	bool key_added;         /* that key was new to known_donors and has been recorded there */
	struct wbuf in;         /* receive buffer, bounded by WIRE_FRAME_MAX */
	struct ZSTD_DCtx_s *dctx;
	uint64_t ns_wait;       /* in cfs_session_read: waiting for the donor's frames (its disk, CPU, network) */
	uint64_t ns_decode;     /* in cfs_session_read: decompressing and verifying digests */
	uint64_t bytes_wire;    /* in cfs_session_read: CHUNK payloads as received (compressed or not) */
	struct store_reader *store; /* non-NULL: this session reads an object store, not a donor */
};

int cfs_ssl_mode_parse(const char *s, enum cfs_ssl_mode *out);
const char *cfs_ssl_mode_name(enum cfs_ssl_mode m);

/* Connect, negotiate, TLS per ssl_mode (ssl_ca= requires TLS, as MySQL's VERIFY_CA), authenticate:
 * the password in clear only inside TLS verified against ssl_ca, else RSA-encrypted to a pinned
 * key. ctx may be NULL (made from opts and owned by the session) or shared (borrowed). */
int cfs_session_open(struct cfs_session *s, const struct cfs_client_opts *o, SSL_CTX *ctx, struct cfs_err *err);
void cfs_session_close(struct cfs_session *s);

/* Open "new" or an existing snapshot id. progress (may be NULL) gets the donor's PROGRESS lines. */
int cfs_session_snap_open(struct cfs_session *s, const char *snap, struct wire_snap_info *info,
			  void (*progress)(void *arg, const char *line), void *arg, struct cfs_err *err);
int cfs_session_manifest(struct cfs_session *s, struct manifest *m, struct cfs_err *err);

/* Read `count` chunks of file e starting at `first`; each is decoded and verified, then handed
 * to cb (data valid only during the call). A chunk whose id, index or length disagrees with the
 * request and the manifest is a protocol error. */
typedef int (*cfs_chunk_cb)(void *arg, const struct chunk_hdr *h, const uint8_t *data, struct cfs_err *err);
int cfs_session_read(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
		     cfs_chunk_cb cb, void *arg, struct cfs_err *err);
/* The same in two halves, for several READs in flight on one connection: send any number of READs,
 * then receive their chunks in the order the READs were sent (the donor answers in order). *req is
 * the request id to receive with. After a failure of either half the session is unusable. */
int cfs_session_read_send(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
			  uint32_t *req, struct cfs_err *err);
int cfs_session_read_recv(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
			  uint32_t req, cfs_chunk_cb cb, void *arg, struct cfs_err *err);
int cfs_session_ping(struct cfs_session *s, struct cfs_err *err);

#endif
