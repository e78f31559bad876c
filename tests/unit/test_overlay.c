/* test_overlay.c: unit tests of a thin clone's overlay (fs/overlay.c) over a real chunk cache, no
 * FUSE, no donor: reads merge written 4 KiB blocks with the base, a partial write makes exactly one
 * block local, truncation never lets the base show again, renames over base files, whiteouts, an
 * opaque directory made again, fallocate punch/zero inside the base, and everything found again
 * after the overlay is reopened; another snapshot's upper is refused. Needs root (trusted xattrs). */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fetch.h"
#include "fs/overlay.h"
#include "tests/unit/tap.h"

enum { CS = 64 * 1024, TSIZE = 2 * CS + 100 };

static void pattern(uint8_t *b, size_t n, uint64_t off, int seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)((off + i) * 31 + (uint64_t)seed);
}

static void store_file(struct cache *c, const struct manifest_entry *e, int seed)
{
	static uint8_t buf[CS];
	for (uint64_t idx = 0; idx * CS < e->size; idx++) {
		uint32_t len = e->size - idx * CS < CS ? (uint32_t)(e->size - idx * CS) : CS;
		pattern(buf, len, idx * CS, seed);
		struct chunk_hdr h = { .file_id = e->id, .index = idx, .enc = CHUNK_RAW, .raw_len = len };
		struct cfs_err err;
		chunk_digest(c->digest, buf, len, h.digest);
		CHECK(cache_store(c, e, &h, buf, &err) == 0);
	}
}

static struct ov_node *walk(struct overlay *ov, const char *a, const char *b)
{
	struct ov_node *n = NULL, *d;
	if (ov_lookup(ov, ov->root, a, &d))
		return NULL;
	if (!b)
		return d;
	return ov_lookup(ov, d, b, &n) ? NULL : n;
}

