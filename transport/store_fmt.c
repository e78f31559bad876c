/* store_fmt.c: the object store's keys, sealed records and objects, and the encoders and
 * checking parsers of snapshot manifests and pack indexes (docs/store.md). */
#include "transport/store_fmt.h"
#include "transport/s3.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <zstd.h>

static void hmac(const uint8_t key[32], const void *msg, size_t len, uint8_t out[32])
{
	unsigned int olen = 32;
	if (!HMAC(EVP_sha256(), key, 32, msg, len, out, &olen))
		memset(out, 0, 32); /* only on allocation failure; every id then mismatches, loudly */
}

void store_keys_derive(const uint8_t key[STORE_KEY_LEN], struct store_keys *k)
{
	uint8_t kid[32];
	hmac(key, "clonefs store v1 enc", 20, k->enc);
	hmac(key, "clonefs store v1 id", 19, k->id);
	hmac(key, "clonefs store v1 nonce", 22, k->nonce);
	hmac(key, "clonefs store v1 key id", 23, kid);
	memcpy(k->key_id, kid, STORE_KEY_ID_LEN);
	OPENSSL_cleanse(kid, sizeof(kid));
}

int store_key_load(const char *path, struct store_keys *k, struct cfs_err *err)
{
	if (!path || !*path)
		return cfs_err_set(err, CFS_ER_USAGE, "a store needs its key: -o store_key_file=F (64 hex digits; "
				   "make one with: openssl rand -hex 32 > F)");
	FILE *f = fopen(path, "r");
	if (!f)
		return cfs_err_set(err, CFS_ER_USAGE, "cannot read store_key_file '%s': %s", path, strerror(errno));
	char buf[130] = "";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n && isspace((unsigned char)buf[n - 1]))
		n--;
	uint8_t key[STORE_KEY_LEN];
	if (n != 2 * STORE_KEY_LEN)
		return cfs_err_set(err, CFS_ER_USAGE, "store_key_file '%s' must hold 64 hex digits (32 bytes), it holds %zu characters",
				   path, n);
	for (size_t i = 0; i < STORE_KEY_LEN; i++) {
		char two[3] = { buf[2 * i], buf[2 * i + 1], 0 }, *e;
		if (!isxdigit((unsigned char)two[0]) || !isxdigit((unsigned char)two[1]))
			return cfs_err_set(err, CFS_ER_USAGE, "store_key_file '%s' must hold 64 hex digits", path);
		key[i] = (uint8_t)strtoul(two, &e, 16);
	}
	store_keys_derive(key, k);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

void store_chunk_id(const struct store_keys *k, const uint8_t *raw, size_t len, uint8_t id[STORE_ID_LEN])
{
	hmac(k->id, raw, len, id);
}

/* AES-256-GCM of plain under key and nonce, with aad; out gets nonce|ct|tag appended. */
static int gcm_seal(const uint8_t key[32], const uint8_t nonce[STORE_NONCE_LEN], const void *aad, size_t aadlen,
		    const uint8_t *p1, size_t l1, const uint8_t *p2, size_t l2, struct wbuf *out)
{
	if (!wbuf_reserve(out, STORE_SEAL_OVERHEAD + l1 + l2))
		return -1;
	wbuf_put(out, nonce, STORE_NONCE_LEN);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) &&
		    EVP_EncryptUpdate(c, NULL, &n, aad, (int)aadlen);
	uint8_t *dst = out->p + out->len;
	size_t done = 0;
	if (ok && l1) {
		ok = EVP_EncryptUpdate(c, dst, &n, p1, (int)l1);
		done += (size_t)n;
	}
	if (ok && l2) {
		ok = EVP_EncryptUpdate(c, dst + done, &n, p2, (int)l2);
		done += (size_t)n;
	}
	if (ok) {
		ok = EVP_EncryptFinal_ex(c, dst + done, &n);
		done += (size_t)n;
	}
	if (ok)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, STORE_TAG_LEN, dst + done);
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		return -1;
	out->len += done + STORE_TAG_LEN;
	return 0;
}

/* Open nonce|ct|tag into out (capacity >= ct length); 0 or -1 when it does not authenticate. */
static int gcm_open(const uint8_t key[32], const void *aad, size_t aadlen, const uint8_t *sealed, size_t len,
		    uint8_t *out, size_t *outlen)
{
	if (len < STORE_SEAL_OVERHEAD)
		return -1;
	size_t ctlen = len - STORE_SEAL_OVERHEAD;
	const uint8_t *nonce = sealed, *ct = sealed + STORE_NONCE_LEN, *tag = sealed + len - STORE_TAG_LEN;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) &&
		    EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen) &&
		    EVP_DecryptUpdate(c, out, &n, ct, (int)ctlen) &&
		    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, STORE_TAG_LEN, (void *)(uintptr_t)tag);
	int fin = 0;
	if (ok)
		fin = EVP_DecryptFinal_ex(c, out + n, &n);
	EVP_CIPHER_CTX_free(c);
	if (!ok || fin <= 0)
		return -1;
	*outlen = ctlen;
	return 0;
}

