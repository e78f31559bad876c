/* test_cache.c: unit tests of the persistent chunk cache: store, reopen (resume), a flipped byte on
 * disk is detected and the chunk dropped, zero chunks stay holes, a foreign manifest is refused; a
 * bounded cache evicts least recently used first, never a pinned chunk, records before holes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/cache.h"
#include "tests/unit/tap.h"

enum { CS = 64 * 1024 };

static void make_manifest(struct manifest *m, uint64_t size)
{
	manifest_init(m);
	manifest_add(m, MANIFEST_DIR, "db", NULL, 0755, 0, 1, 0);
	manifest_add(m, MANIFEST_REG, "db/t.ibd", NULL, 0640, size, 1, 0);
	manifest_add(m, MANIFEST_REG, "ibdata1", NULL, 0640, CS, 1, 0);
	manifest_finish(m);
}

static void chunk_of(uint8_t *buf, uint32_t len, int seed)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 31 + (uint32_t)seed);
}

static int store(struct cache *c, const struct manifest_entry *e, uint64_t idx, const uint8_t *data,
		 uint32_t len, uint8_t enc)
{
	struct chunk_hdr h = { .file_id = e->id, .index = idx, .enc = enc, .raw_len = len };
	struct cfs_err err;
	chunk_digest(c->digest, data, len, h.digest);
	return cache_store(c, e, &h, data, &err);
}

/* A bounded cache (cache_max=, D14): 80 chunks of 64 KiB under a 4 MiB bound (64 chunks). */
static void test_bound(const char *dir)
{
	enum { N = 80, BOUND = 4 << 20 };
	struct manifest m;
	manifest_init(&m);
	manifest_add(&m, MANIFEST_REG, "big.ibd", NULL, 0640, (uint64_t)N * CS, 1, 0);
	manifest_finish(&m);
	struct wbuf blob;
	wbuf_init(&blob, 1 << 20);
	manifest_encode(&blob, &m);
	const struct manifest_entry *e = manifest_find(&m, "big.ibd");
	struct cache c;
	struct cfs_err err = { 0 };
	static uint8_t buf[CS], out[CS];

	CHECK(cache_open(&c, dir, "bounded", &m, CS, CHUNK_DIGEST_XXH64, blob.p, blob.len, &err) == 0);
	CHECK(cache_set_max(&c, 1 << 20, &err) == -1 && err.code == CFS_ER_USAGE);
	CHECK(cache_set_max(&c, BOUND, &err) == 0);
	/* Fill it to the bound exactly: nothing evicted yet. */
	for (int i = 0; i < 64; i++) {
		chunk_of(buf, CS, i);
		CHECK(cache_reserve(&c, CS, &err) == 0);
		CHECK(store(&c, e, (uint64_t)i, buf, CS, CHUNK_RAW) == 0);
		cache_release(&c, CS);
	}
	CHECK(c.chunks_cached == 64 && c.bytes_cached == BOUND && c.chunks_evicted == 0);
	/* Chunk 0 is being served by a slow reader: pinned, and since then every other chunk was read,
	 * chunk 1 last, so chunk 0 is the least recently used. */
	CHECK(cache_pin(&c, e, 0, 0, &err) >= 0);
	CHECK(cache_pin(&c, e, 1, 63, &err) >= 0);
	cache_unpin(&c, e, 1, 63);
	CHECK(cache_pin(&c, e, 1, 1, &err) >= 0);
	cache_unpin(&c, e, 1, 1);
	/* One more chunk: down to 90% of the bound (57.6 chunks) with it, so 8 go: the least recently
	 * used that are not pinned, 2..9 (read together, so by index), not 0 (pinned) nor 1 (read last). */
	CHECK(cache_reserve(&c, CS, &err) == 0);
	CHECK(c.chunks_evicted == 8 && c.chunks_cached == 56 && c.bytes_cached == 56u * CS);
	CHECK(cache_has(&c, e, 0) && cache_has(&c, e, 1) && cache_has(&c, e, 10) && cache_has(&c, e, 63));
	bool gone = true;
	for (uint64_t i = 2; i < 10; i++)
		gone = gone && !cache_has(&c, e, i);
	CHECK(gone);
	chunk_of(buf, CS, 64);
	CHECK(store(&c, e, 64, buf, CS, CHUNK_RAW) == 0);
	cache_release(&c, CS);
	/* The pinned chunk still holds its own bytes; the evicted ones are holes. */
	chunk_of(buf, CS, 0);
	CHECK(cache_pread(&c, e, out, CS, 0, &err) == CS && !memcmp(out, buf, CS));
	char path[512];
	snprintf(path, sizeof(path), "%s/bounded/data/%u", dir, e->id);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && lseek(fd, 2 * CS, SEEK_DATA) == 10 * CS);
	close(fd);
	cache_unpin(&c, e, 0, 0);
	/* The hydrator gets only the room below the low water mark (57 of 57.6 chunks are there: less
	 * than one chunk, so it stops), and none once that is promised. */
	uint64_t room = cache_reserve_room(&c, 16 * CS);
	CHECK(room > 0 && room < CS);
	CHECK(cache_reserve_room(&c, 16 * CS) == 0);
	cache_release(&c, room);
	cache_close(&c);

	/* The records were cleared on disk (before the holes): a reopen finds 57 chunks, not 64. */
	CHECK(cache_open(&c, dir, "bounded", &m, CS, CHUNK_DIGEST_XXH64, blob.p, blob.len, &err) == 0);
	CHECK(c.chunks_cached == 57 && !cache_has(&c, e, 2) && cache_has(&c, e, 64));
	/* Unbounded now: fill everything, then a bound below it shrinks the cache at once. */
	for (int i = 0; i < N; i++) {
		chunk_of(buf, CS, i);
		if (!cache_has(&c, e, (uint64_t)i))
			CHECK(store(&c, e, (uint64_t)i, buf, CS, CHUNK_RAW) == 0);
	}
	CHECK(c.chunks_cached == N);
	cache_close(&c);
	CHECK(cache_open(&c, dir, "bounded", &m, CS, CHUNK_DIGEST_XXH64, blob.p, blob.len, &err) == 0);
	CHECK(cache_set_max(&c, BOUND, &err) == 0);
	CHECK(c.bytes_cached <= (uint64_t)BOUND * 9 / 10 && c.chunks_evicted == N - 57);
	cache_close(&c);
	wbuf_release(&blob);
	manifest_release(&m);
}

