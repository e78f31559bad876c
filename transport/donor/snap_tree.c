/* snap_tree.c: turns a snapshot's directory into its manifest: what is data (not pid files, sockets,
 * logs, binary logs or backup-tool metadata), symlinks that stay inside the tree, and tablespaces
 * that live outside the datadir (MariaDB .isl files) served under .external/<absolute path>. */
#include "transport/donor/donor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "transport/buf.h"

/* A tablespace outside the datadir: where it appears in the manifest and the file to read. */
struct ext_file {
	char *mpath;               /* ".external/<absolute path without the leading />" */
	char *src;                 /* absolute path of the bytes on the donor */
};

/* The state of one manifest build. */
struct tree_walk {
	struct snapshot *s;
	const char *binlog_base;   /* basename of @@log_bin_basename, or NULL */
	const char *datadir;       /* the server's datadir as it reported it (ends with '/'), or NULL */
	struct ext_file *ext;
	size_t next, ext_cap;
	struct snap_confine confine; /* what is left out for coming from outside the datadir */
	struct cfs_err *err;
};

/* name ends in "-bin.<digits>", "-bin.index" or "-bin.state": a binary or relay log of the default name. */
static bool is_default_binlog(const char *name)
{
	const char *b = strstr(name, "-bin.");
	if (!b)
		return false;
	const char *suf = b + 5;
	if (!strcmp(suf, "index") || !strcmp(suf, "state"))
		return true;
	if (!*suf)
		return false;
	for (const char *p = suf; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && !strcmp(s + n - k, suf);
}

bool snap_tree_skip(const char *rel, const char *binlog_base)
{
	const char *slash = strrchr(rel, '/');
	const char *name = slash ? slash + 1 : rel;
	if (has_suffix(name, ".pid"))
		return true;
	if (slash)
		return false; /* inside a schema directory everything is data */
	static const char *const exact[] = {
		"backup-my.cnf",             /* mariabackup's record of the server options */
		"ibtmp1",                    /* the temporary tablespace: recreated at every start */
		"ib_buffer_pool.incomplete", /* a buffer pool dump being written */
		"mysql.sock",
	};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(name, exact[i]))
			return true;
	if (!strncmp(name, "xtrabackup_", 11) || !strncmp(name, "mariadb_backup_", 15))
		return true; /* backup metadata: checkpoints, info, binlog position (kept as facts) */
	if (has_suffix(name, ".err"))
		return true; /* the donor's error log */
	if (is_default_binlog(name))
		return true;
	if (binlog_base && *binlog_base) {
		size_t b = strlen(binlog_base);
		if (!strncmp(name, binlog_base, b) && (name[b] == '.' || name[b] == 0))
			return true; /* binlog.000001, binlog.index, binlog.state */
	}
	return false;
}

static int add_ext(struct tree_walk *w, const char *mpath, const char *src)
{
	if (w->next == w->ext_cap) {
		size_t cap = w->ext_cap ? w->ext_cap * 2 : 16;
		struct ext_file *e = realloc(w->ext, cap * sizeof(*e));
		if (!e)
			return -1;
		w->ext = e;
		w->ext_cap = cap;
	}
	w->ext[w->next].mpath = strdup(mpath);
	w->ext[w->next].src = strdup(src);
	if (!w->ext[w->next].mpath || !w->ext[w->next].src) {
		free(w->ext[w->next].mpath);
		free(w->ext[w->next].src);
		return -1;
	}
	w->next++;
	return 0;
}

/* Add ".external" and every directory on the way to mpath's parent, once each. */
static int add_ext_dirs(struct tree_walk *w, const char *mpath, int64_t mtime)
{
	char dir[WIRE_PATH_MAX + 1];
	for (const char *p = strchr(mpath, '/'); p; p = strchr(p + 1, '/')) {
		size_t n = (size_t)(p - mpath);
		memcpy(dir, mpath, n);
		dir[n] = 0;
		bool seen = false;
		for (uint32_t i = 0; i < w->s->m.n && !seen; i++)
			seen = w->s->m.e[i].type == MANIFEST_DIR && !strcmp(w->s->m.e[i].path, dir);
		if (!seen && manifest_add(&w->s->m, MANIFEST_DIR, dir, NULL, 0755, 0, mtime, 0))
			return -1;
	}
	return 0;
}

/* rel is "<schema>/<table>.isl": the tablespace lives at the absolute path the file holds. If that
 * is outside the datadir, the .ibd is served as .external/<path>: from beside the .isl when the
 * method copied it there (mariabackup), else from the path itself (dir). Returns 1 when the sibling
 * .ibd was taken (the walk must skip it), 0 when the .isl names nothing outside, -1 on error. */
