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
/* FETCH_NO_SPACE: the cache's file system is full; hydration waits for free space (space_needed). */
enum fetch_state { FETCH_HYDRATING, FETCH_COMPLETE, FETCH_DISCONNECTED, FETCH_LAZY, FETCH_BOUNDED, FETCH_NO_SPACE };

struct fetcher {
	/* Set once by fetcher_init, read-only afterwards. */
	struct cfs_client_opts opts;
	char host[256], user[160], password[512], ssl_ca[4096], ssl_cert[4096], ssl_key[4096], bind_address[64];
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

	/* Lock order, outermost first: a slot's lock -> the fetcher's lock -> the cache's lock
	 * (struct cache.lock). fetch_run holds its slot's lock while it takes the other two; nothing
	 * holding the fetcher's or the cache's lock ever waits for a slot's. */
	pthread_mutex_t lock;       /* guards inflight[], the outage fields below, no_space, last_error */
	pthread_cond_t cond;        /* signalled when an inflight chunk finishes, and (with lock) when an
				       outage is given up (the prober starts) or the fetcher stops */
	uint8_t *inflight;          /* per global chunk: a fetch is under way */
	/* An outage (docs/decisions.md D4, D23): from the first failed wait on the donor, every fetch
	 * retries until down_since_ms + network_timeout; past that the outage is given up: fetches fail
	 * at once (a kernel retry of a failed read does not wait again) and the prober alone tries the
	 * donor until it answers. Any fetch or probe that succeeds ends the outage. */
	bool disconnected;
	int64_t down_since_ms;      /* when the donor went silent, as far as a failed wait shows; -1 none */
	bool given_up;              /* the outage passed network_timeout: fetches fail at once */
	struct cfs_err down_err;    /* what a fetch is told while the outage is given up */
	char last_error[CFS_ERR_MSG_MAX + 32];
	atomic_uint_fast64_t no_space; /* > 0: the cache's file system is full (ENOSPC); the bytes still
				       to cache, which hydration waits to have free (FETCH_NO_SPACE) */
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
	pthread_t prober;           /* reconnects after a given-up outage (fetcher_start) */
	bool prober_started;
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
/* The free space the cache's file system needs to finish (0 unless FETCH_NO_SPACE). */
uint64_t fetcher_space_needed(struct fetcher *f);
const char *fetch_state_name(enum fetch_state s);

#endif
