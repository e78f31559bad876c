/* test_transport.c: unit tests of the wire formats: frame header limits, message round trips,
 * the chunk codec (zstd, zero marker, digest, bombs), and the manifest's hostile-name rejection. */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "tests/unit/tap.h"
#include "transport/chunk.h"
#include "transport/manifest.h"
#include "transport/wire.h"
#include "transport/xxh64.h"

static void frame_header_rejects_oversize_and_garbage(void)
{
	uint8_t h[WIRE_HDR_LEN];
	struct wire_hdr in = { .type = WIRE_READ, .req_id = 7, .len = 100 }, out;
	struct cfs_err err = { 0 };
	wire_hdr_encode(h, &in);
	CHECK(wire_hdr_decode(h, 1000, &out, &err) == 0 && out.req_id == 7 && out.len == 100);
	CHECK(wire_hdr_decode(h, 99, &out, &err) == -1 && err.code == CFS_ER_PROTOCOL);
	h[0] ^= 1;
	CHECK(wire_hdr_decode(h, 1000, &out, &err) == -1);
	wire_hdr_encode(h, &in);
	h[4] = 200;
	CHECK(wire_hdr_decode(h, 1000, &out, &err) == -1);
	wire_hdr_encode(h, &in);
	h[6] = 1;
	CHECK(wire_hdr_decode(h, 1000, &out, &err) == -1);
}

static void messages_round_trip_and_reject_trailing_bytes(void)
{
	struct wbuf b;
	struct cfs_err err = { 0 };
	wbuf_init(&b, 1 << 20);
	struct wire_read r = { .file_id = 3, .first_chunk = 9, .count = 4 }, r2;
	wire_read_encode(&b, &r);
	CHECK(wire_read_decode(b.p, b.len, &r2, &err) == 0 && r2.file_id == 3 && r2.first_chunk == 9 && r2.count == 4);
	wbuf_u8(&b, 0);
	CHECK(wire_read_decode(b.p, b.len, &r2, &err) == -1);
	wbuf_reset(&b);
	r.count = WIRE_READ_MAX_CHUNKS + 1;
	wire_read_encode(&b, &r);
	CHECK(wire_read_decode(b.p, b.len, &r2, &err) == -1);

	struct wire_snap_info si = { 0 }, si2 = { 0 };
	snprintf(si.id, sizeof(si.id), "abc123");
	si.chunk_size = WIRE_CHUNK_SIZE;
	CHECK(wire_snap_info_set(&si, "version", "10.11.19-MariaDB") == 0);
	CHECK(wire_snap_info_set(&si, "binlog_pos", "1234") == 0);
	wbuf_reset(&b);
	wire_snap_info_encode(&b, &si);
	CHECK(wire_snap_info_decode(b.p, b.len, &si2, &err) == 0);
	CHECK(!strcmp(wire_snap_info_get(&si2, "binlog_pos"), "1234") && si2.chunk_size == WIRE_CHUNK_SIZE);
	wire_snap_info_release(&si);
	wire_snap_info_release(&si2);

	struct wire_snap_open so;
	wbuf_reset(&b);
	wbuf_str(&b, "../etc");
	CHECK(wire_snap_open_decode(b.p, b.len, &so, &err) == -1);

	struct cfs_err e1, e2;
	cfs_err_set(&e1, ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR_MSG, "u", "localhost", "YES");
	wbuf_reset(&b);
	wire_error_encode(&b, &e1);
	CHECK(wire_error_decode(b.p, b.len, &e2, &err) == 0 && e2.code == 1045 && !strcmp(e2.sqlstate, "28000"));
	wbuf_release(&b);
}

/* XXH64 against the reference implementation (xxhsum -H1 of Debian's xxhash 0.8.1): the spec's
 * empty-input value, short inputs, and a pattern cut at every path's edges (the 32-byte stripes,
 * the 8-, 4- and 1-byte tails). */