int store_chunk_seal(const struct store_keys *k, const uint8_t id[STORE_ID_LEN], const uint8_t *raw, size_t len,
		     int zstd_level, struct wbuf *out)
{
	uint8_t enc = 0;
	uint8_t *z = NULL;
	size_t zlen = 0;
	if (zstd_level) {
		size_t cap = ZSTD_compressBound(len);
		z = malloc(cap);
		if (!z)
			return -1;
		zlen = ZSTD_compress(z, cap, raw, len, zstd_level);
		if (!ZSTD_isError(zlen) && zlen < len - len / 16)
			enc = 1; /* only when it saves more than 1/16 */
	}
	/* The nonce is a keyed hash of exactly what is sealed (id, encoding, payload; SIV-like): equal
	 * chunks seal to equal bytes, and two different sealings of one id (another zstd version or
	 * level compresses differently) never share a nonce, which under GCM would leak the XOR of
	 * the two plaintexts and the authentication key. */
	const uint8_t *pl = enc ? z : raw;
	size_t plen = enc ? zlen : len;
	uint8_t what[STORE_ID_LEN + 1 + SHA256_DIGEST_LENGTH], nfull[32];
	memcpy(what, id, STORE_ID_LEN);
	what[STORE_ID_LEN] = enc;
	SHA256(pl, plen, what + STORE_ID_LEN + 1);
	hmac(k->nonce, what, sizeof(what), nfull);
	int rc = gcm_seal(k->enc, nfull, id, STORE_ID_LEN, &enc, 1, pl, plen, out);
	free(z);
	return rc;
}

int store_chunk_open(const struct store_keys *k, const uint8_t id[STORE_ID_LEN], const uint8_t *sealed, size_t len,
		     uint8_t *out, uint32_t raw_len, struct cfs_err *err)
{
	if (len < STORE_SEAL_OVERHEAD + 1 || len > STORE_SEAL_OVERHEAD + 1 + (size_t)STORE_CHUNK_MAX + 4096)
		return cfs_err_set(err, CFS_ER_STORE_KEY, "store chunk of %zu sealed bytes is malformed", len);
	uint8_t *plain = malloc(len);
	if (!plain)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	size_t plen;
	int rc = -1;
	if (gcm_open(k->enc, id, STORE_ID_LEN, sealed, len, plain, &plen)) {
		cfs_err_set(err, CFS_ER_STORE_KEY, "a store chunk does not authenticate (tampered object, or a store key that is not the publisher's)");
		goto out;
	}
	if (plain[0] == 0) {
		if (plen - 1 != raw_len) {
			cfs_err_set(err, CFS_ER_STORE_KEY, "a store chunk holds %zu bytes, its reference says %u", plen - 1, raw_len);
			goto out;
		}
		memcpy(out, plain + 1, raw_len);
	} else if (plain[0] == 1) {
		size_t d = ZSTD_decompress(out, raw_len, plain + 1, plen - 1);
		if (ZSTD_isError(d) || d != raw_len) {
			cfs_err_set(err, CFS_ER_STORE_KEY, "a store chunk does not decompress to its %u bytes", raw_len);
			goto out;
		}
	} else {
		cfs_err_set(err, CFS_ER_STORE_KEY, "a store chunk has unknown encoding %u", plain[0]);
		goto out;
	}
	uint8_t got[STORE_ID_LEN];
	store_chunk_id(k, out, raw_len, got);
	if (CRYPTO_memcmp(got, id, STORE_ID_LEN)) {
		cfs_err_set(err, CFS_ER_STORE_KEY, "a store chunk's bytes do not match its id");
		goto out;
	}
	rc = 0;
out:
	free(plain);
	return rc;
}

enum { OBJ_HDR_LEN = 4 + 4 + STORE_KEY_ID_LEN };

static void obj_hdr(uint8_t h[OBJ_HDR_LEN], const struct store_keys *k, uint32_t magic)
{
	be32_put(h, magic);
	be32_put(h + 4, STORE_FORMAT_VERSION);
	memcpy(h + 8, k->key_id, STORE_KEY_ID_LEN);
}

/* Associated data: the clear header and what the object is (e.g. "snapshots/ID"). */
static size_t obj_aad(uint8_t *aad, size_t cap, const uint8_t h[OBJ_HDR_LEN], const char *what)
{
	size_t wl = strlen(what);
	if (wl > cap - OBJ_HDR_LEN)
		wl = cap - OBJ_HDR_LEN;
	memcpy(aad, h, OBJ_HDR_LEN);
	memcpy(aad + OBJ_HDR_LEN, what, wl);
	return OBJ_HDR_LEN + wl;
}

