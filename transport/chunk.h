/* chunk.h: the chunk codec: one chunk of a file as it travels in a CHUNK frame: zstd when that
 * pays, raw otherwise, an all-zero chunk as a marker without data, always with the digest of the
 * raw bytes computed on the donor and verified after decoding (docs/protocol.md §4). */
#ifndef CLONEFS_CHUNK_H
#define CLONEFS_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "transport/buf.h"
#include "transport/errors.h"

enum { CHUNK_DIGEST_LEN = 32, CHUNK_HDR_LEN = 4 + 8 + 1 + 4 + CHUNK_DIGEST_LEN };
/* Where the encoding byte sits in an encoded CHUNK payload (after file id and index). */
enum { CHUNK_ENC_OFFSET = 4 + 8 };

enum chunk_enc {
	CHUNK_RAW = 0,
	CHUNK_ZSTD = 1,
	CHUNK_ZERO = 2,   /* all-zero or a hole: no payload */
};

/* The digest a connection's chunks carry, chosen by its protocol version (docs/decisions.md D16):
 * version 1 SHA-256 (32 bytes); version 2 XXH64 (8 bytes, big-endian, then 24 zero bytes). */
enum chunk_digest_alg { CHUNK_DIGEST_SHA256 = 1, CHUNK_DIGEST_XXH64 = 2 };

struct chunk_hdr {
	uint32_t file_id;
	uint64_t index;
	uint8_t enc;
	uint32_t raw_len;
	uint8_t digest[CHUNK_DIGEST_LEN];
};

/* The digest of buf by alg, in the CHUNK_DIGEST_LEN bytes of the wire's field. */
void chunk_digest(enum chunk_digest_alg alg, const uint8_t *buf, size_t len, uint8_t out[CHUNK_DIGEST_LEN]);
/* The digest of protocol version proto (1 or 2). */
enum chunk_digest_alg chunk_digest_of_proto(unsigned proto);
/* "sha256" or "xxh64". */
const char *chunk_digest_name(enum chunk_digest_alg alg);
/* True when every byte is 0. */
bool chunk_is_zero(const uint8_t *buf, size_t len);

/* Encode a CHUNK payload into out (reset first). level: zstd level (negative: zstd's fast modes),
 * 0 = never compress. zctx may be NULL (a context is made per call). Returns 0, or -1 on
 * allocation failure or when out's maximum cannot hold the chunk (it needs raw_len + CHUNK_HDR_LEN). */
struct ZSTD_CCtx_s;
int chunk_encode(struct wbuf *out, uint32_t file_id, uint64_t index, const uint8_t *raw,
		 uint32_t raw_len, int level, struct ZSTD_CCtx_s *zctx, enum chunk_digest_alg alg);

/* Decode a CHUNK payload into out (capacity out_cap >= raw_len), bounded by max_raw; verifies
 * the digest by alg. CFS_ER_PROTOCOL for a malformed or oversized chunk, CFS_ER_DIGEST on mismatch. */
struct ZSTD_DCtx_s;
int chunk_decode(const uint8_t *payload, size_t len, uint32_t max_raw, uint8_t *out,
		 size_t out_cap, struct chunk_hdr *h, struct ZSTD_DCtx_s *dctx, enum chunk_digest_alg alg,
		 struct cfs_err *err);
/* Parse only the header (first CHUNK_HDR_LEN bytes). */
int chunk_hdr_decode(const uint8_t *payload, size_t len, uint32_t max_raw, struct chunk_hdr *h,
		     struct cfs_err *err);

#endif
