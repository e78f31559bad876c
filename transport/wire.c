/* wire.c: protocol v1 frame header and message encode/decode (docs/protocol.md §1, §3). */
#include "transport/wire.h"

#include <stdlib.h>
#include <string.h>

static int bad(struct cfs_err *err, const char *what)
{
	return cfs_err_set(err, CFS_ER_PROTOCOL, "malformed %s from peer", what);
}

void wire_hdr_encode(uint8_t out[WIRE_HDR_LEN], const struct wire_hdr *h)
{
	be32_put(out, WIRE_MAGIC);
	out[4] = h->type;
	out[5] = h->flags;
	be16_put(out + 6, 0);
	be32_put(out + 8, h->req_id);
	be32_put(out + 12, h->len);
}

int wire_hdr_decode(const uint8_t in[WIRE_HDR_LEN], size_t max_payload, struct wire_hdr *h,
		    struct cfs_err *err)
{
	if (be32_get(in) != WIRE_MAGIC)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "peer does not speak the clonefs protocol (bad frame magic 0x%08x)",
				   be32_get(in));
	h->type = in[4];
	h->flags = in[5];
	h->req_id = be32_get(in + 8);
	h->len = be32_get(in + 12);
	if (h->type < WIRE_HELLO || h->type > WIRE_ERROR)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "unknown frame type %u from peer", h->type);
	if ((h->flags & ~WIRE_FLAG_MORE) || be16_get(in + 6) != 0)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "reserved frame bits set by peer");
	if (h->len > max_payload)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "frame of %u bytes from peer exceeds the limit of %zu",
				   h->len, max_payload);
	return 0;
}

