/* conn.c: a TCP connection, optionally inside TLS, with every wait bounded by a timeout; sends and
 * receives frames. Owns the TLS policy of both sides (TLS >= 1.2, verification, no renegotiation).
 * With TLS, one thread reads and one writes at a time: OpenSSL's SSL object is not safe for a
 * concurrent SSL_read and SSL_write, so the client serializes whole requests per connection. */
#include "transport/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "transport/clock.h"

/* The last OpenSSL error in words, or fallback. */
static const char *ssl_reason(char *buf, size_t n, const char *fallback)
{
	unsigned long e = ERR_get_error();
	if (!e) {
		snprintf(buf, n, "%s", fallback);
		return buf;
	}
	ERR_error_string_n(e, buf, n);
	/* Keep only the reason: "error:0A000086:SSL routines::certificate verify failed" -> last part. */
	const char *r = strrchr(buf, ':');
	if (r && r[1]) {
		memmove(buf, r + 1, strlen(r + 1) + 1);
	}
	ERR_clear_error();
	return buf;
}

SSL_CTX *conn_tls_client_ctx(const char *ca, const char *cert, const char *key, struct cfs_err *err)
{
	char why[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		cfs_err_set(err, CR_SSL_CONNECTION_ERROR, CR_SSL_CONNECTION_ERROR_MSG, "cannot create TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (ca && *ca) {
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			cfs_err_set(err, CR_SSL_CONNECTION_ERROR, "SSL connection error: cannot read ssl_ca '%s': %s", ca,
				    ssl_reason(why, sizeof(why), "unreadable"));
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	if (cert && *cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key && *key ? key : cert, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			cfs_err_set(err, CR_SSL_CONNECTION_ERROR, "SSL connection error: cannot use ssl_cert '%s' / ssl_key '%s': %s",
				    cert, key ? key : "", ssl_reason(why, sizeof(why), "unreadable"));
			goto fail;
		}
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *conn_tls_server_ctx(const char *cert, const char *key, const char *ca,
			     bool require_client_cert, struct cfs_err *err)
{
	char why[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		cfs_err_set(err, CR_SSL_CONNECTION_ERROR, CR_SSL_CONNECTION_ERROR_MSG, "cannot create TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key && *key ? key : cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		cfs_err_set(err, CR_SSL_CONNECTION_ERROR, "SSL connection error: cannot use --ssl-cert '%s' / --ssl-key '%s': %s",
			    cert, key ? key : "", ssl_reason(why, sizeof(why), "unreadable"));
		goto fail;
	}
	if (ca && *ca) {
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			cfs_err_set(err, CR_SSL_CONNECTION_ERROR, "SSL connection error: cannot read --ssl-ca '%s': %s", ca,
				    ssl_reason(why, sizeof(why), "unreadable"));
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void conn_init_fd(struct cfs_conn *c, int fd, int timeout_ms, const char *peer)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->cancel_fd = -1;
	c->timeout_ms = timeout_ms;
	snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "?");
	pthread_mutex_init(&c->send_lock, NULL);
	set_nonblock(fd);
}

/* Wait until fd is ready for events, the deadline passes or cancel_fd (when >= 0) turns readable.
 * 0 ready; -1 with errno ETIMEDOUT, ECANCELED or the error. */
static int wait_fd(int fd, int cancel_fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = cancel_fd, .events = POLLIN } };
		int r = poll(p, cancel_fd >= 0 ? 2 : 1, left > 60000 ? 60000 : (int)left);
		if (r > 0 && cancel_fd >= 0 && p[1].revents) {
			errno = ECANCELED;
			return -1;
		}
		if (r > 0) {
			if ((p[0].revents & (POLLERR | POLLNVAL)) && !(p[0].revents & events)) {
				errno = EIO;
				return -1;
			}
			return 0;
		}
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int conn_connect(struct cfs_conn *c, const char *host, unsigned port, const char *bind_addr, int timeout_ms,
		 int cancel_fd, struct cfs_err *err)
{
	char portstr[8], peer[128];
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL, *src = NULL;
	snprintf(portstr, sizeof(portstr), "%u", port);
	snprintf(peer, sizeof(peer), "%s:%u", host, port);
	if (bind_addr && *bind_addr) {
		struct addrinfo bh = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
		int gai = getaddrinfo(bind_addr, NULL, &bh, &src);
		if (gai != 0)
			return cfs_err_set(err, CR_CONN_HOST_ERROR, "Can't connect to MySQL server on '%s': bind_address '%s' is "
					   "not a numeric address (%s)", peer, bind_addr, gai_strerror(gai));
		/* Only the donor's addresses of the source's family can be reached from it. */
		hints.ai_family = src->ai_family;
	}
	int gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai != 0) {
		if (src)
			freeaddrinfo(src);
		return cfs_err_set(err, CR_CONN_HOST_ERROR, "Unknown MySQL server host '%s' (%d)", host, gai);
	}
	int last = ECONNREFUSED;
	int64_t deadline = mono_ms() + timeout_ms;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		conn_init_fd(c, fd, timeout_ms, peer);
		c->cancel_fd = cancel_fd;
		int r = src && bind(fd, src->ai_addr, src->ai_addrlen) ? -1 : connect(fd, a->ai_addr, a->ai_addrlen);
		if (r == 0) {
			freeaddrinfo(res);
			if (src)
				freeaddrinfo(src);
			return 0;
		}
		if (errno == EINPROGRESS && wait_fd(fd, cancel_fd, POLLOUT, deadline) == 0) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			if (soerr == 0) {
				freeaddrinfo(res);
				if (src)
					freeaddrinfo(src);
				return 0;
			}
			last = soerr;
		} else {
			last = errno;
		}
		pthread_mutex_destroy(&c->send_lock);
		close(fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (src)
		freeaddrinfo(src);
	return cfs_err_set(err, CR_CONN_HOST_ERROR, "Can't connect to MySQL server on '%s' (%d \"%s\")", peer, last,
			   strerror(last));
}

/* Drive an SSL call that wants more I/O: wait for the direction OpenSSL asks for. */
static int ssl_wait(struct cfs_conn *c, int ret, int64_t deadline)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(c->fd, c->cancel_fd, POLLIN, deadline);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(c->fd, c->cancel_fd, POLLOUT, deadline);
	case SSL_ERROR_NONE:
		return 0;
	case SSL_ERROR_ZERO_RETURN:
	case SSL_ERROR_SYSCALL:
	case SSL_ERROR_SSL:
	case SSL_ERROR_WANT_X509_LOOKUP:
	case SSL_ERROR_WANT_CONNECT:
	case SSL_ERROR_WANT_ACCEPT:
	case SSL_ERROR_WANT_ASYNC:
	case SSL_ERROR_WANT_ASYNC_JOB:
	case SSL_ERROR_WANT_CLIENT_HELLO_CB:
	case SSL_ERROR_WANT_RETRY_VERIFY:
	default:
		return -1;
	}
}

