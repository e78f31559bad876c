/* store_fmt.h: the object store's format (docs/store.md): the store key and what is derived from
 * it, sealed chunk records (AES-256-GCM, keyed HMAC-SHA-256 ids), pack indexes and the snapshot
 * manifest object that commits a snapshot. Parsers take (buf, len) and are fuzzed. */
#ifndef CLONEFS_STORE_FMT_H
#define CLONEFS_STORE_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/buf.h"
#include "transport/errors.h"
#include "transport/manifest.h"
#include "transport/wire.h"

enum {
	STORE_KEY_LEN = 32,
	STORE_ID_LEN = 32,          /* HMAC-SHA-256 */
	STORE_KEY_ID_LEN = 8,       /* names the key in each object's clear header, not secret */
	STORE_NONCE_LEN = 12,
	STORE_TAG_LEN = 16,
	STORE_SEAL_OVERHEAD = STORE_NONCE_LEN + STORE_TAG_LEN,
	STORE_PACK_NAME_LEN = 32,   /* hex of 16 random bytes */
};
/* Limits on what a store object may declare (a store is outside our trust): a manifest object
 * of 1 GiB holds ~20 M chunk references (1.2 TiB of 64 KiB chunks); packs per snapshot. */
#define STORE_OBJECT_MAX (1ull << 30)
#define STORE_PACKS_MAX (1u << 20)
#define STORE_CHUNK_MAX (16u << 20)

#define STORE_MANIFEST_MAGIC 0x4346534fu /* "CFSO" */
#define STORE_INDEX_MAGIC 0x43465349u    /* "CFSI" */
#define STORE_FORMAT_VERSION 1u

/* The keys derived from the store key (HKDF-like: HMAC-SHA-256 of the store key over a label). */
struct store_keys {
	uint8_t enc[32];        /* AES-256-GCM */
	uint8_t id[32];         /* chunk ids */
	uint8_t nonce[32];      /* a chunk's nonce from what it seals (equal chunks seal equally) */
	uint8_t key_id[STORE_KEY_ID_LEN];
};

/* A store key file holds 32 bytes as 64 hex digits (a trailing newline allowed), mode 0600
 * or stricter is advised, not required. */
int store_key_load(const char *path, struct store_keys *k, struct cfs_err *err);
void store_keys_derive(const uint8_t key[STORE_KEY_LEN], struct store_keys *k);

void store_chunk_id(const struct store_keys *k, const uint8_t *raw, size_t len, uint8_t id[STORE_ID_LEN]);
/* Seal a chunk: plaintext = enc byte (0 raw, 1 zstd) + payload; out gets nonce|ciphertext|tag. */
int store_chunk_seal(const struct store_keys *k, const uint8_t id[STORE_ID_LEN], const uint8_t *raw, size_t len,
		     int zstd_level, struct wbuf *out);
/* Open a sealed chunk and check it is the chunk `id` names, of exactly raw_len bytes, into out
 * (capacity >= raw_len). CFS_ER_STORE_KEY when it does not authenticate or match. */
int store_chunk_open(const struct store_keys *k, const uint8_t id[STORE_ID_LEN], const uint8_t *sealed, size_t len,
		     uint8_t *out, uint32_t raw_len, struct cfs_err *err);

/* Seal and open a whole object (manifest or index) under a random nonce; the clear header is
 * magic, version and the key id, and is bound to the contents as associated data with `what`. */
int store_object_seal(const struct store_keys *k, uint32_t magic, const char *what, const uint8_t *plain,
		      size_t len, struct wbuf *out);
/* plain gets a malloc'd copy (caller frees). A key id that differs: CFS_ER_STORE_KEY naming both. */
int store_object_open(const struct store_keys *k, uint32_t magic, const char *what, const uint8_t *obj, size_t len,
		      uint8_t **plain, size_t *plen, struct cfs_err *err);

/* Where one chunk lives: in pack `pack` at `off`, `len` sealed bytes; pack UINT32_MAX is an
 * all-zero chunk (a hole), stored nowhere. */
#define STORE_ZERO_PACK UINT32_MAX
struct store_ref {
	uint32_t pack;
	uint32_t len;
	uint64_t off;
	uint8_t id[STORE_ID_LEN];
};

/* A snapshot as the store holds it: what the donor said (snap info, file tree), when it was
 * published, the packs it uses and one ref per chunk of every regular file, in manifest order. */
struct store_snapshot {
	struct wire_snap_info info;
	struct manifest m;
	int64_t published;      /* unix time */
	uint32_t npacks;
	char (*packs)[STORE_PACK_NAME_LEN + 1];
	uint64_t nrefs;
	struct store_ref *refs;
	uint64_t *first_ref;    /* per manifest entry: its first chunk's index in refs */
};

void store_snapshot_encode(const struct store_snapshot *s, struct wbuf *out);
/* Parse the plaintext of a manifest object: snap info, the file tree (manifest_parse's checks),
 * packs, refs (each pack index in range, lengths bounded, one ref per chunk). */
int store_snapshot_parse(const uint8_t *buf, size_t len, struct store_snapshot *s, struct cfs_err *err);
void store_snapshot_release(struct store_snapshot *s);
static inline const struct store_ref *store_snapshot_ref(const struct store_snapshot *s, uint32_t file_id,
							  uint64_t idx)
{
	return &s->refs[s->first_ref[file_id] + idx];
}

/* A pack's index: the chunks it holds (id, offset, sealed length). */
struct store_index_ent {
	uint8_t id[STORE_ID_LEN];
	uint64_t off;
	uint32_t len;
};
void store_index_encode(const struct store_index_ent *e, uint32_t n, struct wbuf *out);
int store_index_parse(const uint8_t *buf, size_t len, struct store_index_ent **e, uint32_t *n, struct cfs_err *err);

/* Object names under a prefix ("" or "a/b"): PREFIX/snapshots/ID, PREFIX/packs/NAME.pack|.idx. */
void store_key_name(char *out, size_t outsz, const char *prefix, const char *kind, const char *name,
		    const char *suffix);

#endif
