/* snapshot.c: the donor's snapshot registry: creates one snapshot at a time with the configured
 * method, shares snapshots between sessions by id, keeps them a TTL after the last session, and
 * reloads them from the state dir after a restart (snapshot.meta). */
#include "transport/donor/donor.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "transport/buf.h"
#include "transport/clock.h"

/* snapshot.meta holds one SNAP_INFO payload and a few fields: far below this. */
#define META_MAX (1u << 20)

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER; /* guards snaps, every refs/released, creating,
								reaper_stop */
static struct snapshot *snaps;
static bool creating;
static bool reaper_stop;
static bool reaper_running;
static pthread_t reaper;
static pthread_cond_t reaper_cond = PTHREAD_COND_INITIALIZER;

static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER; /* guards status */
static char status[160];
static atomic_bool cancelled;

const char *snap_method_name(enum snap_method m)
{
	switch (m) {
	case SNAP_MARIABACKUP: return "mariabackup";
	case SNAP_DIR: return "dir";
	case SNAP_BTRFS: return "btrfs";
	case SNAP_CLONE: return "clone";
	case SNAP_REFLINK: return "reflink";
	case SNAP_AUTO:
	default: return "auto";
	}
}

void snap_set_status(const char *line)
{
	pthread_mutex_lock(&status_lock);
	snprintf(status, sizeof(status), "%s", line);
	pthread_mutex_unlock(&status_lock);
}

void snap_cancel(void)
{
	atomic_store(&cancelled, true);
}

bool snap_cancelled(void)
{
	return atomic_load(&cancelled);
}

/* The longest pause snap_test_pause makes: a test's, never a production setting. */
#define TEST_PAUSE_MAX_MS 60000L