static bool listed(struct overlay *ov, struct ov_node *dir, const char *name)
{
	struct ov_dirent *l;
	size_t n;
	bool found = false;
	if (ov_readdir(ov, dir, &l, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		found |= !strcmp(l[i].name, name);
	ov_dirents_free(l, n);
	return found;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("# skipped: thin clones need root (trusted.* extended attributes, whiteouts)\n");
		return tap_done();
	}
	char dir[] = "/tmp/clonefs-test-overlay-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char cdir[300], udir[300];
	snprintf(cdir, sizeof(cdir), "%s/cache", dir);
	snprintf(udir, sizeof(udir), "%s/upper", dir);
	struct manifest m;
	manifest_init(&m);
	manifest_add(&m, MANIFEST_DIR, "db", NULL, 0755, 0, 1, 0);
	manifest_add(&m, MANIFEST_REG, "db/t.ibd", NULL, 0640, TSIZE, 1, 0);
	manifest_add(&m, MANIFEST_REG, "ibdata1", NULL, 0640, CS, 1, 0);
	manifest_add(&m, MANIFEST_REG, "log", NULL, 0640, CS, 1, 0);
	manifest_finish(&m);
	struct wbuf blob;
	wbuf_init(&blob, 1 << 20);
	manifest_encode(&blob, &m);
	struct tree t;
	CHECK(tree_build(&t, &m) == 0);
	struct cache c;
	struct cfs_err err = { 0 };
	CHECK(cache_open(&c, cdir, "snap1", &m, CS, CHUNK_DIGEST_XXH64, blob.p, blob.len, &err) == 0);
	for (uint32_t i = 0; i < m.n; i++)
		if (m.e[i].type == MANIFEST_REG)
			store_file(&c, &m.e[i], (int)i);
	/* A fetcher with everything present: ensure only verifies. */
	static struct fetcher f;
	pthread_mutex_init(&f.lock, NULL);
	pthread_cond_init(&f.cond, NULL);
	f.cache = &c;
	f.m = &m;
	f.inflight = calloc(c.nchunks, 1);

	struct overlay ov;
	CHECK(ov_open(&ov, udir, "snap1", "127.0.0.1:4406", &m, &t, &c, &f, 0, 0, 100, &err) == 0);
	const struct manifest_entry *te = manifest_find(&m, "db/t.ibd");
	static uint8_t want[4 * CS], got[4 * CS];
	pattern(want, TSIZE, 0, (int)te->id);

	struct ov_node *tn = walk(&ov, "db", "t.ibd");
	CHECK(tn && tn->type == S_IFREG && !tn->upper);
	CHECK(ov_open_file(&ov, tn) == 0);
	CHECK(ov_read(&ov, tn, got, sizeof(got), 0, &err) == TSIZE && !memcmp(got, want, TSIZE));

	/* A 5-byte write into a block not yet local: the block is filled from the base, one block local. */
	CHECK(ov_write(&ov, tn, "HELLO", 5, 10000, &err) == 5);
	memcpy(want + 10000, "HELLO", 5);
	CHECK(ov_read(&ov, tn, got, sizeof(got), 0, &err) == TSIZE && !memcmp(got, want, TSIZE));
	char up[400];
	snprintf(up, sizeof(up), "%s/root/db/t.ibd", udir);
	int fd = open(up, O_RDONLY);
	CHECK(fd >= 0 && lseek(fd, 0, SEEK_DATA) == 8192 && lseek(fd, 8192, SEEK_HOLE) == 12288);
	/* A write across a block edge fills both partial blocks. */
	CHECK(ov_write(&ov, tn, "ABCDEFGH", 8, 4 * 4096 - 4, &err) == 8);
	memcpy(want + 4 * 4096 - 4, "ABCDEFGH", 8);
	CHECK(ov_read(&ov, tn, got, sizeof(got), 0, &err) == TSIZE && !memcmp(got, want, TSIZE));
	CHECK(lseek(fd, 12288, SEEK_DATA) == 12288 && lseek(fd, 12288, SEEK_HOLE) == 5 * 4096);
	close(fd);
	/* PUNCH_HOLE inside the base reads zeros (stored as written zeros). */
	CHECK(ov_fallocate(&ov, tn, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, CS, 8192, &err) == 0);
	memset(want + CS, 0, 8192);
	CHECK(ov_read(&ov, tn, got, sizeof(got), 0, &err) == TSIZE && !memcmp(got, want, TSIZE));
	/* Shrink, then grow: zeros past the shrink point, never the base. */
	struct stat a = { .st_size = 100 };
	CHECK(ov_setattr(&ov, tn, &a, OV_SET_SIZE) == 0);
	a.st_size = 3 * CS;
	CHECK(ov_setattr(&ov, tn, &a, OV_SET_SIZE) == 0);
	memset(want + 100, 0, sizeof(want) - 100);
	ssize_t r = ov_read(&ov, tn, got, sizeof(got), 0, &err);
	size_t bad = 0;
	while (bad < 3 * CS && got[bad] == want[bad])
		bad++;
	printf("# read %zd, first difference at %zu\n", r, bad);
	CHECK(r == 3 * CS && bad == 3 * CS);
	ov_release(&ov, tn);

	/* A new file renamed over a base file; RENAME_EXCHANGE is refused. */
	struct ov_node *nn;
	CHECK(ov_create(&ov, walk(&ov, "db", NULL), "new", 0640, 0, 0, &nn) == 0);
	CHECK(ov_write(&ov, nn, "fresh", 5, 0, &err) == 5);
	ov_release(&ov, nn);
	CHECK(ov_rename(&ov, walk(&ov, "db", NULL), "new", ov.root, "ibdata1", RENAME_EXCHANGE) == -EINVAL);
	CHECK(ov_rename(&ov, walk(&ov, "db", NULL), "new", ov.root, "ibdata1", 0) == 0);
	CHECK(walk(&ov, "db", "new") == NULL);
	struct ov_node *ib = walk(&ov, "ibdata1", NULL);
	CHECK(ib && ov_open_file(&ov, ib) == 0 && ov_read(&ov, ib, got, sizeof(got), 0, &err) == 5 && !memcmp(got, "fresh", 5));
	ov_release(&ov, ib);
	/* A base file renamed away leaves a whiteout in the same step. */
	CHECK(ov_rename(&ov, ov.root, "log", walk(&ov, "db", NULL), "log.moved", 0) == 0);
	CHECK(walk(&ov, "log", NULL) == NULL && !listed(&ov, ov.root, "log") && listed(&ov, walk(&ov, "db", NULL), "log.moved"));

	/* Unlink a base file, remove its emptied base directory, make it again: nothing shows through. */
	struct ov_node *db = walk(&ov, "db", NULL);
	CHECK(ov_unlink(&ov, db, "t.ibd", false) == 0);
	CHECK(ov_unlink(&ov, db, "log.moved", false) == 0);
	CHECK(walk(&ov, "db", "t.ibd") == NULL && !listed(&ov, db, "t.ibd"));
	CHECK(ov_unlink(&ov, ov.root, "db", true) == 0);
	CHECK(walk(&ov, "db", NULL) == NULL);
	struct ov_node *d2;
	CHECK(ov_mkdir(&ov, ov.root, "db", 0750, 0, 0, &d2) == 0);
	CHECK(walk(&ov, "db", "t.ibd") == NULL && !listed(&ov, d2, "t.ibd"));

	/* Reopened: everything is found again. */
	ov_close(&ov);
	CHECK(ov_open(&ov, udir, "snap1", "127.0.0.2:4406", &m, &t, &c, &f, 0, 0, 100, &err) == -1 &&
	      err.code == CFS_ER_MOUNT);
	ov_close(&ov);
	CHECK(ov_open(&ov, udir, "snap1", "127.0.0.1:4406", &m, &t, &c, &f, 0, 0, 100, &err) == 0);
	ib = walk(&ov, "ibdata1", NULL);
	CHECK(ib && ov_open_file(&ov, ib) == 0 && ov_read(&ov, ib, got, sizeof(got), 0, &err) == 5 && !memcmp(got, "fresh", 5));
	ov_release(&ov, ib);
	CHECK(walk(&ov, "log", NULL) == NULL && walk(&ov, "db", NULL) != NULL && walk(&ov, "db", "t.ibd") == NULL);
	ov_close(&ov);

	free(f.inflight);
	cache_close(&c);
	tree_release(&t);
	manifest_release(&m);
	wbuf_release(&blob);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return tap_done();
}
