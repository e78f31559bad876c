/* client.c: the recipient's end of a clonefsd connection: handshake, TLS per ssl_mode, password
 * never in clear (verified TLS or RSA-OAEP to the donor's pinned key), snapshot open, manifest and
 * chunk reads. */
#include "transport/client.h"
#include "transport/clock.h"
#include "transport/store_reader.h"

#include <string.h>
#include <time.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <zstd.h>

int cfs_ssl_mode_parse(const char *s, enum cfs_ssl_mode *out)
{
	if (!strcasecmp(s, "preferred"))
		*out = CFS_SSL_PREFERRED;
	else if (!strcasecmp(s, "required"))
		*out = CFS_SSL_REQUIRED;
	else if (!strcasecmp(s, "disabled"))
		*out = CFS_SSL_DISABLED;
	else
		return -1;
	return 0;
}

const char *cfs_ssl_mode_name(enum cfs_ssl_mode m)
{
	switch (m) {
	case CFS_SSL_REQUIRED: return "required";
	case CFS_SSL_DISABLED: return "disabled";
	case CFS_SSL_PREFERRED:
	default: return "preferred";
	}
}

/* Receive one frame; an ERROR frame becomes err with the donor's code and message. */
static int recv_frame(struct cfs_session *s, struct wire_hdr *h, struct cfs_err *err)
{
	if (conn_recv(&s->conn, WIRE_FRAME_MAX, h, &s->in, err))
		return -1;
	if (h->type == WIRE_ERROR) {
		struct cfs_err perr;
		if (wire_error_decode(s->in.p, s->in.len, err, &perr)) {
			*err = perr;
		}
		return -1;
	}
	return 0;
}

static int expect(struct cfs_session *s, struct wire_hdr *h, uint8_t type, uint32_t req, struct cfs_err *err)
{
	if (recv_frame(s, h, err))
		return -1;
	if (h->type != type || h->req_id != req)
		return cfs_err_set(err, ER_CLONE_PROTOCOL, ER_CLONE_PROTOCOL_MSG, wire_type_name(h->type));
	return 0;
}

static int send_msg(struct cfs_session *s, uint8_t type, uint32_t req, const struct wbuf *b, struct cfs_err *err)
{
	if (b && b->over)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "cannot encode %s", wire_type_name(type));
	return conn_send(&s->conn, type, 0, req, b ? b->p : NULL, b ? b->len : 0, err);
}

/* RSA-OAEP-SHA256(nonce || password) under the donor's public key: the password never crosses
 * a plaintext connection in clear, and the nonce binds it to this connection. */
