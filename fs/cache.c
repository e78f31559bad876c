/* cache.c: persistent chunk cache of one snapshot: sparse data files at their natural offsets plus
 * chunks.idx, whose record is written only after the chunk's bytes are durable (docs/cache-format.md). */
#include "fs/cache.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "transport/buf.h"

/* errno in words, returned as -errno: the fetcher tells a full file system (ENOSPC) from others. */
static int io_err(struct cfs_err *err, const char *what, const char *path)
{
	int e = errno ? errno : EIO;
	cfs_err_set(err, CFS_ER_CACHE, "cache: cannot %s '%s': %s", what, path, strerror(e));
	return -e;
}

/* All of buf at off, short writes continued: 0, or -1 with errno (EIO for a write of nothing). A
 * short write (a full file system) leaves errno stale: the next pwrite says what is wrong. */
static int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static uint32_t fd_budget(void);

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

bool cache_last_used(const char *dir, time_t *used)
{
	char path[4200];
	struct stat st;
	if ((size_t)snprintf(path, sizeof(path), "%s/chunks.idx", dir) >= sizeof(path) || stat(path, &st))
		return false;
	*used = st.st_mtime; /* chunks.idx changes with every chunk stored */
	return true;
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

/* flock <dir>/lock on fd, exclusive (or, when allow_shared, shared with the thin clones that hold it
 * so: D34), waiting up to wait_ms for a mount just unmounted, and make sure the lock file is still
 * <dir>/lock: cache_remove renames a cache away while holding its lock, and a lock on a removed
 * cache's file protects nothing. 0: held exclusive; 1: held shared; -EAGAIN when the lock file was
 * replaced (open it again); -EBUSY when another process holds it. */
static int lock_dir_fd(int fd, const char *path, int wait_ms, bool allow_shared)
{
	int got;
	for (int waited_ms = 0;; waited_ms += 100) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			got = 0;
			break;
		}
		if (allow_shared && flock(fd, LOCK_SH | LOCK_NB) == 0) {
			got = 1;
			break;
		}
		if (waited_ms >= wait_ms)
			return -EBUSY;
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	struct stat held, now;
	if (fstat(fd, &held) || stat(path, &now) || held.st_ino != now.st_ino || held.st_dev != now.st_dev)
		return -EAGAIN;
	return got;
}

/* One mount per cache: two daemons storing chunks into one index would tear it. The lock lives as
 * long as the open file description, so it survives the mount's daemonizing fork. */
static int take_lock(struct cache *c, bool *exclusive, struct cfs_err *err)
{
	*exclusive = true;
	char path[4200], data[4200];
	snprintf(path, sizeof(path), "%s/lock", c->dir);
	snprintf(data, sizeof(data), "%s/data", c->dir);
	for (int tries = 0;; tries++) {
		c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (c->lock_fd < 0)
			return io_err(err, "open", path);
		/* A mount just unmounted may still be closing its cache: give it a moment. */
		int rc = lock_dir_fd(c->lock_fd, path, CACHE_LOCK_WAIT_MS, c->shared);
		if (rc >= 0) {
			*exclusive = rc == 0;
			return 0;
		}
		close(c->lock_fd);
		c->lock_fd = -1;
		if (rc == -EBUSY || tries == 10)
			return cfs_err_set(err, CFS_ER_CACHE, "cache: '%s' is in use by another mount of this snapshot "
					   "(use another cache_dir=, or unmount it first)", c->dir);
		if (mkdirs(data, err)) /* removed while we waited (cache_remove): start a fresh one */
			return -1;
	}
}

/* Unlink every entry of dir (a cache's data/ or handoff/: plain files only), then dir itself. */
static int remove_flat_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) && errno != ENOENT)
			rc = -1;
	}
	closedir(d);
	return rc || (rmdir(dir) && errno != ENOENT) ? -1 : 0;
}