static void xxh64_matches_the_reference(void)
{
	static const struct { size_t len; uint64_t want; } pat[] = {
		{ 1, 0xa96c7f0ce858bbb7ull }, { 3, 0x56e6957632a487f9ull }, { 4, 0xc60d15b1e3ff8f04ull },
		{ 7, 0xafbefc3d6c6f9a8eull }, { 8, 0x3da5c7aa269683e0ull }, { 12, 0x9650fde93a383e90ull },
		{ 31, 0x3391303d485e846eull }, { 32, 0x40b7aff75d45bbc8ull }, { 33, 0x4997cae4951c17a5ull },
		{ 39, 0x580728fd5c145739ull }, { 63, 0x2944b4dafc69b206ull }, { 64, 0xbb76f6ef19bd5a1bull },
		{ 65, 0x814e0c654a9fd640ull }, { 1000, 0x9e3300c1cde3c58dull }, { 65536, 0xb153724f6f6efd30ull },
	};
	enum { N = 65536 };
	uint8_t *b = malloc(N);
	for (size_t i = 0; i < N; i++)
		b[i] = (uint8_t)((i * 31 + 7) % 251);
	CHECK(xxh64("", 0, 0) == 0xef46db3751d8e999ull);
	CHECK(xxh64("a", 1, 0) == 0xd24ec4f1a98c6e5bull);
	CHECK(xxh64("abc", 3, 0) == 0x44bc2cf5ad770999ull);
	for (size_t i = 0; i < sizeof(pat) / sizeof(pat[0]); i++)
		CHECK(xxh64(b, pat[i].len, 0) == pat[i].want);
	/* Unaligned input hashes the same. */
	uint8_t *u = malloc(1001);
	memcpy(u + 1, b, 1000);
	CHECK(xxh64(u + 1, 1000, 0) == 0x9e3300c1cde3c58dull);
	/* The chunk digest field: big-endian XXH64, then zeros; SHA-256 fills all 32 bytes. */
	uint8_t d[CHUNK_DIGEST_LEN], z[CHUNK_DIGEST_LEN - 8] = { 0 };
	chunk_digest(CHUNK_DIGEST_XXH64, b, 1000, d);
	CHECK(d[0] == 0x9e && d[7] == 0x8d && !memcmp(d + 8, z, sizeof(z)));
	chunk_digest(CHUNK_DIGEST_SHA256, (const uint8_t *)"abc", 3, d);
	CHECK(d[0] == 0xba && d[1] == 0x78 && d[31] == 0xad); /* FIPS 180-2's "abc" */
	CHECK(chunk_digest_of_proto(1) == CHUNK_DIGEST_SHA256 && chunk_digest_of_proto(2) == CHUNK_DIGEST_XXH64);
	free(u);
	free(b);
}

