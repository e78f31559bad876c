/* publish.c: `clonefs publish DONOR s3://BUCKET/PREFIX`: reads one snapshot from a donor and
 * writes it into an object store: chunks the store lacks are sealed into packs of ~32 MiB (each
 * followed by its index), then the snapshot's manifest object, last: its presence is the commit. */
#include "tools/commands.h"
#include "tools/store_access.h"
#include "transport/client.h"
#include "transport/endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

/* Packs are large: per-request cost and object count matter more on S3 than anything else. */
enum { PACK_TARGET = 32 << 20 };

static const char usage[] =
	"usage: clonefs publish [USER@]HOST[:PORT] s3://BUCKET[/PREFIX] -o store_key_file=F[,OPTION...] [--json]\n"
	"  Takes a snapshot on the donor (or reopens -o snapshot=ID) and writes it into the store:\n"
	"  only chunks the store does not hold yet are uploaded, encrypted with the store key.\n"
	"  -o store_key_file=F   32 bytes as 64 hex digits (openssl rand -hex 32 > F); keep it safe:\n"
	"                        without it nothing in the store can be read\n"
	"  -o s3_endpoint=URL    else $AWS_ENDPOINT_URL; credentials from $AWS_ACCESS_KEY_ID and\n"
	"                        $AWS_SECRET_ACCESS_KEY or ~/.aws/credentials ($AWS_PROFILE)\n"
	"  --pack-mib=N          upload packs of about N MiB (default 32)\n"
	"  --verbose             name each file with chunks the store did not hold, and their bytes\n"
	"  --json                one JSON object: bytes uploaded, already stored, chunks, requests\n"
	"  -o ssl_mode=,ssl_ca=,ssl_cert=,ssl_key=,password_file=,network_timeout=,snapshot=\n"
	"                        reach the donor as mount.clonefs does\n";

/* Where a chunk already is: pack number (into the publish's list of every pack name), offset, length. */
struct known {
	uint8_t id[STORE_ID_LEN];
	uint32_t pack;
	uint32_t len;
	uint64_t off;
	bool used;
};

struct pub {
	struct store_handle h;
	struct known *tab;       /* open addressing by the id's first 8 bytes */
	size_t cap, n;
	char (*names)[STORE_PACK_NAME_LEN + 1]; /* every pack known: the store's, then ours */
	uint32_t nnames, names_cap;
	int32_t *local;          /* per pack: its index in the snapshot's packs, -1 when unused */
	/* The pack being filled. */
	struct wbuf pack;
	struct store_index_ent *idx;
	uint32_t nidx, idx_cap;
	uint32_t cur;            /* its number in names */
	bool open;
	/* The snapshot being written. */
	struct store_snapshot snap;
	uint64_t next_ref;
	const struct manifest_entry *e;
	/* What we did, for the summary. */
	uint64_t bytes_snapshot, bytes_uploaded, bytes_known, chunks, chunks_new, chunks_zero;
	uint32_t packs_written;
	bool progress;
	time_t last_progress;
	size_t pack_target;      /* bytes: a pack is uploaded once it holds this much */
	bool verbose;            /* a line per file with new chunks: what changed since the last publish */
	uint64_t file_new;       /* sealed bytes of new chunks of the current file */
};

static uint64_t id_hash(const uint8_t *id)
{
	uint64_t v;
	memcpy(&v, id, sizeof(v));
	return v;
}

static struct known *tab_find(struct pub *p, const uint8_t *id)
{
	size_t m = p->cap - 1;
	for (size_t i = id_hash(id) & m;; i = (i + 1) & m) {
		if (!p->tab[i].used || !memcmp(p->tab[i].id, id, STORE_ID_LEN))
			return &p->tab[i];
	}
}

static int tab_add(struct pub *p, const uint8_t *id, uint32_t pack, uint64_t off, uint32_t len)
{
	if ((p->n + 1) * 2 > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1 << 12;
		struct known *old = p->tab;
		size_t ocap = p->cap;
		p->tab = calloc(cap, sizeof(*p->tab));
		if (!p->tab) {
			p->tab = old;
			return -1;
		}
		p->cap = cap;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].used)
				*tab_find(p, old[i].id) = old[i];
		free(old);
	}
	struct known *k = tab_find(p, id);
	if (k->used)
		return 0;
	memcpy(k->id, id, STORE_ID_LEN);
	k->pack = pack;
	k->off = off;
	k->len = len;
	k->used = true;
	p->n++;
	return 0;
}

