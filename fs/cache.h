/* cache.h: the persistent, verified chunk cache of one snapshot (docs/cache-format.md): chunk bytes
 * in sparse per-file data files, one durable record per chunk with the donor's digest. No FUSE. */
#ifndef CLONEFS_CACHE_H
#define CLONEFS_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "transport/chunk.h"
#include "transport/errors.h"
#include "transport/manifest.h"

#define CACHE_MAGIC 0x43465343u /* "CFSC" */
#define CACHE_VERSION 1

enum cache_state { CACHE_EMPTY = 0, CACHE_DATA = 1, CACHE_ZERO = 2 };

/* One record per chunk in chunks.idx, at offset CACHE_HDR_LEN + global_index * 48. */
struct cache_rec {
	uint8_t state;          /* enum cache_state; written last, after the bytes are durable */
	uint8_t pad[3];
	uint32_t raw_len;
	uint64_t reserved;
	uint8_t digest[CHUNK_DIGEST_LEN];
};
_Static_assert(sizeof(struct cache_rec) == 48, "cache record layout is on disk");
enum { CACHE_HDR_LEN = 4096, CACHE_LOCK_WAIT_MS = 10000 };
/* data_fd[] of a file handed off to materialize (cache_handoff): never reopened. */
enum { CACHE_FD_HANDED_OFF = -2 };
/* A bounded cache (cache_max=, docs/decisions.md D14) evicts down to this share of its bound, and the
 * hydrator stops there: the room left is for demand reads, so a full cache does not evict on every
 * fetch, and hydration never evicts what readers use. */
enum { CACHE_LOW_WATER_PCT = 90 };
/* The smallest bound: one 1 MiB FUSE read spans two chunks (17 at 64 KiB), a few readers at once
 * pin a few of those, and below this nearly every read would evict. */
enum { CACHE_MAX_MIN_BYTES = 4 << 20, CACHE_MAX_MIN_CHUNKS = 4 };

struct cache {
	char dir[4096];
	const struct manifest *m;   /* borrowed; outlives the cache */
	uint32_t chunk_size;
	uint64_t nchunks;           /* over all regular files */
	uint64_t *base;             /* per entry id: global index of its chunk 0 */
	int idx_fd;
	int lock_fd;                /* <dir>/lock, flock'ed for the mount's life: one mount per cache */
	int *data_fd;               /* per entry id, opened lazily; -1 when closed, CACHE_FD_HANDED_OFF */
	/* Open data files are bounded (fd_max, from the open-files limit): opening one more closes the
	 * least recently used one nobody holds. fd_refs[id] counts holders (a pinned read whose reply
	 * is spliced from the fd, a write or sync under way); taken under lock, dropped without it. */
	atomic_uint *fd_refs;
	uint32_t *fd_prev, *fd_next; /* the LRU list of open data files; index m->n is its head */
	uint32_t fd_open, fd_max;
	/* Lock order: a fetcher slot's lock -> the fetcher's lock -> this lock (fs/fetch.h). Nothing
	 * waits for another lock while holding this one. */
	pthread_mutex_t lock;       /* guards data_fd[] opening and closing, the LRU list, state[], the
				       counters and the bound's state below */
	uint8_t *state;             /* per chunk: enum cache_state of its record in chunks.idx. Only this
	                             * byte is kept in memory (the digest is read from chunks.idx when a
	                             * chunk is verified), so small chunks cost little memory: D1 */
	uint8_t *checked;           /* per chunk: 1 once its cached bytes were verified in this run */
	uint64_t bytes_cached;      /* raw bytes of chunks present */
	uint64_t chunks_cached;
	uint64_t chunks_at_open;    /* present when the cache was opened: what a mount resumed with */
	uint64_t corrupt_found;     /* chunks whose bytes no longer matched their digest */
	bool staging;               /* handoff=on: never resumed, so commits skip the fdatasync (D13) */
	bool shared;                /* opened by cache_open_shared (thin clones, docs/decisions.md D34) */
	enum chunk_digest_alg digest; /* the records' digests (the connections' protocol version) */

	/* The bound (cache_set_max; all zero/NULL without one). max_bytes is set before any thread
	 * starts and read-only afterwards; the rest is guarded by lock. */
	uint64_t max_bytes;         /* 0: no bound */
	uint64_t bytes_handed_off;  /* raw bytes of present chunks whose data file was handed off */
	uint64_t bytes_reserved;    /* room promised to READs under way (cache_reserve) */
	uint64_t use_clock;         /* ticks once per pin or commit: the LRU's clock */
	uint64_t *last_use;         /* per chunk: use_clock at its last pin or store */
	uint16_t *pins;             /* per chunk: readers serving it now; never evicted while > 0 */
	uint8_t *evicting;          /* per chunk: record cleared, hole not yet punched (writes wait) */
	pthread_cond_t evicted;     /* with lock: an eviction round has punched its holes */
	uint64_t chunks_evicted, bytes_evicted;
};

/* The default cache_dir: /var/cache/clonefs for root, else $XDG_CACHE_HOME/clonefs or ~/.cache/clonefs. */
void cache_default_dir(char *out, size_t n);
/* Is <dir> (one snapshot's cache) held by a running mount? */
bool cache_in_use(const char *dir);
/* Is <dir> a snapshot's cache? Its last use (a chunk stored, the index made) in *used. */
bool cache_last_used(const char *dir, time_t *used);
/* Remove <dir> (one snapshot's cache) under its lock: -EBUSY (with err) when a mount holds it; a
 * mount starting meanwhile gets a fresh cache, never a half-removed one. 0 when it is gone. */
