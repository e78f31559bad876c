/* cache.c: persistent chunk cache of one snapshot: sparse data files at their natural offsets plus
 * chunks.idx, whose record is written only after the chunk's bytes are durable (docs/cache-format.md). */
#include "fs/cache.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "transport/buf.h"

static int io_err(struct cfs_err *err, const char *what, const char *path)
{
	return cfs_err_set(err, CFS_ER_CACHE, "cache: cannot %s '%s': %s", what, path, strerror(errno));
}

/* mkdir -p with mode 0700: the cache holds the donor's data. */
static int mkdirs(const char *path, struct cfs_err *err)
{
	char tmp[4400];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return io_err(err, "create directory", tmp);
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return io_err(err, "create directory", tmp);
	return 0;
}

/* Write a whole file atomically (temp + fsync + rename). */
static int write_file(const char *dir, const char *name, const void *buf, size_t len, struct cfs_err *err)
{
	char path[4200], tmp[4300];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_err(err, "create", tmp);
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return io_err(err, "write", tmp);
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) || close(fd) || rename(tmp, path))
		return io_err(err, "write", path);
	return 0;
}

/* The manifest the cache was made for must be the one we were given. */
static int check_manifest(const char *dir, const uint8_t *blob, size_t len, bool *fresh, struct cfs_err *err)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/manifest", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return io_err(err, "open", path);
		*fresh = true;
		return write_file(dir, "manifest", blob, len, err);
	}
	*fresh = false;
	struct stat st;
	int rc = -1;
	uint8_t *old = NULL;
	if (fstat(fd, &st) || (size_t)st.st_size != len || !(old = malloc(len ? len : 1)) ||
	    pread(fd, old, len, 0) != (ssize_t)len) {
		cfs_err_set(err, CFS_ER_CACHE, "cache: '%s' belongs to another manifest of this snapshot id; remove it", dir);
		goto out;
	}
	if (memcmp(blob, old, len) != 0) {
		cfs_err_set(err, CFS_ER_CACHE, "cache: '%s' belongs to another manifest of this snapshot id; remove it", dir);
		goto out;
	}
	rc = 0;
out:
	free(old);
	close(fd);
	return rc;
}

uint32_t cache_chunk_len(const struct cache *c, const struct manifest_entry *e, uint64_t idx)
{
	uint64_t off = idx * c->chunk_size;
	return (uint32_t)(e->size - off < c->chunk_size ? e->size - off : c->chunk_size);
}

void cache_default_dir(char *out, size_t n)
{
	if (getuid() == 0) {
		snprintf(out, n, "/var/cache/clonefs");
		return;
	}
	const char *xdg = getenv("XDG_CACHE_HOME");
	if (xdg && *xdg) {
		snprintf(out, n, "%s/clonefs", xdg);
		return;
	}
	const char *home = getenv("HOME");
	struct passwd *pw = getpwuid(getuid());
	snprintf(out, n, "%s/.cache/clonefs", home && *home ? home : pw ? pw->pw_dir : "/tmp");
}

bool cache_in_use(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/lock", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK; /* shared holders too (D34) */
	close(fd);
	return busy;
}

/* One mount per cache: two daemons storing chunks into one index would tear it. The lock lives as
 * long as the open file description, so it survives the mount's daemonizing fork. */