static void chunk_codec_round_trips_and_detects_tampering(void)
{
	enum { N = 1 << 20 };
	uint8_t *raw = malloc(N), *out = malloc(N);
	struct wbuf b;
	struct chunk_hdr h;
	struct cfs_err err = { 0 };
	wbuf_init(&b, WIRE_FRAME_MAX);
	for (int i = 0; i < N; i++)
		raw[i] = (uint8_t)(i % 251 < 100 ? 'a' : i % 7);
	CHECK(chunk_encode(&b, 1, 2, raw, N, 1, NULL, CHUNK_DIGEST_XXH64) == 0);
	CHECK(b.p[12] == CHUNK_ZSTD && b.len < N / 2);
	CHECK(chunk_decode(b.p, b.len, N, out, N, &h, NULL, CHUNK_DIGEST_XXH64, &err) == 0 && !memcmp(raw, out, N));
	b.p[b.len - 5] ^= 0x40;
	CHECK(chunk_decode(b.p, b.len, N, out, N, &h, NULL, CHUNK_DIGEST_XXH64, &err) == -1);

	memset(raw, 0, N);
	CHECK(chunk_encode(&b, 1, 3, raw, N, 1, NULL, CHUNK_DIGEST_XXH64) == 0 && b.p[12] == CHUNK_ZERO && b.len == CHUNK_HDR_LEN);
	memset(out, 1, N);
	CHECK(chunk_decode(b.p, b.len, N, out, N, &h, NULL, CHUNK_DIGEST_XXH64, &err) == 0 && chunk_is_zero(out, N));

	/* Incompressible: sent raw; a flipped byte fails the digest, never reaches the caller as good. */
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < N; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		raw[i] = (uint8_t)x;
	}
	CHECK(chunk_encode(&b, 1, 4, raw, N, 1, NULL, CHUNK_DIGEST_XXH64) == 0 && b.p[12] == CHUNK_RAW);
	b.p[CHUNK_HDR_LEN + 10] ^= 1;
	CHECK(chunk_decode(b.p, b.len, N, out, N, &h, NULL, CHUNK_DIGEST_XXH64, &err) == -1 && err.code == CFS_ER_DIGEST);
	/* Protocol 1's SHA-256 the same way; a chunk checked with the other version's digest fails. */
	CHECK(chunk_encode(&b, 1, 4, raw, N, 0, NULL, CHUNK_DIGEST_SHA256) == 0);
	CHECK(chunk_decode(b.p, b.len, N, out, N, &h, NULL, CHUNK_DIGEST_SHA256, &err) == 0 && !memcmp(raw, out, N));
	CHECK(chunk_decode(b.p, b.len, N, out, N, &h, NULL, CHUNK_DIGEST_XXH64, &err) == -1 && err.code == CFS_ER_DIGEST);
	b.p[CHUNK_HDR_LEN + N - 1] ^= 0x80;
	CHECK(chunk_decode(b.p, b.len, N, out, N, &h, NULL, CHUNK_DIGEST_SHA256, &err) == -1 && err.code == CFS_ER_DIGEST);

	/* A bomb: a zstd frame of 64 MiB of zeros announced as 1 MiB is refused without expanding it. */
	size_t big = 64u << 20;
	uint8_t *zeros = calloc(1, big);
	size_t cap = ZSTD_compressBound(big);
	uint8_t *z = malloc(cap + CHUNK_HDR_LEN);
	size_t zn = ZSTD_compress(z + CHUNK_HDR_LEN, cap, zeros, big, 1);
	CHECK(!ZSTD_isError(zn));
	struct wbuf hb;
	wbuf_init(&hb, 128);
	uint8_t d[CHUNK_DIGEST_LEN] = { 0 };
	wbuf_u32(&hb, 1);
	wbuf_u64(&hb, 0);
	wbuf_u8(&hb, CHUNK_ZSTD);
	wbuf_u32(&hb, N);
	wbuf_put(&hb, d, sizeof(d));
	memcpy(z, hb.p, CHUNK_HDR_LEN);
	CHECK(chunk_decode(z, CHUNK_HDR_LEN + zn, N, out, N, &h, NULL, CHUNK_DIGEST_XXH64, &err) == -1 && err.code == CFS_ER_PROTOCOL);
	/* Announcing more than the limit is refused before any work. */
	be32_put(z + 13, WIRE_CHUNK_MAX + 1);
	CHECK(chunk_decode(z, CHUNK_HDR_LEN + zn, WIRE_CHUNK_MAX, out, N, &h, NULL, CHUNK_DIGEST_XXH64, &err) == -1);
	wbuf_release(&hb);
	free(zeros);
	free(z);
	free(raw);
	free(out);
	wbuf_release(&b);
}

/* Donor options: negative (fast) zstd levels compress, 0 sends raw; any chunk size from 64 KiB to
 * WIRE_CHUNK_MAX fits one frame, also at WIRE_CHUNK_MAX where ZSTD_compressBound exceeds the frame. */
