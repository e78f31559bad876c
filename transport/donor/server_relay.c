/* server_relay.c: a private socket that stands for the server's while a tool logs in as the recipient
 * (mariabackup): each connection to it is relayed to --socket behind a PROXY protocol header naming
 * the recipient, so the server judges the tool's login by the recipient's address, as it judged
 * the recipient's own (D20). One thread relays every connection; nothing blocks it but poll. */
#include "transport/donor/donor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* mariabackup opens one connection (two with some options): room for a few more. */
#define RELAY_MAX_CONNS 8
/* Bytes in flight one way on one connection. */
#define RELAY_BUF (16u << 10)
/* The poll wakes at least this often, whatever happens. */
#define RELAY_POLL_MS 1000

/* One direction of a relayed connection: from one fd, through buf, to the other. */
struct relay_way {
	int from, to;
	size_t len, off;         /* buf[off, len) is waiting to be written to `to` */
	bool eof;                /* `from` ended; `to` was shut down for writing once buf drained */
	uint8_t buf[RELAY_BUF];
};

struct relay_conn {
	bool used;
	int fd[2];               /* the tool's connection, the server's */
	struct relay_way way[2]; /* tool -> server, server -> tool */
};

/* Owned by the thread that started it; the relay thread alone touches conns while it runs. */
struct donor_relay {
	int lfd, stop_fd;
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char tmpdir[64];         /* a short directory made for path when the snapshot's is too long; "" */
	char proxy[sizeof(((struct donor_peer *)0)->proxy)];
	struct sockaddr_un server; /* --socket */
	struct relay_conn conns[RELAY_MAX_CONNS];
};

static void conn_close(struct relay_conn *c)
{
	close(c->fd[0]);
	close(c->fd[1]);
	c->used = false;
}