static int encrypt_password(EVP_PKEY *key, const uint8_t nonce[WIRE_NONCE_LEN], const char *pw, struct wire_auth *a,
			    struct cfs_err *err)
{
	int rc = -1;
	uint8_t plain[WIRE_NONCE_LEN + 256];
	size_t pwlen = strlen(pw);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	if (!ctx) {
		cfs_err_set(err, CFS_ER_IO, "out of memory");
		goto out;
	}
	if (pwlen > sizeof(plain) - WIRE_NONCE_LEN) {
		cfs_err_set(err, CFS_ER_USAGE, "password longer than %zu bytes", sizeof(plain) - WIRE_NONCE_LEN);
		goto out;
	}
	memcpy(plain, nonce, WIRE_NONCE_LEN);
	memcpy(plain + WIRE_NONCE_LEN, pw, pwlen);
	size_t outlen = sizeof(a->secret);
	if (EVP_PKEY_encrypt_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_encrypt(ctx, a->secret, &outlen, plain, WIRE_NONCE_LEN + pwlen) != 1) {
		cfs_err_set(err, CR_SSL_CONNECTION_ERROR, CR_SSL_CONNECTION_ERROR_MSG,
			    "cannot encrypt the password to the donor's RSA key");
		goto out;
	}
	a->secret_len = (uint32_t)outlen;
	a->scheme = WIRE_AUTH_RSA_OAEP;
	rc = 0;
out:
	OPENSSL_cleanse(plain, sizeof(plain));
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* Without TLS verified against a CA, whoever answers may be a man in the middle offering its own
 * key (docs/security.md): the password goes only to a key pinned by server_public_key=, by the
 * mount's first connection, or by known_donors (recorded on first use). The key's fingerprint is
 * left in s->key_fp. */
static int trust_donor_key(struct cfs_session *s, const struct cfs_client_opts *o, EVP_PKEY *key, struct cfs_err *err)
{
	char donor[300], want[KEYPIN_FP_MAX], store[4096];
	keypin_donor_name(o->host, o->port, donor, sizeof(donor));
	if (keypin_fingerprint(key, s->key_fp))
		return cfs_err_set(err, CR_SSL_CONNECTION_ERROR, CR_SSL_CONNECTION_ERROR_MSG,
				   "the donor's RSA key cannot be encoded");
	if (o->key_pin[0]) { /* the first connection checked it against the rest, before any chdir */
		snprintf(want, sizeof(want), "%s", o->key_pin);
	} else if (o->server_public_key && *o->server_public_key) {
		if (keypin_file_fingerprint(o->server_public_key, want, err))
			return -1;
	} else {
		keypin_store_path(o->known_donors, store, sizeof(store));
		if (strcmp(store, "none"))
			return keypin_store_check(store, donor, s->key_fp, &s->key_added, err);
		return cfs_err_set(err, CR_AUTH_PLUGIN_ERR, CR_AUTH_PLUGIN_ERR_INSECURE " The donor %s offers no TLS verified "
				   "by ssl_ca= and its RSA key %s is not pinned (server_public_key=F; known_donors=none)",
				   donor, s->key_fp);
	}
	if (strcmp(want, s->key_fp))
		return cfs_err_set(err, CR_AUTH_PLUGIN_ERR, CR_AUTH_PLUGIN_ERR_PREFIX "the donor %s offers the RSA key %s, "
				   "not the pinned %s%s%s. Someone may be intercepting the connection; the password was not sent",
				   donor, s->key_fp, want, o->key_pin[0] ? " of the mount's first connection" :
				   " of server_public_key=", o->key_pin[0] ? "" : o->server_public_key);
	return 0;
}

int cfs_session_open(struct cfs_session *s, const struct cfs_client_opts *o, SSL_CTX *ctx, struct cfs_err *err)
{
	struct wire_hdr h;
	struct wbuf b;
	struct wire_hello_ok ok;
	struct wire_auth auth;
	EVP_PKEY *key = NULL;
	int rc = -1;
	/* ssl_ca= asks for TLS verified against it (MySQL's VERIFY_CA): never a connection without. */
	bool verify = o->ssl_ca && *o->ssl_ca;

	memset(s, 0, sizeof(*s));
	s->conn.fd = -1;
	if (o->store_url)
		return store_reader_open(s, o, err);
	wbuf_init(&s->in, WIRE_FRAME_MAX);
	wbuf_init(&b, 8192);
	memset(&auth, 0, sizeof(auth));
	s->dctx = ZSTD_createDCtx();
	if (!s->dctx) {
		cfs_err_set(err, CFS_ER_IO, "out of memory");
		goto out;
	}
	if (verify && o->ssl_mode == CFS_SSL_DISABLED) {
		cfs_err_set(err, CFS_ER_USAGE, "ssl_ca= asks for TLS verified against it and ssl_mode=disabled for no TLS: "
			    "drop one of them");
		goto out;
	}
	if (conn_connect(&s->conn, o->host, o->port, o->bind_address, o->timeout_ms, o->cancel_fd > 0 ? o->cancel_fd : -1, err))
		goto out;

	struct wire_hello hello = { .proto_min = o->proto ? o->proto : WIRE_PROTO_MIN,
				    .proto_max = o->proto ? o->proto : WIRE_PROTO_VERSION,
				    .tls = o->ssl_mode == CFS_SSL_DISABLED ? WIRE_TLS_NO : WIRE_TLS_YES };
	snprintf(hello.client, sizeof(hello.client), "clonefs/%d", WIRE_PROTO_VERSION);
	wire_hello_encode(&b, &hello);
	uint32_t req = ++s->next_req;
	if (send_msg(s, WIRE_HELLO, req, &b, err))
		goto out;
	if (recv_frame(s, &h, err)) {
		if (err->code == CFS_ER_PROTOCOL) {
			char inner[CFS_ERR_MSG_MAX];
			memcpy(inner, err->msg, sizeof(inner));
			cfs_err_set(err, ER_CLONE_PROTOCOL, ER_CLONE_PROTOCOL_MSG, inner);
		}
		goto out;
	}
	if (h.type != WIRE_HELLO_OK || wire_hello_ok_decode(s->in.p, s->in.len, &ok, err)) {
		cfs_err_set(err, ER_CLONE_PROTOCOL, ER_CLONE_PROTOCOL_MSG, "not a clonefsd handshake");
		goto out;
	}
	if (ok.proto < hello.proto_min || ok.proto > hello.proto_max) {
		cfs_err_set(err, ER_CLONE_PROTOCOL, "Clone received unexpected response from Donor : protocol version %u, "
			    "this recipient asked for %u-%u.", ok.proto, hello.proto_min, hello.proto_max);
		goto out;
	}
	s->proto = ok.proto;
	if ((o->ssl_mode == CFS_SSL_REQUIRED || verify) && !ok.tls_offered) {
		cfs_err_set(err, CR_SSL_CONNECTION_ERROR,
			    "SSL connection error: %s but the donor at %s offers no TLS (clonefsd has no --ssl-cert, or "
			    "something on the way removed it)",
			    verify ? "ssl_ca= requires TLS verified against it" : "ssl_mode=required", s->conn.peer);
		goto out;
	}
	if (hello.tls == WIRE_TLS_YES && ok.tls_offered) {
		if (!ctx) {
			s->ctx = conn_tls_client_ctx(o->ssl_ca, o->ssl_cert, o->ssl_key, err);
			if (!s->ctx)
				goto out;
			ctx = s->ctx;
		}
		if (conn_tls_client(&s->conn, ctx, verify ? o->host : NULL, err))
			goto out;
		s->tls = true;
	}

	snprintf(auth.user, sizeof(auth.user), "%s", o->user);
	if (strlen(o->user) > WIRE_USER_MAX) {
		cfs_err_set(err, CFS_ER_USAGE, "user name longer than %d bytes", WIRE_USER_MAX);
		goto out;
	}
	if (s->tls && verify) {
		size_t n = strlen(o->password);
		if (n > sizeof(auth.secret)) {
			cfs_err_set(err, CFS_ER_USAGE, "password longer than %zu bytes", sizeof(auth.secret));
			goto out;
		}
		auth.scheme = WIRE_AUTH_CLEAR_IN_TLS;
		memcpy(auth.secret, o->password, n);
		auth.secret_len = (uint32_t)n;
	} else {
		/* Unverified TLS too: whoever ended it may be the man in the middle. */
		BIO *bio = BIO_new_mem_buf(ok.rsa_pem, -1);
		key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!key) {
			cfs_err_set(err, CR_SSL_CONNECTION_ERROR, CR_SSL_CONNECTION_ERROR_MSG,
				    "the donor offers neither verified TLS nor a usable RSA key; refusing to send the password");
			goto out;
		}
		if (trust_donor_key(s, o, key, err) || encrypt_password(key, ok.nonce, o->password, &auth, err))
			goto out;
	}
	wbuf_reset(&b);
	wire_auth_encode(&b, &auth);
	req = ++s->next_req;
	if (send_msg(s, WIRE_AUTH, req, &b, err) || expect(s, &h, WIRE_AUTH_OK, req, err)) {
		char alert[256];
		if (err->code == CFS_ER_NETWORK && conn_tls_peer_alert(&s->conn, alert, sizeof(alert)))
			cfs_err_set(err, CR_SSL_CONNECTION_ERROR, "SSL connection error: %s", alert);
		/* The donor's refusal of a missing client certificate arrives as an alert after the handshake. */
		if (err->code == CR_SSL_CONNECTION_ERROR && strstr(err->msg, "certificate required") &&
		    !(o->ssl_cert && *o->ssl_cert)) {
			char inner[CFS_ERR_MSG_MAX];
			memcpy(inner, err->msg, sizeof(inner));
			cfs_err_set(err, CR_SSL_CONNECTION_ERROR, "%.400s (the donor requires a client certificate: ssl_cert=, ssl_key=)",
				    inner);
		}
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(key);
	OPENSSL_cleanse(&auth, sizeof(auth));
	if (b.p)
		OPENSSL_cleanse(b.p, b.cap);
	wbuf_release(&b);
	if (rc)
		cfs_session_close(s);
	return rc;
}

void cfs_session_close(struct cfs_session *s)
{
	if (s->store) {
		store_reader_close(s);
		return;
	}
	if (s->conn.fd >= 0) {
		if (s->tls || s->next_req > 0)
			conn_send(&s->conn, WIRE_CLOSE, 0, ++s->next_req, NULL, 0, &(struct cfs_err){ 0 });
		conn_close(&s->conn);
	}
	SSL_CTX_free(s->ctx);
	s->ctx = NULL;
	ZSTD_freeDCtx(s->dctx);
	s->dctx = NULL;
	wbuf_release(&s->in);
}

int cfs_session_snap_open(struct cfs_session *s, const char *snap, struct wire_snap_info *info,
			  void (*progress)(void *arg, const char *line), void *arg, struct cfs_err *err)
{
	struct wire_snap_open m;
	struct wbuf b;
	struct wire_hdr h;
	if (s->store)
		return store_reader_snap_open(s, snap, info, err);
	snprintf(m.snap, sizeof(m.snap), "%s", snap);
	wbuf_init(&b, 256);
	wire_snap_open_encode(&b, &m);
	uint32_t req = ++s->next_req;
	int rc = send_msg(s, WIRE_SNAP_OPEN, req, &b, err);
	wbuf_release(&b);
	while (rc == 0) {
		if (recv_frame(s, &h, err))
			return -1;
		if (h.type == WIRE_PROGRESS && h.req_id == req) {
			struct rbuf r;
			char line[512];
			rbuf_init(&r, s->in.p, s->in.len);
			if (rbuf_cstr(&r, line, sizeof(line)) && progress)
				progress(arg, line);
			continue;
		}
		if (h.type != WIRE_SNAP_INFO || h.req_id != req)
			return cfs_err_set(err, ER_CLONE_PROTOCOL, ER_CLONE_PROTOCOL_MSG, wire_type_name(h.type));
		if (wire_snap_info_decode(s->in.p, s->in.len, info, err))
			return -1;
		s->chunk_size = info->chunk_size;
		return 0;
	}
	return rc;
}

int cfs_session_manifest(struct cfs_session *s, struct manifest *m, struct cfs_err *err)
{
	struct wire_hdr h;
	struct wbuf blob;
	if (s->store)
		return store_reader_manifest(s, m, err);
	uint32_t req = ++s->next_req;
	int rc = -1;
	wbuf_init(&blob, WIRE_MANIFEST_MAX_BYTES);
	if (send_msg(s, WIRE_MANIFEST_GET, req, NULL, err))
		goto out;
	do {
		if (expect(s, &h, WIRE_MANIFEST, req, err))
			goto out;
		struct rbuf r;
		size_t n;
		rbuf_init(&r, s->in.p, s->in.len);
		const uint8_t *slice = rbuf_bytes(&r, WIRE_FRAME_MAX, &n);
		if (r.bad || rbuf_left(&r)) {
			cfs_err_set(err, CFS_ER_PROTOCOL, "malformed MANIFEST frame from donor");
			goto out;
		}
		wbuf_put(&blob, slice, n);
		if (blob.over) {
			cfs_err_set(err, CFS_ER_PROTOCOL, "manifest from donor exceeds %u bytes", WIRE_MANIFEST_MAX_BYTES);
			goto out;
		}
	} while (h.flags & WIRE_FLAG_MORE);
	rc = manifest_parse(blob.p, blob.len, m, err);
out:
	wbuf_release(&blob);
	return rc;
}

int cfs_session_read_send(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
			  uint32_t *req, struct cfs_err *err)
{
	struct wire_read rd = { .file_id = e->id, .first_chunk = first, .count = count };
	uint64_t nchunks = manifest_chunks(e->size, s->chunk_size);
	if (e->type != MANIFEST_REG || count == 0 || count > WIRE_READ_MAX_CHUNKS || first >= nchunks ||
	    count > nchunks - first)
		return cfs_err_set(err, CFS_ER_USAGE, "bad chunk range %llu+%u of %s",
				   (unsigned long long)first, count, e->path);
	if (s->store)
		return store_reader_read_send(s, e, first, count, req, err);
	struct wbuf b;
	wbuf_init(&b, 64);
	wire_read_encode(&b, &rd);
	*req = ++s->next_req;
	int rc = send_msg(s, WIRE_READ, *req, &b, err);
	wbuf_release(&b);
	return rc;
}

int cfs_session_read_recv(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
			  uint32_t req, cfs_chunk_cb cb, void *arg, struct cfs_err *err)
{
	struct wire_hdr h;
	if (s->store)
		return store_reader_read_recv(s, e, first, count, req, cb, arg, err);
	uint8_t *out = malloc(s->chunk_size);
	int rc = -1;
	if (!out)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	for (uint32_t i = 0; i < count; i++) {
		struct chunk_hdr ch;
		uint64_t idx = first + i;
		uint64_t off = idx * s->chunk_size;
		uint32_t want = (uint32_t)(e->size - off < s->chunk_size ? e->size - off : s->chunk_size);
		uint64_t t0 = mono_ns();
		if (expect(s, &h, WIRE_CHUNK, req, err))
			goto out;
		uint64_t t1 = mono_ns();
		s->ns_wait += t1 - t0;
		s->bytes_wire += s->in.len;
		if (chunk_decode(s->in.p, s->in.len, s->chunk_size, out, want, &ch, s->dctx, chunk_digest_of_proto(s->proto), err))
			goto out;
		s->ns_decode += mono_ns() - t1;
		if (ch.file_id != e->id || ch.index != idx || ch.raw_len != want) {
			cfs_err_set(err, CFS_ER_PROTOCOL, "donor sent chunk %u/%llu (%u bytes) for %u/%llu (%u bytes)",
				    ch.file_id, (unsigned long long)ch.index, ch.raw_len, e->id,
				    (unsigned long long)idx, want);
			goto out;
		}
		if (cb(arg, &ch, out, err))
			goto out;
	}
	rc = 0;
out:
	free(out);
	return rc;
}

int cfs_session_read(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
		     cfs_chunk_cb cb, void *arg, struct cfs_err *err)
{
	uint32_t req;
	if (cfs_session_read_send(s, e, first, count, &req, err))
		return -1;
	return cfs_session_read_recv(s, e, first, count, req, cb, arg, err);
}

int cfs_session_ping(struct cfs_session *s, struct cfs_err *err)
{
	struct wire_hdr h;
	if (s->store) /* no connection to keep alive: each request is its own */
		return 0;
	uint32_t req = ++s->next_req;
	if (send_msg(s, WIRE_PING, req, NULL, err))
		return -1;
	return expect(s, &h, WIRE_PONG, req, err);
}
