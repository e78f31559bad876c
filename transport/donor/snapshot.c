/* snapshot.c: the donor's snapshot registry: creates one snapshot at a time with the configured
 * method, shares snapshots between sessions by id, keeps them a TTL after the last session, reloads
 * them from the state dir after a restart, and builds each one's manifest. */
#include "transport/donor/donor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "transport/buf.h"

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER; /* guards snaps, every refs/released, creating */
static struct snapshot *snaps;
static bool creating;
static pthread_t reaper;
static volatile bool reaper_stop;
static pthread_cond_t reaper_cond = PTHREAD_COND_INITIALIZER;

const char *snap_method_name(enum snap_method m)
{
	switch (m) {
	case SNAP_MARIABACKUP: return "mariabackup";
	case SNAP_DIR: return "dir";
	case SNAP_AUTO:
	default: return "auto";
	}
}

/* Files that are not data: pid files, sockets, binary logs, backup tool metadata. */
static bool skip_name(const char *rel, const char *name, const char *binlog_base)
{
	static const char *const exact[] = { "backup-my.cnf", "xtrabackup_checkpoints", "xtrabackup_info",
					     "xtrabackup_binlog_info", "xtrabackup_galera_info", "xtrabackup_slave_info",
					     "mariadb_backup_checkpoints", "mariadb_backup_info",
					     "mariadb_backup_binlog_info", "mariadb_backup_galera_info",
					     "mariadb_backup_slave_info", "mysql.sock", "ib_buffer_pool.incomplete" };
	bool top = strchr(rel, '/') == NULL;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (top && !strcmp(name, exact[i]))
			return true;
	size_t n = strlen(name);
	if (n > 4 && !strcmp(name + n - 4, ".pid"))
		return true;
	if (top && binlog_base && *binlog_base) {
		size_t b = strlen(binlog_base);
		if (!strncmp(name, binlog_base, b) && (name[b] == '.' || name[b] == 0))
			return true; /* binlog.000001, binlog.index, binlog.state */
	}
	return false;
}

static int walk(struct snapshot *s, const char *rel, const char *binlog_base, struct cfs_err *err)
{
	char path[8300];
	snprintf(path, sizeof(path), "%s%s%s", s->root, *rel ? "/" : "", rel);
	DIR *d = opendir(path);
	if (!d)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot read snapshot directory '%s': %s", path, strerror(errno));
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char r[4200];
		if ((size_t)snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= sizeof(r) ||
		    skip_name(r, de->d_name, binlog_base))
			continue;
		struct stat st;
		char full[8400];
		snprintf(full, sizeof(full), "%s/%s", s->root, r);
		if (lstat(full, &st))
			continue; /* vanished (a live datadir's temp file) */
		int added = 0;
		if (S_ISDIR(st.st_mode)) {
			added = manifest_add(&s->m, MANIFEST_DIR, r, NULL, st.st_mode, 0, st.st_mtim.tv_sec,
					     (uint32_t)st.st_mtim.tv_nsec);
			if (added == 0)
				rc = walk(s, r, binlog_base, err);
		} else if (S_ISREG(st.st_mode)) {
			added = manifest_add(&s->m, MANIFEST_REG, r, NULL, st.st_mode, (uint64_t)st.st_size,
					     st.st_mtim.tv_sec, (uint32_t)st.st_mtim.tv_nsec);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlink(full, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = 0;
			added = manifest_add(&s->m, MANIFEST_SYMLINK, r, target, 0777, 0, st.st_mtim.tv_sec,
					     (uint32_t)st.st_mtim.tv_nsec);
		}
		if (added)
			rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot list '%s' in the snapshot (too many files or a bad name)", r);
	}
	closedir(d);
	return rc;
}

