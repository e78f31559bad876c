/* test_store_fmt.c: the object store's format (docs/store.md): snapshot and pack index objects
 * round-trip through their encoders and parsers, sealed; any changed byte of a sealed object or
 * chunk fails authentication; a wrong store key is named as such, not as corruption; every
 * truncation is rejected. With STORE_SEED_DIR=DIR it also writes the fuzz seeds of
 * tests/fuzz/corpus/store_snapshot and store_index (DIR/store_snapshot/, DIR/store_index/). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/tap.h"
#include "transport/s3.h"
#include "transport/store_fmt.h"

enum { CS = 64 * 1024 };

static const char *seed_dir;

static void seed(const char *target, const char *name, const void *p, size_t len)
{
	if (!seed_dir)
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", seed_dir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", seed_dir, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len)
		fprintf(stderr, "cannot write seed %s: %s\n", path, strerror(errno));
	if (f)
		fclose(f);
}

static void keys_of(uint8_t fill, struct store_keys *k)
{
	uint8_t key[STORE_KEY_LEN];
	memset(key, fill, sizeof(key));
	store_keys_derive(key, k);
}

static void chunk_bytes(uint8_t *buf, uint32_t len, int which)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = which % 2 ? (uint8_t)(i * 7 + which) : (uint8_t)((i / 512) + which); /* noise / compressible */
}

/* A small snapshot as publish builds one: two files of real sealed chunks in two packs (their
 * index entries into idx[pack]), one hole, an empty file, a directory and a symlink. */
struct fixture {
	struct store_snapshot s;
	struct wbuf pack[2];
	struct store_index_ent idx[2][8];
	uint32_t nidx[2];
};

static void fixture_build(struct fixture *f, const struct store_keys *k)
{
	memset(f, 0, sizeof(*f));
	struct store_snapshot *s = &f->s;
	manifest_init(&s->m);
	snprintf(s->info.id, sizeof(s->info.id), "20261203T033000Z-1a2b3c4d");
	s->info.chunk_size = CS;
	wire_snap_info_set(&s->info, "binlog_file", "mysql-bin.000042");
	wire_snap_info_set(&s->info, "binlog_pos", "1234567");
	wire_snap_info_set(&s->info, "gtid_pos", "0-1-9876");
	wire_snap_info_set(&s->info, "published_from", "127.0.0.1:4406");
	manifest_add(&s->m, MANIFEST_DIR, "db", NULL, 0755, 0, 1764732600, 0);
	manifest_add(&s->m, MANIFEST_REG, "db/t.ibd", NULL, 0640, 3 * CS + 100, 1764732600, 5);
	manifest_add(&s->m, MANIFEST_REG, "ibdata1", NULL, 0640, CS, 1764732600, 0);
	manifest_add(&s->m, MANIFEST_REG, "db/empty.frm", NULL, 0640, 0, 1764732600, 0);
	manifest_add(&s->m, MANIFEST_SYMLINK, "db/link", "t.ibd", 0777, 0, 1764732600, 0);
	manifest_finish(&s->m);
	s->published = 1764732612;
	s->npacks = 2;
	s->packs = calloc(2, sizeof(*s->packs));
	snprintf(s->packs[0], sizeof(s->packs[0]), "0123456789abcdef0123456789abcdef");
	snprintf(s->packs[1], sizeof(s->packs[1]), "fedcba9876543210fedcba9876543210");
	s->first_ref = calloc(s->m.n, sizeof(*s->first_ref));
	for (uint32_t i = 0; i < s->m.n; i++) {
		s->first_ref[i] = s->nrefs;
		if (s->m.e[i].type == MANIFEST_REG)
			s->nrefs += manifest_chunks(s->m.e[i].size, CS);
	}
	s->refs = calloc(s->nrefs, sizeof(*s->refs));
	wbuf_init(&f->pack[0], 1 << 20);
	wbuf_init(&f->pack[1], 1 << 20);
	uint8_t *buf = malloc(CS);
	int which = 0;
	for (uint32_t i = 0; i < s->m.n; i++) {
		const struct manifest_entry *e = &s->m.e[i];
		if (e->type != MANIFEST_REG)
			continue;
		for (uint64_t c = 0; c < manifest_chunks(e->size, CS); c++, which++) {
			struct store_ref *r = &s->refs[s->first_ref[i] + c];
			uint32_t len = (uint32_t)(e->size - c * CS < CS ? e->size - c * CS : CS);
			if (which == 1) { /* a hole */
				r->pack = STORE_ZERO_PACK;
				continue;
			}
			chunk_bytes(buf, len, which);
			store_chunk_id(k, buf, len, r->id);
			r->pack = (uint32_t)which % 2;
			struct wbuf *p = &f->pack[r->pack];
			r->off = p->len;
			CHECK(store_chunk_seal(k, r->id, buf, len, 3, p) == 0);
			r->len = (uint32_t)(p->len - r->off);
			struct store_index_ent *ie = &f->idx[r->pack][f->nidx[r->pack]++];
			memcpy(ie->id, r->id, STORE_ID_LEN);
			ie->off = r->off;
			ie->len = r->len;
		}
	}
	free(buf);
}

