/* store_reader.c: a recipient's session on an object store instead of a donor: the snapshot's
 * manifest object read once per process and shared by every connection, chunks by ranged GETs of
 * their packs (adjacent ones merged), each opened (AES-GCM), decompressed and checked against its
 * keyed id before the fetcher sees it. Behind cfs_session_* (client.c), so fs/ is unchanged. */
#include "transport/store_reader.h"
#include "transport/clock.h"
#include "transport/s3.h"
#include "transport/store_fmt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A merged GET covers at most this many bytes: large enough that request cost is amortized, small
 * enough that a demand read of one chunk never waits for a long transfer. */
enum { STORE_GET_MAX = 8 << 20 };
enum { STORE_QUEUE = 64 };

struct pending_read {
	uint32_t req;
	const struct manifest_entry *e;
	uint64_t first;
	uint32_t count;
};

/* The parsed snapshot, shared by every session of the process on the same object. */
struct shared_snap {
	char name[1300];
	struct store_snapshot snap;
	int refs;               /* guarded by shared_lock */
	struct shared_snap *next;
};
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER; /* guards shared_list and refs */
static struct shared_snap *shared_list;

struct store_reader {
	struct s3 s3;
	struct s3_url url;
	struct store_keys keys;
	struct shared_snap *ss;
	struct pending_read q[STORE_QUEUE];
	unsigned qhead, qlen;
	struct wbuf get;
};

static void shared_put(struct shared_snap *ss)
{
	if (!ss)
		return;
	pthread_mutex_lock(&shared_lock);
	if (--ss->refs == 0) {
		struct shared_snap **pp = &shared_list;
		while (*pp != ss)
			pp = &(*pp)->next;
		*pp = ss->next;
		store_snapshot_release(&ss->snap);
		free(ss);
	}
	pthread_mutex_unlock(&shared_lock);
}

int store_reader_open(struct cfs_session *s, const struct cfs_client_opts *o, struct cfs_err *err)
{
	struct store_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	struct s3_config cfg;
	if (s3_url_parse(o->store_url, &r->url, err) || store_key_load(o->store_key_file, &r->keys, err) ||
	    s3_config_load(&cfg, o->s3_endpoint, err)) {
		free(r);
		return -1;
	}
	cfg.timeout_s = o->timeout_ms >= 2000 ? o->timeout_ms / 1000 : 2;
	if (s3_open(&r->s3, &cfg, r->url.bucket, err)) {
		free(r);
		return -1;
	}
	wbuf_init(&r->get, STORE_GET_MAX + 4096);
	s->store = r;
	s->proto = 2;
	s->conn.fd = -1;
	return 0;
}

void store_reader_close(struct cfs_session *s)
{
	struct store_reader *r = s->store;
	if (!r)
		return;
	shared_put(r->ss);
	s3_close(&r->s3);
	wbuf_release(&r->get);
	free(r);
	s->store = NULL;
}