int snap_build_manifest(struct snapshot *s, struct cfs_err *err)
{
	const char *bl = wire_snap_info_get(&s->info, "log_bin_basename");
	const char *base = bl && *bl ? strrchr(bl, '/') : NULL;
	manifest_release(&s->m);
	if (walk(s, "", base ? base + 1 : bl, err))
		return -1;
	manifest_finish(&s->m);
	struct wbuf b;
	wbuf_init(&b, WIRE_MANIFEST_MAX_BYTES);
	manifest_encode(&b, &s->m);
	if (b.over) {
		wbuf_release(&b);
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "the snapshot's manifest exceeds %u bytes", WIRE_MANIFEST_MAX_BYTES);
	}
	free(s->blob);
	s->blob = b.p;
	s->blob_len = b.len;
	char num[32], undo[4096] = "";
	snprintf(num, sizeof(num), "%llu", (unsigned long long)s->m.bytes_total);
	wire_snap_info_set(&s->info, "bytes_total", num);
	for (uint32_t i = 0; i < s->m.n; i++)
		if (s->m.e[i].parent == MANIFEST_ROOT && !strncmp(s->m.e[i].name, "undo", 4) &&
		    strlen(undo) + strlen(s->m.e[i].name) + 2 < sizeof(undo))
			snprintf(undo + strlen(undo), sizeof(undo) - strlen(undo), "%s%s", *undo ? "," : "", s->m.e[i].name);
	wire_snap_info_set(&s->info, "undo_files", undo);
	const char *enc = wire_snap_info_get(&s->info, "encrypted");
	s->encrypted = enc && !strcmp(enc, "1");
	return 0;
}