static void fixture_release(struct fixture *f)
{
	store_snapshot_release(&f->s);
	wbuf_release(&f->pack[0]);
	wbuf_release(&f->pack[1]);
}

static bool snapshots_equal(const struct store_snapshot *a, const struct store_snapshot *b)
{
	if (strcmp(a->info.id, b->info.id) || a->info.chunk_size != b->info.chunk_size ||
	    a->info.nfacts != b->info.nfacts || a->m.n != b->m.n || a->m.bytes_total != b->m.bytes_total ||
	    a->published != b->published || a->npacks != b->npacks || a->nrefs != b->nrefs)
		return false;
	for (uint32_t i = 0; i < a->info.nfacts; i++)
		if (strcmp(a->info.facts[i].key, b->info.facts[i].key) || strcmp(a->info.facts[i].value, b->info.facts[i].value))
			return false;
	for (uint32_t i = 0; i < a->m.n; i++)
		if (strcmp(a->m.e[i].path, b->m.e[i].path) || a->m.e[i].type != b->m.e[i].type ||
		    a->m.e[i].size != b->m.e[i].size || a->first_ref[i] != b->first_ref[i])
			return false;
	for (uint32_t i = 0; i < a->npacks; i++)
		if (strcmp(a->packs[i], b->packs[i]))
			return false;
	for (uint64_t i = 0; i < a->nrefs; i++) {
		const struct store_ref *x = &a->refs[i], *y = &b->refs[i];
		if (x->pack != y->pack || (x->pack != STORE_ZERO_PACK &&
					   (x->off != y->off || x->len != y->len || memcmp(x->id, y->id, STORE_ID_LEN))))
			return false;
	}
	return true;
}

static const char SNAP_WHAT[] = "prod/snapshots/20261203T033000Z-1a2b3c4d";
static const char IDX_WHAT[] = "prod/packs/0123456789abcdef0123456789abcdef.idx";

