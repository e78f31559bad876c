/* conn.h: one TCP connection, plaintext or TLS (OpenSSL), with bounded waits, and the frame
 * send/receive on top of it. Both sides use it; the TLS policy (versions, verification) lives here. */
#ifndef CLONEFS_CONN_H
#define CLONEFS_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "transport/buf.h"
#include "transport/errors.h"
#include "transport/wire.h"

struct cfs_conn {
	int fd;
	int cancel_fd;          /* -1, or an fd that turns readable when every wait on this connection must
				   end: mount.clonefs's stop wakes blocked reads with it (ECANCELED) */
	SSL *ssl;               /* NULL while plaintext */
	int timeout_ms;         /* every single read or write waits at most this long */
	char peer[128];         /* "host:port" for messages */
	pthread_mutex_t send_lock; /* guards writes: frames from several threads never interleave */
	uint64_t bytes_in, bytes_out; /* on the wire, after TLS; written by the reader/writer only */
};

/* TLS contexts. The client verifies the donor when ca is given (and its host name); the server
 * asks for a client certificate when ca is given, and requires one when require_client_cert. */
SSL_CTX *conn_tls_client_ctx(const char *ca, const char *cert, const char *key, struct cfs_err *err);
SSL_CTX *conn_tls_server_ctx(const char *cert, const char *key, const char *ca,
			     bool require_client_cert, struct cfs_err *err);

/* Connect to host:port (name or address) within timeout_ms. CR_CONN_HOST_ERROR on failure.
 * cancel_fd (or -1): becomes c->cancel_fd, and cuts the connect short too. */
int conn_connect(struct cfs_conn *c, const char *host, unsigned port, const char *bind_addr, int timeout_ms, int cancel_fd,
		 struct cfs_err *err);
/* Wrap an accepted socket. */
void conn_init_fd(struct cfs_conn *c, int fd, int timeout_ms, const char *peer);
/* TLS handshakes on an open connection. verify_host: the name the certificate must match (with ca). */
int conn_tls_client(struct cfs_conn *c, SSL_CTX *ctx, const char *verify_host, struct cfs_err *err);
int conn_tls_server(struct cfs_conn *c, SSL_CTX *ctx, struct cfs_err *err);
/* After a failed exchange inside TLS: the alert the peer sent, in words ("tlsv13 alert certificate
 * required"), or NULL if there is none. TLS 1.3 servers reject a client certificate only after
 * the client's side of the handshake is done, so this is where that refusal shows. */
const char *conn_tls_peer_alert(struct cfs_conn *c, char *buf, size_t n);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or "none". */
void conn_tls_describe(const struct cfs_conn *c, char *out, size_t outsz);
void conn_close(struct cfs_conn *c);
/* Interrupt a blocked reader from another thread (shutdown(2) of the socket). */
void conn_shutdown(struct cfs_conn *c);

/* Exactly n bytes, or -1 with err (CFS_ER_NETWORK: closed, timed out, reset). */
int conn_read_full(struct cfs_conn *c, void *buf, size_t n, struct cfs_err *err);
int conn_write_full(struct cfs_conn *c, const void *buf, size_t n, struct cfs_err *err);

/* Send one frame (header + payload) atomically with respect to other senders. */
int conn_send(struct cfs_conn *c, uint8_t type, uint8_t flags, uint32_t req_id,
	      const void *payload, size_t len, struct cfs_err *err);
/* Receive one frame: payload into *in (reset first, bounded by in->max and max_payload). */
int conn_recv(struct cfs_conn *c, size_t max_payload, struct wire_hdr *h, struct wbuf *in,
	      struct cfs_err *err);
/* Send an ERROR frame carrying e. */
int conn_send_error(struct cfs_conn *c, uint32_t req_id, const struct cfs_err *e, struct cfs_err *err);

#endif
