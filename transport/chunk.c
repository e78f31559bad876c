/* chunk.c: encodes a chunk on the donor (zstd when it pays, zero marker, digest) and decodes and
 * verifies it on the recipient with a hard bound on the decompressed size (docs/protocol.md §4). */
#include "transport/chunk.h"

#include <string.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "transport/wire.h"
#include "transport/xxh64.h"

void chunk_digest(enum chunk_digest_alg alg, const uint8_t *buf, size_t len, uint8_t out[CHUNK_DIGEST_LEN])
{
	if (alg == CHUNK_DIGEST_XXH64) {
		uint64_t x = xxh64(buf, len, 0);
		memset(out, 0, CHUNK_DIGEST_LEN);
		for (int i = 0; i < 8; i++)
			out[i] = (uint8_t)(x >> (56 - 8 * i));
		return;
	}
	unsigned int n = CHUNK_DIGEST_LEN;
	EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL);
}

enum chunk_digest_alg chunk_digest_of_proto(unsigned proto)
{
	return proto >= 2 ? CHUNK_DIGEST_XXH64 : CHUNK_DIGEST_SHA256;
}

const char *chunk_digest_name(enum chunk_digest_alg alg)
{
	return alg == CHUNK_DIGEST_XXH64 ? "xxh64" : "sha256";
}

bool chunk_is_zero(const uint8_t *buf, size_t len)
{
	/* Compare the buffer with itself shifted by one block: memcmp is vectorized. */
	size_t i = 0;
	for (; i < len && i < 16; i++)
		if (buf[i])
			return false;
	return len <= 16 || memcmp(buf, buf + 16, len - 16) == 0;
}

static void put_hdr(struct wbuf *out, uint32_t file_id, uint64_t index, uint8_t enc, uint32_t raw_len,
		    const uint8_t digest[CHUNK_DIGEST_LEN])
{
	wbuf_u32(out, file_id);
	wbuf_u64(out, index);
	wbuf_u8(out, enc);
	wbuf_u32(out, raw_len);
	wbuf_put(out, digest, CHUNK_DIGEST_LEN);
}

int chunk_encode(struct wbuf *out, uint32_t file_id, uint64_t index, const uint8_t *raw,
		 uint32_t raw_len, int level, struct ZSTD_CCtx_s *zctx, enum chunk_digest_alg alg)
{
	uint8_t digest[CHUNK_DIGEST_LEN];
	wbuf_reset(out);
	chunk_digest(alg, raw, raw_len, digest);
	if (chunk_is_zero(raw, raw_len)) {
		put_hdr(out, file_id, index, CHUNK_ZERO, raw_len, digest);
		return out->over ? -1 : 0;
	}
	put_hdr(out, file_id, index, CHUNK_RAW, raw_len, digest);
	if (level != 0) {
		/* Compression pays when it saves at least 1/16 of the chunk, so the frame gets no more room
		 * than that: a frame that does not fit fails (dstSize_tooSmall) and the chunk goes raw. This
		 * also keeps a WIRE_CHUNK_MAX chunk within WIRE_FRAME_MAX (ZSTD_compressBound would not). */
		size_t room = raw_len - raw_len / 16;
		if (!wbuf_reserve(out, room))
			return -1;
		size_t n = zctx ? ZSTD_compressCCtx(zctx, out->p + out->len, room, raw, raw_len, level)
				: ZSTD_compress(out->p + out->len, room, raw, raw_len, level);
		if (!ZSTD_isError(n) && n < room) {
			out->p[CHUNK_ENC_OFFSET] = CHUNK_ZSTD;
			out->len += n;
			return 0;
		}
	}
	wbuf_put(out, raw, raw_len);
	return out->over ? -1 : 0;
}

int chunk_hdr_decode(const uint8_t *payload, size_t len, uint32_t max_raw, struct chunk_hdr *h,
		     struct cfs_err *err)
{
	struct rbuf r;
	rbuf_init(&r, payload, len);
	h->file_id = rbuf_u32(&r);
	h->index = rbuf_u64(&r);
	h->enc = rbuf_u8(&r);
	h->raw_len = rbuf_u32(&r);
	const uint8_t *d = rbuf_take(&r, CHUNK_DIGEST_LEN);
	if (r.bad)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "malformed CHUNK from peer (%zu bytes)", len);
	memcpy(h->digest, d, CHUNK_DIGEST_LEN);
	if (h->enc > CHUNK_ZERO)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "unknown chunk encoding %u from peer", h->enc);
	if (h->raw_len > max_raw || h->raw_len > WIRE_CHUNK_MAX)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "chunk of %u bytes from peer exceeds the limit of %u",
				   h->raw_len, max_raw);
	return 0;
}

int chunk_decode(const uint8_t *payload, size_t len, uint32_t max_raw, uint8_t *out,
		 size_t out_cap, struct chunk_hdr *h, struct ZSTD_DCtx_s *dctx, enum chunk_digest_alg alg,
		 struct cfs_err *err)
{
	if (chunk_hdr_decode(payload, len, max_raw, h, err))
		return -1;
	if (h->raw_len > out_cap)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "chunk of %u bytes larger than the %zu expected",
				   h->raw_len, out_cap);
	const uint8_t *data = payload + CHUNK_HDR_LEN;
	size_t dlen = len - CHUNK_HDR_LEN;
	switch ((enum chunk_enc)h->enc) {
	case CHUNK_ZERO:
		if (dlen != 0)
			return cfs_err_set(err, CFS_ER_PROTOCOL, "zero chunk from peer carries data");
		memset(out, 0, h->raw_len);
		break;
	case CHUNK_RAW:
		if (dlen != h->raw_len)
			return cfs_err_set(err, CFS_ER_PROTOCOL, "raw chunk from peer has %zu bytes, announced %u",
					   dlen, h->raw_len);
		memcpy(out, data, dlen);
		break;
	case CHUNK_ZSTD: {
		/* The output buffer is exactly raw_len: a frame that would expand further fails here. */
		unsigned long long fcs = ZSTD_getFrameContentSize(data, dlen);
		if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != h->raw_len)
			return cfs_err_set(err, CFS_ER_PROTOCOL, "zstd chunk from peer declares %llu bytes, announced %u",
					   fcs, h->raw_len);
		size_t n = dctx ? ZSTD_decompressDCtx(dctx, out, h->raw_len, data, dlen)
				: ZSTD_decompress(out, h->raw_len, data, dlen);
		if (ZSTD_isError(n) || n != h->raw_len)
			return cfs_err_set(err, CFS_ER_PROTOCOL, "zstd chunk from peer does not decode to %u bytes (%s)",
					   h->raw_len, ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short");
		break;
	}
	default:
		return cfs_err_set(err, CFS_ER_PROTOCOL, "unknown chunk encoding %u", h->enc);
	}
	uint8_t d[CHUNK_DIGEST_LEN];
	chunk_digest(alg, out, h->raw_len, d);
	if (memcmp(d, h->digest, CHUNK_DIGEST_LEN) != 0)
		return cfs_err_set(err, CFS_ER_DIGEST, "chunk %llu of file %u does not match the donor's digest",
				   (unsigned long long)h->index, h->file_id);
	return 0;
}
