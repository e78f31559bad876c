/* test_fetch.c: unit tests of the fetcher over a fake in-process donor (this file defines the
 * cfs_session_* calls fetch.c makes, so transport/client.c is not linked): single-flight (readers
 * of one chunk cause one fetch), retries with backoff bounded by network_timeout and then failing at
 * once until the donor answers again (the prober), a donor whose server restarts treated as
 * transient, a first attempt's success ending an outage, and hydration never refetching a chunk
 * already verified in the cache. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/fetch.h"
#include "tests/unit/tap.h"

enum { CS = 64 * 1024, NCHUNKS = 40 };

/* ---- The fake donor ---- */
static struct {
	atomic_int down;            /* every connect fails with 2003 (a lost network) */
	atomic_int server_down;     /* connects fail with clonefsd's 3862 ... cannot reach its server */
	atomic_int connects;        /* connection attempts */
	atomic_int reads;           /* READ requests answered */
	atomic_int delay_ms;        /* each READ's answer waits this long (overlapping readers) */
	atomic_int fetched[NCHUNKS];  /* per chunk of the one file: times sent */
} donor;

static void byte_pattern(uint8_t *buf, uint32_t len, uint64_t idx)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + idx * 13 + 1);
}

int cfs_session_open(struct cfs_session *s, const struct cfs_client_opts *o, SSL_CTX *ctx, struct cfs_err *err)
{
	(void)o; (void)ctx;
	memset(s, 0, sizeof(*s));
	s->conn.fd = -1;
	s->proto = 2;
	atomic_fetch_add(&donor.connects, 1);
	if (atomic_load(&donor.down))
		return cfs_err_set(err, CR_CONN_HOST_ERROR, "Can't connect to MySQL server on 'fake' (111)");
	if (atomic_load(&donor.server_down))
		return cfs_err_set(err, ER_CLONE_DONOR, "Clone Donor Error: clonefsd cannot reach its server at /s: 2002 : "
				   "Can't connect to local server.");
	return 0;
}

void cfs_session_close(struct cfs_session *s)
{
	memset(s, 0, sizeof(*s));
	s->conn.fd = -1;
}

int cfs_session_snap_open(struct cfs_session *s, const char *snap, struct wire_snap_info *info,
			  void (*progress)(void *arg, const char *line), void *arg, struct cfs_err *err)
{
	(void)snap; (void)info; (void)progress; (void)arg; (void)err;
	s->chunk_size = CS;
	return 0;
}

int cfs_session_read_send(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
			  uint32_t *req, struct cfs_err *err)
{
	(void)e; (void)first; (void)count;
	if (atomic_load(&donor.down))
		return cfs_err_set(err, CFS_ER_NETWORK, "write to fake failed: Broken pipe");
	*req = ++s->next_req;
	return 0;
}

int cfs_session_read_recv(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
			  uint32_t req, cfs_chunk_cb cb, void *arg, struct cfs_err *err)
{
	(void)s; (void)req;
	static uint8_t buf[NCHUNKS][CS];
	if (atomic_load(&donor.delay_ms))
		usleep((useconds_t)atomic_load(&donor.delay_ms) * 1000);
	if (atomic_load(&donor.down))
		return cfs_err_set(err, CFS_ER_NETWORK, "read from fake timed out after 1 s");
	atomic_fetch_add(&donor.reads, 1);
	for (uint32_t i = 0; i < count; i++) {
		uint64_t idx = first + i;
		uint32_t len = (uint32_t)(e->size - idx * CS < CS ? e->size - idx * CS : CS);
		byte_pattern(buf[idx], len, idx); /* each chunk its own buffer: readers at once */
		struct chunk_hdr h = { .file_id = e->id, .index = idx, .enc = CHUNK_RAW, .raw_len = len };
		chunk_digest(CHUNK_DIGEST_XXH64, buf[idx], len, h.digest);
		atomic_fetch_add(&donor.fetched[idx], 1);
		if (cb(arg, &h, buf[idx], err))
			return -1;
	}
	return 0;
}

/* ---- A fetcher over it ---- */
static struct manifest m;
static struct wbuf blob;
static const struct manifest_entry *big;

