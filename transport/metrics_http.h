/* metrics_http.h: a tiny HTTP/1.0 responder for Prometheus: GET /metrics answered with what a
 * render callback writes, one connection at a time, every request bounded in size and time. */
#ifndef CLONEFS_METRICS_HTTP_H
#define CLONEFS_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/buf.h"
#include "transport/errors.h"

/* A request's head may be this long: a scraper sends a request line and a few headers. */
#define METRICS_HTTP_REQ_MAX 4096
/* Time a client gets to send its request and to take the answer. */
#define METRICS_HTTP_TIMEOUT_MS 5000

struct metrics_http_req {
	int status;  /* 200 GET|HEAD /metrics, 404 another path, 405 another method, 400 malformed,
			505 not HTTP/1.x */
	bool head;   /* HEAD: the answer without its body */
};

/* Parse buf[0..len): 0 while the head is incomplete (no blank line yet), 1 with *req filled. A
 * head longer than METRICS_HTTP_REQ_MAX is the caller's to refuse (400). */
int metrics_http_parse(const uint8_t *buf, size_t len, struct metrics_http_req *req);

typedef void (*metrics_render_fn)(struct wbuf *out, void *arg);
struct metrics_http;

/* Serve on the listening socket lfd (taken over) from a thread of its own. */
int metrics_http_start(int lfd, metrics_render_fn render, void *arg, struct metrics_http **out,
		       struct cfs_err *err);
/* Stop the thread, close the socket, free. */
void metrics_http_stop(struct metrics_http *h);

#endif