static int take_lock(struct cache *c, bool *exclusive, struct cfs_err *err)
{
	*exclusive = true;
	char path[4200];
	snprintf(path, sizeof(path), "%s/lock", c->dir);
	c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lock_fd < 0)
		return io_err(err, "open", path);
	/* A mount just unmounted may still be closing its cache: give it a moment. */
	for (int waited_ms = 0; waited_ms < CACHE_LOCK_WAIT_MS; waited_ms += 100) {
		if (flock(c->lock_fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		/* Thin clones share a cache another thin clone set up (and holds shared). */
		if (c->shared && flock(c->lock_fd, LOCK_SH | LOCK_NB) == 0) {
			*exclusive = false;
			return 0;
		}
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return cfs_err_set(err, CFS_ER_CACHE, "cache: '%s' is in use by another mount of this snapshot "
			   "(use another cache_dir=, or unmount it first)", c->dir);
}

/* The state of every chunk from chunks.idx, read in blocks: a record whose state or length does not
 * fit its chunk (torn, foreign) counts as empty, and so does one past a short index (a crash while
 * it was extended): those chunks are fetched again. */
static int load_states(struct cache *c, struct cfs_err *err)
{
	enum { BLOCK = 4096 };
	struct cache_rec *r = malloc(BLOCK * sizeof(*r));
	if (!r)
		return cfs_err_set(err, CFS_ER_CACHE, "cache: out of memory");
	uint64_t g = 0, avail = 0;
	size_t have = 0, at = 0;
	for (uint32_t i = 0; i < c->m->n; i++) {
		const struct manifest_entry *e = &c->m->e[i];
		if (e->type != MANIFEST_REG)
			continue;
		uint64_t nc = manifest_chunks(e->size, c->chunk_size);
		for (uint64_t k = 0; k < nc; k++, g++, at++) {
			if (at == have && avail == g) {
				ssize_t n = pread(c->idx_fd, r, BLOCK * sizeof(*r), (off_t)(CACHE_HDR_LEN + g * sizeof(*r)));
				if (n < 0) {
					free(r);
					return io_err(err, "read chunks.idx in", c->dir);
				}
				have = (size_t)n / sizeof(*r);
				avail = g + have;
				at = 0;
			}
			if (g >= avail)
				continue; /* past a short index: empty */
			const struct cache_rec *x = &r[at];
			if (x->state == CACHE_EMPTY || x->state > CACHE_ZERO || x->raw_len != cache_chunk_len(c, e, k))
				continue;
			c->state[g] = x->state;
			c->chunks_cached++;
			c->bytes_cached += x->raw_len;
		}
	}
	free(r);
	return 0;
}

/* The record of chunk g as chunks.idx holds it (c->lock held). */
static int read_rec(struct cache *c, uint64_t g, struct cache_rec *r, struct cfs_err *err)
{
	if (pread(c->idx_fd, r, sizeof(*r), (off_t)(CACHE_HDR_LEN + g * sizeof(*r))) != (ssize_t)sizeof(*r))
		return cfs_err_set(err, CFS_ER_CACHE, "cache: cannot read chunks.idx in '%s': %s", c->dir,
				   strerror(errno ? errno : EIO));
	return 0;
}

static int open_cache(struct cache *c, const char *cache_dir, const char *snap_id, const struct manifest *m,
		      uint32_t chunk_size, enum chunk_digest_alg digest, const uint8_t *manifest_blob, size_t blob_len,
		      bool shared, struct cfs_err *err)
{
	char path[4200];
	bool fresh = false, exclusive = true;
	memset(c, 0, sizeof(*c));
	c->shared = shared;
	c->idx_fd = -1;
	c->lock_fd = -1;
	c->m = m;
	c->chunk_size = chunk_size;
	c->digest = digest;
	pthread_mutex_init(&c->lock, NULL);
	snprintf(c->dir, sizeof(c->dir), "%s/%s", cache_dir, snap_id);
	snprintf(path, sizeof(path), "%s/data", c->dir);
	if (mkdirs(path, err) || take_lock(c, &exclusive, err) || check_manifest(c->dir, manifest_blob, blob_len, &fresh, err))
		goto fail;

	c->base = calloc(m->n ? m->n : 1, sizeof(*c->base));
	c->data_fd = malloc((m->n ? m->n : 1) * sizeof(*c->data_fd));
	if (!c->base || !c->data_fd) {
		cfs_err_set(err, CFS_ER_CACHE, "cache: out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < m->n; i++) {
		c->data_fd[i] = -1;
		c->base[i] = c->nchunks;
		if (m->e[i].type == MANIFEST_REG)
			c->nchunks += manifest_chunks(m->e[i].size, chunk_size);
	}
	c->state = calloc(c->nchunks ? c->nchunks : 1, 1);
	c->checked = calloc(c->nchunks ? c->nchunks : 1, 1);
	if (!c->state || !c->checked) {
		cfs_err_set(err, CFS_ER_CACHE, "cache: out of memory for %llu chunk records",
			    (unsigned long long)c->nchunks);
		goto fail;
	}

	snprintf(path, sizeof(path), "%s/chunks.idx", c->dir);
	c->idx_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->idx_fd < 0) {
		io_err(err, "open", path);
		goto fail;
	}
	uint8_t hdr[CACHE_HDR_LEN];
	size_t recbytes = c->nchunks * sizeof(struct cache_rec);
	ssize_t got = pread(c->idx_fd, hdr, sizeof(hdr), 0);
	/* A header without a digest field (0) is from before protocol 2: its digests are SHA-256. */
	uint32_t had = got == CACHE_HDR_LEN ? be32_get(hdr + 20) : 0;
	if (got == CACHE_HDR_LEN && be32_get(hdr) == CACHE_MAGIC && be32_get(hdr + 4) == CACHE_VERSION &&
	    be32_get(hdr + 8) == chunk_size && be64_get(hdr + 12) == c->nchunks &&
	    (had ? had : CHUNK_DIGEST_SHA256) == (uint32_t)digest && !fresh) {
		if (load_states(c, err))
			goto fail;
	} else if (!exclusive) {
		cfs_err_set(err, CFS_ER_CACHE, "cache: '%s' is in use by another mount of this snapshot with another "
			    "chunk size or digest (use another cache_dir=)", c->dir);
		goto fail;
	} else {
		memset(hdr, 0, sizeof(hdr));
		be32_put(hdr, CACHE_MAGIC);
		be32_put(hdr + 4, CACHE_VERSION);
		be32_put(hdr + 8, chunk_size);
		be64_put(hdr + 12, c->nchunks);
		be32_put(hdr + 20, (uint32_t)digest);
		if (ftruncate(c->idx_fd, 0) || pwrite(c->idx_fd, hdr, sizeof(hdr), 0) != CACHE_HDR_LEN ||
		    ftruncate(c->idx_fd, (off_t)(CACHE_HDR_LEN + recbytes)) || fsync(c->idx_fd)) {
			io_err(err, "initialize", path);
			goto fail;
		}
	}
	c->chunks_at_open = c->chunks_cached;
	/* Set up: other thin clones of the snapshot may join (a read-only mount still may not). */
	if (c->shared && exclusive && flock(c->lock_fd, LOCK_SH)) {
		io_err(err, "share the lock of", c->dir);
		goto fail;
	}
	return 0;
fail:
	cache_close(c);
	return -1;
}

int cache_open(struct cache *c, const char *cache_dir, const char *snap_id, const struct manifest *m,
	       uint32_t chunk_size, enum chunk_digest_alg digest, const uint8_t *manifest_blob, size_t blob_len,
	       struct cfs_err *err)
{
	return open_cache(c, cache_dir, snap_id, m, chunk_size, digest, manifest_blob, blob_len, false, err);
}

int cache_open_shared(struct cache *c, const char *cache_dir, const char *snap_id, const struct manifest *m,
		      uint32_t chunk_size, enum chunk_digest_alg digest, const uint8_t *manifest_blob,
		      size_t blob_len, struct cfs_err *err)
{
	return open_cache(c, cache_dir, snap_id, m, chunk_size, digest, manifest_blob, blob_len, true, err);
}

void cache_close(struct cache *c)
{
	if (c->data_fd && c->m)
		for (uint32_t i = 0; i < c->m->n; i++)
			if (c->data_fd[i] >= 0)
				close(c->data_fd[i]);
	if (c->idx_fd >= 0)
		close(c->idx_fd);
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
	free(c->data_fd);
	free(c->base);
	free(c->state);
	free(c->checked);
	free(c->last_use);
	free(c->pins);
	pthread_mutex_destroy(&c->lock);
	c->data_fd = NULL;
	c->base = NULL;
	c->state = NULL;
	c->checked = NULL;
	c->last_use = NULL;
	c->pins = NULL;
	c->idx_fd = -1;
}

/* The data file of e, opened (and sized, sparse) on first use. Caller holds c->lock. */
static int data_fd_locked(struct cache *c, const struct manifest_entry *e, struct cfs_err *err)
{
	int fd = c->data_fd[e->id];
	if (fd == CACHE_FD_HANDED_OFF)
		return cfs_err_set(err, CFS_ER_CACHE, "cache: '%s' was handed off to materialize; this mount no longer "
				   "serves it", e->path);
	if (fd < 0) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/data/%u", c->dir, e->id);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size != e->size && ftruncate(fd, (off_t)e->size)) {
			close(fd);
			fd = -1;
		}
		if (fd < 0)
			io_err(err, "open", path);
		c->data_fd[e->id] = fd;
	}
	return fd;
}