static int map_isl(struct tree_walk *w, const char *rel)
{
	char full[8400], abs[WIRE_PATH_MAX + 2];
	snprintf(full, sizeof(full), "%s/%s", w->s->root, rel);
	int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, abs, sizeof(abs) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	abs[n] = 0;
	abs[strcspn(abs, "\r\n")] = 0;
	size_t dlen = w->datadir ? strlen(w->datadir) : 0;
	size_t rlen = strlen(w->s->root);
	if (abs[0] != '/' || (dlen && !strncmp(abs, w->datadir, dlen)) ||
	    (!strncmp(abs, w->s->root, rlen) && abs[rlen] == '/'))
		return 0;
	char mpath[WIRE_PATH_MAX + 16];
	if ((size_t)snprintf(mpath, sizeof(mpath), "%s/%s", MANIFEST_EXTERNAL_DIR, abs + 1) >= sizeof(mpath) ||
	    !manifest_path_ok(mpath, strlen(mpath))) {
		donor_event("snapshot_file_left_out", "snapshot %s: %s names '%s', which cannot be served; the tablespace is left out",
			  w->s->id, rel, abs);
		return 0;
	}
	if (!snap_confine_external(w->s, rel, abs))
		return 0;
	char sib[8400];
	snprintf(sib, sizeof(sib), "%.*s.ibd", (int)(strlen(full) - 4), full);
	struct stat st;
	bool beside = lstat(sib, &st) == 0 && S_ISREG(st.st_mode);
	const char *src = beside ? sib : abs;
	if (!beside && (lstat(abs, &st) || !S_ISREG(st.st_mode))) {
		donor_event("snapshot_file_left_out", "snapshot %s: %s names '%s', which is not a regular file here; left out", w->s->id, rel, abs);
		return 0;
	}
	if (add_ext_dirs(w, mpath, st.st_mtim.tv_sec) ||
	    manifest_add(&w->s->m, MANIFEST_REG, mpath, NULL, st.st_mode, (uint64_t)st.st_size, st.st_mtim.tv_sec,
			 (uint32_t)st.st_mtim.tv_nsec) ||
	    add_ext(w, mpath, src))
		return cfs_err_set(w->err, CFS_ER_SNAPSHOT, "cannot list '%s' in the snapshot", mpath);
	return beside ? 1 : 0;
}

/* InnoDB files the server keeps outside its datadir (the fact innodb_outside, "name=path,..."), when
 * the method's tree lacks them (innodb_outside_served: btrfs): served at the root under their
 * names, read from their path (the btrfs method then maps it into its snapshot), as MySQL's clone
 * puts undo tablespaces in the clone's data directory. */