/* A new connection of the tool: its twin to the server, the header first. */
static void relay_accept(struct donor_relay *r)
{
	int cfd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	struct relay_conn *c = NULL;
	for (size_t i = 0; i < RELAY_MAX_CONNS && !c; i++)
		if (!r->conns[i].used)
			c = &r->conns[i];
	int sfd = c ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
	size_t hlen = strlen(r->proxy);
	/* A fresh local socket has room for the short header: the send does not wait. */
	if (sfd < 0 || connect(sfd, (struct sockaddr *)&r->server, sizeof(r->server)) ||
	    send(sfd, r->proxy, hlen, MSG_NOSIGNAL) != (ssize_t)hlen || fcntl(sfd, F_SETFL, O_NONBLOCK)) {
		donor_log("relay to the server on %s: %s", donor_cfg.socket,
			  c ? strerror(errno) : "too many connections at once");
		if (sfd >= 0)
			close(sfd);
		close(cfd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->fd[0] = cfd;
	c->fd[1] = sfd;
	c->way[0].from = c->way[1].to = cfd;
	c->way[0].to = c->way[1].from = sfd;
}

/* Move what one way can move now. false when the connection is over (an error, or both ends done). */
static bool way_step(struct relay_conn *c, struct relay_way *w, short revents)
{
	if (w->off < w->len) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return true;
		ssize_t n = send(w->to, w->buf + w->off, w->len - w->off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		w->off += (size_t)n;
		if (w->off == w->len)
			w->off = w->len = 0;
	} else if (!w->eof && (revents & (POLLIN | POLLERR | POLLHUP))) {
		ssize_t n = read(w->from, w->buf, sizeof(w->buf));
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if (n == 0)
			w->eof = true;
		w->len = (size_t)n;
		w->off = 0;
	}
	if (w->eof && w->off == w->len)
		shutdown(w->to, SHUT_WR);
	const struct relay_way *a = &c->way[0], *b = &c->way[1];
	return !(a->eof && a->off == a->len && b->eof && b->off == b->len);
}

static void *relay_main(void *arg)
{
	struct donor_relay *r = arg;
	for (;;) {
		struct pollfd pfd[2 + 2 * RELAY_MAX_CONNS];
		struct relay_way *ways[2 + 2 * RELAY_MAX_CONNS];
		struct relay_conn *owner[2 + 2 * RELAY_MAX_CONNS];
		nfds_t n = 0;
		pfd[n++] = (struct pollfd){ .fd = r->stop_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = r->lfd, .events = POLLIN };
		for (size_t i = 0; i < RELAY_MAX_CONNS; i++) {
			struct relay_conn *c = &r->conns[i];
			for (int k = 0; c->used && k < 2; k++) {
				struct relay_way *w = &c->way[k];
				bool pending = w->off < w->len;
				if (!pending && w->eof)
					continue;
				ways[n] = w;
				owner[n] = c;
				pfd[n++] = (struct pollfd){ .fd = pending ? w->to : w->from, .events = pending ? POLLOUT : POLLIN };
			}
		}
		if (poll(pfd, n, RELAY_POLL_MS) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		for (nfds_t i = 2; i < n; i++)
			if (owner[i]->used && pfd[i].revents && !way_step(owner[i], ways[i], pfd[i].revents))
				conn_close(owner[i]);
		if (pfd[1].revents & POLLIN)
			relay_accept(r);
	}
	return NULL;
}

int donor_relay_start(const struct snapshot *s, struct donor_relay **out, char *sock, size_t socksz,
		      struct cfs_err *err)
{
	*out = NULL;
	if (!s->maker.proxy[0]) {
		snprintf(sock, socksz, "%s", donor_cfg.socket);
		return 0;
	}
	struct donor_relay *r = calloc(1, sizeof(*r));
	if (!r)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	r->lfd = r->stop_fd = -1;
	snprintf(r->proxy, sizeof(r->proxy), "%s", s->maker.proxy);
	r->server.sun_family = AF_UNIX;
	if (strlen(donor_cfg.socket) >= sizeof(r->server.sun_path)) {
		free(r);
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--socket=%.200s is longer than a socket path can be", donor_cfg.socket);
	}
	memcpy(r->server.sun_path, donor_cfg.socket, strlen(donor_cfg.socket) + 1);
	if ((size_t)snprintf(r->path, sizeof(r->path), "%s/server.sock", s->dir) >= sizeof(r->path)) {
		/* A socket's path is short (108 bytes): a private directory of its own in /tmp. */
		snprintf(r->tmpdir, sizeof(r->tmpdir), "/tmp/clonefsd-relay.XXXXXX");
		if (!mkdtemp(r->tmpdir)) {
			r->tmpdir[0] = 0;
			goto fail;
		}
		snprintf(r->path, sizeof(r->path), "%s/server.sock", r->tmpdir);
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->path);
	r->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	r->stop_fd = eventfd(0, EFD_CLOEXEC);
	/* The directory is clonefsd's (0700): only clonefsd and what it runs reach the socket. */
	if (r->lfd < 0 || r->stop_fd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(r->lfd, RELAY_MAX_CONNS))
		goto fail;
	errno = pthread_create(&r->thread, NULL, relay_main, r);
	if (errno)
		goto fail;
	snprintf(sock, socksz, "%s", r->path);
	*out = r;
	return 0;
fail:;
	int e = errno;
	cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot open a relay to the server for mariabackup at '%s': %s", r->path,
		    strerror(e));
	if (r->lfd >= 0) {
		close(r->lfd);
		unlink(r->path);
	}
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	if (r->tmpdir[0])
		rmdir(r->tmpdir);
	free(r);
	return -1;
}

void donor_relay_stop(struct donor_relay *r)
{
	if (!r)
		return;
	uint64_t one = 1;
	if (write(r->stop_fd, &one, sizeof(one)) != sizeof(one))
		donor_log("relay: cannot stop its thread: %s", strerror(errno));
	pthread_join(r->thread, NULL);
	for (size_t i = 0; i < RELAY_MAX_CONNS; i++)
		if (r->conns[i].used)
			conn_close(&r->conns[i]);
	close(r->lfd);
	close(r->stop_fd);
	unlink(r->path);
	if (r->tmpdir[0])
		rmdir(r->tmpdir);
	free(r);
}
