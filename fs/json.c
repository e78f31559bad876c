/* json.c: a minimal JSON writer (strings escaped per RFC 8259) into a bounded wbuf. */
#include "fs/json.h"

#include <stdio.h>
#include <string.h>

void json_raw(struct wbuf *b, const char *s) { wbuf_put(b, s, strlen(s)); }

void json_str(struct wbuf *b, const char *s)
{
	wbuf_u8(b, '"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			wbuf_put(b, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			wbuf_put(b, esc, 6);
		} else {
			wbuf_u8(b, *p);
		}
	}
	wbuf_u8(b, '"');
}

static void key(struct wbuf *b, const char *k, int comma)
{
	if (comma)
		wbuf_u8(b, ',');
	json_str(b, k);
	wbuf_u8(b, ':');
}

void json_kv_str(struct wbuf *b, const char *k, const char *v, int comma)
{
	key(b, k, comma);
	json_str(b, v);
}

void json_kv_u64(struct wbuf *b, const char *k, uint64_t v, int comma)
{
	char num[32];
	key(b, k, comma);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	json_raw(b, num);
}

void json_kv_dbl(struct wbuf *b, const char *k, double v, int comma)
{
	char num[48];
	key(b, k, comma);
	snprintf(num, sizeof(num), "%.3f", v);
	json_raw(b, num);
}
