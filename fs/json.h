/* json.h: JSON for the mount's status, clonefs_info.json and the clone's progress: a streaming writer
 * into a bounded wbuf (adding a key is one json_kv_* line) whose output is always valid JSON in
 * valid UTF-8, and a reader over jansson for the tools (D39). */
#ifndef CLONEFS_JSON_H
#define CLONEFS_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/buf.h"

/* "escaped": control characters as \u00XX, and each byte that does not begin a valid UTF-8
 * sequence (a donor's fact is whatever its server said) as U+FFFD. */
void json_str(struct wbuf *b, const char *s);
void json_kv_str(struct wbuf *b, const char *k, const char *v, int comma);
void json_kv_u64(struct wbuf *b, const char *k, uint64_t v, int comma);
void json_kv_dbl(struct wbuf *b, const char *k, double v, int comma);
void json_raw(struct wbuf *b, const char *s);

/* Parse a whole document (text, len bytes; NUL bytes refused); NULL when it is not JSON, with
 * jansson's reason in why. The caller frees it with json_decref. */
json_t *json_parse_doc(const char *text, size_t len, char *why, size_t n);
/* doc[obj][key] (obj NULL: doc[key]), or NULL when absent or doc is not an object. */
const json_t *json_get(const json_t *doc, const char *obj, const char *key);
/* That value as text into buf: a string as it is, a number as it would be written, "" for
 * anything else or absent. Returns buf. */
const char *json_get_text(const json_t *doc, const char *obj, const char *key, char *buf, size_t n);
/* That value as a number: a number, or a string holding one; 0 otherwise. */
double json_get_num(const json_t *doc, const char *obj, const char *key);

#endif