static int handshake(struct cfs_conn *c, bool client, struct cfs_err *err)
{
	char why[256];
	int64_t deadline = mono_ms() + c->timeout_ms;
	for (;;) {
		ERR_clear_error();
		int r = client ? SSL_connect(c->ssl) : SSL_accept(c->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(c->ssl, r);
		if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && ssl_wait(c, r, deadline) == 0)
			continue;
		long v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK)
			return cfs_err_set(err, CR_SSL_CONNECTION_ERROR, "SSL connection error: %s certificate verify failed: %s",
					   client ? "donor" : "client", X509_verify_cert_error_string(v));
		return cfs_err_set(err, CR_SSL_CONNECTION_ERROR, "SSL connection error: handshake with %s failed: %s",
				   c->peer, ssl_reason(why, sizeof(why), e == SSL_ERROR_SYSCALL ? "connection closed" : "timed out"));
	}
}

int conn_tls_client(struct cfs_conn *c, SSL_CTX *ctx, const char *verify_host, struct cfs_err *err)
{
	c->ssl = SSL_new(ctx);
	if (!c->ssl)
		return cfs_err_set(err, CR_SSL_CONNECTION_ERROR, CR_SSL_CONNECTION_ERROR_MSG, "out of memory");
	SSL_set_fd(c->ssl, c->fd);
	if (verify_host && *verify_host) {
		X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
		/* An address literal is checked against the certificate's IP SANs, a name against DNS. */
		if (X509_VERIFY_PARAM_set1_ip_asc(param, verify_host) != 1) {
			SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			SSL_set1_host(c->ssl, verify_host);
			SSL_set_tlsext_host_name(c->ssl, verify_host);
		}
	}
	return handshake(c, true, err);
}