static int add_name(struct pub *p, const char *name)
{
	if (p->nnames == p->names_cap) {
		uint32_t cap = p->names_cap ? p->names_cap * 2 : 64;
		void *a = realloc(p->names, cap * sizeof(*p->names)), *b = a ? realloc(p->local, cap * sizeof(*p->local)) : NULL;
		if (a)
			p->names = a;
		if (!a || !b)
			return -1;
		p->local = b;
		p->names_cap = cap;
	}
	snprintf(p->names[p->nnames], sizeof(p->names[0]), "%s", name);
	p->local[p->nnames] = -1;
	p->nnames++;
	return 0;
}

/* The store's packs and their indexes: what this publish need not upload again. */
struct idx_keys {
	char (*keys)[STORE_PACK_NAME_LEN + 1];
	size_t n, cap, skip;
};

static int on_pack_key(void *arg, const char *key, uint64_t size, int64_t mtime)
{
	struct idx_keys *l = arg;
	(void)size;
	(void)mtime;
	const char *name = key + l->skip;
	size_t len = strlen(key) > l->skip ? strlen(name) : 0;
	if (len != STORE_PACK_NAME_LEN + 4 || strcmp(name + STORE_PACK_NAME_LEN, ".idx"))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *q = realloc(l->keys, cap * sizeof(*l->keys));
		if (!q)
			return -1;
		l->keys = q;
		l->cap = cap;
	}
	memcpy(l->keys[l->n], name, STORE_PACK_NAME_LEN);
	l->keys[l->n++][STORE_PACK_NAME_LEN] = 0;
	return 0;
}

static int load_known(struct pub *p, struct cfs_err *err)
{
	char prefix[1200];
	store_key_name(prefix, sizeof(prefix), p->h.url.prefix, "packs", "", "");
	struct idx_keys l = { .skip = strlen(prefix) };
	int rc = s3_list(&p->h.s3, prefix, on_pack_key, &l, err);
	struct wbuf obj;
	wbuf_init(&obj, STORE_OBJECT_MAX);
	for (size_t i = 0; !rc && i < l.n; i++) {
		char key[1200];
		store_key_name(key, sizeof(key), p->h.url.prefix, "packs", l.keys[i], ".idx");
		uint8_t *plain = NULL;
		size_t plen;
		struct store_index_ent *ents = NULL;
		uint32_t ne = 0;
		rc = s3_get(&p->h.s3, key, 0, 0, &obj, err);
		if (rc && err->code == CFS_ER_STORE_MISSING) { /* removed by a gc meanwhile */
			rc = 0;
			continue;
		}
		if (!rc)
			rc = store_object_open(&p->h.keys, STORE_INDEX_MAGIC, key, obj.p, obj.len, &plain, &plen, err) ||
			     store_index_parse(plain, plen, &ents, &ne, err) ? -1 : 0;
		if (!rc)
			rc = add_name(p, l.keys[i]);
		for (uint32_t j = 0; !rc && j < ne; j++)
			rc = tab_add(p, ents[j].id, p->nnames - 1, ents[j].off, ents[j].len);
		free(ents);
		free(plain);
	}
	wbuf_release(&obj);
	free(l.keys);
	return rc;
}

/* Upload the pack being filled, then its index: a chunk is known to the store only once both are. */
static int pack_flush(struct pub *p, struct cfs_err *err)
{
	if (!p->open)
		return 0;
	char key[1200];
	store_key_name(key, sizeof(key), p->h.url.prefix, "packs", p->names[p->cur], ".pack");
	if (s3_put(&p->h.s3, key, p->pack.p, p->pack.len, err))
		return -1;
	struct wbuf plain, obj;
	wbuf_init(&plain, STORE_OBJECT_MAX);
	wbuf_init(&obj, STORE_OBJECT_MAX);
	store_index_encode(p->idx, p->nidx, &plain);
	store_key_name(key, sizeof(key), p->h.url.prefix, "packs", p->names[p->cur], ".idx");
	int rc = plain.over || store_object_seal(&p->h.keys, STORE_INDEX_MAGIC, key, plain.p, plain.len, &obj)
			 ? cfs_err_set(err, CFS_ER_IO, "cannot encode the index of pack %s", p->names[p->cur])
			 : s3_put(&p->h.s3, key, obj.p, obj.len, err);
	if (!rc) {
		p->bytes_uploaded += p->pack.len + obj.len;
		p->packs_written++;
	}
	wbuf_release(&plain);
	wbuf_release(&obj);
	p->open = false;
	p->nidx = 0;
	wbuf_reset(&p->pack);
	return rc;
}