static void test_snapshot_round_trip(const struct store_keys *k, const struct fixture *f)
{
	struct wbuf plain, obj;
	wbuf_init(&plain, 1 << 20);
	wbuf_init(&obj, 1 << 20);
	store_snapshot_encode(&f->s, &plain);
	CHECK(!plain.over);
	struct store_snapshot back;
	struct cfs_err err = { 0 };
	CHECK(store_snapshot_parse(plain.p, plain.len, &back, &err) == 0);
	CHECK(snapshots_equal(&f->s, &back));
	store_snapshot_release(&back);

	CHECK(store_object_seal(k, STORE_MANIFEST_MAGIC, SNAP_WHAT, plain.p, plain.len, &obj) == 0);
	CHECK(obj.len == 16 + STORE_SEAL_OVERHEAD + plain.len);
	uint8_t *open = NULL;
	size_t olen = 0;
	CHECK(store_object_open(k, STORE_MANIFEST_MAGIC, SNAP_WHAT, obj.p, obj.len, &open, &olen, &err) == 0);
	CHECK(open && olen == plain.len && !memcmp(open, plain.p, olen));
	CHECK(open && store_snapshot_parse(open, olen, &back, &err) == 0 && snapshots_equal(&f->s, &back));
	store_snapshot_release(&back);
	free(open);
	/* Nothing of the plaintext shows in the sealed object (a bucket leak leaks no names). */
	CHECK(!memmem(obj.p, obj.len, "t.ibd", 5) && !memmem(obj.p, obj.len, "mysql-bin", 9));
	/* Sealing twice gives different objects (random nonce), both open. */
	struct wbuf obj2;
	wbuf_init(&obj2, 1 << 20);
	CHECK(store_object_seal(k, STORE_MANIFEST_MAGIC, SNAP_WHAT, plain.p, plain.len, &obj2) == 0);
	CHECK(obj2.len == obj.len && memcmp(obj2.p, obj.p, obj.len));

	seed("store_snapshot", "seed-plain-fixture", plain.p, plain.len);
	seed("store_snapshot", "seed-sealed-fixture", obj.p, obj.len);
	wbuf_release(&obj2);
	wbuf_release(&plain);
	wbuf_release(&obj);
}

/* A snapshot of one all-zero file and no packs, and one of an empty tree. */
static void test_snapshot_small(void)
{
	struct store_snapshot s;
	memset(&s, 0, sizeof(s));
	manifest_init(&s.m);
	snprintf(s.info.id, sizeof(s.info.id), "20261203T034500Z-5e6f7a8b");
	s.info.chunk_size = CS;
	struct wbuf plain;
	wbuf_init(&plain, 1 << 20);
	manifest_finish(&s.m);
	store_snapshot_encode(&s, &plain);
	struct store_snapshot back;
	struct cfs_err err = { 0 };
	CHECK(store_snapshot_parse(plain.p, plain.len, &back, &err) == 0 && back.nrefs == 0 && back.m.n == 0);
	store_snapshot_release(&back);
	seed("store_snapshot", "seed-plain-empty", plain.p, plain.len);

	wbuf_reset(&plain);
	manifest_add(&s.m, MANIFEST_REG, "ib_logfile0", NULL, 0640, 2 * CS, 1764732600, 0);
	manifest_finish(&s.m);
	s.first_ref = calloc(1, sizeof(*s.first_ref));
	s.nrefs = 2;
	s.refs = calloc(2, sizeof(*s.refs));
	s.refs[0].pack = s.refs[1].pack = STORE_ZERO_PACK;
	store_snapshot_encode(&s, &plain);
	CHECK(store_snapshot_parse(plain.p, plain.len, &back, &err) == 0 && back.nrefs == 2 &&
	      back.refs[1].pack == STORE_ZERO_PACK);
	store_snapshot_release(&back);
	seed("store_snapshot", "seed-plain-holes", plain.p, plain.len);
	/* One ref too few for the tree: rejected. */
	s.nrefs = 1;
	wbuf_reset(&plain);
	store_snapshot_encode(&s, &plain);
	CHECK(store_snapshot_parse(plain.p, plain.len, &back, &err) == -1 && err.code == CFS_ER_PROTOCOL);
	s.nrefs = 2;
	/* A ref into a pack the snapshot does not name: rejected. */
	s.refs[1].pack = 0;
	s.refs[1].len = 100;
	wbuf_reset(&plain);
	store_snapshot_encode(&s, &plain);
	CHECK(store_snapshot_parse(plain.p, plain.len, &back, &err) == -1 && strstr(err.msg, "chunk references"));
	store_snapshot_release(&s);
	wbuf_release(&plain);
}

