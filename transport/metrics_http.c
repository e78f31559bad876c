/* metrics_http.c: the HTTP/1.0 responder behind clonefsd --metrics: parses a request head (fuzzed:
 * tests/fuzz/fuzz_metrics_http.c), answers GET /metrics with the render callback's text, closes.
 * One connection at a time on one thread; the read and the write are bounded in bytes and time, so
 * a client that sends nothing or reads nothing holds it METRICS_HTTP_TIMEOUT_MS at most. */
#include "transport/metrics_http.h"
#include "transport/clock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The longest answer: thousands of samples at most (errors by code are bounded too). */
#define METRICS_HTTP_BODY_MAX (16u << 20)
/* After the answer: how long the client gets to close its side. */
#define METRICS_HTTP_DRAIN_MS 1000

static const uint8_t *find_blank_line(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (b[i] == '\n' && b[i + 1] == '\n')
			return b + i + 2;
		if (i + 3 < len && b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n')
			return b + i + 4;
	}
	return NULL;
}

static bool is_token(const uint8_t *p, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f)
			return false;
	return true;
}

int metrics_http_parse(const uint8_t *buf, size_t len, struct metrics_http_req *req)
{
	memset(req, 0, sizeof(*req));
	const uint8_t *end = find_blank_line(buf, len);
	if (!end)
		return 0;
	req->status = 400;
	/* The request line: METHOD SP TARGET SP VERSION, CRLF or LF. */
	const uint8_t *eol = memchr(buf, '\n', (size_t)(end - buf));
	size_t linelen = (size_t)(eol - buf);
	if (linelen && buf[linelen - 1] == '\r')
		linelen--;
	const uint8_t *sp1 = memchr(buf, ' ', linelen);
	const uint8_t *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(buf + linelen - sp1 - 1)) : NULL;
	if (!sp2)
		return 1;
	size_t mlen = (size_t)(sp1 - buf), tlen = (size_t)(sp2 - sp1 - 1), vlen = (size_t)(buf + linelen - sp2 - 1);
	const uint8_t *target = sp1 + 1, *version = sp2 + 1;
	if (!is_token(buf, mlen) || !is_token(target, tlen) || !is_token(version, vlen))
		return 1;
	/* Header lines: printable, each with a colon after a non-empty name. */
	for (const uint8_t *p = eol + 1; p < end;) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(nl - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n) {
			const uint8_t *colon = memchr(p, ':', n);
			if (!colon || colon == p)
				return 1;
			for (size_t i = 0; i < n; i++)
				if ((p[i] < ' ' && p[i] != '\t') || p[i] == 0x7f)
					return 1;
		}
		p = nl + 1;
	}
	if (vlen != 8 || memcmp(version, "HTTP/1.", 7) || (version[7] != '0' && version[7] != '1')) {
		req->status = 505;
		return 1;
	}
	bool get = mlen == 3 && !memcmp(buf, "GET", 3), head = mlen == 4 && !memcmp(buf, "HEAD", 4);
	if (!get && !head) {
		req->status = 405;
		return 1;
	}
	req->head = head;
	const uint8_t *q = memchr(target, '?', tlen);
	size_t plen = q ? (size_t)(q - target) : tlen;
	req->status = plen == 8 && !memcmp(target, "/metrics", 8) ? 200 : 404;
	return 1;
}

struct metrics_http {
	int lfd, stop_fd;
	pthread_t thread;
	metrics_render_fn render;
	void *arg;
};

/* Wait for fd (events) or the stop eventfd until deadline: 1 ready, 0 timed out or stopping. */
static int wait_fd(struct metrics_http *h, int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = h->stop_fd, .events = POLLIN } };
		int r = poll(p, 2, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || p[1].revents)
			return 0;
		return 1;
	}
}

static void send_all(struct metrics_http *h, int fd, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (!(w < 0 && errno == EAGAIN) || !wait_fd(h, fd, POLLOUT, deadline)) {
			return;
		}
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 505: return "HTTP Version Not Supported";
	default: return "Bad Request";
	}
}

static void serve_one(struct metrics_http *h, int fd)
{
	uint8_t in[METRICS_HTTP_REQ_MAX];
	size_t len = 0;
	int64_t deadline = mono_ms() + METRICS_HTTP_TIMEOUT_MS;
	struct metrics_http_req req = { .status = 400 };
	int got = 0;
	while (!got && len < sizeof(in)) {
		ssize_t r = recv(fd, in + len, sizeof(in) - len, 0);
		if (r > 0) {
			len += (size_t)r;
			got = metrics_http_parse(in, len, &req);
		} else if (r == 0 || (errno != EAGAIN && errno != EINTR) ||
			   (errno == EAGAIN && !wait_fd(h, fd, POLLIN, deadline))) {
			return; /* closed, failed, timed out or stopping: no answer */
		}
	}
	if (!got)
		req.status = 400; /* a head longer than METRICS_HTTP_REQ_MAX */
	struct wbuf body;
	wbuf_init(&body, METRICS_HTTP_BODY_MAX);
	if (req.status == 200)
		h->render(&body, h->arg);
	else {
		const char *msg = req.status == 404 ? "clonefsd serves /metrics\n" : "bad request\n";
		wbuf_put(&body, msg, strlen(msg));
	}
	if (body.over) {
		req.status = 500;
		wbuf_reset(&body);
	}
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 req.status, req.status == 500 ? "Internal Server Error" : reason(req.status),
			 req.status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain", body.len);
	send_all(h, fd, (const uint8_t *)head, (size_t)n, deadline);
	if (!req.head)
		send_all(h, fd, body.p, body.len, deadline);
	wbuf_release(&body);
	/* Closing with unread bytes (an over-long head, a body) would reset the connection and could
	 * lose the answer: end ours, then drain theirs until they close, for a bounded time. */
	shutdown(fd, SHUT_WR);
	int64_t drain_end = mono_ms() + METRICS_HTTP_DRAIN_MS;
	for (int i = 0; i < 64 && wait_fd(h, fd, POLLIN, drain_end); i++)
		if (recv(fd, in, sizeof(in), 0) <= 0)
			break;
}

static void *serve_main(void *arg)
{
	struct metrics_http *h = arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = h->lfd, .events = POLLIN }, { .fd = h->stop_fd, .events = POLLIN } };
		int r = poll(p, 2, -1);
		if (r < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (r <= 0 || !p[0].revents)
			continue;
		int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000L }, NULL);
			continue;
		}
		serve_one(h, fd);
		close(fd);
	}
	return NULL;
}

int metrics_http_start(int lfd, metrics_render_fn render, void *arg, struct metrics_http **out,
		       struct cfs_err *err)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	if (!h) {
		close(lfd);
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	}
	h->lfd = lfd;
	h->render = render;
	h->arg = arg;
	h->stop_fd = eventfd(0, EFD_CLOEXEC);
	int e = h->stop_fd < 0 ? errno : pthread_create(&h->thread, NULL, serve_main, h);
	if (e) {
		if (h->stop_fd >= 0)
			close(h->stop_fd);
		close(lfd);
		free(h);
		return cfs_err_set(err, CFS_ER_IO, "cannot start the metrics responder: %s", strerror(e));
	}
	*out = h;
	return 0;
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	uint64_t one = 1;
	if (write(h->stop_fd, &one, sizeof(one)) != sizeof(one))
		perror("metrics: eventfd");
	pthread_join(h->thread, NULL);
	close(h->stop_fd);
	close(h->lfd);
	free(h);
}