int cache_remove(const char *dir, struct cfs_err *err);

/* Open or create <cache_dir>/<snapshot_id>. A cache made for another manifest is refused, and so
 * is one another mount holds (7003). */
int cache_open(struct cache *c, const char *cache_dir, const char *snap_id, const struct manifest *m,
	       uint32_t chunk_size, enum chunk_digest_alg digest, const uint8_t *manifest_blob, size_t blob_len,
	       struct cfs_err *err);
/* The same for a thin clone: thin clones of one snapshot share the cache (docs/decisions.md D34):
 * a shared lock once it is set up, and a chunk absent here is looked up in chunks.idx, where another
 * mount may have stored it. A read-only mount still needs the cache alone. */
int cache_open_shared(struct cache *c, const char *cache_dir, const char *snap_id, const struct manifest *m,
		      uint32_t chunk_size, enum chunk_digest_alg digest, const uint8_t *manifest_blob,
		      size_t blob_len, struct cfs_err *err);
void cache_close(struct cache *c);

static inline uint64_t cache_gidx(const struct cache *c, const struct manifest_entry *e, uint64_t idx)
{
	return c->base[e->id] + idx;
}
/* Raw length of chunk idx of e. */
uint32_t cache_chunk_len(const struct cache *c, const struct manifest_entry *e, uint64_t idx);

/* The counters, read together under the cache's lock. */
struct cache_stats {
	uint64_t chunks_cached, bytes_cached, corrupt_found, chunks_evicted, bytes_evicted;
};
struct cache_stats cache_stats(struct cache *c);

/* Bound the cache to max_bytes of chunks while mounted (docs/decisions.md D14). Called once after
 * cache_open, before other threads use the cache. max_bytes below CACHE_MAX_MIN_BYTES or
 * CACHE_MAX_MIN_CHUNKS chunks is refused. */
int cache_set_max(struct cache *c, uint64_t max_bytes, struct cfs_err *err);
/* A reader pins chunks [first, last] of e before making them present and keeps them pinned until
 * its reply has gone: a pinned chunk is never evicted. Marks them used (the LRU's clock) and
 * returns e's data file (opened on first use, held open until cache_unpin: replies are spliced from
 * it), or -1. Without a bound only the data file, in the one lock round that takes. */
int cache_pin(struct cache *c, const struct manifest_entry *e, uint64_t first, uint64_t last,
	      struct cfs_err *err);
/* Undo cache_pin (which also holds the data file open: the fd stays valid until here); a cache left over its bound by pinned chunks is brought back under it here. */
void cache_unpin(struct cache *c, const struct manifest_entry *e, uint64_t first, uint64_t last);
/* Room for a READ of `bytes` about to be stored: when the chunks present, plus the room promised to
 * other READs, plus bytes would pass the bound, the least recently used unpinned chunks are evicted
 * down to CACHE_LOW_WATER_PCT of it first. The room is promised until cache_release. Without a
 * bound, nothing. A cache still over its bound (everything pinned) stores anyway: reads always work. */
int cache_reserve(struct cache *c, uint64_t bytes, struct cfs_err *err);
/* For the hydrator, which never evicts: promise up to want bytes, but only what fits below the low
 * water mark; returns the bytes promised (want without a bound, 0 when the cache is full enough). */
uint64_t cache_reserve_room(struct cache *c, uint64_t want);
void cache_release(struct cache *c, uint64_t bytes);

/* The path of e's data file (created if need be): materialize copies a complete file from it
 * (copy_file_range: a reflink where the file system shares extents). */
int cache_data_path(struct cache *c, const struct manifest_entry *e, char *out, size_t n, struct cfs_err *err);
/* Hand e's complete data file over (a mount with handoff=on, whose cache is a staging area): it is
 * renamed to <dir>/handoff/<id>, its path returned in out, and this mount no longer serves e
 * (reads fail); the records stay, so hydration does not fetch it again. */
int cache_handoff(struct cache *c, const struct manifest_entry *e, char *out, size_t n, struct cfs_err *err);

/* Is the chunk present (state != EMPTY)? */
bool cache_has(struct cache *c, const struct manifest_entry *e, uint64_t idx);
/* Store verified chunks of one file in two steps: cache_write puts each chunk's bytes in place (not
 * yet present to readers); cache_commit makes the file's bytes durable with one fdatasync and then
 * writes the records of the n chunks written (h[i] as received). */
int cache_write(struct cache *c, const struct manifest_entry *e, const struct chunk_hdr *h, const uint8_t *data,
		struct cfs_err *err);
int cache_commit(struct cache *c, const struct manifest_entry *e, const struct chunk_hdr *h, size_t n,
		 struct cfs_err *err);
/* Both for one chunk: bytes durable first (fdatasync), then the record. */
int cache_store(struct cache *c, const struct manifest_entry *e, const struct chunk_hdr *h,
		const uint8_t *data, struct cfs_err *err);
/* Verify a present chunk against its recorded digest once per run; on mismatch the record is
 * dropped and 0 is returned (the caller refetches). 1 = good. -1 = I/O error. */
int cache_verify(struct cache *c, const struct manifest_entry *e, uint64_t idx, struct cfs_err *err);
/* Read len bytes at off of file e from the cache (the range must be present). */
ssize_t cache_pread(struct cache *c, const struct manifest_entry *e, void *buf, size_t len, uint64_t off,
		    struct cfs_err *err);

#endif