/* Open data files bounded (D25): with room for 2, storing into 5 files keeps at most 2 open (the
 * least recently used closed), a held one (pinned) is never closed, and every byte reads back. */
static void test_open_files(const char *dir)
{
	enum { FILES = 5 };
	struct manifest m;
	manifest_init(&m);
	char name[FILES][24];
	for (int i = 0; i < FILES; i++) {
		snprintf(name[i], sizeof(name[i]), "t%d.ibd", i);
		manifest_add(&m, MANIFEST_REG, name[i], NULL, 0640, 2 * CS, 1, 0);
	}
	manifest_finish(&m);
	struct wbuf blob;
	wbuf_init(&blob, 1 << 20);
	manifest_encode(&blob, &m);
	struct cache c;
	struct cfs_err err = { 0 };
	static uint8_t buf[CS], out[CS];
	CHECK(cache_open(&c, dir, "files", &m, CS, CHUNK_DIGEST_XXH64, blob.p, blob.len, &err) == 0);
	c.fd_max = 2;
	const struct manifest_entry *e0 = manifest_find(&m, name[0]);
	int held = cache_pin(&c, e0, 0, 1, &err);
	CHECK(held >= 0);
	bool ok = true;
	for (int i = 0; i < FILES; i++) {
		const struct manifest_entry *e = manifest_find(&m, name[i]);
		for (uint64_t k = 0; k < 2; k++) {
			chunk_of(buf, CS, i * 2 + (int)k);
			ok = ok && store(&c, e, k, buf, CS, CHUNK_RAW) == 0 && c.fd_open <= 2;
		}
	}
	CHECK(ok);
	CHECK(c.data_fd[e0->id] == held); /* pinned: still open, whatever else came and went */
	cache_unpin(&c, e0, 0, 1);
	for (int i = 0; i < FILES; i++) {
		const struct manifest_entry *e = manifest_find(&m, name[i]);
		for (uint64_t k = 0; k < 2; k++) {
			chunk_of(buf, CS, i * 2 + (int)k);
			ok = ok && cache_pread(&c, e, out, CS, k * CS, &err) == CS && !memcmp(out, buf, CS) && c.fd_open <= 2;
		}
	}
	CHECK(ok);
	cache_close(&c);
	wbuf_release(&blob);
	manifest_release(&m);
}

/* cache_remove: refused while a mount holds the cache, complete once it does not; a new cache of
 * the same id starts empty. */
static void test_remove(const char *dir, const struct manifest *m, const struct wbuf *blob)
{
	struct cache c;
	struct cfs_err err = { 0 };
	char path[600];
	snprintf(path, sizeof(path), "%s/gone", dir);
	uint8_t buf[CS];
	chunk_of(buf, CS, 3);
	CHECK(cache_open(&c, dir, "gone", m, CS, CHUNK_DIGEST_XXH64, blob->p, blob->len, &err) == 0);
	CHECK(store(&c, manifest_find(m, "ibdata1"), 0, buf, CS, CHUNK_RAW) == 0);
	CHECK(cache_remove(path, &err) == -EBUSY && err.code == CFS_ER_CACHE);
	cache_close(&c);
	CHECK(cache_remove(path, &err) == 0);
	struct stat st;
	CHECK(stat(path, &st) == -1 && errno == ENOENT);
	CHECK(cache_remove(path, &err) == 0); /* already gone: nothing to do */
	CHECK(cache_open(&c, dir, "gone", m, CS, CHUNK_DIGEST_XXH64, blob->p, blob->len, &err) == 0);
	CHECK(c.chunks_cached == 0);
	cache_close(&c);
}