static void snap_free(struct snapshot *s)
{
	wire_snap_info_release(&s->info);
	manifest_release(&s->m);
	free(s->blob);
	free(s);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* Remove a snapshot's directory: only ever inside the state dir. */
static void snap_remove_dir(const struct snapshot *s)
{
	size_t n = strlen(donor_cfg.state_dir);
	if (strncmp(s->dir, donor_cfg.state_dir, n) != 0 || s->dir[n] != '/' || strstr(s->dir + n, ".."))
		return;
	nftw(s->dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

/* snapshot.meta: {bytes SNAP_INFO payload, str root, u8 owns_root}; written last, so a snapshot directory
 * without it was never finished and is removed at start-up. */
static int save_meta(const struct snapshot *s, struct cfs_err *err)
{
	char path[4200], tmp[4300];
	struct wbuf b, info;
	wbuf_init(&b, 1u << 20);
	wbuf_init(&info, 1u << 20);
	wire_snap_info_encode(&info, &s->info);
	wbuf_bytes(&b, info.p, (uint32_t)info.len);
	wbuf_release(&info);
	wbuf_str(&b, s->root);
	wbuf_u8(&b, s->owns_root);
	snprintf(path, sizeof(path), "%s/snapshot.meta", s->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = 0;
	if (fd < 0 || b.over || write(fd, b.p, b.len) != (ssize_t)b.len || fsync(fd) || rename(tmp, path))
		rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot write '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	wbuf_release(&b);
	return rc;
}

static struct snapshot *load_meta(const char *id)
{
	char path[4200];
	struct snapshot *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->dir, sizeof(s->dir), "%s/%s", donor_cfg.state_dir, id);
	snprintf(path, sizeof(path), "%s/snapshot.meta", s->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = malloc(1u << 20);
	ssize_t n = fd >= 0 && buf ? read(fd, buf, 1u << 20) : -1;
	if (fd >= 0)
		close(fd);
	struct cfs_err err;
	bool ok = false;
	if (n > 0) {
		struct rbuf r;
		size_t ilen;
		rbuf_init(&r, buf, (size_t)n);
		const uint8_t *ib = rbuf_bytes(&r, 1u << 20, &ilen);
		if (ib && wire_snap_info_decode(ib, ilen, &s->info, &err) == 0) {
			rbuf_cstr(&r, s->root, sizeof(s->root));
			s->owns_root = rbuf_u8(&r);
			ok = !r.bad && rbuf_left(&r) == 0 && !strcmp(s->info.id, id);
		}
	}
	free(buf);
	if (!ok || snap_build_manifest(s, &err)) {
		snap_free(s);
		return NULL;
	}
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
		ts.tv_sec += 2;
		pthread_cond_timedwait(&reaper_cond, &reg_lock, &ts);
		time_t now = time(NULL);
		for (struct snapshot **p = &snaps; *p;) {
			struct snapshot *s = *p;
			if (s->refs == 0 && now - s->released >= donor_cfg.snapshot_ttl_s) {
				*p = s->next;
				donor_log("snapshot %s expired (TTL %d s): removed", s->id, donor_cfg.snapshot_ttl_s);
				snap_remove_dir(s);
				snap_free(s);
				continue;
			}
			p = &s->next;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return NULL;
}

int snap_registry_init(struct cfs_err *err)
{
	if (mkdir(donor_cfg.state_dir, 0700) && errno != EEXIST)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot create --state-dir '%s': %s", donor_cfg.state_dir,
				   strerror(errno));
	DIR *d = opendir(donor_cfg.state_dir);
	if (!d)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot read --state-dir '%s': %s", donor_cfg.state_dir,
				   strerror(errno));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR || strlen(de->d_name) > WIRE_SNAP_ID_MAX)
			continue;
		struct snapshot *s = load_meta(de->d_name);
		if (s) {
			s->next = snaps;
			snaps = s;
			donor_log("snapshot %s reloaded from %s (%u files)", s->id, s->dir, s->m.n);
		} else {
			struct snapshot tmp = { 0 };
			snprintf(tmp.dir, sizeof(tmp.dir), "%s/%s", donor_cfg.state_dir, de->d_name);
			donor_log("removing unfinished snapshot directory %s", tmp.dir);
			snap_remove_dir(&tmp);
		}
	}
	closedir(d);
	if (pthread_create(&reaper, NULL, reaper_main, NULL))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot start the snapshot reaper");
	return 0;
}

void snap_registry_shutdown(void)
{
	pthread_mutex_lock(&reg_lock);
	reaper_stop = true;
	pthread_cond_broadcast(&reaper_cond);
	pthread_mutex_unlock(&reg_lock);
	pthread_join(reaper, NULL);
}

struct progress_ctx {
	void (*fn)(void *, const char *);
	void *arg;
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
			char line[128];
			snprintf(line, sizeof(line), "taking a snapshot with %s: %lld s", snap_method_name(donor_cfg.method),
				 (long long)(time(NULL) - p->start));
			p->fn(p->arg, line);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct snapshot *snap_create(MYSQL *db, const char *user, const char *password,
			     void (*progress)(void *arg, const char *line), void *arg, struct cfs_err *err)
{
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
	if (!s || RAND_bytes(rnd, sizeof(rnd)) != 1) {
		cfs_err_set(err, CFS_ER_IO, "out of memory");
		free(s);
		s = NULL;
		goto out;
	}
	struct tm tm;
	time_t now = time(NULL);
	gmtime_r(&now, &tm);
	snprintf(s->id, sizeof(s->id), "%04d%02d%02d-%02d%02d%02d-%02x%02x%02x%02x%02x%02x", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	snprintf(s->dir, sizeof(s->dir), "%s/%s", donor_cfg.state_dir, s->id);
	if (mkdir(s->dir, 0700)) {
		cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot create '%s': %s", s->dir, strerror(errno));
		free(s);
		s = NULL;
		goto out;
	}
	struct progress_ctx pc = { .fn = progress, .arg = arg, .start = now };
	pthread_t pt;
	bool have_pt = false;
	pthread_mutex_init(&pc.lock, NULL);
	pthread_cond_init(&pc.cond, NULL);
	if (progress && pthread_create(&pt, NULL, progress_main, &pc) == 0)
		have_pt = true;
	int rc = donor_facts(db, &s->info, err);
	if (rc == 0)
		rc = donor_cfg.method == SNAP_DIR ? snap_dir_take(s, db, err)
						  : snap_mariabackup_take(s, db, user, password, err);
	if (have_pt) {
		pthread_mutex_lock(&pc.lock);
		pc.done = true;
		pthread_cond_signal(&pc.cond);
		pthread_mutex_unlock(&pc.lock);
		pthread_join(pt, NULL);
	}
	char num[32];
	snprintf(num, sizeof(num), "%lld", (long long)now);
	wire_snap_info_set(&s->info, "created_at", num);
	wire_snap_info_set(&s->info, "method", snap_method_name(donor_cfg.method));
	snprintf(s->info.id, sizeof(s->info.id), "%s", s->id);
	s->info.chunk_size = WIRE_CHUNK_SIZE;
	if (rc == 0)
		rc = snap_build_manifest(s, err);
	if (rc == 0)
		rc = save_meta(s, err);
	if (rc) {
		snap_remove_dir(s);
		snap_free(s);
		s = NULL;
		goto out;
	}
	s->refs = 1;
	pthread_mutex_lock(&reg_lock);
	s->next = snaps;
	snaps = s;
	pthread_mutex_unlock(&reg_lock);
	donor_log("snapshot %s made with %s in %lld s: %u files, %llu bytes, binlog %s:%s", s->id,
		  snap_method_name(donor_cfg.method), (long long)(time(NULL) - now), s->m.n,
		  (unsigned long long)s->m.bytes_total, wire_snap_info_get(&s->info, "binlog_file"),
		  wire_snap_info_get(&s->info, "binlog_pos"));
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
	s->refs--;
	if (s->refs == 0)
		s->released = time(NULL);
	pthread_mutex_unlock(&reg_lock);
}