/* Read, open and parse snapshots/ID once per process. */
static int shared_get(struct store_reader *r, const char *snap, struct cfs_err *err)
{
	char key[1200];
	store_key_name(key, sizeof(key), r->url.prefix, "snapshots", snap, "");
	char name[1300];
	snprintf(name, sizeof(name), "%s/%s", r->url.bucket, key);
	pthread_mutex_lock(&shared_lock);
	for (struct shared_snap *ss = shared_list; ss; ss = ss->next)
		if (!strcmp(ss->name, name)) {
			ss->refs++;
			r->ss = ss;
			pthread_mutex_unlock(&shared_lock);
			return 0;
		}
	pthread_mutex_unlock(&shared_lock);

	struct wbuf obj;
	wbuf_init(&obj, STORE_OBJECT_MAX);
	uint8_t *plain = NULL;
	size_t plen;
	struct shared_snap *ss = calloc(1, sizeof(*ss));
	int rc = -1;
	if (!ss) {
		cfs_err_set(err, CFS_ER_IO, "out of memory");
		goto out;
	}
	if (s3_get(&r->s3, key, 0, 0, &obj, err)) {
		if (err->code == CFS_ER_STORE_MISSING)
			cfs_err_set(err, CFS_ER_STORE_MISSING, "snapshot %s not found in s3://%s%s%s (clonefs store list shows what is there)",
				    snap, r->url.bucket, r->url.prefix[0] ? "/" : "", r->url.prefix);
		goto out;
	}
	if (store_object_open(&r->keys, STORE_MANIFEST_MAGIC, key, obj.p, obj.len, &plain, &plen, err) ||
	    store_snapshot_parse(plain, plen, &ss->snap, err))
		goto out;
	if (strcmp(ss->snap.info.id, snap)) {
		cfs_err_set(err, CFS_ER_STORE_KEY, "store object %s holds snapshot %s", key, ss->snap.info.id);
		store_snapshot_release(&ss->snap);
		goto out;
	}
	snprintf(ss->name, sizeof(ss->name), "%s", name);
	ss->refs = 1;
	pthread_mutex_lock(&shared_lock);
	ss->next = shared_list;
	shared_list = ss;
	pthread_mutex_unlock(&shared_lock);
	r->ss = ss;
	ss = NULL;
	rc = 0;
out:
	free(ss);
	free(plain);
	wbuf_release(&obj);
	return rc;
}

int store_reader_snap_open(struct cfs_session *s, const char *snap, struct wire_snap_info *info, struct cfs_err *err)
{
	struct store_reader *r = s->store;
	if (!strcmp(snap, "new"))
		return cfs_err_set(err, CFS_ER_USAGE,
				   "a store holds published snapshots only: name one, s3://BUCKET/PREFIX/SNAPSHOT_ID "
				   "(clonefs store list s3://%s%s%s)", r->url.bucket, r->url.prefix[0] ? "/" : "", r->url.prefix);
	if (!r->ss && shared_get(r, snap, err))
		return -1;
	const struct wire_snap_info *si = &r->ss->snap.info;
	memset(info, 0, sizeof(*info));
	snprintf(info->id, sizeof(info->id), "%s", si->id);
	info->chunk_size = si->chunk_size;
	for (uint32_t i = 0; i < si->nfacts; i++)
		if (wire_snap_info_set(info, si->facts[i].key, si->facts[i].value ? si->facts[i].value : "")) {
			wire_snap_info_release(info);
			return cfs_err_set(err, CFS_ER_IO, "out of memory");
		}
	char url[700];
	snprintf(url, sizeof(url), "s3://%s%s%s", r->url.bucket, r->url.prefix[0] ? "/" : "", r->url.prefix);
	wire_snap_info_set(info, "store", url);
	s->chunk_size = si->chunk_size;
	return 0;
}

int store_reader_manifest(struct cfs_session *s, struct manifest *m, struct cfs_err *err)
{
	struct store_reader *r = s->store;
	if (!r->ss)
		return cfs_err_set(err, CFS_ER_USAGE, "no snapshot open");
	struct wbuf b;
	wbuf_init(&b, WIRE_MANIFEST_MAX_BYTES);
	manifest_encode(&b, &r->ss->snap.m);
	int rc = b.over ? cfs_err_set(err, CFS_ER_IO, "out of memory") : manifest_parse(b.p, b.len, m, err);
	wbuf_release(&b);
	return rc;
}

int store_reader_read_send(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
			   uint32_t *req, struct cfs_err *err)
{
	struct store_reader *r = s->store;
	if (r->qlen == STORE_QUEUE)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "more than %d reads in flight on one store session", STORE_QUEUE);
	struct pending_read *p = &r->q[(r->qhead + r->qlen++) % STORE_QUEUE];
	p->req = *req = ++s->next_req;
	p->e = e;
	p->first = first;
	p->count = count;
	return 0;
}

