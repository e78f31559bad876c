/* fetch.c: fetches chunks into the cache: connection pool, single-flight per chunk, reconnect with
 * backoff within network_timeout, and the background hydrator (InnoDB's own files first). */
#include "fs/fetch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "transport/clock.h"

/* Bytes per READ: the hydrator (and a whole-file ensure) batches to keep the pipe full; demand
 * reads ask for what the reader needs (a FUSE read is at most 1 MiB). Each READ is also one cache
 * commit (one fdatasync), so a batch is a few MiB whatever the chunk size. */
enum { HYDRATE_BATCH_BYTES = 16 << 20, DEMAND_BATCH_BYTES = 1 << 20, DEMAND_BATCH_MIN = 8 };
/* A run is fetched as up to RUN_READS READs of at most WIRE_READ_MAX_CHUNKS chunks, sent together and
 * committed together: 16 MiB per fdatasync at 64 KiB chunks, where one READ holds 4 MiB. */
enum { RUN_READS = 4, RUN_MAX_CHUNKS = RUN_READS * WIRE_READ_MAX_CHUNKS };

static uint32_t batch_chunks(const struct fetcher *f, uint32_t bytes, uint32_t min)
{
	uint32_t n = bytes / f->cache->chunk_size;
	if (n < min)
		n = min;
	return n > RUN_MAX_CHUNKS ? RUN_MAX_CHUNKS : n;
}

int fetcher_init(struct fetcher *f, const struct cfs_client_opts *o, struct cfs_session *first,
		 const char *snap_id, const struct manifest *m, struct cache *c, int nslots,
		 int network_timeout_s, bool prefetch, struct cfs_err *err)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->host, sizeof(f->host), "%s", o->host);
	snprintf(f->user, sizeof(f->user), "%s", o->user);
	snprintf(f->password, sizeof(f->password), "%s", o->password);
	snprintf(f->ssl_ca, sizeof(f->ssl_ca), "%s", o->ssl_ca ? o->ssl_ca : "");
	snprintf(f->ssl_cert, sizeof(f->ssl_cert), "%s", o->ssl_cert ? o->ssl_cert : "");
	snprintf(f->ssl_key, sizeof(f->ssl_key), "%s", o->ssl_key ? o->ssl_key : "");
	snprintf(f->bind_address, sizeof(f->bind_address), "%s", o->bind_address ? o->bind_address : "");
	f->opts = *o;
	f->opts.host = f->host;
	f->opts.user = f->user;
	f->opts.password = f->password;
	f->opts.ssl_ca = f->ssl_ca;
	f->opts.ssl_cert = f->ssl_cert;
	f->opts.ssl_key = f->ssl_key;
	f->opts.bind_address = f->bind_address;
	f->opts.proto = first->proto; /* every connection speaks the first one's version: one digest */
	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (f->stop_fd < 0)
		return cfs_err_set(err, CFS_ER_IO, "eventfd: %s", strerror(errno));
	f->opts.cancel_fd = f->stop_fd;
	snprintf(f->snap_id, sizeof(f->snap_id), "%s", snap_id);
	f->m = m;
	f->cache = c;
	f->nslots = nslots < 1 ? 1 : nslots;
	f->network_timeout_s = network_timeout_s;
	f->prefetch = prefetch;
	f->start_ms = mono_ms();
	f->down_since_ms = -1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->slots = calloc((size_t)f->nslots, sizeof(*f->slots));
	f->inflight = calloc(c->nchunks ? c->nchunks : 1, 1);
	if (!f->slots || !f->inflight)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	if (o->ssl_mode != CFS_SSL_DISABLED && first->tls) {
		/* One TLS context for every later connection (certificates read once). */
		f->ctx = conn_tls_client_ctx(f->ssl_ca, f->ssl_cert, f->ssl_key, err);
		if (!f->ctx)
			return -1;
	}
	for (int i = 0; i < f->nslots; i++)
		pthread_mutex_init(&f->slots[i].lock, NULL);
	/* Two hydrators when there are slots to spare for readers, one otherwise; a single slot is
	 * shared by the hydrator and the readers. */
	f->nhyd = !prefetch ? 0 : f->nslots >= 3 ? FETCH_MAX_HYDRATORS : 1;
	f->first_demand = f->nslots > f->nhyd ? f->nhyd : 0;
	f->slots[f->first_demand].sess = *first;
	f->slots[f->first_demand].sess.conn.cancel_fd = f->stop_fd;
	f->slots[f->first_demand].open = true;
	conn_tls_describe(&first->conn, f->tls, sizeof(f->tls));
	memset(first, 0, sizeof(*first));
	first->conn.fd = -1;
	return 0;
}