int cache_remove(const char *dir, struct cfs_err *err)
{
	char path[4400], gone[4300];
	if ((size_t)snprintf(path, sizeof(path), "%s/lock", dir) >= sizeof(path))
		return cfs_err_set(err, CFS_ER_CACHE, "cache: path too long: '%s'", dir);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return io_err(err, "open", path);
	int rc = fd < 0 ? 0 : lock_dir_fd(fd, path, 0, false);
	if (rc == -EBUSY) {
		close(fd);
		cfs_err_set(err, CFS_ER_CACHE, "cache: '%s' is in use by a mount; unmount it first", dir);
		return -EBUSY;
	}
	if (rc == -EAGAIN) { /* removed by someone else meanwhile */
		close(fd);
		return 0;
	}
	/* Out of the way first, under the lock: a mount starting now waits for the lock, then finds its
	 * lock file gone and makes a fresh cache, never a half-removed one. */
	char parent[4200];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	const char *base = slash ? slash + 1 : parent;
	if (slash)
		*slash = 0;
	if ((size_t)snprintf(gone, sizeof(gone), "%s/.%s.removing.%ld", slash ? (*parent ? parent : "/") : ".", base,
			     (long)getpid()) >= sizeof(gone)) {
		if (fd >= 0)
			close(fd);
		return cfs_err_set(err, CFS_ER_CACHE, "cache: path too long: '%s'", dir);
	}
	if (rename(dir, gone)) {
		rc = errno == ENOENT ? 0 : io_err(err, "remove", dir); /* gone already: done */
		if (fd >= 0)
			close(fd);
		return rc;
	}
	static const char *const files[] = { "manifest", "manifest.tmp", "chunks.idx", "mount.log", "lock" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && rc == 0; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", gone, files[i]) >= sizeof(path))
			rc = cfs_err_set(err, CFS_ER_CACHE, "cache: path too long: '%s'", gone);
		else if (unlink(path) && errno != ENOENT)
			rc = io_err(err, "remove", path);
	}
	static const char *const dirs[] = { "data", "handoff" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && rc == 0; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", gone, dirs[i]) >= sizeof(path))
			rc = cfs_err_set(err, CFS_ER_CACHE, "cache: path too long: '%s'", gone);
		else if (remove_flat_dir(path))
			rc = io_err(err, "remove", path);
	}
	if (rc == 0 && rmdir(gone))
		rc = io_err(err, "remove", gone); /* something not of the cache's making is in it */
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Allocate chunks.idx's blocks now: a record written later never needs space, so a full file
 * system cannot tear one (a record straddling two blocks was written in part). A file system without
 * fallocate keeps the index sparse. */
static int reserve_index(struct cache *c, size_t recbytes)
{
	if (fallocate(c->idx_fd, 0, 0, (off_t)(CACHE_HDR_LEN + recbytes)) && errno != EOPNOTSUPP)
		return -1;
	return 0;
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
	pthread_cond_init(&c->evicted, NULL);
	snprintf(c->dir, sizeof(c->dir), "%s/%s", cache_dir, snap_id);
	snprintf(path, sizeof(path), "%s/data", c->dir);
	if (mkdirs(path, err) || take_lock(c, &exclusive, err) || check_manifest(c->dir, manifest_blob, blob_len, &fresh, err))
		goto fail;

	c->base = calloc(m->n ? m->n : 1, sizeof(*c->base));
	c->data_fd = malloc((m->n ? m->n : 1) * sizeof(*c->data_fd));
	c->fd_refs = calloc(m->n ? m->n : 1, sizeof(*c->fd_refs));
	c->fd_prev = malloc(((size_t)m->n + 1) * sizeof(*c->fd_prev));
	c->fd_next = malloc(((size_t)m->n + 1) * sizeof(*c->fd_next));
	if (!c->base || !c->data_fd || !c->fd_refs || !c->fd_prev || !c->fd_next) {
		cfs_err_set(err, CFS_ER_CACHE, "cache: out of memory");
		goto fail;
	}
	c->fd_prev[m->n] = c->fd_next[m->n] = m->n; /* the LRU list: empty */
	c->fd_max = fd_budget();
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
		reserve_index(c, recbytes); /* an index from before the reservation: best effort */
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
		if (ftruncate(c->idx_fd, 0) || pwrite_full(c->idx_fd, hdr, sizeof(hdr), 0) ||
		    ftruncate(c->idx_fd, (off_t)(CACHE_HDR_LEN + recbytes)) || reserve_index(c, recbytes) ||
		    fsync(c->idx_fd)) {
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
	free(c->fd_refs);
	free(c->fd_prev);
	free(c->fd_next);
	c->fd_refs = NULL;
	c->fd_prev = c->fd_next = NULL;
	c->fd_open = 0;
	free(c->base);
	free(c->state);
	free(c->checked);
	free(c->last_use);
	free(c->pins);
	free(c->evicting);
	c->evicting = NULL;
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->evicted);
	c->data_fd = NULL;
	c->base = NULL;
	c->state = NULL;
	c->checked = NULL;
	c->last_use = NULL;
	c->pins = NULL;
	c->idx_fd = -1;
}

/* ---- Open data files, least recently used closed first (issue 20) ---- */

/* Data files a cache keeps open: half the open-files limit (the rest is for connections, FUSE,
 * materialize's own files), at least 16. */
static uint32_t fd_budget(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return 4096;
	uint64_t half = (uint64_t)rl.rlim_cur / 2;
	return half < 16 ? 16 : half > 65536 ? 65536 : (uint32_t)half;
}

static void lru_unlink(struct cache *c, uint32_t id)
{
	c->fd_next[c->fd_prev[id]] = c->fd_next[id];
	c->fd_prev[c->fd_next[id]] = c->fd_prev[id];
}

static void lru_push_front(struct cache *c, uint32_t id)
{
	uint32_t head = c->m->n;
	c->fd_prev[id] = head;
	c->fd_next[id] = c->fd_next[head];
	c->fd_prev[c->fd_next[head]] = id;
	c->fd_next[head] = id;
}

/* Close the least recently used data file nobody holds (c->lock held). false: every open one is held. */
static bool lru_close_one(struct cache *c)
{
	uint32_t head = c->m->n;
	for (uint32_t id = c->fd_prev[head]; id != head; id = c->fd_prev[id]) {
		if (atomic_load(&c->fd_refs[id]) != 0)
			continue;
		lru_unlink(c, id);
		close(c->data_fd[id]);
		c->data_fd[id] = -1;
		c->fd_open--;
		return true;
	}
	return false;
}

/* An open data file leaves the cache's books (handed off): c->lock held. */
static void lru_forget(struct cache *c, uint32_t id)
{
	lru_unlink(c, id);
	c->fd_open--;
}

/* The data file of e, opened (and sized, sparse) on first use, and made the most recently used.
 * Past fd_max open files, or on EMFILE/ENFILE, the least recently used unheld one is closed first.
 * Caller holds c->lock and uses the fd under it, or takes a reference (fd_get). */
static int data_fd_locked(struct cache *c, const struct manifest_entry *e, struct cfs_err *err)
{
	int fd = c->data_fd[e->id];
	if (fd == CACHE_FD_HANDED_OFF)
		return cfs_err_set(err, CFS_ER_CACHE, "cache: '%s' was handed off to materialize; this mount no longer "
				   "serves it", e->path);
	if (fd >= 0) {
		lru_unlink(c, e->id);
		lru_push_front(c, e->id);
		return fd;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/data/%u", c->dir, e->id);
	while (c->fd_open >= c->fd_max && lru_close_one(c))
		;
	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || !lru_close_one(c))
			break;
	}
	if (fd < 0) {
		int en = errno;
		if (en == EMFILE || en == ENFILE) {
			struct rlimit rl = { 0, 0 };
			getrlimit(RLIMIT_NOFILE, &rl);
			cfs_err_set(err, CFS_ER_CACHE, "cache: cannot open '%s': %s (the process's open-files limit is %llu, "
				    "%u data files open and all in use; raise the limit: ulimit -n)", path, strerror(en),
				    (unsigned long long)rl.rlim_cur, c->fd_open);
			return -en;
		}
		errno = en;
		return io_err(err, "open", path);
	}
	struct stat st;
	if (fstat(fd, &st) || ((uint64_t)st.st_size != e->size && ftruncate(fd, (off_t)e->size))) {
		int rc = io_err(err, "size", path);
		close(fd);
		return rc;
	}
	c->data_fd[e->id] = fd;
	lru_push_front(c, e->id);
	c->fd_open++;
	return fd;
}

