/* json.c: the JSON writer (strings escaped per RFC 8259, made valid UTF-8) into a bounded wbuf, and
 * the reader helpers over jansson the tools use on the mount's documents. */
#include "fs/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_raw(struct wbuf *b, const char *s) { wbuf_put(b, s, strlen(s)); }

/* The length of the valid UTF-8 sequence at p (RFC 3629: shortest form, no surrogates, at most
 * U+10FFFF), or 0 when p does not begin one. p is NUL-terminated. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned c = p[0];
	size_t n;
	unsigned min, cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* a NUL ends the loop here too */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void json_str(struct wbuf *b, const char *s)
{
	wbuf_u8(b, '"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
		char esc[8];
		size_t n = utf8_seq(p);
		if (n == 0) {
			wbuf_put(b, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER for the byte */
			p++;
			continue;
		}
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			wbuf_put(b, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			wbuf_put(b, esc, 6);
		} else {
			wbuf_put(b, p, n);
		}
		p += n;
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

json_t *json_parse_doc(const char *text, size_t len, char *why, size_t n)
{
	json_error_t e;
	json_t *doc = json_loadb(text, len, 0, &e);
	if (!doc && why && n)
		snprintf(why, n, "%s at line %d", e.text, e.line);
	return doc;
}

const json_t *json_get(const json_t *doc, const char *obj, const char *key)
{
	if (obj)
		doc = json_object_get(doc, obj); /* NULL when doc is not an object */
	return json_object_get(doc, key);
}

const char *json_get_text(const json_t *doc, const char *obj, const char *key, char *buf, size_t n)
{
	const json_t *v = json_get(doc, obj, key);
	if (!n)
		return buf;
	buf[0] = 0;
	if (json_is_string(v))
		snprintf(buf, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, n, "%.3f", json_real_value(v));
	return buf;
}

double json_get_num(const json_t *doc, const char *obj, const char *key)
{
	const json_t *v = json_get(doc, obj, key);
	if (json_is_number(v))
		return json_number_value(v);
	if (json_is_string(v)) {
		char *end;
		double d = strtod(json_string_value(v), &end);
		return end != json_string_value(v) && isfinite(d) ? d : 0;
	}
	return 0;
}
