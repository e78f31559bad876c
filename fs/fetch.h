/* fetch.h: gets chunks into the cache: a pool of donor connections, single-flight per chunk,
 * reconnection with backoff bounded by network_timeout, and background hydration. No FUSE. */
#ifndef CLONEFS_FETCH_H
#define CLONEFS_FETCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/cache.h"
#include "transport/client.h"
#include "transport/metrics.h"

struct fetch_slot {
	pthread_mutex_t lock;   /* guards sess and open: one request at a time per connection */
	struct cfs_session sess;
	atomic_bool open;         /* written under lock; read by fetcher_stop, which cannot wait for it */
};

/* Hydrator threads, each with its own connection: while one waits for the donor the other
 * decodes and writes, and the donor serves both on two cores (measured in docs/performance.md). */
enum { FETCH_MAX_HYDRATORS = 2 };

/* FETCH_BOUNDED: hydration stopped at a bounded cache's low water mark (cache_max=); from there
 * on the mount is a lazy one with a warm set. */
enum fetch_state { FETCH_HYDRATING, FETCH_COMPLETE, FETCH_DISCONNECTED, FETCH_LAZY, FETCH_BOUNDED };

struct fetcher {
	/* Set once by fetcher_init, read-only afterwards. */
	struct cfs_client_opts opts;
	char host[256], user[160], password[512], ssl_ca[4096], ssl_cert[4096], ssl_key[4096];
	char snap_id[WIRE_SNAP_ID_MAX + 1];
	const struct manifest *m;
	struct cache *cache;
	SSL_CTX *ctx;
	int network_timeout_s;
	int nslots;
	struct fetch_slot *slots;   /* slots [0, nhyd) are the hydrators'; demand reads use the others */
	int nhyd;                   /* hydrator threads (0 with prefetch=off) */
	int first_demand;           /* the first slot demand reads use (0 when every slot is shared) */
	bool prefetch;

	pthread_mutex_t lock;       /* guards inflight[], disconnected, last_error */
	pthread_cond_t cond;        /* signalled when an inflight chunk finishes */
	uint8_t *inflight;          /* per global chunk: a fetch is under way */
	bool disconnected;
	char last_error[CFS_ERR_MSG_MAX + 32];
	char tls[96];               /* negotiated TLS of the first connection, for the status */

	/* Counters, updated atomically by any thread. */
	atomic_uint_fast64_t bytes_fetched, chunks_fetched, requests, reconnects, demand_active;
	atomic_uint_fast64_t bytes_wire;  /* CHUNK payloads as received: bytes_fetched / this = compression */
	/* Chunks fetcher_ensure found verified in the cache, and those it fetched; how long each of its
	 * fetches took (/.clonefs/metrics, fs/metrics.c). */
	atomic_uint_fast64_t chunk_hits, chunk_misses;
	struct metrics_hist fetch_latency;
	/* Where fetching time goes, summed over all connections (status "time_s"). */
	atomic_uint_fast64_t ns_wait, ns_decode, ns_write, ns_sync;
	int64_t start_ms;

	pthread_t hydrators[FETCH_MAX_HYDRATORS];
	int hydrators_started;
	atomic_bool stop;
	int stop_fd;                /* an eventfd every connection's waits watch: fetcher_stop makes it
				       readable, which ends a read blocked on the donor (opts.cancel_fd) */
	atomic_bool hydrated;
	atomic_bool bounded;        /* hydration stopped at the cache's bound (FETCH_BOUNDED) */
};

/* first is an already-open session (it becomes slot 1's, or slot 0's when nslots == 1). */
int fetcher_init(struct fetcher *f, const struct cfs_client_opts *o, struct cfs_session *first,
		 const char *snap_id, const struct manifest *m, struct cache *c, int nslots,
		 int network_timeout_s, bool prefetch, struct cfs_err *err);
/* Start background hydration (after any fork). */
int fetcher_start(struct fetcher *f);
void fetcher_stop(struct fetcher *f);

/* Make chunks [first, last] of e present and verified in the cache, fetching what is missing;
 * waits for fetches already under way. -1 with err when the donor cannot be reached within
 * network_timeout or sends bad data. A bulk ensure (a whole file for materialize) fetches in
 * hydration-sized batches and does not make the hydrators yield as a waiting reader does. */
int fetcher_ensure(struct fetcher *f, const struct manifest_entry *e, uint64_t first, uint64_t last,
		   bool bulk, struct cfs_err *err);

enum fetch_state fetcher_state(struct fetcher *f);
const char *fetch_state_name(enum fetch_state s);

#endif