static int pack_start(struct pub *p, struct cfs_err *err)
{
	uint8_t rnd[16];
	char name[STORE_PACK_NAME_LEN + 1];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return cfs_err_set(err, CFS_ER_IO, "no random bytes for a pack name");
	for (int i = 0; i < 16; i++)
		snprintf(name + 2 * i, 3, "%02x", rnd[i]);
	if (add_name(p, name))
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	p->cur = p->nnames - 1;
	p->open = true;
	return 0;
}

static int local_pack(struct pub *p, uint32_t pack, struct cfs_err *err)
{
	if (p->local[pack] >= 0)
		return p->local[pack];
	void *q = realloc(p->snap.packs, (p->snap.npacks + 1) * sizeof(*p->snap.packs));
	if (!q)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	p->snap.packs = q;
	snprintf(p->snap.packs[p->snap.npacks], sizeof(p->snap.packs[0]), "%s", p->names[pack]);
	return p->local[pack] = (int32_t)p->snap.npacks++;
}

static void show_progress(struct pub *p, bool last)
{
	time_t now = time(NULL);
	if (!p->progress || (!last && now == p->last_progress))
		return;
	p->last_progress = now;
	fprintf(stderr, "\rpublish: %llu of %llu MiB read, %llu MiB uploaded%s",
		(unsigned long long)(p->bytes_snapshot >> 20), (unsigned long long)(p->snap.m.bytes_total >> 20),
		(unsigned long long)(p->bytes_uploaded >> 20), last ? "\n" : "");
}

static int on_chunk(void *arg, const struct chunk_hdr *h, const uint8_t *data, struct cfs_err *err)
{
	struct pub *p = arg;
	struct store_ref *ref = &p->snap.refs[p->snap.first_ref[p->e->id] + h->index];
	p->chunks++;
	p->bytes_snapshot += h->raw_len;
	show_progress(p, false);
	if (h->enc == CHUNK_ZERO || chunk_is_zero(data, h->raw_len)) {
		ref->pack = STORE_ZERO_PACK;
		p->chunks_zero++;
		return 0;
	}
	store_chunk_id(&p->h.keys, data, h->raw_len, ref->id);
	struct known *k = p->cap ? tab_find(p, ref->id) : NULL;
	if (k && k->used) {
		int lp = local_pack(p, k->pack, err);
		if (lp < 0)
			return -1;
		ref->pack = (uint32_t)lp;
		ref->off = k->off;
		ref->len = k->len;
		if (!(p->open && k->pack == p->cur))
			p->bytes_known += h->raw_len;
		return 0;
	}
	if (!p->open && pack_start(p, err))
		return -1;
	size_t at = p->pack.len;
	if (store_chunk_seal(&p->h.keys, ref->id, data, h->raw_len, 3, &p->pack) || p->pack.over)
		return cfs_err_set(err, CFS_ER_IO, "cannot seal chunk %llu of %s", (unsigned long long)h->index, p->e->path);
	uint32_t len = (uint32_t)(p->pack.len - at);
	if (p->nidx == p->idx_cap) {
		uint32_t cap = p->idx_cap ? p->idx_cap * 2 : 1024;
		void *q = realloc(p->idx, cap * sizeof(*p->idx));
		if (!q)
			return cfs_err_set(err, CFS_ER_IO, "out of memory");
		p->idx = q;
		p->idx_cap = cap;
	}
	struct store_index_ent *ie = &p->idx[p->nidx++];
	memcpy(ie->id, ref->id, STORE_ID_LEN);
	ie->off = at;
	ie->len = len;
	if (tab_add(p, ref->id, p->cur, at, len))
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	int lp = local_pack(p, p->cur, err);
	if (lp < 0)
		return -1;
	ref->pack = (uint32_t)lp;
	ref->off = at;
	ref->len = len;
	p->chunks_new++;
	p->file_new += len;
	if (p->pack.len >= p->pack_target)
		return pack_flush(p, err);
	return 0;
}


