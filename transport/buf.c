/* buf.c: bounded big-endian encode (wbuf) and decode (rbuf) buffers for the wire and manifest. */
#include "transport/buf.h"

#include <stdlib.h>
#include <string.h>

void wbuf_init(struct wbuf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max;
	b->over = false;
}

void wbuf_release(struct wbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->over = false;
}

void wbuf_reset(struct wbuf *b)
{
	b->len = 0;
	b->over = false;
}

bool wbuf_reserve(struct wbuf *b, size_t extra)
{
	if (b->over)
		return false;
	if (extra > b->max || b->len > b->max - extra) {
		b->over = true;
		return false;
	}
	size_t need = b->len + extra;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		b->over = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void wbuf_put(struct wbuf *b, const void *src, size_t n)
{
	if (n == 0 || !wbuf_reserve(b, n))
		return;
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

void wbuf_u8(struct wbuf *b, uint8_t v) { wbuf_put(b, &v, 1); }
void wbuf_u16(struct wbuf *b, uint16_t v) { uint8_t x[2]; be16_put(x, v); wbuf_put(b, x, 2); }
void wbuf_u32(struct wbuf *b, uint32_t v) { uint8_t x[4]; be32_put(x, v); wbuf_put(b, x, 4); }
void wbuf_u64(struct wbuf *b, uint64_t v) { uint8_t x[8]; be64_put(x, v); wbuf_put(b, x, 8); }

void wbuf_str(struct wbuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > UINT16_MAX) {
		b->over = true;
		return;
	}
	wbuf_u16(b, (uint16_t)n);
	wbuf_put(b, s, n);
}

void wbuf_bytes(struct wbuf *b, const void *src, uint32_t n)
{
	wbuf_u32(b, n);
	wbuf_put(b, src, n);
}

const uint8_t *rbuf_take(struct rbuf *r, size_t n)
{
	if (r->bad || n > rbuf_left(r)) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t rbuf_u8(struct rbuf *r) { const uint8_t *p = rbuf_take(r, 1); return p ? p[0] : 0; }
uint16_t rbuf_u16(struct rbuf *r) { const uint8_t *p = rbuf_take(r, 2); return p ? be16_get(p) : 0; }
uint32_t rbuf_u32(struct rbuf *r) { const uint8_t *p = rbuf_take(r, 4); return p ? be32_get(p) : 0; }
uint64_t rbuf_u64(struct rbuf *r) { const uint8_t *p = rbuf_take(r, 8); return p ? be64_get(p) : 0; }

static const uint8_t *rbuf_sized(struct rbuf *r, size_t n, size_t max, size_t *out_n)
{
	*out_n = 0;
	if (r->bad || n > max) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = rbuf_take(r, n);
	if (p)
		*out_n = n;
	return p;
}

const uint8_t *rbuf_str(struct rbuf *r, size_t max, size_t *n)
{
	size_t len = rbuf_u16(r);
	return rbuf_sized(r, len, max, n);
}

const uint8_t *rbuf_bytes(struct rbuf *r, size_t max, size_t *n)
{
	size_t len = rbuf_u32(r);
	return rbuf_sized(r, len, max, n);
}

bool rbuf_cstr(struct rbuf *r, char *dst, size_t dstsz)
{
	size_t n;
	const uint8_t *p = rbuf_str(r, dstsz ? dstsz - 1 : 0, &n);
	if (!p || memchr(p, 0, n)) {
		r->bad = true;
		if (dstsz)
			dst[0] = 0;
		return false;
	}
	memcpy(dst, p, n);
	dst[n] = 0;
	return true;
}