/* Hand chunk idx of e (want bytes, in buf) to cb as a verified chunk. */
static int deliver(struct cfs_session *s, const struct manifest_entry *e, uint64_t idx, uint8_t *buf, uint32_t want,
		   bool zero, cfs_chunk_cb cb, void *arg, struct cfs_err *err)
{
	struct chunk_hdr h = { .file_id = e->id, .index = idx, .enc = zero ? CHUNK_ZERO : CHUNK_RAW, .raw_len = want };
	chunk_digest(chunk_digest_of_proto(s->proto), buf, want, h.digest);
	return cb(arg, &h, buf, err);
}

int store_reader_read_recv(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
			   uint32_t req, cfs_chunk_cb cb, void *arg, struct cfs_err *err)
{
	struct store_reader *r = s->store;
	if (!r->qlen || r->q[r->qhead].req != req || r->q[r->qhead].e != e || r->q[r->qhead].first != first ||
	    r->q[r->qhead].count != count)
		return cfs_err_set(err, CFS_ER_PROTOCOL, "store reads received out of order");
	r->qhead = (r->qhead + 1) % STORE_QUEUE;
	r->qlen--;
	const struct store_snapshot *sn = &r->ss->snap;
	uint32_t cs = sn->info.chunk_size;
	if (e->id >= sn->m.n || sn->m.e[e->id].type != MANIFEST_REG || sn->m.e[e->id].size != e->size ||
	    first + count > manifest_chunks(e->size, cs))
		return cfs_err_set(err, CFS_ER_PROTOCOL, "read of chunks %llu+%u of file %u outside the store's snapshot",
				   (unsigned long long)first, count, e->id);
	uint8_t *buf = malloc(cs);
	if (!buf)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	int rc = -1;
	for (uint64_t i = first; i < first + count;) {
		const struct store_ref *ref = store_snapshot_ref(sn, e->id, i);
		uint64_t off = i * cs;
		uint32_t want = (uint32_t)(e->size - off < cs ? e->size - off : cs);
		if (ref->pack == STORE_ZERO_PACK) {
			memset(buf, 0, want);
			if (deliver(s, e, i, buf, want, true, cb, arg, err))
				goto out;
			i++;
			continue;
		}
		/* Merge the following chunks stored right after this one in the same pack. */
		uint64_t j = i + 1, bytes = ref->len;
		while (j < first + count) {
			const struct store_ref *n = store_snapshot_ref(sn, e->id, j), *p = store_snapshot_ref(sn, e->id, j - 1);
			if (n->pack != ref->pack || n->off != p->off + p->len || bytes + n->len > STORE_GET_MAX)
				break;
			bytes += n->len;
			j++;
		}
		char key[1200];
		store_key_name(key, sizeof(key), r->url.prefix, "packs", sn->packs[ref->pack], ".pack");
		uint64_t t0 = mono_ns();
		if (s3_get(&r->s3, key, ref->off, bytes, &r->get, err))
			goto out;
		uint64_t t1 = mono_ns();
		s->ns_wait += t1 - t0;
		s->bytes_wire += bytes;
		for (uint64_t k = i, at = 0; k < j; k++) {
			const struct store_ref *c = store_snapshot_ref(sn, e->id, k);
			uint64_t coff = k * cs;
			uint32_t cw = (uint32_t)(e->size - coff < cs ? e->size - coff : cs);
			uint64_t t2 = mono_ns();
			if (store_chunk_open(&r->keys, c->id, r->get.p + at, c->len, buf, cw, err)) {
				char what[CFS_ERR_MSG_MAX];
				snprintf(what, sizeof(what), "%s", err->msg);
				cfs_err_set(err, err->code, "%s: chunk %llu of %s in %s", what, (unsigned long long)k, e->path, key);
				goto out;
			}
			s->ns_decode += mono_ns() - t2;
			if (deliver(s, e, k, buf, cw, false, cb, arg, err))
				goto out;
			at += c->len;
		}
		i = j;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}