/* clonefsd's answer when it cannot log in to its own server to check a recipient's password
 * (transport/donor/donor_auth.c: 3862 with the client library's 2002/2003/2013 behind it). */
#define DONOR_SERVER_UNREACHABLE "cannot reach its server"

/* A failure worth retrying within network_timeout: the network, and the donor's server restarting
 * (a new connection cannot authenticate while it is down; those already open keep working). */
static bool is_transient(const struct cfs_err *e)
{
	return e->code == CFS_ER_NETWORK || e->code == CR_CONN_HOST_ERROR || e->code == CR_SSL_CONNECTION_ERROR ||
	       (e->code == ER_CLONE_DONOR && strstr(e->msg, DONOR_SERVER_UNREACHABLE));
}

static void note_error_locked(struct fetcher *f, const struct cfs_err *e)
{
	snprintf(f->last_error, sizeof(f->last_error), "ERROR %d (%s): %s", e->code, e->sqlstate, e->msg);
}

/* A fetch or probe reached the donor: the outage, if any, is over. */
static void outage_end(struct fetcher *f)
{
	pthread_mutex_lock(&f->lock);
	f->disconnected = false;
	f->given_up = false;
	f->down_since_ms = -1;
	pthread_mutex_unlock(&f->lock);
}

/* A failure that is not the network's (a protocol error, the cache): recorded, not an outage. */
static void note_failure(struct fetcher *f, const struct cfs_err *e)
{
	pthread_mutex_lock(&f->lock);
	f->disconnected = false;
	f->given_up = false;
	f->down_since_ms = -1;
	note_error_locked(f, e);
	pthread_mutex_unlock(&f->lock);
}

/* The bound of the next wait on the donor: the per-wait bound, cut to what is left of the current
 * outage's network_timeout. -1 with the outage's error when it was given up: fail at once. */