/* e's data file, held open until fd_put (the LRU never closes a held one). */
static int fd_get(struct cache *c, const struct manifest_entry *e, struct cfs_err *err)
{
	pthread_mutex_lock(&c->lock);
	int fd = data_fd_locked(c, e, err);
	if (fd >= 0)
		atomic_fetch_add(&c->fd_refs[e->id], 1);
	pthread_mutex_unlock(&c->lock);
	return fd;
}

/* fd_get for writing chunk idx: waits while an eviction round punches its range (evict_finish). */
static int fd_get_writable(struct cache *c, const struct manifest_entry *e, uint64_t idx, struct cfs_err *err)
{
	uint64_t g = cache_gidx(c, e, idx);
	pthread_mutex_lock(&c->lock);
	while (c->evicting && c->evicting[g])
		pthread_cond_wait(&c->evicted, &c->lock);
	int fd = data_fd_locked(c, e, err);
	if (fd >= 0)
		atomic_fetch_add(&c->fd_refs[e->id], 1);
	pthread_mutex_unlock(&c->lock);
	return fd;
}

static void fd_put(struct cache *c, const struct manifest_entry *e)
{
	unsigned was = atomic_fetch_sub(&c->fd_refs[e->id], 1);
	assert(was > 0);
	(void)was;
}