const char *wire_type_name(int type)
{
	static const char *const names[] = {
		"?", "HELLO", "HELLO_OK", "AUTH", "AUTH_OK", "SNAP_OPEN", "SNAP_INFO", "MANIFEST_GET",
		"MANIFEST", "READ", "CHUNK", "PROGRESS", "PING", "PONG", "CLOSE", "ERROR",
	};
	if (type < 0 || (size_t)type >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[type];
}

/* Every decoder ends here: consumed exactly, nothing overran. */
static int finish(const struct rbuf *r, struct cfs_err *err, const char *what)
{
	if (r->bad || rbuf_left(r) != 0)
		return bad(err, what);
	return 0;
}

void wire_hello_encode(struct wbuf *b, const struct wire_hello *m)
{
	wbuf_u16(b, m->proto_min);
	wbuf_u16(b, m->proto_max);
	wbuf_u8(b, m->tls);
	wbuf_str(b, m->client);
}

int wire_hello_decode(const uint8_t *buf, size_t len, struct wire_hello *m, struct cfs_err *err)
{
	struct rbuf r;
	rbuf_init(&r, buf, len);
	m->proto_min = rbuf_u16(&r);
	m->proto_max = rbuf_u16(&r);
	m->tls = rbuf_u8(&r);
	rbuf_cstr(&r, m->client, sizeof(m->client));
	if (finish(&r, err, "HELLO"))
		return -1;
	if (m->tls > WIRE_TLS_YES || m->proto_min > m->proto_max)
		return bad(err, "HELLO");
	return 0;
}

void wire_hello_ok_encode(struct wbuf *b, const struct wire_hello_ok *m)
{
	wbuf_u16(b, m->proto);
	wbuf_u8(b, m->tls_offered);
	wbuf_put(b, m->nonce, WIRE_NONCE_LEN);
	wbuf_str(b, m->rsa_pem);
	wbuf_u32(b, m->max_frame);
}

int wire_hello_ok_decode(const uint8_t *buf, size_t len, struct wire_hello_ok *m, struct cfs_err *err)
{
	struct rbuf r;
	rbuf_init(&r, buf, len);
	m->proto = rbuf_u16(&r);
	m->tls_offered = rbuf_u8(&r);
	const uint8_t *n = rbuf_take(&r, WIRE_NONCE_LEN);
	if (n)
		memcpy(m->nonce, n, WIRE_NONCE_LEN);
	rbuf_cstr(&r, m->rsa_pem, sizeof(m->rsa_pem));
	m->max_frame = rbuf_u32(&r);
	if (finish(&r, err, "HELLO_OK"))
		return -1;
	if (m->tls_offered > 1)
		return bad(err, "HELLO_OK");
	return 0;
}

void wire_auth_encode(struct wbuf *b, const struct wire_auth *m)
{
	wbuf_u8(b, m->scheme);
	wbuf_str(b, m->user);
	wbuf_bytes(b, m->secret, m->secret_len);
}

int wire_auth_decode(const uint8_t *buf, size_t len, struct wire_auth *m, struct cfs_err *err)
{
	struct rbuf r;
	size_t n;
	rbuf_init(&r, buf, len);
	m->scheme = rbuf_u8(&r);
	rbuf_cstr(&r, m->user, sizeof(m->user));
	const uint8_t *s = rbuf_bytes(&r, WIRE_SECRET_MAX, &n);
	if (s) {
		memcpy(m->secret, s, n);
		m->secret_len = (uint32_t)n;
	}
	if (finish(&r, err, "AUTH"))
		return -1;
	if (m->scheme > WIRE_AUTH_RSA_OAEP)
		return bad(err, "AUTH");
	return 0;
}

void wire_snap_open_encode(struct wbuf *b, const struct wire_snap_open *m)
{
	wbuf_str(b, m->snap);
}

int wire_snap_open_decode(const uint8_t *buf, size_t len, struct wire_snap_open *m, struct cfs_err *err)
{
	struct rbuf r;
	rbuf_init(&r, buf, len);
	rbuf_cstr(&r, m->snap, sizeof(m->snap));
	if (finish(&r, err, "SNAP_OPEN"))
		return -1;
	/* An id names a directory on the donor: letters, digits, '-' and '_' only. */
	if (!m->snap[0])
		return bad(err, "SNAP_OPEN");
	for (const char *p = m->snap; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_'))
			return bad(err, "SNAP_OPEN (snapshot id)");
	return 0;
}

void wire_snap_info_encode(struct wbuf *b, const struct wire_snap_info *m)
{
	wbuf_str(b, m->id);
	wbuf_u32(b, m->chunk_size);
	wbuf_u32(b, m->nfacts);
	for (uint32_t i = 0; i < m->nfacts; i++) {
		wbuf_str(b, m->facts[i].key);
		wbuf_str(b, m->facts[i].value ? m->facts[i].value : "");
	}
}

void wire_snap_info_release(struct wire_snap_info *m)
{
	for (uint32_t i = 0; i < m->nfacts; i++) {
		free(m->facts[i].value);
		m->facts[i].value = NULL;
	}
	m->nfacts = 0;
}

int wire_snap_info_set(struct wire_snap_info *m, const char *key, const char *value)
{
	if (strlen(key) >= sizeof(m->facts[0].key) || strlen(value) > WIRE_FACT_VALUE_MAX)
		return -1;
	char *v = strdup(value);
	if (!v)
		return -1;
	for (uint32_t i = 0; i < m->nfacts; i++) {
		if (strcmp(m->facts[i].key, key) == 0) {
			free(m->facts[i].value);
			m->facts[i].value = v;
			return 0;
		}
	}
	if (m->nfacts >= WIRE_FACTS_MAX) {
		free(v);
		return -1;
	}
	snprintf(m->facts[m->nfacts].key, sizeof(m->facts[0].key), "%s", key);
	m->facts[m->nfacts].value = v;
	m->nfacts++;
	return 0;
}

const char *wire_snap_info_get(const struct wire_snap_info *m, const char *key)
{
	for (uint32_t i = 0; i < m->nfacts; i++)
		if (strcmp(m->facts[i].key, key) == 0)
			return m->facts[i].value;
	return NULL;
}

int wire_snap_info_decode(const uint8_t *buf, size_t len, struct wire_snap_info *m, struct cfs_err *err)
{
	struct rbuf r;
	rbuf_init(&r, buf, len);
	m->nfacts = 0;
	rbuf_cstr(&r, m->id, sizeof(m->id));
	m->chunk_size = rbuf_u32(&r);
	uint32_t n = rbuf_u32(&r);
	if (r.bad || n > WIRE_FACTS_MAX || m->chunk_size == 0 || m->chunk_size > WIRE_CHUNK_MAX ||
	    m->chunk_size % 4096 != 0)
		return bad(err, "SNAP_INFO");
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		char key[64];
		size_t vn;
		rbuf_cstr(&r, key, sizeof(key));
		const uint8_t *v = rbuf_str(&r, WIRE_FACT_VALUE_MAX, &vn);
		if (r.bad || memchr(v, 0, vn))
			break;
		char *val = strndup((const char *)v, vn);
		if (!val) {
			r.bad = true;
			break;
		}
		snprintf(m->facts[m->nfacts].key, sizeof(m->facts[0].key), "%s", key);
		m->facts[m->nfacts].value = val;
		m->nfacts++;
	}
	if (finish(&r, err, "SNAP_INFO")) {
		wire_snap_info_release(m);
		return -1;
	}
	return 0;
}

void wire_read_encode(struct wbuf *b, const struct wire_read *m)
{
	wbuf_u32(b, m->file_id);
	wbuf_u64(b, m->first_chunk);
	wbuf_u32(b, m->count);
}

int wire_read_decode(const uint8_t *buf, size_t len, struct wire_read *m, struct cfs_err *err)
{
	struct rbuf r;
	rbuf_init(&r, buf, len);
	m->file_id = rbuf_u32(&r);
	m->first_chunk = rbuf_u64(&r);
	m->count = rbuf_u32(&r);
	if (finish(&r, err, "READ"))
		return -1;
	if (m->count == 0 || m->count > WIRE_READ_MAX_CHUNKS || m->first_chunk > UINT64_MAX / 2)
		return bad(err, "READ");
	return 0;
}

void wire_error_encode(struct wbuf *b, const struct cfs_err *e)
{
	wbuf_u32(b, (uint32_t)e->code);
	wbuf_str(b, e->sqlstate);
	wbuf_str(b, e->msg);
}

int wire_error_decode(const uint8_t *buf, size_t len, struct cfs_err *out, struct cfs_err *err)
{
	struct rbuf r;
	size_t n;
	rbuf_init(&r, buf, len);
	int32_t code = (int32_t)rbuf_u32(&r);
	char state[6];
	rbuf_cstr(&r, state, sizeof(state));
	const uint8_t *msg = rbuf_str(&r, CFS_ERR_MSG_MAX - 1, &n);
	if (finish(&r, err, "ERROR") || code <= 0 || memchr(msg, 0, n))
		return bad(err, "ERROR");
	out->code = code;
	memcpy(out->sqlstate, state, sizeof(state));
	memcpy(out->msg, msg, n);
	out->msg[n] = 0;
	for (char *p = out->msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return 0;
}