static void test_index_round_trip(const struct store_keys *k, const struct fixture *f)
{
	struct wbuf plain, obj;
	wbuf_init(&plain, 1 << 20);
	wbuf_init(&obj, 1 << 20);
	store_index_encode(f->idx[0], f->nidx[0], &plain);
	struct store_index_ent *e = NULL;
	uint32_t n = 0;
	struct cfs_err err = { 0 };
	CHECK(store_index_parse(plain.p, plain.len, &e, &n, &err) == 0);
	CHECK(n == f->nidx[0] && n > 0 && !memcmp(e, f->idx[0], n * sizeof(*e)));
	free(e);
	CHECK(store_object_seal(k, STORE_INDEX_MAGIC, IDX_WHAT, plain.p, plain.len, &obj) == 0);
	uint8_t *open = NULL;
	size_t olen = 0;
	CHECK(store_object_open(k, STORE_INDEX_MAGIC, IDX_WHAT, obj.p, obj.len, &open, &olen, &err) == 0);
	CHECK(open && store_index_parse(open, olen, &e, &n, &err) == 0 && n == f->nidx[0]);
	free(e);
	free(open);
	/* An index is not a snapshot: the magic tells them apart before any decryption. */
	CHECK(store_object_open(k, STORE_MANIFEST_MAGIC, IDX_WHAT, obj.p, obj.len, &open, &olen, &err) == -1 &&
	      err.code == CFS_ER_STORE_KEY && strstr(err.msg, "not a clonefs snapshot object"));
	seed("store_index", "seed-plain-pack0", plain.p, plain.len);
	seed("store_index", "seed-sealed-pack0", obj.p, obj.len);
	wbuf_reset(&plain);
	store_index_encode(f->idx[1], f->nidx[1], &plain);
	seed("store_index", "seed-plain-pack1", plain.p, plain.len);
	wbuf_reset(&plain);
	store_index_encode(NULL, 0, &plain);
	CHECK(store_index_parse(plain.p, plain.len, &e, &n, &err) == 0 && n == 0);
	free(e);
	seed("store_index", "seed-plain-empty", plain.p, plain.len);
	wbuf_release(&plain);
	wbuf_release(&obj);
}

/* A sealed object with any one byte changed, or opened under another name, does not open, and
 * says why: a changed header is a foreign object, a wrong key or version; anything after it does
 * not authenticate. */
static void test_object_tamper(const struct store_keys *k, uint32_t magic, const char *what, const struct wbuf *plain)
{
	struct wbuf obj;
	wbuf_init(&obj, 1 << 20);
	CHECK(store_object_seal(k, magic, what, plain->p, plain->len, &obj) == 0);
	size_t bad_open = 0, bad_auth = 0;
	struct cfs_err err;
	uint8_t *open;
	size_t olen;
	for (size_t i = 0; i < obj.len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			obj.p[i] ^= (uint8_t)(1u << bit);
			memset(&err, 0, sizeof(err));
			open = NULL;
			int rc = store_object_open(k, magic, what, obj.p, obj.len, &open, &olen, &err);
			obj.p[i] ^= (uint8_t)(1u << bit);
			if (rc == 0 || open || !err.code)
				bad_open++;
			if (i >= 16 && (err.code != CFS_ER_STORE_KEY || !strstr(err.msg, "does not authenticate") ||
					strstr(err.msg, "wrong store key")))
				bad_auth++;
			free(open);
		}
	}
	CHECK(bad_open == 0);
	CHECK(bad_auth == 0);
	/* The header's parts. */
	obj.p[0] ^= 1;
	CHECK(store_object_open(k, magic, what, obj.p, obj.len, &open, &olen, &err) == -1 && strstr(err.msg, "not a clonefs"));
	obj.p[0] ^= 1;
	obj.p[7] ^= 2;
	CHECK(store_object_open(k, magic, what, obj.p, obj.len, &open, &olen, &err) == -1 && err.code == CFS_ER_STORE &&
	      strstr(err.msg, "format version 3"));
	obj.p[7] ^= 2;
	/* The same bytes under another object's name (a copied or renamed object). */
	char other[200];
	snprintf(other, sizeof(other), "%sX", what);
	CHECK(store_object_open(k, magic, other, obj.p, obj.len, &open, &olen, &err) == -1 &&
	      strstr(err.msg, "does not authenticate"));
	/* Truncated at every length, or one byte longer. */
	size_t bad_trunc = 0;
	for (size_t n = 0; n < obj.len; n++) {
		uint8_t *cut = malloc(n ? n : 1); /* exactly n bytes: ASan sees a read past the end */
		memcpy(cut, obj.p, n);
		open = NULL;
		if (store_object_open(k, magic, what, cut, n, &open, &olen, &err) == 0 || open)
			bad_trunc++;
		free(open);
		free(cut);
	}
	CHECK(bad_trunc == 0);
	wbuf_u8(&obj, 0);
	CHECK(store_object_open(k, magic, what, obj.p, obj.len, &open, &olen, &err) == -1);
	wbuf_release(&obj);
}