static int publish(struct pub *p, const char *donor, const char *url, const struct store_opts *o, bool json,
		   struct cfs_err *err)
{
	struct endpoint ep;
	char password[512];
	if (endpoint_parse(donor, &ep, err) || store_handle_open(&p->h, url, o, err))
		return -1;
	struct cfs_client_opts co = { .host = ep.host, .port = ep.port, .user = ep.user, .ssl_ca = o->ssl_ca,
				      .ssl_cert = o->ssl_cert, .ssl_key = o->ssl_key, .timeout_ms = 30000 };
	if (o->ssl_mode && cfs_ssl_mode_parse(o->ssl_mode, &co.ssl_mode))
		return cfs_err_set(err, CFS_ER_USAGE, "ssl_mode=%s: expected required, preferred or disabled", o->ssl_mode);
	if (o->network_timeout) {
		char *end;
		errno = 0;
		unsigned long t = strtoul(o->network_timeout, &end, 10);
		if (errno || *end || t < 1 || t > 86400)
			return cfs_err_set(err, CFS_ER_USAGE, "network_timeout=%s: expected 1 to 86400 seconds", o->network_timeout);
		co.timeout_ms = (int)(t < 30 ? t * 1000 : 30000);
		p->h.s3.cfg.timeout_s = (int)t;
	}
	if (endpoint_password(o->password_file, password, sizeof(password), err))
		return -1;
	co.password = password;
	if (s3_create_bucket(&p->h.s3, err) || load_known(p, err))
		return -1;