int cache_data_path(struct cache *c, const struct manifest_entry *e, char *out, size_t n, struct cfs_err *err)
{
	if (fd_get(c, e, err) < 0) /* exists from here on, even for a file of holes only */
		return -1;
	fd_put(c, e);
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
		if (c->data_fd[e->id] >= 0) {
			lru_forget(c, e->id);
			close(c->data_fd[e->id]);
		}
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
	if (pwrite_full(c->idx_fd, r, sizeof(*r), off))
		return io_err(err, "write chunks.idx in", c->dir);
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
		if (pwrite_full(fd, data + at, end - at, off + (off_t)at))
			return -1;
		at = end;
	}
	return 0;
}

int cache_write(struct cache *c, const struct manifest_entry *e, const struct chunk_hdr *h, const uint8_t *data,
		struct cfs_err *err)
{
	int fd = fd_get_writable(c, e, h->index, err);
	if (fd < 0)
		return fd;
	off_t off = (off_t)(h->index * c->chunk_size);
	int rc = 0;
	if (h->enc != CHUNK_ZERO) {
		if (write_sparse(fd, data, h->raw_len, off)) {
			rc = -errno;
			cfs_err_set(err, CFS_ER_CACHE, "cache: cannot write chunk of '%s' in '%s': %s", e->path, c->dir,
				    strerror(-rc));
		}
	} else if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, h->raw_len) && errno != EOPNOTSUPP) {
		/* A zero chunk keeps (or becomes) a hole. */
		rc = io_err(err, "punch a hole in a data file of", c->dir);
	}
	fd_put(c, e);
	return rc;
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
	int fd = fd_get(c, e, err);
	if (fd < 0)
		return fd;
	/* The records are the promise that the bytes are there: durable bytes first, one sync for all.
	 * A staging cache is made durable by materialize's syncfs instead; its writeback is started here,
	 * without waiting, so the disk writes while the rest arrives rather than all at that syncfs. */
	int synced = 0;
	if (c->staging)
		start_writeback(c, fd, e, h, n);
	else if (fdatasync(fd))
		synced = io_err(err, "sync a data file of", c->dir);
	fd_put(c, e);
	if (synced)
		return synced;
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
		int fd = rc == 0 ? data_fd_locked(c, e, err) : -1;
		if (rc == 0)
			rc = fd < 0 ? fd : punch(c, fd, e, idx, err);
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
	int fd = fd_get(c, e, err);
	if (fd < 0)
		return -1;
	uint8_t *buf = malloc(c->chunk_size);
	ssize_t n = buf ? pread(fd, buf, r.raw_len, (off_t)(idx * c->chunk_size)) : -1;
	fd_put(c, e);
	if (!buf)
		return cfs_err_set(err, CFS_ER_CACHE, "cache: out of memory");
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
	int fd = fd_get(c, e, err);
	if (fd < 0)
		return -1;
	size_t done = 0;
	int rc = 0;
	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = io_err(err, "read a data file of", c->dir);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	fd_put(c, e);
	return rc ? rc : (ssize_t)done;
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