/* Another store key: named as such with both key ids, never reported as corruption; and a
 * corrupted object under the right key is never reported as a wrong key. */
static void test_wrong_key(const struct store_keys *k, const struct wbuf *plain)
{
	struct store_keys other;
	keys_of(0x5a, &other);
	CHECK(memcmp(other.key_id, k->key_id, STORE_KEY_ID_LEN));
	struct wbuf obj;
	wbuf_init(&obj, 1 << 20);
	CHECK(store_object_seal(k, STORE_MANIFEST_MAGIC, SNAP_WHAT, plain->p, plain->len, &obj) == 0);
	struct cfs_err err = { 0 };
	uint8_t *open = NULL;
	size_t olen;
	CHECK(store_object_open(&other, STORE_MANIFEST_MAGIC, SNAP_WHAT, obj.p, obj.len, &open, &olen, &err) == -1);
	CHECK(err.code == CFS_ER_STORE_KEY && strstr(err.msg, "wrong store key") && !open);
	char kid[17];
	for (int i = 0; i < 8; i++)
		snprintf(kid + 2 * i, 3, "%02x", k->key_id[i]);
	CHECK(strstr(err.msg, kid) != NULL);
	obj.p[obj.len / 2] ^= 0x10;
	CHECK(store_object_open(k, STORE_MANIFEST_MAGIC, SNAP_WHAT, obj.p, obj.len, &open, &olen, &err) == -1);
	CHECK(err.code == CFS_ER_STORE_KEY && !strstr(err.msg, "wrong store key") && strstr(err.msg, "does not authenticate"));
	wbuf_release(&obj);
}

/* Every strict prefix of a plaintext is rejected (each count is checked against what follows). */
static void test_plain_truncation(const struct wbuf *snap, const struct wbuf *idx)
{
	size_t bad = 0;
	struct cfs_err err;
	for (size_t n = 0; n < snap->len; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, snap->p, n);
		struct store_snapshot s;
		if (store_snapshot_parse(cut, n, &s, &err) == 0) {
			bad++;
			store_snapshot_release(&s);
		}
		free(cut);
	}
	CHECK(bad == 0);
	bad = 0;
	for (size_t n = 0; n < idx->len; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, idx->p, n);
		struct store_index_ent *e = NULL;
		uint32_t ne;
		if (store_index_parse(cut, n, &e, &ne, &err) == 0)
			bad++;
		free(e);
		free(cut);
	}
	CHECK(bad == 0);
}

/* Sealed chunks: they open to their bytes; equal chunks seal equally (dedup); a changed byte,
 * another id, another length, a cut or another key are refused. */