static int data_fd(struct cache *c, const struct manifest_entry *e, struct cfs_err *err)
{
	pthread_mutex_lock(&c->lock);
	int fd = data_fd_locked(c, e, err);
	pthread_mutex_unlock(&c->lock);
	return fd;
}

int cache_data_path(struct cache *c, const struct manifest_entry *e, char *out, size_t n, struct cfs_err *err)
{
	if (data_fd(c, e, err) < 0) /* exists from here on, even for a file of holes only */
		return -1;
	if ((size_t)snprintf(out, n, "%s/data/%u", c->dir, e->id) >= n)
		return cfs_err_set(err, CFS_ER_CACHE, "cache: path too long");
	return 0;
}

int cache_handoff(struct cache *c, const struct manifest_entry *e, char *out, size_t n, struct cfs_err *err)
{
	char from[4200], dir[4200];
	if (cache_data_path(c, e, from, sizeof(from), err))
		return -1;
	snprintf(dir, sizeof(dir), "%s/handoff", c->dir);
	if ((size_t)snprintf(out, n, "%s/%u", dir, e->id) >= n)
		return cfs_err_set(err, CFS_ER_CACHE, "cache: path too long");
	pthread_mutex_lock(&c->lock);
	int rc = 0;
	if (c->data_fd[e->id] == CACHE_FD_HANDED_OFF)
		rc = cfs_err_set(err, CFS_ER_CACHE, "cache: '%s' was handed off already", e->path);
	else if ((mkdir(dir, 0700) && errno != EEXIST) || rename(from, out))
		rc = io_err(err, "hand off a data file of", c->dir);
	if (rc == 0) {
		close(c->data_fd[e->id]);
		c->data_fd[e->id] = CACHE_FD_HANDED_OFF;
		/* Its chunks stay present (hydration does not fetch them again) but no longer take room here. */
		uint64_t nc = manifest_chunks(e->size, c->chunk_size);
		for (uint64_t k = 0; k < nc; k++)
			if (c->state[cache_gidx(c, e, k)] != CACHE_EMPTY)
				c->bytes_handed_off += cache_chunk_len(c, e, k);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

bool cache_has(struct cache *c, const struct manifest_entry *e, uint64_t idx)
{
	pthread_mutex_lock(&c->lock);
	uint64_t g = cache_gidx(c, e, idx);
	bool has = c->state[g] != CACHE_EMPTY;
	struct cache_rec r;
	struct cfs_err ignored;
	/* Stored by another mount sharing the cache: its record is written only after its bytes are
	 * durable, and the chunk is verified before it is first served here (checked[] is 0). */
	if (!has && c->shared && read_rec(c, g, &r, &ignored) == 0 && (r.state == CACHE_DATA || r.state == CACHE_ZERO) &&
	    r.raw_len == cache_chunk_len(c, e, idx)) {
		c->state[g] = r.state;
		c->chunks_cached++;
		c->bytes_cached += r.raw_len;
		has = true;
	}
	pthread_mutex_unlock(&c->lock);
	return has;
}

static int write_rec(struct cache *c, uint64_t g, const struct cache_rec *r, struct cfs_err *err)
{
	off_t off = (off_t)(CACHE_HDR_LEN + g * sizeof(*r));
	if (pwrite(c->idx_fd, r, sizeof(*r), off) != (ssize_t)sizeof(*r))
		return cfs_err_set(err, CFS_ER_CACHE, "cache: cannot write chunks.idx in '%s': %s", c->dir, strerror(errno));
	return 0;
}

struct cache_stats cache_stats(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	struct cache_stats st = { c->chunks_cached, c->bytes_cached, c->corrupt_found, c->chunks_evicted,
				  c->bytes_evicted };
	pthread_mutex_unlock(&c->lock);
	return st;
}

/* Write data[0, len) at off, leaving all-zero 4 KiB blocks out: the data file stays as sparse as
 * the donor's file (page-compressed tables' punched holes), so a file handed to materialize needs
 * no second pass. A region left out is a hole: data files only grow holes (drop punches). */
static int write_sparse(int fd, const uint8_t *data, size_t len, off_t off)
{
	enum { BLOCK = 4096 };
	for (size_t at = 0; at < len;) {
		size_t b = len - at < BLOCK ? len - at : BLOCK;
		if (data[at] == 0 && !memcmp(data + at, data + at + 1, b - 1)) {
			at += b;
			continue;
		}
		size_t end = at + b; /* extend the run over the following non-zero blocks */
		while (end < len) {
			size_t nb = len - end < BLOCK ? len - end : BLOCK;
			if (data[end] == 0 && !memcmp(data + end, data + end + 1, nb - 1))
				break;
			end += nb;
		}
		while (at < end) {
			ssize_t n = pwrite(fd, data + at, end - at, off + (off_t)at);
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				errno = EIO;
			if (n <= 0)
				return -1;
			at += (size_t)n;
		}
	}
	return 0;
}

int cache_write(struct cache *c, const struct manifest_entry *e, const struct chunk_hdr *h, const uint8_t *data,
		struct cfs_err *err)
{
	int fd = data_fd(c, e, err);
	if (fd < 0)
		return -1;
	off_t off = (off_t)(h->index * c->chunk_size);
	if (h->enc != CHUNK_ZERO) {
		if (write_sparse(fd, data, h->raw_len, off))
			return cfs_err_set(err, CFS_ER_CACHE, "cache: cannot write chunk of '%s' in '%s': %s", e->path,
					   c->dir, strerror(errno));
	} else if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, h->raw_len) && errno != EOPNOTSUPP) {
		/* A zero chunk keeps (or becomes) a hole. */
		return io_err(err, "punch a hole in a data file of", c->dir);
	}
	return 0;
}