int store_object_seal(const struct store_keys *k, uint32_t magic, const char *what, const uint8_t *plain,
		      size_t len, struct wbuf *out)
{
	uint8_t h[OBJ_HDR_LEN], aad[OBJ_HDR_LEN + 600], nonce[STORE_NONCE_LEN];
	obj_hdr(h, k, magic);
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -1;
	wbuf_put(out, h, sizeof(h));
	size_t al = obj_aad(aad, sizeof(aad), h, what);
	return out->over ? -1 : gcm_seal(k->enc, nonce, aad, al, plain, len, NULL, 0, out);
}

static void hex8(const uint8_t *p, char out[2 * STORE_KEY_ID_LEN + 1])
{
	for (int i = 0; i < STORE_KEY_ID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

int store_object_open(const struct store_keys *k, uint32_t magic, const char *what, const uint8_t *obj, size_t len,
		      uint8_t **plain, size_t *plen, struct cfs_err *err)
{
	*plain = NULL;
	if (len < OBJ_HDR_LEN + STORE_SEAL_OVERHEAD || be32_get(obj) != magic)
		return cfs_err_set(err, CFS_ER_STORE_KEY, "store object %s is not a clonefs %s object", what,
				   magic == STORE_MANIFEST_MAGIC ? "snapshot" : "index");
	if (be32_get(obj + 4) != STORE_FORMAT_VERSION)
		return cfs_err_set(err, CFS_ER_STORE, "store object %s has format version %u; this clonefs reads %u", what,
				   be32_get(obj + 4), STORE_FORMAT_VERSION);
	if (memcmp(obj + 8, k->key_id, STORE_KEY_ID_LEN)) {
		char a[2 * STORE_KEY_ID_LEN + 1], b[2 * STORE_KEY_ID_LEN + 1];
		hex8(obj + 8, a);
		hex8(k->key_id, b);
		return cfs_err_set(err, CFS_ER_STORE_KEY, "wrong store key: %s was sealed with key id %s, store_key_file has key id %s",
				   what, a, b);
	}
	uint8_t aad[OBJ_HDR_LEN + 600];
	size_t al = obj_aad(aad, sizeof(aad), obj, what);
	uint8_t *p = malloc(len);
	if (!p)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	if (gcm_open(k->enc, aad, al, obj + OBJ_HDR_LEN, len - OBJ_HDR_LEN, p, plen)) {
		free(p);
		return cfs_err_set(err, CFS_ER_STORE_KEY, "store object %s does not authenticate: it was changed after it was written",
				   what);
	}
	*plain = p;
	return 0;
}

void store_snapshot_encode(const struct store_snapshot *s, struct wbuf *out)
{
	struct wbuf sub;
	wbuf_init(&sub, STORE_OBJECT_MAX);
	wire_snap_info_encode(&sub, &s->info);
	wbuf_bytes(out, sub.p, (uint32_t)sub.len);
	wbuf_reset(&sub);
	manifest_encode(&sub, &s->m);
	wbuf_bytes(out, sub.p, (uint32_t)sub.len);
	wbuf_release(&sub);
	wbuf_u64(out, (uint64_t)s->published);
	wbuf_u32(out, s->npacks);
	for (uint32_t i = 0; i < s->npacks; i++)
		wbuf_str(out, s->packs[i]);
	wbuf_u64(out, s->nrefs);
	for (uint64_t i = 0; i < s->nrefs; i++) {
		const struct store_ref *r = &s->refs[i];
		wbuf_u32(out, r->pack);
		if (r->pack == STORE_ZERO_PACK)
			continue;
		wbuf_u64(out, r->off);
		wbuf_u32(out, r->len);
		wbuf_put(out, r->id, STORE_ID_LEN);
	}
}

static bool pack_name_ok(const char *s)
{
	if (strlen(s) != STORE_PACK_NAME_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return false;
	return true;
}

static int bad(struct cfs_err *err, const char *what)
{
	return cfs_err_set(err, CFS_ER_PROTOCOL, "malformed snapshot manifest in the store: %s", what);
}

int store_snapshot_parse(const uint8_t *buf, size_t len, struct store_snapshot *s, struct cfs_err *err)
{
	memset(s, 0, sizeof(*s));
	manifest_init(&s->m);
	struct rbuf r;
	rbuf_init(&r, buf, len);
	size_t n;
	const uint8_t *p = rbuf_bytes(&r, WIRE_FRAME_MAX, &n);
	if (!p)
		return bad(err, "snapshot info");
	if (wire_snap_info_decode(p, n, &s->info, err))
		return -1;
	p = rbuf_bytes(&r, WIRE_MANIFEST_MAX_BYTES, &n);
	if (!p) {
		store_snapshot_release(s);
		return bad(err, "file tree");
	}
	if (manifest_parse(p, n, &s->m, err)) {
		wire_snap_info_release(&s->info);
		return -1;
	}
	s->published = (int64_t)rbuf_u64(&r);
	uint32_t np = rbuf_u32(&r);
	if (r.bad || np > STORE_PACKS_MAX || np > rbuf_left(&r) / 2) {
		store_snapshot_release(s);
		return bad(err, "pack count");
	}
	s->packs = calloc(np ? np : 1, sizeof(*s->packs));
	s->first_ref = calloc(s->m.n ? s->m.n : 1, sizeof(*s->first_ref));
	if (!s->packs || !s->first_ref) {
		store_snapshot_release(s);
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	}
	s->npacks = np;
	for (uint32_t i = 0; i < np; i++)
		if (!rbuf_cstr(&r, s->packs[i], sizeof(s->packs[i])) || !pack_name_ok(s->packs[i])) {
			store_snapshot_release(s);
			return bad(err, "pack name");
		}
	/* One ref per chunk of each regular file, in manifest order: count them from the tree. */
	uint64_t want = 0;
	for (uint32_t i = 0; i < s->m.n; i++) {
		s->first_ref[i] = want;
		if (s->m.e[i].type == MANIFEST_REG)
			want += manifest_chunks(s->m.e[i].size, s->info.chunk_size);
	}
	uint64_t nr = rbuf_u64(&r);
	/* Each ref takes at least 4 bytes: a count beyond what the buffer holds is a lie. */
	if (r.bad || nr != want || nr > rbuf_left(&r) / 4) {
		store_snapshot_release(s);
		return bad(err, "chunk reference count");
	}
	s->refs = calloc(nr ? nr : 1, sizeof(*s->refs));
	if (!s->refs) {
		store_snapshot_release(s);
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	}
	s->nrefs = nr;
	for (uint64_t i = 0; i < nr && !r.bad; i++) {
		struct store_ref *f = &s->refs[i];
		f->pack = rbuf_u32(&r);
		if (f->pack == STORE_ZERO_PACK)
			continue;
		f->off = rbuf_u64(&r);
		f->len = rbuf_u32(&r);
		const uint8_t *id = rbuf_take(&r, STORE_ID_LEN);
		if (r.bad || f->pack >= np || f->len < STORE_SEAL_OVERHEAD + 1 ||
		    f->len > STORE_SEAL_OVERHEAD + 1 + s->info.chunk_size + 4096 || f->off > STORE_OBJECT_MAX * 64ull) {
			r.bad = true;
			break;
		}
		memcpy(f->id, id, STORE_ID_LEN);
	}
	if (r.bad || rbuf_left(&r)) {
		store_snapshot_release(s);
		return bad(err, "chunk references");
	}
	return 0;
}

void store_snapshot_release(struct store_snapshot *s)
{
	wire_snap_info_release(&s->info);
	manifest_release(&s->m);
	free(s->packs);
	free(s->refs);
	free(s->first_ref);
	s->packs = NULL;
	s->refs = NULL;
	s->first_ref = NULL;
	s->npacks = 0;
	s->nrefs = 0;
}

void store_index_encode(const struct store_index_ent *e, uint32_t n, struct wbuf *out)
{
	wbuf_u32(out, n);
	for (uint32_t i = 0; i < n; i++) {
		wbuf_put(out, e[i].id, STORE_ID_LEN);
		wbuf_u64(out, e[i].off);
		wbuf_u32(out, e[i].len);
	}
}

int store_index_parse(const uint8_t *buf, size_t len, struct store_index_ent **e, uint32_t *n, struct cfs_err *err)
{
	struct rbuf r;
	rbuf_init(&r, buf, len);
	uint32_t k = rbuf_u32(&r);
	*e = NULL;
	*n = 0;
	if (r.bad || (uint64_t)k * (STORE_ID_LEN + 12) != rbuf_left(&r))
		return cfs_err_set(err, CFS_ER_PROTOCOL, "malformed pack index in the store");
	struct store_index_ent *v = calloc(k ? k : 1, sizeof(*v));
	if (!v)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	for (uint32_t i = 0; i < k; i++) {
		memcpy(v[i].id, rbuf_take(&r, STORE_ID_LEN), STORE_ID_LEN);
		v[i].off = rbuf_u64(&r);
		v[i].len = rbuf_u32(&r);
	}
	*e = v;
	*n = k;
	return 0;
}

void store_key_name(char *out, size_t outsz, const char *prefix, const char *kind, const char *name,
		    const char *suffix)
{
	snprintf(out, outsz, "%s%s%s/%s%s", prefix, *prefix ? "/" : "", kind, name, suffix);
}