static int outage_bound(struct fetcher *f, int *wait_ms, struct cfs_err *err)
{
	int rc = 0;
	pthread_mutex_lock(&f->lock);
	*wait_ms = f->opts.timeout_ms;
	if (f->given_up) {
		*err = f->down_err;
		rc = -1;
	} else if (f->down_since_ms >= 0) {
		int64_t left = f->down_since_ms + (int64_t)f->network_timeout_s * 1000 - mono_ms();
		if (left < *wait_ms)
			*wait_ms = left < 100 ? 100 : (int)left;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

/* A transient failure at now of an attempt that started at attempt_ms with waits bounded by
 * wait_ms. The donor went silent no later than the attempt's start and no earlier than one wait
 * bound ago (a connection's idle bound restarts with every byte received): that is when an outage
 * starts, unless one is under way. Returns the outage's deadline (start + network_timeout). */
static int64_t outage_note(struct fetcher *f, int64_t attempt_ms, int wait_ms, const struct cfs_err *e)
{
	int64_t now = mono_ms(), silent = now - wait_ms > attempt_ms ? now - wait_ms : attempt_ms;
	pthread_mutex_lock(&f->lock);
	if (f->down_since_ms < 0)
		f->down_since_ms = silent;
	f->disconnected = true;
	note_error_locked(f, e);
	int64_t deadline = f->down_since_ms + (int64_t)f->network_timeout_s * 1000;
	pthread_mutex_unlock(&f->lock);
	return deadline;
}

/* The outage passed network_timeout: err becomes what every fetch is told until the prober
 * reaches the donor again. */
static void outage_give_up(struct fetcher *f, struct cfs_err *err)
{
	char cause[CFS_ERR_MSG_MAX]; /* err->msg is the destination too: copy it first */
	snprintf(cause, sizeof(cause), "%s", err->msg);
	cfs_err_set(err, CFS_ER_NETWORK, "donor %s:%u unreachable for network_timeout=%d s: %.300s", f->host,
		    f->opts.port, f->network_timeout_s, cause);
	pthread_mutex_lock(&f->lock);
	if (f->down_since_ms >= 0) { /* not ended by another thread's success meanwhile */
		f->given_up = true;
		f->down_err = *err;
	}
	note_error_locked(f, err); /* what the reader is told is the mount's last error too */
	pthread_mutex_unlock(&f->lock);
}

/* Sleep ms, or less when the fetcher stops. */
static void stop_sleep(struct fetcher *f, int ms)
{
	struct pollfd p = { .fd = f->stop_fd, .events = POLLIN };
	if (poll(&p, 1, ms) < 0)
		sleep_ms(ms > 10 ? 10 : ms); /* EINTR: never spin */
}

/* (Re)open a slot's session on the same snapshot. Caller holds the slot lock. */
static int slot_connect(struct fetcher *f, struct fetch_slot *sl, int wait_ms, struct cfs_err *err)
{
	struct wire_snap_info info = { 0 };
	struct cfs_client_opts o = f->opts;
	o.timeout_ms = wait_ms;
	if (cfs_session_open(&sl->sess, &o, f->ctx, err))
		return -1;
	if (cfs_session_snap_open(&sl->sess, f->snap_id, &info, NULL, NULL, err)) {
		cfs_session_close(&sl->sess);
		return -1;
	}
	wire_snap_info_release(&info);
	if (sl->sess.chunk_size != f->cache->chunk_size) {
		cfs_session_close(&sl->sess);
		return cfs_err_set(err, CFS_ER_PROTOCOL, "donor changed the chunk size of snapshot %s", f->snap_id);
	}
	sl->open = true;
	return 0;
}

struct store_ctx;
static int commit_pending(struct store_ctx *sc, struct cfs_err *err);

/* The chunks of one READ written but not yet committed: one fdatasync covers them all. */
struct store_ctx {
	struct fetcher *f;
	const struct manifest_entry *e;
	struct chunk_hdr pending[RUN_MAX_CHUNKS];
	size_t npending;
	int cache_rc;               /* the cache's -errno when storing failed (-ENOSPC: file system full) */
};

static int store_cb(void *arg, const struct chunk_hdr *h, const uint8_t *data, struct cfs_err *err)
{
	struct store_ctx *sc = arg;
	if (sc->npending == sizeof(sc->pending) / sizeof(sc->pending[0]) && commit_pending(sc, err))
		return -1;
	uint64_t t0 = mono_ns();
	int rc = cache_write(sc->f->cache, sc->e, h, data, err);
	if (rc) {
		sc->cache_rc = rc;
		return -1;
	}
	atomic_fetch_add(&sc->f->ns_write, mono_ns() - t0);
	sc->pending[sc->npending++] = *h;
	atomic_fetch_add(&sc->f->bytes_fetched, h->raw_len);
	atomic_fetch_add(&sc->f->chunks_fetched, 1);
	return 0;
}

static int commit_pending(struct store_ctx *sc, struct cfs_err *err)
{
	uint64_t t0 = mono_ns();
	int rc = cache_commit(sc->f->cache, sc->e, sc->pending, sc->npending, err);
	atomic_fetch_add(&sc->f->ns_sync, mono_ns() - t0);
	sc->npending = 0;
	if (rc)
		sc->cache_rc = rc;
	return rc;
}

/* Send the READs of a run [first, first + count) (at most RUN_MAX_CHUNKS): one per
 * WIRE_READ_MAX_CHUNKS chunks, all before any answer is read. */
static int run_send(struct cfs_session *ss, const struct manifest_entry *e, uint64_t first, uint32_t count,
		    uint32_t req[RUN_READS], uint32_t *nreq, struct cfs_err *err)
{
	for (uint32_t done = 0; done < count; done += WIRE_READ_MAX_CHUNKS) {
		uint32_t k = count - done < WIRE_READ_MAX_CHUNKS ? count - done : WIRE_READ_MAX_CHUNKS;
		if (cfs_session_read_send(ss, e, first + done, k, &req[(*nreq)++], err))
			return -1;
	}
	return 0;
}

/* Receive the chunks of a run's READs, in order, into the store (not yet committed). */
static int run_recv(struct cfs_session *ss, const struct manifest_entry *e, uint64_t first, uint32_t count,
		    const uint32_t req[RUN_READS], uint32_t nreq, struct store_ctx *sc, struct cfs_err *err)
{
	for (uint32_t i = 0, done = 0; i < nreq; i++, done += WIRE_READ_MAX_CHUNKS) {
		uint32_t k = count - done < WIRE_READ_MAX_CHUNKS ? count - done : WIRE_READ_MAX_CHUNKS;
		if (cfs_session_read_recv(ss, e, first + done, k, req[i], store_cb, sc, err))
			return -1;
	}
	return 0;
}

/* run_recv on a slot's session, counted in the fetcher's status: one request, and where its time
 * went and how many bytes crossed. Caller holds the slot lock. */
static int slot_recv(struct fetcher *f, struct fetch_slot *sl, const struct manifest_entry *e, uint64_t first,
		     uint32_t count, const uint32_t req[RUN_READS], uint32_t nreq, struct store_ctx *sc,
		     struct cfs_err *err)
{
	atomic_fetch_add(&f->requests, 1);
	uint64_t w0 = sl->sess.ns_wait, d0 = sl->sess.ns_decode, b0 = sl->sess.bytes_wire;
	int rc = run_recv(&sl->sess, e, first, count, req, nreq, sc, err);
	atomic_fetch_add(&f->ns_wait, sl->sess.ns_wait - w0);
	atomic_fetch_add(&f->ns_decode, sl->sess.ns_decode - d0);
	atomic_fetch_add(&f->bytes_wire, sl->sess.bytes_wire - b0);
	return rc;
}

/* Raw bytes of the snapshot not yet in the cache: the free space it needs to finish. */
static uint64_t bytes_missing(struct fetcher *f)
{
	uint64_t cached = cache_stats(f->cache).bytes_cached;
	return f->m->bytes_total > cached ? f->m->bytes_total - cached : 0;
}

/* The cache's file system is full: hydration waits for space (hydrator_main), status says so. */
static int cache_full(struct fetcher *f, struct cfs_err *err)
{
	uint64_t need = bytes_missing(f);
	atomic_store(&f->no_space, need ? need : 1);
	char cause[CFS_ERR_MSG_MAX];
	snprintf(cause, sizeof(cause), "%s", err->msg);
	cfs_err_set(err, CFS_ER_CACHE, "%.380s; %llu bytes more must be free to cache the rest", cause,
		    (unsigned long long)need);
	note_failure(f, err);
	return -ENOSPC;
}

/* One attempt at a run through slot sl (its lock held): connect if need be, send the READs,
 * receive, and commit what arrived (also before a failure: it was verified). Every wait is bounded
 * by wait_ms. 0; -1 with err when the connection failed (it is closed); the cache's -errno when
 * storing failed. */
static int run_attempt(struct fetcher *f, struct fetch_slot *sl, const struct manifest_entry *e, uint64_t first,
		       uint32_t count, int wait_ms, struct store_ctx *sc, struct cfs_err *err)
{
	int rc = sl->open ? 0 : slot_connect(f, sl, wait_ms, err);
	if (rc == 0) {
		uint32_t req[RUN_READS], nreq = 0;
		sl->sess.conn.timeout_ms = wait_ms;
		rc = run_send(&sl->sess, e, first, count, req, &nreq, err) ||
		     slot_recv(f, sl, e, first, count, req, nreq, sc, err) ? -1 : 0;
		struct cfs_err cerr = { 0 };
		commit_pending(sc, rc ? &cerr : err);
		if (rc == 0 && sc->cache_rc == 0) {
			sl->sess.conn.timeout_ms = f->opts.timeout_ms; /* an outage's cut bound ends with it */
			return 0;
		}
	}
	if (sl->open) {
		cfs_session_close(&sl->sess);
		sl->open = false;
	}
	return sc->cache_rc ? sc->cache_rc : -1;
}

/* Fetch chunks [first, first+count) of e through slot sl, retrying transient failures with backoff
 * until network_timeout has passed since the donor went silent; once an outage is given up, fail
 * at once (D23). Chunks stored before a failure stay. 0; -ENOSPC when the cache's file system is
 * full; -1 otherwise, with err. */
static int fetch_run(struct fetcher *f, int slot, const struct manifest_entry *e, uint64_t first,
		     uint32_t count, struct cfs_err *err)
{
	struct fetch_slot *sl = &f->slots[slot];
	struct store_ctx sc = { .f = f, .e = e };
	int backoff = 100, rc = 0;
	pthread_mutex_lock(&sl->lock);
	for (;;) {
		/* Skip what a partial earlier attempt already stored. */
		while (count > 0 && cache_has(f->cache, e, first)) {
			first++;
			count--;
		}
		if (count == 0)
			break;
		int wait_ms;
		if ((rc = outage_bound(f, &wait_ms, err)) != 0)
			break;
		int64_t t0 = mono_ms();
		sc.cache_rc = 0;
		rc = run_attempt(f, sl, e, first, count, wait_ms, &sc, err);
		if (rc == 0) {
			outage_end(f); /* any success ends an outage, a first attempt's too */
			atomic_store(&f->no_space, 0); /* and stored chunks show the cache has room again */
			break;
		}
		if (rc == -ENOSPC) {
			rc = cache_full(f, err);
			break;
		}
		if (sc.cache_rc || !is_transient(err) || atomic_load(&f->stop)) {
			note_failure(f, err);
			rc = -1;
			break;
		}
		int64_t deadline = outage_note(f, t0, wait_ms, err);
		if (mono_ms() + backoff >= deadline) {
			outage_give_up(f, err);
			rc = -1;
			break;
		}
		stop_sleep(f, backoff);
		atomic_fetch_add(&f->reconnects, 1);
		backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
	}
	pthread_mutex_unlock(&sl->lock);
	return rc;
}

/* A demand slot: a free one if any, else round-robin. */
static int pick_slot(struct fetcher *f)
{
	static atomic_uint rr;
	int n = f->nslots - f->first_demand;
	for (int i = f->first_demand; i < f->nslots; i++)
		if (pthread_mutex_trylock(&f->slots[i].lock) == 0) {
			pthread_mutex_unlock(&f->slots[i].lock);
			return i;
		}
	return f->first_demand + (int)(atomic_fetch_add(&rr, 1) % (unsigned)n);
}

/* Claim a run of missing, unclaimed chunks starting at idx (f->lock held). Returns its length. */
static uint32_t claim_run(struct fetcher *f, const struct manifest_entry *e, uint64_t idx, uint64_t last,
			  uint32_t max)
{
	uint32_t n = 0;
	while (idx + n <= last && n < max) {
		uint64_t g = cache_gidx(f->cache, e, idx + n);
		if (f->inflight[g] || cache_has(f->cache, e, idx + n))
			break;
		f->inflight[g] = 1;
		n++;
	}
	return n;
}

/* Raw bytes of chunks [idx, idx + n) of e: the room a READ of them needs in a bounded cache. */
static uint64_t run_bytes(const struct fetcher *f, const struct manifest_entry *e, uint64_t idx, uint32_t n)
{
	uint64_t bytes = 0;
	for (uint32_t i = 0; i < n; i++)
		bytes += cache_chunk_len(f->cache, e, idx + i);
	return bytes;
}

static void release_run(struct fetcher *f, const struct manifest_entry *e, uint64_t idx, uint32_t n)
{
	pthread_mutex_lock(&f->lock);
	for (uint32_t i = 0; i < n; i++)
		f->inflight[cache_gidx(f->cache, e, idx + i)] = 0;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

int fetcher_ensure(struct fetcher *f, const struct manifest_entry *e, uint64_t first, uint64_t last,
		   bool bulk, struct cfs_err *err)
{
	int rc = 0;
	uint32_t batch = bulk ? batch_chunks(f, HYDRATE_BATCH_BYTES, 1) : batch_chunks(f, DEMAND_BATCH_BYTES, DEMAND_BATCH_MIN);
	if (!bulk)
		atomic_fetch_add(&f->demand_active, 1);
	for (uint64_t idx = first; idx <= last && rc == 0;) {
		uint64_t g = cache_gidx(f->cache, e, idx);
		pthread_mutex_lock(&f->lock);
		if (f->inflight[g]) {
			/* Someone is fetching it: share that fetch (single-flight). */
			pthread_cond_wait(&f->cond, &f->lock);
			pthread_mutex_unlock(&f->lock);
			continue;
		}
		if (cache_has(f->cache, e, idx)) {
			pthread_mutex_unlock(&f->lock);
			int v = cache_verify(f->cache, e, idx, err);
			if (v < 0)
				rc = -1;
			else if (v == 1) {
				atomic_fetch_add(&f->chunk_hits, 1);
				idx++;
			}
			continue; /* v == 0: the chunk was corrupt and dropped; fetch it again */
		}
		uint32_t n = claim_run(f, e, idx, last, batch);
		pthread_mutex_unlock(&f->lock);
		/* A bounded cache makes room first (evicting what was used least recently); a reader is
		 * waiting, so its chunks are stored even when pinned chunks leave no room. */
		uint64_t room = run_bytes(f, e, idx, n);
		rc = cache_reserve(f->cache, room, err);
		if (rc == 0) {
			uint64_t t0 = mono_ns();
			rc = fetch_run(f, pick_slot(f), e, idx, n, err);
			metrics_hist_observe(&f->fetch_latency, mono_ns() - t0);
			atomic_fetch_add(&f->chunk_misses, n);
			cache_release(f->cache, room);
		}
		release_run(f, e, idx, n);
		if (rc == 0)
			idx += n;
	}
	if (!bulk)
		atomic_fetch_sub(&f->demand_active, 1);
	return rc;
}

/* InnoDB's own files first: what the server reads at start-up (DESIGN §4). */
static int hydrate_rank(const struct manifest_entry *e)
{
	const char *n = e->name;
	if (e->parent == MANIFEST_ROOT && (!strncmp(n, "ibdata", 6) || !strncmp(n, "undo", 4) ||
					   !strncmp(n, "ib_logfile", 10) || !strncmp(n, "aria_log", 8) ||
					   !strcmp(n, "mysql.ibd")))
		return 0;
	if (!strncmp(e->path, "mysql/", 6))
		return 1;
	return 2;
}

/* hydrate_file's answer when a bounded cache is full enough: hydration stops for this mount. */
enum { HYDRATE_BOUNDED = 1 };

/* A run a hydrator claimed: its chunks, the cache room reserved for them, and its READ when that
 * is in flight on the hydrator's own connection. */
struct hrun {
	uint64_t idx, room;
	uint32_t n, req[RUN_READS], nreq;
	bool sent;
};

/* Send r's READ ahead on the hydrator's own connection (a shared slot is not pipelined): the donor
 * serves it while this thread decodes, writes and commits the run before it (D3). */
static void hrun_send(struct fetcher *f, int slot, const struct manifest_entry *e, struct hrun *r)
{
	struct fetch_slot *sl = &f->slots[slot];
	struct cfs_err err = { 0 };
	r->sent = false;
	if (slot >= f->first_demand)
		return;
	pthread_mutex_lock(&sl->lock);
	r->nreq = 0;
	if (sl->open) {
		if (run_send(&sl->sess, e, r->idx, r->n, r->req, &r->nreq, &err) == 0) {
			r->sent = true;
		} else { /* the READs sent before the failure would answer out of turn: start over */
			cfs_session_close(&sl->sess);
			sl->open = false;
		}
	}
	pthread_mutex_unlock(&sl->lock);
}

/* Finish r: receive the chunks of its READ in flight; when none is, or the connection failed under
 * it (*broken: the READs sent after it are lost with the connection), fetch it with fetch_run's
 * reconnects. Without fetch, only give its claims and room back. */
static int hrun_finish(struct fetcher *f, int slot, const struct manifest_entry *e, struct hrun *r, bool fetch,
		       bool *broken)
{
	struct fetch_slot *sl = &f->slots[slot];
	struct cfs_err err = { 0 };
	int rc = -1;
	if (r->sent && fetch) {
		pthread_mutex_lock(&sl->lock);
		int wait_ms;
		if (sl->open) {
			/* In an outage another thread saw, wait no longer than what is left of it: a reader may
			 * be waiting for these chunks (single-flight). Given up: fetch_run says so at once. */
			if (outage_bound(f, &wait_ms, &err) == 0) {
				struct store_ctx sc = { .f = f, .e = e };
				int64_t t0 = mono_ms();
				sl->sess.conn.timeout_ms = wait_ms;
				rc = slot_recv(f, sl, e, r->idx, r->n, r->req, r->nreq, &sc, &err);
				sl->sess.conn.timeout_ms = f->opts.timeout_ms;
				if (rc && !sc.cache_rc && is_transient(&err))
					outage_note(f, t0, wait_ms, &err); /* the silence began in this wait */
				struct cfs_err cerr = { 0 };
				if (commit_pending(&sc, &cerr))
					rc = -1; /* fetch_run below tries again and reports what fails */
			}
			if (rc) { /* a READ left unanswered on it would answer out of turn: start over */
				cfs_session_close(&sl->sess);
				sl->open = false;
			} else {
				outage_end(f);
			}
		}
		pthread_mutex_unlock(&sl->lock);
	}
	*broken = rc != 0;
	if (rc && fetch)
		rc = fetch_run(f, slot, e, r->idx, r->n, &err);
	cache_release(f->cache, r->room);
	release_run(f, e, r->idx, r->n);
	return fetch ? rc : 0;
}

/* Hydrate one file in runs, the next run's READ sent before the current one's chunks are read.
 * 0, HYDRATE_BOUNDED, -ENOSPC (the cache's file system is full) or -1. */
static int hydrate_file(struct fetcher *f, int slot, const struct manifest_entry *e)
{
	uint32_t cs = f->cache->chunk_size;
	uint64_t nc = manifest_chunks(e->size, cs);
	uint32_t batch = batch_chunks(f, HYDRATE_BATCH_BYTES, 1);
	struct hrun prev = { 0 };
	bool have_prev = false, broken = false;
	int rc = 0;
	for (uint64_t idx = 0; idx < nc && !atomic_load(&f->stop) && rc == 0;) {
		/* Yield to on-demand reads: they are someone waiting. */
		if (atomic_load(&f->demand_active) > 0)
			sleep_ms(1);
		/* The hydrator never evicts: it takes only the room below a bounded cache's low water mark
		 * (all of it without a bound), and stops when none is left. */
		uint64_t room = cache_reserve_room(f->cache, (uint64_t)batch * cs);
		uint32_t max = (uint32_t)(room / cs);
		if (max == 0) {
			cache_release(f->cache, room);
			rc = HYDRATE_BOUNDED;
			break;
		}
		pthread_mutex_lock(&f->lock);
		uint32_t n = claim_run(f, e, idx, nc - 1, max);
		pthread_mutex_unlock(&f->lock);
		if (n == 0) {
			cache_release(f->cache, room);
			idx++;
			continue;
		}
		struct hrun cur = { .idx = idx, .room = room, .n = n };
		hrun_send(f, slot, e, &cur);
		if (have_prev)
			rc = hrun_finish(f, slot, e, &prev, true, &broken);
		if (broken)
			cur.sent = false;
		prev = cur;
		have_prev = true;
		idx += n;
	}
	/* The last run: fetched unless an earlier one failed (past network_timeout, or a full cache). */
	if (have_prev) {
		int last = hrun_finish(f, slot, e, &prev, rc >= 0, &broken);
		if (rc == 0)
			rc = last;
	}
	return rc;
}

struct hydrator_arg {
	struct fetcher *f;
	int slot;
};

/* Free bytes on the cache's file system (what root may use: it writes the reserved blocks too). */
static uint64_t cache_fs_free(const struct fetcher *f)
{
	struct statvfs sv;
	if (statvfs(f->cache->dir, &sv))
		return 0;
	return (uint64_t)(geteuid() == 0 ? sv.f_bfree : sv.f_bavail) * sv.f_frsize;
}

/* The cache's file system is full: no READ is sent until it has room for a hydration batch (or
 * for all that is missing, when less), checked once a second; status says "no space" meanwhile. */
static void wait_for_space(struct fetcher *f)
{
	uint64_t want = HYDRATE_BATCH_BYTES;
	while (!atomic_load(&f->stop) && atomic_load(&f->no_space)) {
		uint64_t missing = bytes_missing(f);
		if (missing == 0 || cache_fs_free(f) >= (missing < want ? missing : want))
			break;
		atomic_store(&f->no_space, missing);
		stop_sleep(f, 1000);
	}
	atomic_store(&f->no_space, 0);
}

/* One hydrator: walks every file in rank order; the claims keep two hydrators on different runs. */
static void *hydrator_main(void *arg)
{
	struct hydrator_arg *ha = arg;
	struct fetcher *f = ha->f;
	int slot = ha->slot;
	free(ha);
	while (!atomic_load(&f->stop)) {
		int failed = 0, rc = 0;
		for (int rank = 0; rank <= 2 && !atomic_load(&f->stop) && rc != HYDRATE_BOUNDED && rc != -ENOSPC; rank++)
			for (uint32_t i = 0; i < f->m->n && !atomic_load(&f->stop) && rc != HYDRATE_BOUNDED && rc != -ENOSPC;
			     i++) {
				const struct manifest_entry *e = &f->m->e[i];
				if (e->type != MANIFEST_REG || hydrate_rank(e) != rank)
					continue;
				rc = hydrate_file(f, slot, e);
				if (rc < 0)
					failed++;
			}
		if (rc == HYDRATE_BOUNDED) {
			/* The bounded cache holds its warm set: hydrating on would only evict it (no thrash). */
			atomic_store(&f->bounded, true);
			break;
		}
		if (rc == -ENOSPC) {
			wait_for_space(f);
			continue;
		}
		if (!failed) {
			atomic_store(&f->hydrated, true);
			break;
		}
		/* The donor is gone for now: try again later, reads keep their own deadline. */
		stop_sleep(f, 5000);
	}
	/* Done: the hydrator's own connection is no longer needed (a shared one stays). */
	struct fetch_slot *sl = &f->slots[slot];
	pthread_mutex_lock(&sl->lock);
	if (sl->open && slot < f->first_demand) {
		cfs_session_close(&sl->sess);
		sl->open = false;
	}
	pthread_mutex_unlock(&sl->lock);
	return NULL;
}

/* After an outage is given up, fetches fail at once; this thread alone tries the donor (a new
 * connection and the snapshot), with backoff, and ends the outage when it answers (D23). */
static void *prober_main(void *arg)
{
	struct fetcher *f = arg;
	int backoff = 100;
	while (!atomic_load(&f->stop)) {
		pthread_mutex_lock(&f->lock);
		bool down = f->given_up;
		pthread_mutex_unlock(&f->lock);
		if (!down) {
			backoff = 100;
			stop_sleep(f, 200);
			continue;
		}
		struct fetch_slot probe = { .open = false };
		struct cfs_err err = { 0 };
		if (slot_connect(f, &probe, f->opts.timeout_ms, &err) == 0) {
			cfs_session_close(&probe.sess);
			outage_end(f);
			continue;
		}
		stop_sleep(f, backoff);
		atomic_fetch_add(&f->reconnects, 1);
		backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
	}
	return NULL;
}

int fetcher_start(struct fetcher *f)
{
	for (int i = 0; i < f->nhyd; i++) {
		struct hydrator_arg *ha = malloc(sizeof(*ha));
		if (!ha)
			return -1;
		ha->f = f;
		ha->slot = i;
		if (pthread_create(&f->hydrators[i], NULL, hydrator_main, ha) != 0) {
			free(ha);
			return -1;
		}
		f->hydrators_started++;
	}
	if (pthread_create(&f->prober, NULL, prober_main, f) != 0)
		return -1;
	f->prober_started = true;
	return 0;
}

void fetcher_stop(struct fetcher *f)
{
	atomic_store(&f->stop, true);
	/* Wakes every wait on the donor; the sessions themselves belong to the threads using them. */
	uint64_t one = 1;
	ssize_t w = f->stop_fd > 0 ? write(f->stop_fd, &one, sizeof(one)) : 0;
	(void)w; /* a write of 1 to an eventfd does not fail */
	for (int i = 0; i < f->hydrators_started; i++)
		pthread_join(f->hydrators[i], NULL);
	if (f->prober_started)
		pthread_join(f->prober, NULL);
	f->prober_started = false;
	for (int i = 0; i < f->nslots; i++) {
		pthread_mutex_lock(&f->slots[i].lock);
		if (f->slots[i].open)
			cfs_session_close(&f->slots[i].sess);
		f->slots[i].open = false;
		pthread_mutex_unlock(&f->slots[i].lock);
	}
	SSL_CTX_free(f->ctx);
	f->ctx = NULL;
	OPENSSL_cleanse(f->password, sizeof(f->password));
	free(f->slots);
	free(f->inflight);
	f->slots = NULL;
	f->inflight = NULL;
	if (f->stop_fd > 0)
		close(f->stop_fd);
	f->stop_fd = -1;
}

enum fetch_state fetcher_state(struct fetcher *f)
{
	pthread_mutex_lock(&f->lock);
	bool down = f->disconnected;
	pthread_mutex_unlock(&f->lock);
	if (down)
		return FETCH_DISCONNECTED;
	if (atomic_load(&f->no_space))
		return FETCH_NO_SPACE;
	if (cache_stats(f->cache).chunks_cached == f->cache->nchunks)
		return FETCH_COMPLETE;
	if (f->prefetch && atomic_load(&f->bounded))
		return FETCH_BOUNDED;
	return f->prefetch ? FETCH_HYDRATING : FETCH_LAZY;
}

uint64_t fetcher_space_needed(struct fetcher *f)
{
	return atomic_load(&f->no_space);
}

const char *fetch_state_name(enum fetch_state s)
{
	switch (s) {
	case FETCH_COMPLETE: return "complete";
	case FETCH_DISCONNECTED: return "disconnected";
	case FETCH_LAZY: return "lazy";
	case FETCH_BOUNDED: return "bounded";
	case FETCH_NO_SPACE: return "no space";
	case FETCH_HYDRATING:
	default: return "hydrating";
	}
}