int conn_tls_server(struct cfs_conn *c, SSL_CTX *ctx, struct cfs_err *err)
{
	c->ssl = SSL_new(ctx);
	if (!c->ssl)
		return cfs_err_set(err, CR_SSL_CONNECTION_ERROR, CR_SSL_CONNECTION_ERROR_MSG, "out of memory");
	SSL_set_fd(c->ssl, c->fd);
	return handshake(c, false, err);
}

const char *conn_tls_peer_alert(struct cfs_conn *c, char *buf, size_t n)
{
	if (!c->ssl)
		return NULL;
	uint8_t b;
	ERR_clear_error();
	int r = SSL_read(c->ssl, &b, 1);
	if (r > 0 || SSL_get_error(c->ssl, r) != SSL_ERROR_SSL)
		return NULL;
	return ssl_reason(buf, n, "TLS alert");
}

void conn_tls_describe(const struct cfs_conn *c, char *out, size_t outsz)
{
	if (!c->ssl)
		snprintf(out, outsz, "none");
	else
		snprintf(out, outsz, "%s %s", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
}

void conn_shutdown(struct cfs_conn *c)
{
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
}

void conn_close(struct cfs_conn *c)
{
	if (c->fd < 0)
		return;
	if (c->ssl) {
		SSL_shutdown(c->ssl); /* best effort, non-blocking socket: does not wait */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
	pthread_mutex_destroy(&c->send_lock);
}

static int io_failed(struct cfs_conn *c, struct cfs_err *err, const char *what, int e)
{
	if (e == ETIMEDOUT)
		return cfs_err_set(err, CFS_ER_NETWORK, "%s %s timed out after %d s", what, c->peer, c->timeout_ms / 1000);
	if (e == 0)
		return cfs_err_set(err, CFS_ER_NETWORK, "connection to %s closed by peer", c->peer);
	return cfs_err_set(err, CFS_ER_NETWORK, "%s %s failed: %s", what, c->peer, strerror(e));
}

int conn_read_full(struct cfs_conn *c, void *buf, size_t n, struct cfs_err *err)
{
	uint8_t *p = buf;
	int64_t deadline = mono_ms() + c->timeout_ms;
	while (n > 0) {
		ssize_t r;
		if (c->ssl) {
			ERR_clear_error();
			r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, (int)r);
				if (e == SSL_ERROR_ZERO_RETURN)
					return io_failed(c, err, "read from", 0);
				if (e == SSL_ERROR_SYSCALL && errno == 0)
					return io_failed(c, err, "read from", 0);
				/* OpenSSL 3 reports a peer gone without close_notify so: a closed connection. */
				if (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
					return io_failed(c, err, "read from", 0);
				if (e == SSL_ERROR_SSL) {
					char why[256];
					return cfs_err_set(err, CR_SSL_CONNECTION_ERROR, "SSL connection error: %s",
							   ssl_reason(why, sizeof(why), "TLS failure"));
				}
				if (ssl_wait(c, (int)r, deadline) != 0)
					return io_failed(c, err, "read from",
							 (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? errno : EPROTO);
				continue;
			}
		} else {
			r = recv(c->fd, p, n, 0);
			if (r == 0)
				return io_failed(c, err, "read from", 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return io_failed(c, err, "read from", errno);
				if (wait_fd(c->fd, c->cancel_fd, POLLIN, deadline) != 0)
					return io_failed(c, err, "read from", errno);
				continue;
			}
		}
		p += r;
		n -= (size_t)r;
		c->bytes_in += (uint64_t)r;
		deadline = mono_ms() + c->timeout_ms; /* progress resets the idle bound */
	}
	return 0;
}

int conn_write_full(struct cfs_conn *c, const void *buf, size_t n, struct cfs_err *err)
{
	const uint8_t *p = buf;
	int64_t deadline = mono_ms() + c->timeout_ms;
	while (n > 0) {
		ssize_t r;
		if (c->ssl) {
			ERR_clear_error();
			r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, (int)r);
				if (e == SSL_ERROR_SSL) {
					char why[256];
					return cfs_err_set(err, CR_SSL_CONNECTION_ERROR, "SSL connection error: %s",
							   ssl_reason(why, sizeof(why), "TLS failure"));
				}
				if (ssl_wait(c, (int)r, deadline) != 0)
					return io_failed(c, err, "write to",
							 (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? errno : EPIPE);
				continue;
			}
		} else {
			r = send(c->fd, p, n, MSG_NOSIGNAL);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return io_failed(c, err, "write to", errno);
				if (wait_fd(c->fd, c->cancel_fd, POLLOUT, deadline) != 0)
					return io_failed(c, err, "write to", errno);
				continue;
			}
		}
		p += r;
		n -= (size_t)r;
		c->bytes_out += (uint64_t)r;
		deadline = mono_ms() + c->timeout_ms;
	}
	return 0;
}