static void reset_donor(void)
{
	atomic_store(&donor.down, 0);
	atomic_store(&donor.server_down, 0);
	atomic_store(&donor.connects, 0);
	atomic_store(&donor.reads, 0);
	atomic_store(&donor.delay_ms, 0);
	for (int i = 0; i < NCHUNKS; i++)
		atomic_store(&donor.fetched[i], 0);
}

static int up(struct fetcher *f, struct cache *c, const char *dir, const char *id, int timeout_s, bool prefetch,
	      int nslots)
{
	struct cfs_err err = { 0 };
	if (cache_open(c, dir, id, &m, CS, CHUNK_DIGEST_XXH64, blob.p, blob.len, &err))
		return -1;
	struct cfs_client_opts o = { .host = "fake", .port = 4406, .user = "u", .password = "p",
				     .ssl_mode = CFS_SSL_DISABLED, .timeout_ms = 1000 };
	struct cfs_session first;
	if (cfs_session_open(&first, &o, NULL, &err) || cfs_session_snap_open(&first, id, NULL, NULL, NULL, &err))
		return -1;
	if (fetcher_init(f, &o, &first, id, &m, c, nslots, timeout_s, prefetch, &err))
		return -1;
	return fetcher_start(f);
}

static void down(struct fetcher *f, struct cache *c)
{
	fetcher_stop(f);
	cache_close(c);
}