static void test_chunks(const struct store_keys *k, const struct fixture *f)
{
	uint8_t *buf = malloc(CS), *out = malloc(CS);
	struct cfs_err err;
	size_t bad = 0;
	for (uint64_t i = 0; i < f->s.nrefs; i++) {
		const struct store_ref *r = &f->s.refs[i];
		if (r->pack == STORE_ZERO_PACK)
			continue;
		const uint8_t *sealed = f->pack[r->pack].p + r->off;
		/* The chunk's length: the file's size tells the last one's. */
		uint32_t want = 0;
		for (uint32_t e = 0; e < f->s.m.n; e++)
			if (f->s.m.e[e].type == MANIFEST_REG && i >= f->s.first_ref[e] &&
			    i < f->s.first_ref[e] + manifest_chunks(f->s.m.e[e].size, CS)) {
				uint64_t off = (i - f->s.first_ref[e]) * CS;
				want = (uint32_t)(f->s.m.e[e].size - off < CS ? f->s.m.e[e].size - off : CS);
			}
		if (store_chunk_open(k, r->id, sealed, r->len, out, want, &err))
			bad++;
		uint8_t id[STORE_ID_LEN];
		store_chunk_id(k, out, want, id);
		if (memcmp(id, r->id, STORE_ID_LEN))
			bad++;
	}
	CHECK(bad == 0);

	/* One chunk in detail: compressible, so stored as zstd. */
	chunk_bytes(buf, CS, 0);
	uint8_t id[STORE_ID_LEN];
	store_chunk_id(k, buf, CS, id);
	struct wbuf a, b;
	wbuf_init(&a, 1 << 20);
	wbuf_init(&b, 1 << 20);
	CHECK(store_chunk_seal(k, id, buf, CS, 3, &a) == 0 && store_chunk_seal(k, id, buf, CS, 3, &b) == 0);
	CHECK(a.len < CS / 2 && a.len == b.len && !memcmp(a.p, b.p, a.len));
	CHECK(store_chunk_open(k, id, a.p, a.len, out, CS, &err) == 0 && !memcmp(out, buf, CS));
	size_t tampered_ok = 0;
	for (size_t i = 0; i < a.len; i++) {
		a.p[i] ^= 0x80;
		if (store_chunk_open(k, id, a.p, a.len, out, CS, &err) == 0 || err.code != CFS_ER_STORE_KEY)
			tampered_ok++;
		a.p[i] ^= 0x80;
	}
	CHECK(tampered_ok == 0);
	size_t trunc_ok = 0;
	for (size_t n = 0; n < a.len; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, a.p, n);
		if (store_chunk_open(k, id, cut, n, out, CS, &err) == 0)
			trunc_ok++;
		free(cut);
	}
	CHECK(trunc_ok == 0);
	CHECK(store_chunk_open(k, id, a.p, a.len, out, CS - 1, &err) == -1);
	/* The same chunk sealed another way (raw here; another zstd version or level alike) opens to
	 * the same bytes but never under the same nonce (a GCM nonce reused with other plaintext
	 * leaks both and the authentication key). */
	wbuf_reset(&b);
	CHECK(store_chunk_seal(k, id, buf, CS, 0, &b) == 0 && b.len == STORE_SEAL_OVERHEAD + 1 + CS);
	CHECK(memcmp(a.p, b.p, STORE_NONCE_LEN) != 0);
	CHECK(store_chunk_open(k, id, b.p, b.len, out, CS, &err) == 0 && !memcmp(out, buf, CS));
	uint8_t id2[STORE_ID_LEN];
	memcpy(id2, id, sizeof(id2));
	id2[0] ^= 1;
	CHECK(store_chunk_open(k, id2, a.p, a.len, out, CS, &err) == -1 && err.code == CFS_ER_STORE_KEY);
	struct store_keys other;
	keys_of(0x5a, &other);
	CHECK(store_chunk_open(&other, id, a.p, a.len, out, CS, &err) == -1 && err.code == CFS_ER_STORE_KEY);
	/* The id is keyed: another store key gives another id for the same bytes. */
	store_chunk_id(&other, buf, CS, id2);
	CHECK(memcmp(id, id2, STORE_ID_LEN) != 0);
	/* Incompressible bytes are stored raw (encoding 0) and open too. */
	chunk_bytes(buf, 1000, 1);
	for (int i = 0; i < 1000; i++)
		buf[i] ^= (uint8_t)(i * i * 31 + (i >> 3) * 97);
	wbuf_reset(&a);
	store_chunk_id(k, buf, 1000, id);
	CHECK(store_chunk_seal(k, id, buf, 1000, 0, &a) == 0 && a.len == STORE_SEAL_OVERHEAD + 1 + 1000);
	CHECK(store_chunk_open(k, id, a.p, a.len, out, 1000, &err) == 0 && !memcmp(out, buf, 1000));
	wbuf_release(&a);
	wbuf_release(&b);
	free(buf);
	free(out);
}