int main(void)
{
	char dir[] = "/tmp/clonefs-test-cache-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	struct manifest m;
	make_manifest(&m, 2 * CS + 100);
	struct wbuf blob;
	wbuf_init(&blob, 1 << 20);
	manifest_encode(&blob, &m);
	const struct manifest_entry *t = manifest_find(&m, "db/t.ibd");
	struct cache c;
	struct cfs_err err = { 0 };
	uint8_t buf[CS], out[CS];

	CHECK(cache_open(&c, dir, "snap1", &m, CS, CHUNK_DIGEST_XXH64, blob.p, blob.len, &err) == 0);
	CHECK(c.nchunks == 4 && c.chunks_cached == 0);
	CHECK(cache_chunk_len(&c, t, 2) == 100);
	chunk_of(buf, CS, 1);
	CHECK(store(&c, t, 0, buf, CS, CHUNK_RAW) == 0);
	uint8_t zeros[CS] = { 0 };
	CHECK(store(&c, t, 1, zeros, CS, CHUNK_ZERO) == 0);
	CHECK(cache_has(&c, t, 0) && cache_has(&c, t, 1) && !cache_has(&c, t, 2));
	CHECK(cache_pread(&c, t, out, CS, 0, &err) == CS && !memcmp(out, buf, CS));
	CHECK(cache_pread(&c, t, out, CS, CS, &err) == CS && !memcmp(out, zeros, CS));
	cache_close(&c);

	/* Reopen: what was stored is still there and verifies (resume fetches nothing again). */
	CHECK(cache_open(&c, dir, "snap1", &m, CS, CHUNK_DIGEST_XXH64, blob.p, blob.len, &err) == 0);
	CHECK(c.chunks_cached == 2 && c.bytes_cached == 2 * CS);
	CHECK(cache_verify(&c, t, 0, &err) == 1 && cache_verify(&c, t, 1, &err) == 1);
	cache_close(&c);

	/* Flip one byte of chunk 0 on disk: detected on the next run, dropped, never served. */
	char path[512];
	snprintf(path, sizeof(path), "%s/snap1/data/%u", dir, t->id);
	int fd = open(path, O_RDWR);
	uint8_t b;
	CHECK(pread(fd, &b, 1, 77) == 1);
	b ^= 0x10;
	CHECK(pwrite(fd, &b, 1, 77) == 1);
	close(fd);
	CHECK(cache_open(&c, dir, "snap1", &m, CS, CHUNK_DIGEST_XXH64, blob.p, blob.len, &err) == 0);
	CHECK(cache_verify(&c, t, 0, &err) == 0 && !cache_has(&c, t, 0) && c.corrupt_found == 1);
	CHECK(cache_verify(&c, t, 1, &err) == 1);
	cache_close(&c);

	/* Opened for the other protocol's digest, the records cannot be checked: the index starts over
	 * (fetched again), and it stays so when reopened with that digest. */
	CHECK(cache_open(&c, dir, "snap1", &m, CS, CHUNK_DIGEST_SHA256, blob.p, blob.len, &err) == 0);
	CHECK(c.chunks_cached == 0 && !cache_has(&c, t, 1));
	CHECK(store(&c, t, 0, buf, CS, CHUNK_RAW) == 0);
	cache_close(&c);
	CHECK(cache_open(&c, dir, "snap1", &m, CS, CHUNK_DIGEST_SHA256, blob.p, blob.len, &err) == 0);
	CHECK(c.chunks_cached == 1 && cache_verify(&c, t, 0, &err) == 1);
	cache_close(&c);

	/* The zero chunk is a hole in the data file. */
	struct stat st;
	CHECK(stat(path, &st) == 0 && (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size);

	/* A cache made for another manifest under the same id is refused. */
	struct manifest m2;
	struct wbuf blob2;
	make_manifest(&m2, 5);
	wbuf_init(&blob2, 1 << 20);
	manifest_encode(&blob2, &m2);
	CHECK(cache_open(&c, dir, "snap1", &m2, CS, CHUNK_DIGEST_XXH64, blob2.p, blob2.len, &err) == -1 && err.code == CFS_ER_CACHE);

	test_bound(dir);
	test_open_files(dir);
	test_remove(dir, &m, &blob);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	wbuf_release(&blob);
	wbuf_release(&blob2);
	manifest_release(&m);
	manifest_release(&m2);
	return tap_done();
}