static void chunk_codec_takes_fast_levels_and_every_chunk_size(void)
{
	enum { SMALL = 64 << 10 };
	uint8_t *raw = malloc(WIRE_CHUNK_MAX), *out = malloc(WIRE_CHUNK_MAX);
	struct wbuf b;
	struct chunk_hdr h;
	struct cfs_err err = { 0 };
	wbuf_init(&b, WIRE_FRAME_MAX);
	for (uint32_t i = 0; i < WIRE_CHUNK_MAX; i++)
		raw[i] = (uint8_t)(i % 251 < 100 ? 'a' : i % 7);
	CHECK(chunk_encode(&b, 1, 5, raw, SMALL, -3, NULL, CHUNK_DIGEST_XXH64) == 0 && b.p[12] == CHUNK_ZSTD && b.len < SMALL / 2);
	CHECK(chunk_decode(b.p, b.len, SMALL, out, SMALL, &h, NULL, CHUNK_DIGEST_XXH64, &err) == 0 && h.raw_len == SMALL &&
	      !memcmp(raw, out, SMALL));
	CHECK(chunk_encode(&b, 1, 5, raw, SMALL, ZSTD_minCLevel(), NULL, CHUNK_DIGEST_XXH64) == 0);
	CHECK(chunk_decode(b.p, b.len, SMALL, out, SMALL, &h, NULL, CHUNK_DIGEST_XXH64, &err) == 0 && !memcmp(raw, out, SMALL));
	CHECK(chunk_encode(&b, 1, 5, raw, SMALL, 0, NULL, CHUNK_DIGEST_XXH64) == 0 && b.p[12] == CHUNK_RAW && b.len == CHUNK_HDR_LEN + SMALL);
	ZSTD_CCtx *zc = ZSTD_createCCtx();
	CHECK(chunk_encode(&b, 1, 6, raw, WIRE_CHUNK_MAX, -1, zc, CHUNK_DIGEST_XXH64) == 0 && b.p[12] == CHUNK_ZSTD);
	CHECK(chunk_decode(b.p, b.len, WIRE_CHUNK_MAX, out, WIRE_CHUNK_MAX, &h, NULL, CHUNK_DIGEST_XXH64, &err) == 0 &&
	      !memcmp(raw, out, WIRE_CHUNK_MAX));

	/* Incompressible at the largest size: raw, in one frame (it used to fail the frame's maximum). */
	uint64_t x = 88172645463325252ull;
	for (uint32_t i = 0; i < WIRE_CHUNK_MAX; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		raw[i] = (uint8_t)x;
	}
	for (int level = -5; level <= 3; level += 4) {
		CHECK(chunk_encode(&b, 1, 7, raw, WIRE_CHUNK_MAX, level, zc, CHUNK_DIGEST_XXH64) == 0 && b.p[12] == CHUNK_RAW &&
		      b.len == CHUNK_HDR_LEN + WIRE_CHUNK_MAX);
		CHECK(chunk_decode(b.p, b.len, WIRE_CHUNK_MAX, out, WIRE_CHUNK_MAX, &h, NULL, CHUNK_DIGEST_XXH64, &err) == 0 &&
		      !memcmp(raw, out, WIRE_CHUNK_MAX));
	}
	ZSTD_freeCCtx(zc);

	/* SNAP_INFO (and so snapshot.meta) keeps a snapshot's chunk size; sizes a recipient cannot use
	 * are refused on decode. */
	struct wire_snap_info si = { 0 }, si2 = { 0 };
	snprintf(si.id, sizeof(si.id), "abc123");
	uint32_t sizes[] = { SMALL, WIRE_CHUNK_SIZE, WIRE_CHUNK_MAX };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		si.chunk_size = sizes[i];
		wbuf_reset(&b);
		wire_snap_info_encode(&b, &si);
		CHECK(wire_snap_info_decode(b.p, b.len, &si2, &err) == 0 && si2.chunk_size == sizes[i]);
		wire_snap_info_release(&si2);
	}
	uint32_t bad[] = { 0, SMALL + 1, WIRE_CHUNK_MAX + 4096 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		si.chunk_size = bad[i];
		wbuf_reset(&b);
		wire_snap_info_encode(&b, &si);
		CHECK(wire_snap_info_decode(b.p, b.len, &si2, &err) == -1 && err.code == CFS_ER_PROTOCOL);
		wire_snap_info_release(&si2);
	}
	wire_snap_info_release(&si);
	free(raw);
	free(out);
	wbuf_release(&b);
}

/* Encode a manifest by hand (entries as given, unsorted and unchecked) to play a hostile donor. */
static void raw_manifest(struct wbuf *b, int n, const char *const *paths, const uint8_t *types,
			 const char *const *targets, uint64_t total)
{
	wbuf_reset(b);
	wbuf_u32(b, MANIFEST_MAGIC);
	wbuf_u32(b, MANIFEST_VERSION);
	wbuf_u32(b, (uint32_t)n);
	wbuf_u64(b, total);
	for (int i = 0; i < n; i++) {
		wbuf_u8(b, types[i]);
		wbuf_u32(b, 0644);
		wbuf_u64(b, types[i] == MANIFEST_REG ? 10 : 0);
		wbuf_u64(b, 0);
		wbuf_u32(b, 0);
		wbuf_str(b, paths[i]);
		wbuf_str(b, targets ? targets[i] : "");
	}
}