static void test_key_file(void)
{
	char dir[] = "/tmp/test_store_fmt.XXXXXX";
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	if (tmp && *tmp) {
		snprintf(path, sizeof(path), "%s/test_store_fmt.XXXXXX", tmp);
		CHECK(mkdtemp(path) != NULL);
	} else {
		CHECK(mkdtemp(dir) != NULL);
		snprintf(path, sizeof(path), "%s", dir);
	}
	char file[4200];
	snprintf(file, sizeof(file), "%s/store.key", path);
	struct store_keys a, b;
	struct cfs_err err = { 0 };
	FILE *f = fopen(file, "w");
	fputs("4242424242424242424242424242424242424242424242424242424242424242\n", f);
	fclose(f);
	CHECK(store_key_load(file, &a, &err) == 0);
	keys_of(0x42, &b);
	CHECK(!memcmp(&a, &b, sizeof(a)));
	f = fopen(file, "w");
	fputs("42424242\n", f);
	fclose(f);
	CHECK(store_key_load(file, &a, &err) == -1 && err.code == CFS_ER_USAGE && strstr(err.msg, "64 hex digits"));
	f = fopen(file, "w");
	fputs("4242424242424242424242424242424242424242424242424242424242424g42\n", f);
	fclose(f);
	CHECK(store_key_load(file, &a, &err) == -1 && strstr(err.msg, "64 hex digits"));
	CHECK(store_key_load(NULL, &a, &err) == -1 && strstr(err.msg, "store_key_file"));
	unlink(file);
	CHECK(store_key_load(file, &a, &err) == -1 && strstr(err.msg, "cannot read"));
	rmdir(path);
}

int main(void)
{
	seed_dir = getenv("STORE_SEED_DIR");
	struct store_keys k;
	keys_of(0x42, &k);
	struct fixture f;
	fixture_build(&f, &k);
	test_snapshot_round_trip(&k, &f);
	test_snapshot_small();
	test_index_round_trip(&k, &f);

	struct wbuf snap, idx;
	wbuf_init(&snap, 1 << 20);
	wbuf_init(&idx, 1 << 20);
	store_snapshot_encode(&f.s, &snap);
	store_index_encode(f.idx[1], f.nidx[1], &idx);
	test_object_tamper(&k, STORE_MANIFEST_MAGIC, SNAP_WHAT, &snap);
	test_object_tamper(&k, STORE_INDEX_MAGIC, IDX_WHAT, &idx);
	test_wrong_key(&k, &snap);
	test_plain_truncation(&snap, &idx);
	test_chunks(&k, &f);
	test_key_file();
	wbuf_release(&snap);
	wbuf_release(&idx);
	fixture_release(&f);
	return tap_done();
}
