/* json.h: a minimal JSON writer into a wbuf, for the status file and clonefs_info.json. */
#ifndef CLONEFS_JSON_H
#define CLONEFS_JSON_H

#include <stdint.h>

#include "transport/buf.h"

void json_str(struct wbuf *b, const char *s);                 /* "escaped" */
void json_kv_str(struct wbuf *b, const char *k, const char *v, int comma);
void json_kv_u64(struct wbuf *b, const char *k, uint64_t v, int comma);
void json_kv_dbl(struct wbuf *b, const char *k, double v, int comma);
void json_raw(struct wbuf *b, const char *s);

#endif