static bool wait_until(struct fetcher *f, enum fetch_state want, int secs)
{
	for (int i = 0; i < secs * 20; i++) {
		if (fetcher_state(f) == want)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

struct reader {
	struct fetcher *f;
	uint64_t first, last;
	int rc;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct cfs_err err = { 0 };
	r->rc = fetcher_ensure(r->f, big, r->first, r->last, false, &err);
	return NULL;
}

/* Eight readers of overlapping ranges at once: every chunk is fetched once. */
static void test_single_flight(const char *dir)
{
	static struct fetcher f;
	static struct cache c;
	reset_donor();
	atomic_store(&donor.delay_ms, 100);
	CHECK(up(&f, &c, dir, "sf", 5, false, 4) == 0);
	pthread_t t[8];
	struct reader r[8];
	for (int i = 0; i < 8; i++) {
		r[i] = (struct reader){ .f = &f, .first = (uint64_t)(i % 2), .last = 3 };
		pthread_create(&t[i], NULL, reader_main, &r[i]);
	}
	bool ok = true;
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ok = ok && r[i].rc == 0;
	}
	CHECK(ok);
	bool once = true;
	for (int i = 0; i <= 3; i++)
		once = once && atomic_load(&donor.fetched[i]) == 1;
	CHECK(once);
	CHECK(atomic_load(&f.chunks_fetched) == 4);
	down(&f, &c);
}

/* The donor gone: retried with backoff (several attempts) until network_timeout, then the read
 * fails; the next one fails at once (no attempt); the prober ends the outage when the donor is back. */
static void test_outage(const char *dir)
{
	static struct fetcher f;
	static struct cache c;
	struct cfs_err err = { 0 };
	reset_donor();
	CHECK(up(&f, &c, dir, "outage", 1, false, 2) == 0);
	CHECK(fetcher_ensure(&f, big, 0, 0, false, &err) == 0);
	atomic_store(&donor.down, 1);
	int before = atomic_load(&donor.connects);
	CHECK(fetcher_ensure(&f, big, 1, 1, false, &err) != 0 && err.code == CFS_ER_NETWORK);
	CHECK(strstr(err.msg, "network_timeout=1") != NULL);
	int tries = atomic_load(&donor.connects) - before;
	CHECK(tries >= 3 && tries <= 12); /* 100 ms doubling within 1 s: backoff, not a spin */
	CHECK(fetcher_state(&f) == FETCH_DISCONNECTED);
	/* Given up: the next reader is told at once; only the prober tries the donor meanwhile. */
	struct cfs_err err2 = { 0 };
	CHECK(fetcher_ensure(&f, big, 2, 2, false, &err2) != 0 && err2.code == CFS_ER_NETWORK);
	CHECK(atomic_load(&donor.fetched[2]) == 0);
	/* Cached chunks are still served: chunk 0 needs no donor. */
	CHECK(fetcher_ensure(&f, big, 0, 0, false, &err) == 0);
	atomic_store(&donor.down, 0);
	CHECK(wait_until(&f, FETCH_LAZY, 10));
	CHECK(fetcher_ensure(&f, big, 2, 2, false, &err) == 0 && atomic_load(&donor.fetched[2]) == 1);
	down(&f, &c);
}

/* clonefsd up, its server restarting: a new connection gets 3862 ... 2002, retried like a lost
 * network; the read works once the server is back within network_timeout. */
static void *server_back(void *arg)
{
	(void)arg;
	usleep(600 * 1000);
	atomic_store(&donor.server_down, 0);
	return NULL;
}

static void test_server_restart(const char *dir)
{
	static struct fetcher f;
	static struct cache c;
	struct cfs_err err = { 0 };
	reset_donor();
	CHECK(up(&f, &c, dir, "restart", 10, false, 1) == 0);
	/* The mount's connection is lost, and the server is down for the reconnect. */
	pthread_mutex_lock(&f.slots[0].lock);
	cfs_session_close(&f.slots[0].sess);
	f.slots[0].open = false;
	pthread_mutex_unlock(&f.slots[0].lock);
	atomic_store(&donor.server_down, 1);
	pthread_t t;
	pthread_create(&t, NULL, server_back, NULL);
	CHECK(fetcher_ensure(&f, big, 5, 6, false, &err) == 0);
	pthread_join(t, NULL);
	CHECK(atomic_load(&f.reconnects) >= 1 && fetcher_state(&f) == FETCH_LAZY);
	down(&f, &c);
}

/* A first attempt's success ends an outage another read saw (issue 19 item 6). */
static void test_fresh_success_clears(const char *dir)
{
	static struct fetcher f;
	static struct cache c;
	struct cfs_err err = { 0 };
	reset_donor();
	CHECK(up(&f, &c, dir, "fresh", 30, false, 2) == 0);
	pthread_mutex_lock(&f.lock);
	f.disconnected = true; /* as a read left it that failed on another connection */
	f.down_since_ms = 0;
	pthread_mutex_unlock(&f.lock);
	CHECK(fetcher_state(&f) == FETCH_DISCONNECTED);
	CHECK(fetcher_ensure(&f, big, 7, 7, false, &err) == 0);
	CHECK(fetcher_state(&f) == FETCH_LAZY);
	down(&f, &c);
}

/* Chunks a reader fetched (verified, in the cache) are never fetched again by hydration, in this
 * run or after a reopen. */
static void test_hydration_no_refetch(const char *dir)
{
	static struct fetcher f;
	static struct cache c;
	struct cfs_err err = { 0 };
	reset_donor();
	CHECK(up(&f, &c, dir, "hyd", 5, false, 4) == 0);
	CHECK(fetcher_ensure(&f, big, 10, 19, false, &err) == 0);
	down(&f, &c);
	CHECK(up(&f, &c, dir, "hyd", 5, true, 4) == 0);
	CHECK(wait_until(&f, FETCH_COMPLETE, 20));
	bool once = true;
	for (int i = 0; i < NCHUNKS; i++)
		once = once && atomic_load(&donor.fetched[i]) == 1;
	CHECK(once);
	CHECK(atomic_load(&f.chunks_fetched) == NCHUNKS - 10);
	down(&f, &c);
}

int main(void)
{
	char dir[] = "/tmp/clonefs-test-fetch-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	manifest_init(&m);
	manifest_add(&m, MANIFEST_REG, "big.ibd", NULL, 0640, (uint64_t)NCHUNKS * CS - 100, 1, 0);
	manifest_finish(&m);
	wbuf_init(&blob, 1 << 20);
	manifest_encode(&blob, &m);
	big = manifest_find(&m, "big.ibd");

	test_single_flight(dir);
	test_outage(dir);
	test_server_restart(dir);
	test_fresh_success_clears(dir);
	test_hydration_no_refetch(dir);

	wbuf_release(&blob);
	manifest_release(&m);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return tap_done();
}