void snap_test_pause(const char *env, const char *what)
{
	const char *v = getenv(env);
	char *end;
	long ms = v ? strtol(v, &end, 10) : 0;
	if (!v || *end || ms <= 0)
		return;
	if (ms > TEST_PAUSE_MAX_MS)
		ms = TEST_PAUSE_MAX_MS;
	donor_log("%s: pausing %ld ms %s", env, ms, what);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Our ids: "YYYYMMDD-HHMMSS-" and 12 hex digits. Nothing else in the state dir is ever removed. */
bool snap_is_id(const char *id)
{
	static const char shape[] = "dddddddd-dddddd-xxxxxxxxxxxx";
	size_t i = 0;
	for (; shape[i] && id[i]; i++) {
		unsigned char c = (unsigned char)id[i];
		if (shape[i] == '-' ? c != '-' : shape[i] == 'd' ? !isdigit(c) : !isxdigit(c))
			return false;
	}
	return !shape[i] && !id[i];
}

static void snap_free(struct snapshot *s)
{
	wire_snap_info_release(&s->info);
	snap_tree_release(s);
	free(s);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	if (remove(path))
		donor_event("snapshot_remove_failed", "cannot remove %s: %s", path, strerror(errno));
	return 0; /* go on with the rest */
}

/* Remove a snapshot's directory: only <state_dir>/<one of our ids>, never following a symlink. */
static void remove_snap_dir(const char *dir)
{
	size_t n = strlen(donor_cfg.state_dir);
	if (strncmp(dir, donor_cfg.state_dir, n) != 0 || dir[n] != '/' || !snap_is_id(dir + n + 1)) {
		donor_event("snapshot_remove_refused", "not removing %s: not a snapshot directory of %s", dir, donor_cfg.state_dir);
		return;
	}
	snap_place_remove(dir); /* methods reflink and btrfs: their data, on the datadir's filesystem */
	snap_btrfs_remove(dir); /* method btrfs before D46: its subvolume here (nftw does not cross into it) */
	nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* snapshot.meta: {bytes SNAP_INFO payload, str root, u8 owns_root}; written last (fsynced, renamed
 * into place), so a snapshot directory without it was never finished and is removed at start-up.
 * The SNAP_INFO payload holds the snapshot's chunk size (it always has, so every snapshot.meta
 * reloads with the size it was made with; wire_snap_info_decode checks it as a recipient would). */
static int save_meta(const struct snapshot *s, struct cfs_err *err)
{
	char path[4200], tmp[4300];
	struct wbuf b, info;
	wbuf_init(&b, META_MAX);
	wbuf_init(&info, META_MAX);
	wire_snap_info_encode(&info, &s->info);
	wbuf_bytes(&b, info.p, (uint32_t)info.len);
	b.over |= info.over;
	wbuf_release(&info);
	wbuf_str(&b, s->root);
	wbuf_u8(&b, s->owns_root);
	snprintf(path, sizeof(path), "%s/snapshot.meta", s->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = 0;
	if (fd < 0 || b.over || write(fd, b.p, b.len) != (ssize_t)b.len || fsync(fd) || rename(tmp, path))
		rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot write '%s': %s", path, b.over ? "too large" : strerror(errno));
	if (fd >= 0)
		close(fd);
	int dfd = rc == 0 ? open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	wbuf_release(&b);
	return rc;
}

static ssize_t read_all(int fd, uint8_t *buf, size_t max)
{
	size_t got = 0;
	while (got < max) {
		ssize_t n = read(fd, buf + got, max - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static struct snapshot *load_meta(const char *id, struct cfs_err *err)
{
	char path[4200];
	struct snapshot *s = calloc(1, sizeof(*s));
	uint8_t *buf = malloc(META_MAX + 1);
	if (!s || !buf) {
		free(s);
		free(buf);
		cfs_err_set(err, CFS_ER_IO, "out of memory");
		return NULL;
	}
	snprintf(s->id, sizeof(s->id), "%.64s", id);
	snprintf(s->dir, sizeof(s->dir), "%s/%s", donor_cfg.state_dir, s->id);
	snprintf(path, sizeof(path), "%s/snapshot.meta", s->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = fd >= 0 ? read_all(fd, buf, META_MAX + 1) : -1;
	if (fd >= 0)
		close(fd);
	bool ok = false;
	if (n < 0)
		cfs_err_set(err, CFS_ER_SNAPSHOT, "no readable snapshot.meta (%s)", strerror(errno));
	else if ((size_t)n > META_MAX)
		cfs_err_set(err, CFS_ER_SNAPSHOT, "snapshot.meta is larger than %u bytes", META_MAX);
	else {
		struct rbuf r;
		size_t ilen;
		rbuf_init(&r, buf, (size_t)n);
		const uint8_t *ib = rbuf_bytes(&r, META_MAX, &ilen);
		if (ib && wire_snap_info_decode(ib, ilen, &s->info, err) == 0) {
			rbuf_cstr(&r, s->root, sizeof(s->root));
			s->owns_root = rbuf_u8(&r);
			size_t dlen = strlen(s->dir);
			ok = !r.bad && rbuf_left(&r) == 0 && !strcmp(s->info.id, id) && s->root[0] == '/' &&
			     (!s->owns_root || (!strncmp(s->root, s->dir, dlen) && s->root[dlen] == '/') ||
			      snap_place_owns(s->dir, s->root));
			if (!ok)
				cfs_err_set(err, CFS_ER_SNAPSHOT, "snapshot.meta does not describe snapshot %s", id);
		} else if (!ib) {
			cfs_err_set(err, CFS_ER_SNAPSHOT, "snapshot.meta is truncated");
		}
	}
	free(buf);
	const char *m = wire_snap_info_get(&s->info, "method");
	s->method = m && !strcmp(m, "dir") ? SNAP_DIR : m && !strcmp(m, "btrfs") ? SNAP_BTRFS
		  : m && !strcmp(m, "clone") ? SNAP_CLONE : m && !strcmp(m, "reflink") ? SNAP_REFLINK : SNAP_MARIABACKUP;
	if (!ok || snap_build_manifest(s, err) || (s->method == SNAP_BTRFS && snap_btrfs_map_external(s, err))) {
		snap_free(s);
		return NULL;
	}
	/* The TTL starts again at the restart: recipients connected when clonefsd stopped need time to
	 * come back, and the moment the last one left before the stop is not known. */
	s->released = time(NULL);
	return s;
}

static void *reaper_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&reg_lock);
	while (!reaper_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&reaper_cond, &reg_lock, &ts);
		time_t now = time(NULL);
		struct snapshot *expired = NULL;
		for (struct snapshot **p = &snaps; *p;) {
			struct snapshot *s = *p;
			if (s->refs == 0 && now - s->released >= donor_cfg.snapshot_ttl_s) {
				*p = s->next;
				s->next = expired;
				expired = s;
				continue;
			}
			p = &s->next;
		}
		/* Out of the registry: nobody can open them any more. Remove them without the lock. */
		pthread_mutex_unlock(&reg_lock);
		while (expired) {
			struct snapshot *s = expired;
			expired = s->next;
			donor_event("snapshot_expired", "snapshot %s expired (TTL %d s): removed", s->id, donor_cfg.snapshot_ttl_s);
			remove_snap_dir(s->dir);
			snap_free(s);
		}
		pthread_mutex_lock(&reg_lock);
	}
	pthread_mutex_unlock(&reg_lock);
	return NULL;
}

int snap_registry_init(struct cfs_err *err)
{
	DIR *d = opendir(donor_cfg.state_dir);
	if (!d)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot read --state-dir '%s': %s", donor_cfg.state_dir,
				   strerror(errno));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!snap_is_id(de->d_name))
			continue; /* not ours: left alone */
		struct cfs_err why = { 0 };
		struct snapshot *s = load_meta(de->d_name, &why);
		if (s) {
			s->next = snaps;
			snaps = s;
			donor_event("snapshot_reloaded", "snapshot %s reloaded from %s (%u files, %s bytes, chunk size %u)", s->id, s->dir,
				  s->m.n, wire_snap_info_get(&s->info, "bytes_total"), s->info.chunk_size);
		} else {
			char dir[4200];
			snprintf(dir, sizeof(dir), "%s/%s", donor_cfg.state_dir, de->d_name);
			donor_event("snapshot_discarded", "removing unfinished or unreadable snapshot %s: %s", dir, why.msg);
			remove_snap_dir(dir);
		}
	}
	closedir(d);
	return 0;
}

