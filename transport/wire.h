/* wire.h: protocol v1 frames (docs/protocol.md): the header, frame types, limits, and the
 * typed messages both sides encode and decode. Pure functions over bytes; no sockets here. */
#ifndef CLONEFS_WIRE_H
#define CLONEFS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/buf.h"
#include "transport/errors.h"

#define WIRE_MAGIC 0x43465331u           /* "CFS1" */
/* The protocol versions this build speaks (docs/protocol.md §3): 2 differs from 1 only in the
 * chunk digest (XXH64 instead of SHA-256, docs/decisions.md D16). */
#define WIRE_PROTO_MIN 1
#define WIRE_PROTO_VERSION 2
/* clonefsd's TCP port when none is given: MySQL's 3306 + 1100, clear of 3306/33060/4444/4567/4568. */
#define WIRE_DEFAULT_PORT 4406
enum { WIRE_HDR_LEN = 16 };

/* Limits (docs/protocol.md §Limits). Each is checked before the value is used. */
/* A chunk's raw size by default (clonefsd --chunk-size picks another per snapshot; the size travels
 * in SNAP_INFO): 64 KiB = four 16 KiB pages, so a cold random page read moves and verifies 64 KiB
 * (p50 under 1 ms over loopback TLS, where 1 MiB took 3-8 ms), while per-chunk overhead (frame
 * 16 B, chunk header 49 B, a 48-byte record on disk and one byte in memory) stays near 0.1%.
 * Measurements and the trade-off: docs/decisions.md D1. */
#define WIRE_CHUNK_SIZE (64u << 10)
/* Largest raw chunk a peer may announce: 4 MiB, the top of the range peers use; bounds every
 * decompression (a zstd "bomb" can never expand past this). */
#define WIRE_CHUNK_MAX (4u << 20)
/* Largest frame payload: a raw (incompressible) chunk of the maximum size plus its header. */
#define WIRE_FRAME_MAX (WIRE_CHUNK_MAX + 4096u)
/* Manifest: 1M entries is 100x a large MariaDB datadir (one file per table/partition);
 * 256 MiB bounds the encoded blob; names are bounded by Linux's PATH_MAX and NAME_MAX. */
#define WIRE_MANIFEST_MAX_ENTRIES 1000000u
#define WIRE_MANIFEST_MAX_BYTES (256u << 20)
#define WIRE_PATH_MAX 4095u
#define WIRE_NAME_MAX 255u
/* Donor facts: a few dozen key/value strings. */
#define WIRE_FACTS_MAX 128u
#define WIRE_FACT_VALUE_MAX 4096u
/* Chunks one READ may ask for: keeps one request's reply within 64 MiB at 1 MiB chunks (256 MiB at
 * WIRE_CHUNK_MAX); each chunk is its own frame, so nothing is buffered whole. */
#define WIRE_READ_MAX_CHUNKS 64u

enum wire_type {
	WIRE_HELLO = 1,        /* C->S: versions, TLS wanted */
	WIRE_HELLO_OK = 2,     /* S->C: version chosen, TLS offered, nonce, RSA key */
	WIRE_AUTH = 3,         /* C->S: user, password (in TLS) or RSA-OAEP(nonce||password) */
	WIRE_AUTH_OK = 4,      /* S->C */
	WIRE_SNAP_OPEN = 5,    /* C->S: "new" or a snapshot id */
	WIRE_SNAP_INFO = 6,    /* S->C: id, chunk size, donor facts */
	WIRE_MANIFEST_GET = 7, /* C->S */
	WIRE_MANIFEST = 8,     /* S->C: a slice of the manifest blob; flag MORE until the last */
	WIRE_READ = 9,         /* C->S: file id, first chunk, count */
	WIRE_CHUNK = 10,       /* S->C: one chunk (see chunk.h) */
	WIRE_PROGRESS = 11,    /* S->C: keep-alive with a line of text while a snapshot is made */
	WIRE_PING = 12,
	WIRE_PONG = 13,
	WIRE_CLOSE = 14,
	WIRE_ERROR = 15,       /* S->C: code, sqlstate, message; the request failed */
};

enum { WIRE_FLAG_MORE = 0x01 };

struct wire_hdr {
	uint8_t type;
	uint8_t flags;
	uint32_t req_id;
	uint32_t len;
};