static void manifest_rejects_hostile_names(void)
{
	struct manifest m, p;
	struct wbuf b;
	struct cfs_err err = { 0 };
	wbuf_init(&b, 1 << 20);
	manifest_init(&m);
	CHECK(manifest_add(&m, MANIFEST_DIR, "db", NULL, 0755, 0, 1, 0) == 0);
	CHECK(manifest_add(&m, MANIFEST_REG, "ibdata1", NULL, 0640, 10, 1, 0) == 0);
	CHECK(manifest_add(&m, MANIFEST_REG, "db/t.ibd", NULL, 0640, 20, 1, 0) == 0);
	CHECK(manifest_add(&m, MANIFEST_REG, "db-x", NULL, 0640, 0, 1, 0) == 0);
	CHECK(manifest_add(&m, MANIFEST_REG, "../etc/passwd", NULL, 0640, 0, 1, 0) == -1);
	manifest_finish(&m);
	manifest_encode(&b, &m);
	CHECK(manifest_parse(b.p, b.len, &p, &err) == 0 && p.n == 4 && p.bytes_total == 30);
	const struct manifest_entry *t = manifest_find(&p, "db/t.ibd");
	CHECK(t && t->parent == manifest_find(&p, "db")->id && !strcmp(t->name, "t.ibd"));
	manifest_release(&p);
	manifest_release(&m);

	static const uint8_t reg1[] = { MANIFEST_REG }, dir_reg[] = { MANIFEST_DIR, MANIFEST_REG };
	static const uint8_t reg_reg[] = { MANIFEST_REG, MANIFEST_REG }, lnk[] = { MANIFEST_SYMLINK };
	const char *bad1[][1] = { { "../x" }, { "/etc/passwd" }, { "a/../../x" }, { "a//b" }, { "." }, { "" },
				  { "x/" } };
	for (size_t i = 0; i < sizeof(bad1) / sizeof(bad1[0]); i++) {
		raw_manifest(&b, 1, bad1[i], reg1, NULL, 10);
		CHECK(manifest_parse(b.p, b.len, &p, &err) == -1 && err.code == CFS_ER_PROTOCOL);
	}
	/* NUL inside a name */
	raw_manifest(&b, 1, (const char *const[]){ "ab" }, reg1, NULL, 10);
	b.p[b.len - 4] = 0;
	CHECK(manifest_parse(b.p, b.len, &p, &err) == -1);
	/* duplicates, a file under a file, a missing parent, wrong total, lying count */
	raw_manifest(&b, 2, (const char *const[]){ "a", "a" }, reg_reg, NULL, 20);
	CHECK(manifest_parse(b.p, b.len, &p, &err) == -1);
	raw_manifest(&b, 2, (const char *const[]){ "a", "a/b" }, reg_reg, NULL, 20);
	CHECK(manifest_parse(b.p, b.len, &p, &err) == -1);
	raw_manifest(&b, 1, (const char *const[]){ "nodir/b" }, reg1, NULL, 10);
	CHECK(manifest_parse(b.p, b.len, &p, &err) == -1);
	raw_manifest(&b, 2, (const char *const[]){ "d", "d/b" }, dir_reg, NULL, 11);
	CHECK(manifest_parse(b.p, b.len, &p, &err) == -1);
	raw_manifest(&b, 2, (const char *const[]){ "d", "d/b" }, dir_reg, NULL, 10);
	CHECK(manifest_parse(b.p, b.len, &p, &err) == 0);
	manifest_release(&p);
	be32_put(b.p + 8, 1000000);
	CHECK(manifest_parse(b.p, b.len, &p, &err) == -1);
	/* symlinks that leave the tree */
	raw_manifest(&b, 1, (const char *const[]){ "l" }, lnk, (const char *const[]){ "../x" }, 0);
	CHECK(manifest_parse(b.p, b.len, &p, &err) == -1);
	raw_manifest(&b, 1, (const char *const[]){ "l" }, lnk, (const char *const[]){ "/etc" }, 0);
	CHECK(manifest_parse(b.p, b.len, &p, &err) == -1);
	raw_manifest(&b, 1, (const char *const[]){ "l" }, lnk, (const char *const[]){ "a/../b" }, 0);
	CHECK(manifest_parse(b.p, b.len, &p, &err) == 0);
	manifest_release(&p);
	wbuf_release(&b);
	/* The one symlink check, used by the donor's walk and the recipient's parser. */
	CHECK(manifest_symlink_inside("db/l", "../ibdata1"));
	CHECK(manifest_symlink_inside("db/l", "./x/../../y"));
	CHECK(!manifest_symlink_inside("db/l", "../../etc/shadow"));
	CHECK(!manifest_symlink_inside("db/l", "../x/../../y"));
	CHECK(!manifest_symlink_inside("l", "/etc/shadow"));
	CHECK(!manifest_symlink_inside("l", ""));
}

int main(void)
{
	frame_header_rejects_oversize_and_garbage();
	xxh64_matches_the_reference();
	messages_round_trip_and_reject_trailing_bytes();
	chunk_codec_round_trips_and_detects_tampering();
	chunk_codec_takes_fast_levels_and_every_chunk_size();
	manifest_rejects_hostile_names();
	return tap_done();
}