int snap_reaper_start(struct cfs_err *err)
{
	if (pthread_create(&reaper, NULL, reaper_main, NULL))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot start the snapshot reaper");
	reaper_running = true;
	return 0;
}

int snap_count(void)
{
	int n = 0;
	pthread_mutex_lock(&reg_lock);
	for (struct snapshot *s = snaps; s; s = s->next)
		n++;
	pthread_mutex_unlock(&reg_lock);
	return n;
}

void snap_registry_shutdown(void)
{
	if (!reaper_running)
		return;
	pthread_mutex_lock(&reg_lock);
	reaper_stop = true;
	pthread_cond_broadcast(&reaper_cond);
	pthread_mutex_unlock(&reg_lock);
	pthread_join(reaper, NULL);
	reaper_running = false;
}

struct progress_ctx {
	void (*fn)(void *, const char *);
	void *arg;
	const char *method;
	time_t start;
	pthread_mutex_t lock; /* guards done */
	pthread_cond_t cond;
	bool done;
};

static void *progress_main(void *arg)
{
	struct progress_ctx *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->done) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT && !p->done) {
			char line[256], st[sizeof(status)];
			pthread_mutex_lock(&status_lock);
			snprintf(st, sizeof(st), "%s", status);
			pthread_mutex_unlock(&status_lock);
			snprintf(line, sizeof(line), "taking a snapshot with %s: %lld s%s%s", p->method,
				 (long long)(time(NULL) - p->start), *st ? ": " : "", st);
			p->fn(p->arg, line);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Fill s from the server with its method, while a helper thread reports progress. */
static int make(struct snapshot *s, MYSQL *db, const char *user, const char *password,
		void (*progress)(void *arg, const char *line), void *arg, struct cfs_err *err)
{
	struct progress_ctx pc = { .fn = progress, .arg = arg, .method = snap_method_name(s->method),
				   .start = time(NULL) };
	pthread_t pt;
	bool have_pt = false;
	pthread_mutex_init(&pc.lock, NULL);
	pthread_cond_init(&pc.cond, NULL);
	snap_set_status("");
	if (progress && pthread_create(&pt, NULL, progress_main, &pc) == 0)
		have_pt = true;
	/* Every snapshot carries these keys; empty when the server writes no binary log. */
	wire_snap_info_set(&s->info, "binlog_file", "");
	wire_snap_info_set(&s->info, "binlog_pos", "");
	wire_snap_info_set(&s->info, "gtid_pos", "");
	int rc = donor_facts(db, &s->info, err);
	/* A replica applies nothing while the snapshot is made (not for dir: no server owns its data). */
	struct donor_replica_paused paused = { 0 };
	if (rc == 0 && s->method != SNAP_DIR)
		donor_replica_pause(db, &paused, &s->info);
	if (rc == 0) {
		switch (s->method) {
		case SNAP_DIR: rc = snap_dir_take(s, db, err); break;
		case SNAP_BTRFS: rc = snap_btrfs_take(s, db, err); break;
		case SNAP_CLONE: rc = snap_clone_take(s, db, user, password, err); break;
		case SNAP_REFLINK: rc = snap_reflink_take(s, db, err); break;
		case SNAP_MARIABACKUP:
		case SNAP_AUTO:
		default: rc = snap_mariabackup_take(s, db, user, password, err); break;
		}
	}
	donor_replica_resume(db, &paused);
	if (have_pt) {
		pthread_mutex_lock(&pc.lock);
		pc.done = true;
		pthread_cond_signal(&pc.cond);
		pthread_mutex_unlock(&pc.lock);
		pthread_join(pt, NULL);
	}
	pthread_mutex_destroy(&pc.lock);
	pthread_cond_destroy(&pc.cond);
	return rc;
}

struct snapshot *snap_create(MYSQL *db, const char *user, const char *password, const struct donor_peer *peer,
			     void (*progress)(void *arg, const char *line), void *arg, struct cfs_err *err)
{
	enum snap_method method = donor_cfg.method;
	if (method == SNAP_AUTO && snap_method_pick(db, &method, err))
		return NULL;
	pthread_mutex_lock(&reg_lock);
	if (creating) {
		pthread_mutex_unlock(&reg_lock);
		cfs_err_set(err, ER_CLONE_TOO_MANY_CONCURRENT_CLONES, ER_CLONE_TOO_MANY_CONCURRENT_CLONES_MSG, 1);
		return NULL;
	}
	creating = true;
	pthread_mutex_unlock(&reg_lock);

	struct snapshot *s = calloc(1, sizeof(*s));
	uint8_t rnd[6];
	time_t now = time(NULL);
	if (!s || RAND_bytes(rnd, sizeof(rnd)) != 1) {
		cfs_err_set(err, CFS_ER_IO, "out of memory or randomness");
		free(s);
		s = NULL;
		goto out;
	}
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(s->id, sizeof(s->id), "%04d%02d%02d-%02d%02d%02d-%02x%02x%02x%02x%02x%02x", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	snprintf(s->dir, sizeof(s->dir), "%s/%s", donor_cfg.state_dir, s->id);
	s->method = method;
	s->maker = *peer;
	if (mkdir(s->dir, 0700)) {
		cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot create '%s': %s", s->dir, strerror(errno));
		free(s);
		s = NULL;
		goto out;
	}
	donor_event("snapshot_making", "snapshot %s: making it with %s as '%s' from %s", s->id, snap_method_name(method), user,
		    peer->ip[0] ? peer->ip : "an unknown address");
	uint64_t t0 = mono_ns();
	int rc = make(s, db, user, password, progress, arg, err);
	char num[32];
	snprintf(num, sizeof(num), "%lld", (long long)now);
	wire_snap_info_set(&s->info, "created_at", num);
	wire_snap_info_set(&s->info, "method", snap_method_name(method));
	snprintf(s->info.id, sizeof(s->info.id), "%s", s->id);
	/* The snapshot's own from now on: saved with its facts in snapshot.meta, so a restart with another
	 * --chunk-size does not change it under the mounts and caches that already use it. */
	s->info.chunk_size = donor_cfg.chunk_size;
	if (rc == 0)
		rc = snap_build_manifest(s, err);
	if (rc == 0 && method == SNAP_BTRFS)
		rc = snap_btrfs_map_external(s, err);
	if (rc == 0)
		rc = save_meta(s, err);
	if (rc) {
		donor_event("snapshot_failed", "snapshot %s failed: ERROR %d: %s", s->id, err->code, err->msg);
		donor_metrics_snapshot(method, false, 0, -1);
		remove_snap_dir(s->dir);
		snap_free(s);
		s = NULL;
		goto out;
	}
	s->refs = 1;
	pthread_mutex_lock(&reg_lock);
	s->next = snaps;
	snaps = s;
	pthread_mutex_unlock(&reg_lock);
	const char *lock_ms = wire_snap_info_get(&s->info, "lock_ms");
	donor_metrics_snapshot(method, true, mono_ns() - t0, lock_ms ? strtoll(lock_ms, NULL, 10) : -1);
	donor_event("snapshot_made", "snapshot %s made with %s in %lld s: %u files, %llu bytes, chunk size %u, binlog %s:%s gtid %s",
		  s->id, snap_method_name(method), (long long)(time(NULL) - now), s->m.n,
		  (unsigned long long)s->m.bytes_total, s->info.chunk_size,
		  wire_snap_info_get(&s->info, "binlog_file"), wire_snap_info_get(&s->info, "binlog_pos"),
		  wire_snap_info_get(&s->info, "gtid_pos"));
out:
	pthread_mutex_lock(&reg_lock);
	creating = false;
	pthread_mutex_unlock(&reg_lock);
	return s;
}

struct snapshot *snap_open(const char *id, struct cfs_err *err)
{
	pthread_mutex_lock(&reg_lock);
	struct snapshot *s = snaps;
	while (s && strcmp(s->id, id))
		s = s->next;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&reg_lock);
	if (!s)
		cfs_err_set(err, CFS_ER_SNAPSHOT, "the donor has no snapshot '%s' (expired or never made)", id);
	return s;
}

void snap_release(struct snapshot *s)
{
	pthread_mutex_lock(&reg_lock);
	assert(s->refs > 0);
	s->refs--;
	if (s->refs == 0)
		s->released = time(NULL);
	pthread_mutex_unlock(&reg_lock);
}