/* Ask the kernel to start writing h[0..n)'s range of fd back (no wait: the flag is WRITE alone). */
static void start_writeback(struct cache *c, int fd, const struct manifest_entry *e, const struct chunk_hdr *h,
			    size_t n)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t off = h[i].index * c->chunk_size, end = off + cache_chunk_len(c, e, h[i].index);
		lo = off < lo ? off : lo;
		hi = end > hi ? end : hi;
	}
	sync_file_range(fd, (off_t)lo, (off_t)(hi - lo), SYNC_FILE_RANGE_WRITE); /* advice: failure is harmless */
}

int cache_commit(struct cache *c, const struct manifest_entry *e, const struct chunk_hdr *h, size_t n,
		 struct cfs_err *err)
{
	if (n == 0)
		return 0;
	int fd = data_fd(c, e, err);
	if (fd < 0)
		return -1;
	/* The records are the promise that the bytes are there: durable bytes first, one sync for all.
	 * A staging cache is made durable by materialize's syncfs instead; its writeback is started here,
	 * without waiting, so the disk writes while the rest arrives rather than all at that syncfs. */
	if (c->staging)
		start_writeback(c, fd, e, h, n);
	else if (fdatasync(fd))
		return io_err(err, "sync a data file of", c->dir);
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	uint64_t tick = ++c->use_clock;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint64_t g = cache_gidx(c, e, h[i].index);
		struct cache_rec r = { .state = h[i].enc == CHUNK_ZERO ? CACHE_ZERO : CACHE_DATA, .raw_len = h[i].raw_len };
		memcpy(r.digest, h[i].digest, CHUNK_DIGEST_LEN);
		bool was = c->state[g] != CACHE_EMPTY;
		rc = write_rec(c, g, &r, err);
		if (rc == 0) {
			c->state[g] = r.state;
			c->checked[g] = 1;
			if (c->last_use)
				c->last_use[g] = tick;
			if (!was) {
				c->chunks_cached++;
				c->bytes_cached += r.raw_len;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int cache_store(struct cache *c, const struct manifest_entry *e, const struct chunk_hdr *h,
		const uint8_t *data, struct cfs_err *err)
{
	return cache_write(c, e, h, data, err) || cache_commit(c, e, h, 1, err) ? -1 : 0;
}

static int punch(struct cache *c, int fd, const struct manifest_entry *e, uint64_t idx, struct cfs_err *err)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(idx * c->chunk_size),
		      (off_t)cache_chunk_len(c, e, idx)) && errno != EOPNOTSUPP)
		return io_err(err, "punch a hole in a data file of", c->dir);
	return 0;
}