/* Encode the 16-byte header. */
void wire_hdr_encode(uint8_t out[WIRE_HDR_LEN], const struct wire_hdr *h);
/* Decode and check magic, reserved bits, type range and len <= max_payload. 0 or -1 + err. */
int wire_hdr_decode(const uint8_t in[WIRE_HDR_LEN], size_t max_payload, struct wire_hdr *h,
		    struct cfs_err *err);
const char *wire_type_name(int type);

/* Messages. Strings are bounded arrays; decode fails (CFS_ER_PROTOCOL) on any overrun,
 * trailing bytes, or a value out of range. */
enum wire_tls_want { WIRE_TLS_NO = 0, WIRE_TLS_YES = 1 };

struct wire_hello {
	uint16_t proto_min, proto_max;
	uint8_t tls;            /* enum wire_tls_want */
	char client[64];
};

enum { WIRE_NONCE_LEN = 32, WIRE_RSA_PEM_MAX = 4096 };
struct wire_hello_ok {
	uint16_t proto;
	uint8_t tls_offered;    /* 1 when the donor has a certificate; both start TLS next if wanted */
	uint8_t nonce[WIRE_NONCE_LEN];
	char rsa_pem[WIRE_RSA_PEM_MAX]; /* donor's public key for password encryption without TLS */
	uint32_t max_frame;
};

enum wire_auth_scheme { WIRE_AUTH_CLEAR_IN_TLS = 0, WIRE_AUTH_RSA_OAEP = 1 };
enum { WIRE_USER_MAX = 128, WIRE_SECRET_MAX = 512 };
struct wire_auth {
	uint8_t scheme;
	char user[WIRE_USER_MAX + 1];
	uint8_t secret[WIRE_SECRET_MAX]; /* password (scheme 0) or RSA ciphertext (scheme 1) */
	uint32_t secret_len;
};

enum { WIRE_SNAP_ID_MAX = 64 };
struct wire_snap_open {
	char snap[WIRE_SNAP_ID_MAX + 1]; /* "new" or an id */
};

struct wire_fact {
	char key[64];
	char *value;            /* owned by the struct wire_snap_info */
};
struct wire_snap_info {
	char id[WIRE_SNAP_ID_MAX + 1];
	uint32_t chunk_size;
	uint32_t nfacts;
	struct wire_fact facts[WIRE_FACTS_MAX];
};

struct wire_read {
	uint32_t file_id;
	uint64_t first_chunk;
	uint32_t count;
};

struct wire_error {
	int32_t code;
	char sqlstate[6];
	char msg[CFS_ERR_MSG_MAX];
};

void wire_hello_encode(struct wbuf *b, const struct wire_hello *m);
int wire_hello_decode(const uint8_t *buf, size_t len, struct wire_hello *m, struct cfs_err *err);
void wire_hello_ok_encode(struct wbuf *b, const struct wire_hello_ok *m);
int wire_hello_ok_decode(const uint8_t *buf, size_t len, struct wire_hello_ok *m, struct cfs_err *err);
void wire_auth_encode(struct wbuf *b, const struct wire_auth *m);
int wire_auth_decode(const uint8_t *buf, size_t len, struct wire_auth *m, struct cfs_err *err);
void wire_snap_open_encode(struct wbuf *b, const struct wire_snap_open *m);
int wire_snap_open_decode(const uint8_t *buf, size_t len, struct wire_snap_open *m, struct cfs_err *err);
void wire_snap_info_encode(struct wbuf *b, const struct wire_snap_info *m);
int wire_snap_info_decode(const uint8_t *buf, size_t len, struct wire_snap_info *m, struct cfs_err *err);
void wire_snap_info_release(struct wire_snap_info *m);
/* Adds or replaces a fact (copies value). -1 when full. */
int wire_snap_info_set(struct wire_snap_info *m, const char *key, const char *value);
const char *wire_snap_info_get(const struct wire_snap_info *m, const char *key);
void wire_read_encode(struct wbuf *b, const struct wire_read *m);
int wire_read_decode(const uint8_t *buf, size_t len, struct wire_read *m, struct cfs_err *err);
void wire_error_encode(struct wbuf *b, const struct cfs_err *e);
int wire_error_decode(const uint8_t *buf, size_t len, struct cfs_err *out, struct cfs_err *err);

#endif