	struct cfs_session s;
	if (cfs_session_open(&s, &co, NULL, err))
		return -1;
	int rc = -1;
	struct wire_snap_info info = { 0 };
	if (cfs_session_snap_open(&s, o->snapshot ? o->snapshot : "new", &info, NULL, NULL, err) ||
	    cfs_session_manifest(&s, &p->snap.m, err))
		goto out;
	p->snap.info = info;
	memset(&info, 0, sizeof(info));
	char from[300];
	snprintf(from, sizeof(from), "%s:%u", ep.host, ep.port);
	wire_snap_info_set(&p->snap.info, "published_from", from);
	uint64_t nrefs = 0;
	p->snap.first_ref = calloc(p->snap.m.n ? p->snap.m.n : 1, sizeof(*p->snap.first_ref));
	if (!p->snap.first_ref) {
		cfs_err_set(err, CFS_ER_IO, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < p->snap.m.n; i++) {
		p->snap.first_ref[i] = nrefs;
		if (p->snap.m.e[i].type == MANIFEST_REG)
			nrefs += manifest_chunks(p->snap.m.e[i].size, s.chunk_size);
	}
	p->snap.refs = calloc(nrefs ? nrefs : 1, sizeof(*p->snap.refs));
	if (!p->snap.refs) {
		cfs_err_set(err, CFS_ER_IO, "out of memory");
		goto out;
	}
	p->snap.nrefs = nrefs;
	for (uint32_t i = 0; i < p->snap.m.n; i++) {
		const struct manifest_entry *e = &p->snap.m.e[i];
		if (e->type != MANIFEST_REG)
			continue;
		p->e = e;
		p->file_new = 0;
		uint64_t n = manifest_chunks(e->size, s.chunk_size);
		for (uint64_t c = 0; c < n; c += WIRE_READ_MAX_CHUNKS) {
			uint32_t k = (uint32_t)(n - c < WIRE_READ_MAX_CHUNKS ? n - c : WIRE_READ_MAX_CHUNKS);
			if (cfs_session_read(&s, e, c, k, on_chunk, p, err))
				goto out;
		}
		if (p->verbose && p->file_new)
			fprintf(stderr, "publish: %s: %llu new bytes sealed\n", e->path, (unsigned long long)p->file_new);
	}
	if (pack_flush(p, err))
		goto out;
	show_progress(p, true);
	/* The commit: the manifest object, written last. */
	p->snap.published = (int64_t)time(NULL);
	char key[1200];
	store_key_name(key, sizeof(key), p->h.url.prefix, "snapshots", p->snap.info.id, "");
	struct wbuf plain, obj;
	wbuf_init(&plain, STORE_OBJECT_MAX);
	wbuf_init(&obj, STORE_OBJECT_MAX);
	store_snapshot_encode(&p->snap, &plain);
	rc = plain.over || store_object_seal(&p->h.keys, STORE_MANIFEST_MAGIC, key, plain.p, plain.len, &obj)
		     ? cfs_err_set(err, CFS_ER_IO, "cannot encode the manifest of snapshot %s", p->snap.info.id)
		     : s3_put(&p->h.s3, key, obj.p, obj.len, err);
	if (!rc)
		p->bytes_uploaded += obj.len;
	wbuf_release(&plain);
	wbuf_release(&obj);
	if (rc)
		goto out;
	char u[700];
	store_handle_url(&p->h, u, sizeof(u));
	if (json)
		printf("{\"snapshot_id\": \"%s\", \"store\": \"%s\", \"bytes_total\": %llu, \"bytes_uploaded\": %llu, "
		       "\"bytes_already_stored\": %llu, \"chunks\": %llu, \"chunks_uploaded\": %llu, \"chunks_zero\": %llu, "
		       "\"packs_uploaded\": %u, \"requests\": %llu, \"retries\": %llu}\n",
		       p->snap.info.id, u, (unsigned long long)p->snap.m.bytes_total, (unsigned long long)p->bytes_uploaded,
		       (unsigned long long)p->bytes_known, (unsigned long long)p->chunks, (unsigned long long)p->chunks_new,
		       (unsigned long long)p->chunks_zero, p->packs_written,
		       (unsigned long long)atomic_load(&p->h.s3.requests), (unsigned long long)atomic_load(&p->h.s3.retries));
	else
		printf("published snapshot %s to %s: %llu bytes in %u files; uploaded %llu bytes in %u packs, %llu bytes "
		       "were already stored\nmount it with: mount.clonefs %s/%s MOUNTPOINT -o store_key_file=%s\n",
		       p->snap.info.id, u, (unsigned long long)p->snap.m.bytes_total, p->snap.m.n,
		       (unsigned long long)p->bytes_uploaded, p->packs_written, (unsigned long long)p->bytes_known, u,
		       p->snap.info.id, o->store_key_file);
	rc = 0;
out:
	wire_snap_info_release(&info);
	cfs_session_close(&s);
	return rc;
}

int cmd_publish(int argc, char **argv)
{
	struct store_opts o = { 0 };
	const char *pos[2] = { NULL, NULL };
	int npos = 0;
	bool json = false, verbose = false;
	unsigned long pack_mib = PACK_TARGET >> 20;
	struct cfs_err err = { 0 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--verbose")) {
			verbose = true;
		} else if (!strncmp(a, "--pack-mib=", 11)) {
			char *end;
			errno = 0;
			pack_mib = strtoul(a + 11, &end, 10);
			if (errno || *end || pack_mib < 1 || pack_mib > 1024) {
				cfs_err_set(&err, CFS_ER_USAGE, "%s: expected 1 to 1024 (MiB)", a);
				return store_cmd_usage_fail(usage, &err);
			}
		} else if (!strcmp(a, "-o") && i + 1 < argc) {
			if (store_opts_parse(argv[++i], &o, true, &err))
				return store_cmd_usage_fail(usage, &err);
		} else if (!strncmp(a, "-o", 2) && a[2]) {
			if (store_opts_parse(argv[i] + 2, &o, true, &err))
				return store_cmd_usage_fail(usage, &err);
		} else if (a[0] != '-' && npos < 2) {
			pos[npos++] = a;
		} else {
			cfs_err_set(&err, CFS_ER_USAGE, "unexpected argument '%s'", a);
			return store_cmd_usage_fail(usage, &err);
		}
	}
	if (npos != 2) {
		cfs_err_set(&err, CFS_ER_USAGE, "publish needs a donor and an s3://BUCKET[/PREFIX] store");
		return store_cmd_usage_fail(usage, &err);
	}
	struct pub *p = calloc(1, sizeof(*p));
	if (!p) {
		cfs_err_set(&err, CFS_ER_IO, "out of memory");
		return store_cmd_fail(&err);
	}
	p->pack_target = (size_t)pack_mib << 20;
	wbuf_init(&p->pack, p->pack_target + (8 << 20));
	manifest_init(&p->snap.m);
	p->progress = isatty(2);
	p->verbose = verbose;
	int rc = publish(p, pos[0], pos[1], &o, json, &err);
	store_snapshot_release(&p->snap);
	wbuf_release(&p->pack);
	store_handle_close(&p->h);
	free(p->tab);
	free(p->names);
	free(p->local);
	free(p->idx);
	free(p);
	return rc ? store_cmd_fail(&err) : 0;
}