static int add_outside(struct tree_walk *w)
{
	const char *served = wire_snap_info_get(&w->s->info, "innodb_outside_served");
	const char *v = wire_snap_info_get(&w->s->info, "innodb_outside");
	if (!served || strcmp(served, "1") || !v || !*v)
		return 0;
	char list[WIRE_FACT_VALUE_MAX + 1];
	snprintf(list, sizeof(list), "%s", v);
	for (char *p = list, *next; p && *p; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = 0;
		char *eq = strchr(p, '=');
		if (!eq)
			continue;
		*eq = 0;
		const char *name = p, *path = eq + 1;
		bool seen = false;
		for (uint32_t i = 0; i < w->s->m.n && !seen; i++)
			seen = !strcmp(w->s->m.e[i].path, name);
		struct stat st;
		if (seen || !manifest_path_ok(name, strlen(name)) || strchr(name, '/'))
			continue;
		if (lstat(path, &st) || !S_ISREG(st.st_mode))
			return cfs_err_set(w->err, CFS_ER_SNAPSHOT, "the InnoDB file '%s' is gone: %s", path, strerror(errno));
		if (manifest_add(&w->s->m, MANIFEST_REG, name, NULL, st.st_mode, (uint64_t)st.st_size, st.st_mtim.tv_sec,
				 (uint32_t)st.st_mtim.tv_nsec) || add_ext(w, name, path))
			return cfs_err_set(w->err, CFS_ER_SNAPSHOT, "cannot list '%s' in the snapshot", name);
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entry names of a directory, sorted; NULL on error. */
static char **list_dir(const char *path, size_t *count)
{
	DIR *d = opendir(path);
	if (!d)
		return NULL;
	size_t n = 0, cap = 64;
	char **names = malloc(cap * sizeof(*names));
	struct dirent *de;
	while (names && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **more = realloc(names, (cap *= 2) * sizeof(*names));
			if (!more) {
				for (size_t i = 0; i < n; i++)
					free(names[i]);
				free(names);
				names = NULL;
				break;
			}
			names = more;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(*names), name_cmp);
	*count = n;
	return names;
}

static int walk(struct tree_walk *w, const char *rel)
{
	struct snapshot *s = w->s;
	char path[8300];
	snprintf(path, sizeof(path), "%s%s%s", s->root, *rel ? "/" : "", rel);
	size_t n = 0;
	char **names = list_dir(path, &n);
	if (!names)
		return cfs_err_set(w->err, CFS_ER_SNAPSHOT, "cannot read snapshot directory '%s': %s", path, strerror(errno));
	int rc = 0;
	/* First the .isl files: their .ibd (when copied beside them) is served under .external/. */
	bool *taken = calloc(n ? n : 1, sizeof(*taken));
	if (!taken)
		rc = cfs_err_set(w->err, CFS_ER_IO, "out of memory");
	for (size_t i = 0; rc == 0 && *rel && i < n; i++) {
		if (!has_suffix(names[i], ".isl"))
			continue;
		char r[4200];
		snprintf(r, sizeof(r), "%s/%s", rel, names[i]);
		int got = map_isl(w, r);
		if (got < 0) {
			rc = -1;
		} else if (got == 1) {
			char ibd[4200];
			snprintf(ibd, sizeof(ibd), "%.*s.ibd", (int)(strlen(names[i]) - 4), names[i]);
			char **hit = bsearch(&(const char *){ ibd }, names, n, sizeof(*names), name_cmp);
			if (hit)
				taken[hit - names] = true;
		}
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char r[4200], full[8400];
		if (taken[i] || (size_t)snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", names[i]) >= sizeof(r) ||
		    snap_tree_skip(r, w->binlog_base))
			continue;
		if (!*rel && donor_replica_state_file(names[i], &s->info))
			continue; /* the donor's replica state: a clone starts with none (clonefs_slave_info says what to run) */
		if (!*rel && (!strcmp(names[i], MANIFEST_EXTERNAL_DIR) || !strcmp(names[i], SNAP_PLACE_DIR_NAME)))
			continue; /* the names are ours (snapshots' data, when the datadir is its filesystem's root) */
		struct stat st;
		snprintf(full, sizeof(full), "%s/%s", s->root, r);
		if (lstat(full, &st))
			continue; /* vanished (a live datadir's temp file) */
		int added = 0;
		if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
			int keep = snap_confine_entry(&w->confine, r, &st);
			if (keep < 0)
				rc = cfs_err_set(w->err, CFS_ER_IO, "out of memory");
			if (keep <= 0)
				continue;
		}
		if (S_ISDIR(st.st_mode)) {
			added = manifest_add(&s->m, MANIFEST_DIR, r, NULL, st.st_mode, 0, st.st_mtim.tv_sec,
					     (uint32_t)st.st_mtim.tv_nsec);
			if (added == 0)
				rc = walk(w, r);
		} else if (S_ISREG(st.st_mode)) {
			added = manifest_add(&s->m, MANIFEST_REG, r, NULL, st.st_mode, (uint64_t)st.st_size,
					     st.st_mtim.tv_sec, (uint32_t)st.st_mtim.tv_nsec);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t tn = readlink(full, target, sizeof(target) - 1);
			if (tn <= 0)
				continue;
			target[tn] = 0;
			if (!manifest_symlink_inside(r, target)) {
				donor_event("snapshot_file_left_out", "snapshot %s: symlink %s -> %s leaves the tree; left out", s->id, r, target);
				continue;
			}
			added = manifest_add(&s->m, MANIFEST_SYMLINK, r, target, 0777, 0, st.st_mtim.tv_sec,
					     (uint32_t)st.st_mtim.tv_nsec);
		} /* sockets, fifos, devices: not data */
		if (added)
			rc = cfs_err_set(w->err, CFS_ER_SNAPSHOT, "cannot list '%s' in the snapshot (too many files or a bad name)", r);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(taken);
	return rc;
}

void snap_tree_release(struct snapshot *s)
{
	if (s->src) {
		for (uint32_t i = 0; i < s->m.n; i++)
			free(s->src[i]);
		free(s->src);
		s->src = NULL;
	}
	manifest_release(&s->m);
	free(s->blob);
	s->blob = NULL;
	s->blob_len = 0;
}

/* Comma-separated values of the facts computed from the tree. */
static void set_list_fact(struct snapshot *s, const char *key, const char *const *vals, size_t n)
{
	struct wbuf b;
	wbuf_init(&b, WIRE_FACT_VALUE_MAX);
	for (size_t i = 0; i < n; i++) {
		if (i)
			wbuf_u8(&b, ',');
		wbuf_put(&b, vals[i], strlen(vals[i]));
	}
	wbuf_u8(&b, 0);
	if (!b.over)
		wire_snap_info_set(&s->info, key, (const char *)b.p);
	else
		donor_event("fact_too_long", "snapshot %s: fact %s is longer than %u bytes; not sent", s->id, key, WIRE_FACT_VALUE_MAX);
	wbuf_release(&b);
}

int snap_build_manifest(struct snapshot *s, struct cfs_err *err)
{
	const char *bl = wire_snap_info_get(&s->info, "log_bin_basename");
	const char *base = bl && *bl ? strrchr(bl, '/') : NULL;
	const char *dd = wire_snap_info_get(&s->info, "datadir");
	struct tree_walk w = { .s = s, .binlog_base = base ? base + 1 : bl, .datadir = dd && *dd ? dd : NULL, .err = err };
	snap_tree_release(s);
	int rc = 0;
	if (snap_confine_begin(&w.confine, s))
		rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "snapshot %s was copied from the datadir '%s', which cannot be "
				 "resolved now: what it holds cannot be checked", s->id, dd ? dd : "");
	if (rc == 0)
		rc = walk(&w, "");
	snap_confine_end(&w.confine, &s->m);
	/* The .external entries; the InnoDB files added next sit at the root. They are the server's own
	 * (innodb_undo_directory, innodb_data_home_dir), checked by add_outside, not by the confinement. */
	size_t n_isl = w.next;
	if (rc == 0)
		rc = add_outside(&w);
	if (rc == 0) {
		manifest_finish(&s->m);
		s->src = calloc(s->m.n ? s->m.n : 1, sizeof(*s->src));
		if (!s->src)
			rc = cfs_err_set(err, CFS_ER_IO, "out of memory");
	}
	for (size_t i = 0; rc == 0 && i < w.next; i++) {
		const struct manifest_entry *e = manifest_find(&s->m, w.ext[i].mpath);
		if (e) {
			s->src[e->id] = w.ext[i].src;
			w.ext[i].src = NULL;
		}
	}
	if (rc == 0) {
		struct wbuf b;
		wbuf_init(&b, WIRE_MANIFEST_MAX_BYTES);
		manifest_encode(&b, &s->m);
		if (b.over) {
			wbuf_release(&b);
			rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "the snapshot's manifest exceeds %u bytes", WIRE_MANIFEST_MAX_BYTES);
		} else {
			s->blob = b.p;
			s->blob_len = b.len;
		}
	}
	if (rc == 0) {
		/* Serve nothing a recipient would refuse: check the blob with the recipient's own parser. */
		struct manifest check;
		struct cfs_err why = { 0 };
		manifest_init(&check);
		if (manifest_parse(s->blob, s->blob_len, &check, &why))
			rc = cfs_err_set(err, CFS_ER_SNAPSHOT, "the snapshot's tree cannot be served: %.400s", why.msg);
		manifest_release(&check);
	}
	if (rc == 0) {
		char num[32];
		snprintf(num, sizeof(num), "%llu", (unsigned long long)s->m.bytes_total);
		wire_snap_info_set(&s->info, "bytes_total", num);
		const char **vals = calloc(s->m.n + w.next + 1, sizeof(*vals));
		size_t nv = 0;
		for (uint32_t i = 0; vals && i < s->m.n; i++)
			if (s->m.e[i].parent == MANIFEST_ROOT && s->m.e[i].type == MANIFEST_REG &&
			    !strncmp(s->m.e[i].name, "undo", 4))
				vals[nv++] = s->m.e[i].name;
		if (vals)
			set_list_fact(s, "undo_files", vals, nv);
		nv = 0;
		for (size_t i = 0; vals && i < n_isl; i++)
			vals[nv++] = w.ext[i].mpath + strlen(MANIFEST_EXTERNAL_DIR);
		if (vals && nv)
			set_list_fact(s, "external_paths", vals, nv); /* the snapshot's own .isl files are the truth */
		free(vals);
		const char *enc = wire_snap_info_get(&s->info, "encrypted");
		s->encrypted = enc && !strcmp(enc, "1");
	}
	for (size_t i = 0; i < w.next; i++) {
		free(w.ext[i].mpath);
		free(w.ext[i].src);
	}
	free(w.ext);
	if (rc)
		snap_tree_release(s);
	return rc;
}

/* path below the root, with no symlink anywhere on the way (a directory of a live datadir, method
 * dir, swapped for a symlink after the manifest was built must not lead out): openat2's
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (Linux 5.6), or O_NOFOLLOW on the last component without it. */
static int open_beneath(const char *root, const char *rel)
{
	int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int e = errno;
	close(dfd);
	errno = e;
	return fd;
}

int snap_file_open(const struct snapshot *s, const struct manifest_entry *e, struct cfs_err *err)
{
	const char *src = s->src ? s->src[e->id] : NULL;
	int fd = src ? open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : open_beneath(s->root, e->path);
	if (fd < 0)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "snapshot file '%s' cannot be read: %s", e->path, strerror(errno));
	return fd;
}