/* A chunk whose bytes no longer match: its record goes, and its range becomes a hole again (the
 * refetched chunk is written sparsely, so no stale block may stay under its zero blocks). Only if
 * its record is still the one verified (was): a chunk evicted or refetched meanwhile is not corrupt.
 * The hole is punched before the lock is released, so no refetch of the chunk can start first. */
static int drop(struct cache *c, const struct manifest_entry *e, uint64_t idx, const struct cache_rec *was,
		struct cfs_err *err)
{
	uint64_t g = cache_gidx(c, e, idx);
	struct cache_rec empty = { 0 };
	int rc = 0;
	struct cache_rec now;
	pthread_mutex_lock(&c->lock);
	if (c->state[g] == was->state && read_rec(c, g, &now, err) == 0 && memcmp(&now, was, sizeof(*was)) == 0) {
		c->chunks_cached--;
		c->bytes_cached -= was->raw_len;
		c->state[g] = CACHE_EMPTY;
		c->checked[g] = 0;
		c->corrupt_found++;
		rc = write_rec(c, g, &empty, err);
		int fd = c->data_fd[e->id];
		if (rc == 0 && fd >= 0)
			rc = punch(c, fd, e, idx, err);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int cache_verify(struct cache *c, const struct manifest_entry *e, uint64_t idx, struct cfs_err *err)
{
	uint64_t g = cache_gidx(c, e, idx);
	struct cache_rec r = { 0 };
	pthread_mutex_lock(&c->lock);
	bool present = c->state[g] != CACHE_EMPTY, checked = c->checked[g];
	int rr = present && !checked ? read_rec(c, g, &r, err) : 0;
	pthread_mutex_unlock(&c->lock);
	if (rr)
		return -1;
	if (!present)
		return 0;
	if (checked)
		return 1;
	int fd = data_fd(c, e, err);
	if (fd < 0)
		return -1;
	uint8_t *buf = malloc(c->chunk_size);
	if (!buf)
		return cfs_err_set(err, CFS_ER_CACHE, "cache: out of memory");
	ssize_t n = pread(fd, buf, r.raw_len, (off_t)(idx * c->chunk_size));
	uint8_t d[CHUNK_DIGEST_LEN];
	int rc = 1;
	if (n != (ssize_t)r.raw_len) {
		rc = drop(c, e, idx, &r, err) ? -1 : 0;
	} else {
		chunk_digest(c->digest, buf, r.raw_len, d);
		if (memcmp(d, r.digest, sizeof(d)) != 0) {
			rc = drop(c, e, idx, &r, err) ? -1 : 0;
		} else {
			pthread_mutex_lock(&c->lock);
			c->checked[g] = 1;
			pthread_mutex_unlock(&c->lock);
		}
	}
	free(buf);
	return rc;
}

ssize_t cache_pread(struct cache *c, const struct manifest_entry *e, void *buf, size_t len, uint64_t off,
		    struct cfs_err *err)
{
	int fd = data_fd(c, e, err);
	if (fd < 0)
		return -1;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return io_err(err, "read a data file of", c->dir);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* ---- The bound while mounted (cache_max=, docs/decisions.md D14) ---- */

/* Bytes of chunks this cache's data files hold (a handed-off file's are elsewhere). Lock held. */
static uint64_t resident(const struct cache *c)
{
	return c->bytes_cached - c->bytes_handed_off;
}

static uint64_t low_water(const struct cache *c)
{
	return c->max_bytes / 100 * CACHE_LOW_WATER_PCT + c->max_bytes % 100 * CACHE_LOW_WATER_PCT / 100;
}

struct victim {
	uint64_t last_use, g;
	const struct manifest_entry *e;
	uint64_t idx;
};

static int by_last_use(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;
	if (x->last_use != y->last_use)
		return x->last_use < y->last_use ? -1 : 1;
	return (x->g > y->g) - (x->g < y->g);
}

/* One eviction round (c->lock held): the least recently used chunks that are present, unpinned and
 * not handed off go until what is present, the room promised and need fit below the low water mark
 * (or nothing evictable is left). One scan over every chunk, a sort of the candidates. Crash order:
 * the records are cleared first and made durable by one fdatasync of chunks.idx, only then are the
 * holes punched, so no record ever promises punched bytes. The lock is held throughout: no reader
 * sees the chunk absent (and starts refetching it) before its hole is punched. */
static int evict_locked(struct cache *c, uint64_t need, struct cfs_err *err)
{
	uint64_t low = low_water(c), used = resident(c) + c->bytes_reserved + need;
	if (used <= low)
		return 0;
	uint64_t to_free = used - low;
	struct victim *v = malloc((c->chunks_cached ? c->chunks_cached : 1) * sizeof(*v));
	if (!v)
		return cfs_err_set(err, CFS_ER_CACHE, "cache: out of memory for %llu eviction candidates",
				   (unsigned long long)c->chunks_cached);
	size_t nv = 0;
	for (uint32_t i = 0; i < c->m->n; i++) {
		const struct manifest_entry *e = &c->m->e[i];
		if (e->type != MANIFEST_REG || c->data_fd[i] == CACHE_FD_HANDED_OFF)
			continue;
		uint64_t nc = manifest_chunks(e->size, c->chunk_size);
		for (uint64_t k = 0; k < nc; k++) {
			uint64_t g = c->base[i] + k;
			if (c->state[g] != CACHE_EMPTY && c->pins[g] == 0 && nv < c->chunks_cached)
				v[nv++] = (struct victim){ c->last_use[g], g, e, k };
		}
	}
	qsort(v, nv, sizeof(*v), by_last_use);

	/* The records first, then one sync makes all of them durable. */
	static const struct cache_rec empty;
	size_t nout = 0;
	uint64_t freed = 0;
	int rc = 0;
	for (; nout < nv && freed < to_free; nout++) {
		uint64_t g = v[nout].g;
		if ((rc = write_rec(c, g, &empty, err)) != 0)
			break;
		uint32_t len = cache_chunk_len(c, v[nout].e, v[nout].idx);
		freed += len;
		c->chunks_cached--;
		c->bytes_cached -= len;
		c->chunks_evicted++;
		c->bytes_evicted += len;
		c->state[g] = CACHE_EMPTY;
		c->checked[g] = 0;
	}
	if (nout && fdatasync(c->idx_fd)) {
		free(v); /* records maybe not durable: the bytes stay (bytes without a record are harmless) */
		return cfs_err_set(err, CFS_ER_CACHE, "cache: cannot sync chunks.idx in '%s': %s", c->dir, strerror(errno));
	}
	/* Then the holes. A file system without hole punching keeps the bytes: they are the chunk's own
	 * (the snapshot never changes), so a refetch written sparsely over them leaves no wrong byte. */
	for (size_t i = 0; i < nout; i++) {
		int fd = data_fd_locked(c, v[i].e, err);
		if (fd < 0 || punch(c, fd, v[i].e, v[i].idx, err))
			rc = -1;
	}
	free(v);
	return rc;
}

int cache_set_max(struct cache *c, uint64_t max_bytes, struct cfs_err *err)
{
	if (max_bytes == 0)
		return 0;
	if (max_bytes < CACHE_MAX_MIN_BYTES || max_bytes / CACHE_MAX_MIN_CHUNKS < c->chunk_size)
		return cfs_err_set(err, CFS_ER_USAGE, "cache_max=%llu: the bound must be at least %u MiB and %u chunks "
				   "(this snapshot's chunk size is %u bytes)", (unsigned long long)max_bytes,
				   (unsigned)(CACHE_MAX_MIN_BYTES >> 20), (unsigned)CACHE_MAX_MIN_CHUNKS, c->chunk_size);
	c->last_use = calloc(c->nchunks ? c->nchunks : 1, sizeof(*c->last_use));
	c->pins = calloc(c->nchunks ? c->nchunks : 1, sizeof(*c->pins));
	if (!c->last_use || !c->pins)
		return cfs_err_set(err, CFS_ER_CACHE, "cache: out of memory for %llu chunk stamps",
				   (unsigned long long)c->nchunks);
	pthread_mutex_lock(&c->lock);
	c->max_bytes = max_bytes;
	/* A cache resumed over the bound (an earlier mount without one) shrinks now. What it held
	 * before has no use stamps: manifest order decides. */
	int rc = resident(c) > max_bytes ? evict_locked(c, 0, err) : 0;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int cache_pin(struct cache *c, const struct manifest_entry *e, uint64_t first, uint64_t last, struct cfs_err *err)
{
	if (!c->max_bytes)
		return data_fd(c, e, err);
	pthread_mutex_lock(&c->lock);
	int fd = data_fd_locked(c, e, err);
	if (fd >= 0) {
		uint64_t tick = ++c->use_clock;
		for (uint64_t g = cache_gidx(c, e, first); g <= cache_gidx(c, e, last); g++) {
			assert(c->pins[g] < UINT16_MAX);
			c->pins[g]++;
			c->last_use[g] = tick;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return fd;
}

void cache_unpin(struct cache *c, const struct manifest_entry *e, uint64_t first, uint64_t last)
{
	if (!c->max_bytes)
		return;
	pthread_mutex_lock(&c->lock);
	for (uint64_t g = cache_gidx(c, e, first); g <= cache_gidx(c, e, last); g++) {
		assert(c->pins[g] > 0);
		c->pins[g]--;
	}
	/* Over the bound only when pins kept a round from getting there: try again now. An error here
	 * has no reader to go to; the next cache_reserve meets it again and reports it. */
	if (resident(c) + c->bytes_reserved > c->max_bytes) {
		struct cfs_err ignored = { 0 };
		evict_locked(c, 0, &ignored);
	}
	pthread_mutex_unlock(&c->lock);
}

int cache_reserve(struct cache *c, uint64_t bytes, struct cfs_err *err)
{
	if (!c->max_bytes)
		return 0;
	pthread_mutex_lock(&c->lock);
	int rc = resident(c) + c->bytes_reserved + bytes > c->max_bytes ? evict_locked(c, bytes, err) : 0;
	if (rc == 0)
		c->bytes_reserved += bytes;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

uint64_t cache_reserve_room(struct cache *c, uint64_t want)
{
	if (!c->max_bytes)
		return want;
	pthread_mutex_lock(&c->lock);
	uint64_t used = resident(c) + c->bytes_reserved, low = low_water(c);
	uint64_t got = used >= low ? 0 : low - used < want ? low - used : want;
	c->bytes_reserved += got;
	pthread_mutex_unlock(&c->lock);
	return got;
}

void cache_release(struct cache *c, uint64_t bytes)
{
	if (!c->max_bytes || !bytes)
		return;
	pthread_mutex_lock(&c->lock);
	assert(c->bytes_reserved >= bytes);
	c->bytes_reserved -= bytes;
	pthread_mutex_unlock(&c->lock);
}
