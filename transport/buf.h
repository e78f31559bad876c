/* buf.h: bounded byte buffers for encoding (wbuf, grows up to a declared maximum) and decoding
 * (rbuf, a cursor that never reads past its end) the big-endian wire and manifest formats. */
#ifndef CLONEFS_BUF_H
#define CLONEFS_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Growable output buffer with a hard maximum (curl's dynbuf): a put past max sets `over`
 * and is dropped, so nothing a peer asks for makes us allocate without bound. */
struct wbuf {
	uint8_t *p;
	size_t len, cap, max;
	bool over;      /* a put exceeded max or allocation failed; the content is unusable */
};

void wbuf_init(struct wbuf *b, size_t max);
void wbuf_release(struct wbuf *b);
void wbuf_reset(struct wbuf *b);
bool wbuf_reserve(struct wbuf *b, size_t extra);
void wbuf_put(struct wbuf *b, const void *src, size_t n);
void wbuf_u8(struct wbuf *b, uint8_t v);
void wbuf_u16(struct wbuf *b, uint16_t v);
void wbuf_u32(struct wbuf *b, uint32_t v);
void wbuf_u64(struct wbuf *b, uint64_t v);
void wbuf_str(struct wbuf *b, const char *s);              /* u16 length + bytes */
void wbuf_bytes(struct wbuf *b, const void *src, uint32_t n); /* u32 length + bytes */

/* Read cursor over (buf, len). A get past the end sets `bad` and yields zeros: callers decode
 * a whole structure, then check `bad` once. */
struct rbuf {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static inline void rbuf_init(struct rbuf *r, const uint8_t *p, size_t len)
{
	r->p = p; r->len = len; r->off = 0; r->bad = false;
}
static inline size_t rbuf_left(const struct rbuf *r) { return r->len - r->off; }

uint8_t rbuf_u8(struct rbuf *r);
uint16_t rbuf_u16(struct rbuf *r);
uint32_t rbuf_u32(struct rbuf *r);
uint64_t rbuf_u64(struct rbuf *r);
/* Points into the buffer (no copy); *n gets the length. NULL and bad on overrun or n > max. */
const uint8_t *rbuf_take(struct rbuf *r, size_t n);
const uint8_t *rbuf_str(struct rbuf *r, size_t max, size_t *n);
const uint8_t *rbuf_bytes(struct rbuf *r, size_t max, size_t *n);
/* Copies a u16-prefixed string into dst (NUL-terminated); bad if it does not fit or holds a NUL. */
bool rbuf_cstr(struct rbuf *r, char *dst, size_t dstsz);

static inline void be16_put(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void be64_put(uint8_t *p, uint64_t v) { be32_put(p, (uint32_t)(v >> 32)); be32_put(p + 4, (uint32_t)v); }
static inline uint16_t be16_get(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32_get(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64_get(const uint8_t *p) { return ((uint64_t)be32_get(p) << 32) | be32_get(p + 4); }

#endif