int conn_send(struct cfs_conn *c, uint8_t type, uint8_t flags, uint32_t req_id,
	      const void *payload, size_t len, struct cfs_err *err)
{
	if (len > WIRE_FRAME_MAX)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "refusing to send a %zu-byte frame", len);
	uint8_t hdr[WIRE_HDR_LEN];
	struct wire_hdr h = { .type = type, .flags = flags, .req_id = req_id, .len = (uint32_t)len };
	wire_hdr_encode(hdr, &h);
	pthread_mutex_lock(&c->send_lock);
	int r = conn_write_full(c, hdr, sizeof(hdr), err);
	if (r == 0 && len)
		r = conn_write_full(c, payload, len, err);
	pthread_mutex_unlock(&c->send_lock);
	return r;
}

int conn_recv(struct cfs_conn *c, size_t max_payload, struct wire_hdr *h, struct wbuf *in,
	      struct cfs_err *err)
{
	uint8_t hdr[WIRE_HDR_LEN];
	wbuf_reset(in);
	if (conn_read_full(c, hdr, sizeof(hdr), err))
		return -1;
	if (max_payload > in->max)
		max_payload = in->max;
	if (wire_hdr_decode(hdr, max_payload, h, err))
		return -1;
	/* h->len is now known to be within max_payload: only then is memory reserved for it. */
	if (h->len && !wbuf_reserve(in, h->len))
		return cfs_err_set(err, CFS_ER_PROTOCOL, "cannot hold a %u-byte frame", h->len);
	if (h->len && conn_read_full(c, in->p, h->len, err))
		return -1;
	in->len = h->len;
	return 0;
}

int conn_send_error(struct cfs_conn *c, uint32_t req_id, const struct cfs_err *e, struct cfs_err *err)
{
	struct wbuf b;
	wbuf_init(&b, CFS_ERR_MSG_MAX + 64);
	wire_error_encode(&b, e);
	int r = conn_send(c, WIRE_ERROR, 0, req_id, b.p, b.len, err);
	wbuf_release(&b);
	return r;
}