/* One eviction round, in two halves so that no thread waits on the cache's lock behind a disk sync.
 * evict_mark (c->lock held): the least recently used chunks that are present, unpinned and not
 * handed off are chosen until what is present, the room promised and need fit below the low water
 * mark (or nothing evictable is left): one scan over every chunk, a sort of the candidates. Their
 * records are cleared and they are marked evicting: absent to readers (a refetch may start), but
 * cache_write waits until the hole is punched. evict_finish (lock not held): one fdatasync makes
 * the cleared records durable, only then are the holes punched, so no record ever promises punched
 * bytes; then the marks go. */
struct evict_round {
	struct victim *v;
	size_t n;
};

static int evict_mark(struct cache *c, uint64_t need, struct evict_round *r, struct cfs_err *err)
{
	r->v = NULL;
	r->n = 0;
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
		c->evicting[g] = 1;
	}
	r->v = v;
	r->n = nout;
	return rc;
}

static int evict_finish(struct cache *c, struct evict_round *r, struct cfs_err *err)
{
	int rc = 0;
	if (r->n && fdatasync(c->idx_fd)) {
		/* The records maybe not durable: the bytes stay (bytes without a record are harmless). */
		rc = cfs_err_set(err, CFS_ER_CACHE, "cache: cannot sync chunks.idx in '%s': %s", c->dir, strerror(errno));
	}
	/* Then the holes. A file system without hole punching keeps the bytes: they are the chunk's own
	 * (the snapshot never changes), so a refetch written sparsely over them leaves no wrong byte. */
	for (size_t i = 0; i < r->n && rc == 0; i++) {
		int fd = fd_get(c, r->v[i].e, err);
		if (fd < 0 || punch(c, fd, r->v[i].e, r->v[i].idx, err))
			rc = -1;
		if (fd >= 0)
			fd_put(c, r->v[i].e);
	}
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < r->n; i++)
		c->evicting[r->v[i].g] = 0;
	if (r->n)
		pthread_cond_broadcast(&c->evicted);
	pthread_mutex_unlock(&c->lock);
	free(r->v);
	r->v = NULL;
	r->n = 0;
	return rc;
}

/* A whole round with c->lock held on entry and on return; released while syncing and punching. */
static int evict_unlocked(struct cache *c, uint64_t need, struct cfs_err *err)
{
	struct evict_round r;
	int rc = evict_mark(c, need, &r, err);
	if (r.n == 0) {
		free(r.v);
		return rc;
	}
	pthread_mutex_unlock(&c->lock);
	int frc = evict_finish(c, &r, err);
	pthread_mutex_lock(&c->lock);
	return rc ? rc : frc;
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
	c->evicting = calloc(c->nchunks ? c->nchunks : 1, 1);
	if (!c->last_use || !c->pins || !c->evicting)
		return cfs_err_set(err, CFS_ER_CACHE, "cache: out of memory for %llu chunk stamps",
				   (unsigned long long)c->nchunks);
	pthread_mutex_lock(&c->lock);
	c->max_bytes = max_bytes;
	/* A cache resumed over the bound (an earlier mount without one) shrinks now. What it held
	 * before has no use stamps: manifest order decides. */
	int rc = resident(c) > max_bytes ? evict_unlocked(c, 0, err) : 0;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int cache_pin(struct cache *c, const struct manifest_entry *e, uint64_t first, uint64_t last, struct cfs_err *err)
{
	if (!c->max_bytes)
		return fd_get(c, e, err);
	pthread_mutex_lock(&c->lock);
	int fd = data_fd_locked(c, e, err);
	if (fd >= 0) {
		atomic_fetch_add(&c->fd_refs[e->id], 1);
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
	fd_put(c, e);
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
		evict_unlocked(c, 0, &ignored);
	}
	pthread_mutex_unlock(&c->lock);
}

int cache_reserve(struct cache *c, uint64_t bytes, struct cfs_err *err)
{
	if (!c->max_bytes)
		return 0;
	pthread_mutex_lock(&c->lock);
	int rc = resident(c) + c->bytes_reserved + bytes > c->max_bytes ? evict_unlocked(c, bytes, err) : 0;
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
