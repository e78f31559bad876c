/* overlay.c: a thin clone's merged, writable view: base files from the verified chunk cache, the
 * clone's changes in the upper directory (per file a sparse file whose allocated 4 KiB blocks are
 * the written ones, whiteouts for removed base names), every change durable before its reply. */
#include "fs/overlay.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define UPPER_META "clonefs-upper"
#define UPPER_MAGIC "clonefs-upper 1"
#define XATTR_ORIGIN "trusted.clonefs.origin"
#define XATTR_OPAQUE "trusted.clonefs.opaque"

static int errno_or(int fallback) { return errno ? -errno : -fallback; }

/* ---- upper directory: meta, lock, probes ---- */

static int read_small(int dirfd, const char *name, char *buf, size_t n)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -errno;
	buf[r] = 0;
	return 0;
}

static int parse_meta(const char *text, char *snap, size_t n, char *donor, size_t dn)
{
	char s[256] = "", d[600] = "";
	if (strncmp(text, UPPER_MAGIC "\n", sizeof(UPPER_MAGIC)) ||
	    sscanf(text + sizeof(UPPER_MAGIC), "snapshot %255s\ndonor %599s\n", s, d) != 2)
		return -1;
	snprintf(snap, n, "%s", s);
	snprintf(donor, dn, "%s", d);
	return 0;
}

int ov_upper_snapshot(const char *dir, char *snap, size_t n, char *donor, size_t dn, struct cfs_err *err)
{
	snap[0] = donor[0] = 0;
	char path[4200], text[1024];
	snprintf(path, sizeof(path), "%s/" UPPER_META, dir);
	int rc = read_small(AT_FDCWD, path, text, sizeof(text));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return cfs_err_set(err, CFS_ER_IO, "cannot read '%s': %s", path, strerror(-rc));
	if (parse_meta(text, snap, n, donor, dn))
		return cfs_err_set(err, CFS_ER_MOUNT, "'%s' is not a clonefs upper directory's record", path);
	return 0;
}

static int fsync_dirfd_path(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

static int write_meta(int dfd, const char *snap, const char *donor)
{
	char text[1024];
	int len = snprintf(text, sizeof(text), UPPER_MAGIC "\nsnapshot %s\ndonor %s\n", snap, donor);
	int fd = openat(dfd, UPPER_META ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = write(fd, text, (size_t)len) == len && fsync(fd) == 0 ? 0 : errno_or(EIO);
	close(fd);
	if (!rc && renameat(dfd, UPPER_META ".tmp", dfd, UPPER_META))
		rc = -errno;
	return rc ? rc : fsync_dirfd_path(dfd, ".");
}

/* Remove everything under dirfd (work/ after a crash, a trashed directory). */
static void clear_dir(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) && (errno == EISDIR || errno == EPERM)) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				clear_dir(sub);
				close(sub);
			}
			unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
		}
	}
	closedir(d);
}

/* The upper's file system must keep what we rely on: a written block of zeros stays allocated and
 * SEEK_DATA/SEEK_HOLE see 4 KiB blocks; trusted xattrs; whiteouts (renameat2 RENAME_WHITEOUT). */
static const char *probe(int work_fd)
{
	static const uint8_t zero[OV_BLOCK];
	const char *why = NULL;
	int fd = openat(work_fd, "probe", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return "cannot create a file";
	if (pwrite(fd, zero, sizeof(zero), 2 * OV_BLOCK) != OV_BLOCK || fsync(fd))
		why = "cannot write a file";
	else if (lseek(fd, 0, SEEK_DATA) != 2 * OV_BLOCK || lseek(fd, 2 * OV_BLOCK, SEEK_HOLE) != 3 * OV_BLOCK)
		why = "it does not keep 4 KiB blocks of zeros allocated where written (SEEK_DATA/SEEK_HOLE)";
	else if (fsetxattr(fd, XATTR_ORIGIN, "0 0", 3, 0))
		why = "it does not store trusted.* extended attributes (root and a local file system are needed)";
	close(fd);
	if (!why && renameat2(work_fd, "probe", work_fd, "probe2", RENAME_WHITEOUT))
		why = "it does not support whiteouts (renameat2 RENAME_WHITEOUT)";
	unlinkat(work_fd, "probe", 0);
	unlinkat(work_fd, "probe2", 0);
	return why;
}

static struct ov_node *node_new(struct overlay *ov, struct ov_node *parent, const char *name, mode_t type);

int ov_open(struct overlay *ov, const char *dir, const char *snap_id, const char *donor, const struct manifest *m,
	    const struct tree *t, struct cache *c, struct fetcher *f, uid_t uid, gid_t gid, uint64_t ino0,
	    struct cfs_err *err)
{
	memset(ov, 0, sizeof(*ov));
	ov->root_fd = ov->work_fd = ov->lock_fd = -1;
	snprintf(ov->dir, sizeof(ov->dir), "%s", dir);
	ov->m = m;
	ov->t = t;
	ov->cache = c;
	ov->fetch = f;
	ov->uid = uid;
	ov->gid = gid;
	ov->ino0 = ino0;
	pthread_mutex_init(&ov->lock, NULL);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return cfs_err_set(err, CFS_ER_IO, "cannot create upper directory '%s': %s", dir, strerror(errno));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cfs_err_set(err, CFS_ER_IO, "cannot open upper directory '%s': %s", dir, strerror(errno));
	ov->lock_fd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (ov->lock_fd < 0 || flock(ov->lock_fd, LOCK_EX | LOCK_NB)) {
		close(dfd);
		return cfs_err_set(err, CFS_ER_CACHE, "upper directory '%s' is in use by another mount", dir);
	}
	char have_snap[256], have_donor[600];
	if (ov_upper_snapshot(dir, have_snap, sizeof(have_snap), have_donor, sizeof(have_donor), err)) {
		close(dfd);
		return -1;
	}
	int rc = 0;
	if (!have_snap[0]) {
		rc = write_meta(dfd, snap_id, donor);
	} else if (strcmp(have_snap, snap_id) || strcmp(have_donor, donor)) {
		close(dfd);
		return cfs_err_set(err, CFS_ER_MOUNT,
				   "upper directory '%s' holds a thin clone of snapshot %s of donor %s, not of snapshot %s "
				   "of donor %s: mount it with snapshot=%s and that donor, or use another upper=",
				   dir, have_snap, have_donor, snap_id, donor, have_snap);
	}
	if (!rc && ((mkdirat(dfd, "root", 0755) && errno != EEXIST) || (mkdirat(dfd, "work", 0700) && errno != EEXIST)))
		rc = -errno;
	if (!rc) {
		ov->root_fd = openat(dfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ov->work_fd = openat(dfd, "work", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (ov->root_fd < 0 || ov->work_fd < 0)
			rc = -errno;
	}
	/* The datadir's top is the server's: mysqld makes its pid file, logs and databases there. */
	if (!rc && fchown(ov->root_fd, uid, gid))
		rc = -errno;
	if (!rc)
		rc = fsync_dirfd_path(dfd, ".");
	close(dfd);
	if (rc)
		return cfs_err_set(err, CFS_ER_IO, "cannot set up upper directory '%s': %s", dir, strerror(-rc));
	clear_dir(ov->work_fd);
	const char *why = probe(ov->work_fd);
	if (why)
		return cfs_err_set(err, CFS_ER_MOUNT, "upper directory '%s' cannot hold a thin clone: %s", dir, why);
	ov->hsize = 1u << 14;
	ov->hash = calloc(ov->hsize, sizeof(*ov->hash));
	ov->root = ov->hash ? node_new(ov, NULL, "", S_IFDIR) : NULL;
	if (!ov->root)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	ov->root->ino = 1;
	ov->root->base = MANIFEST_ROOT;
	ov->root->upper = true;
	return 0;
}

void ov_close(struct overlay *ov)
{
	for (size_t i = 0; i < ov->nnodes; i++) {
		struct ov_node *n = ov->byino[i];
		if (n->ufd >= 0)
			close(n->ufd);
		pthread_rwlock_destroy(&n->rw);
		free(n->name);
		free(n);
	}
	free(ov->byino);
	free(ov->hash);
	ov->byino = ov->hash = NULL;
	ov->nnodes = 0;
	if (ov->root_fd >= 0)
		close(ov->root_fd);
	if (ov->work_fd >= 0)
		close(ov->work_fd);
	if (ov->lock_fd >= 0)
		close(ov->lock_fd);
	ov->root_fd = ov->work_fd = ov->lock_fd = -1;
	pthread_mutex_destroy(&ov->lock);
}

/* ---- nodes ---- */

static size_t hash_of(const struct ov_node *parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)parent;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)h;
}

static void hash_add(struct overlay *ov, struct ov_node *n)
{
	size_t b = hash_of(n->parent, n->name) & (ov->hsize - 1);
	n->hnext = ov->hash[b];
	ov->hash[b] = n;
}

static void hash_del(struct overlay *ov, struct ov_node *n)
{
	size_t b = hash_of(n->parent, n->name) & (ov->hsize - 1);
	for (struct ov_node **pp = &ov->hash[b]; *pp; pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			n->hnext = NULL;
			return;
		}
}

static struct ov_node *hash_find(struct overlay *ov, struct ov_node *parent, const char *name)
{
	for (struct ov_node *n = ov->hash[hash_of(parent, name) & (ov->hsize - 1)]; n; n = n->hnext)
		if (n->parent == parent && !strcmp(n->name, name))
			return n;
	return NULL;
}

static struct ov_node *node_new(struct overlay *ov, struct ov_node *parent, const char *name, mode_t type)
{
	if (ov->nnodes == ov->cap) {
		size_t cap = ov->cap ? ov->cap * 2 : 1024;
		struct ov_node **b = realloc(ov->byino, cap * sizeof(*b));
		if (!b)
			return NULL;
		ov->byino = b;
		ov->cap = cap;
	}
	struct ov_node *n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name))) {
		free(n);
		return NULL;
	}
	n->ino = ov->ino0 + ov->nnodes;
	n->parent = parent;
	n->type = type;
	n->base = -1;
	n->ufd = -1;
	pthread_rwlock_init(&n->rw, NULL);
	ov->byino[ov->nnodes++] = n;
	if (parent)
		hash_add(ov, n);
	return n;
}

struct ov_node *ov_node_of(struct overlay *ov, uint64_t ino)
{
	if (ino == 1)
		return ov->root;
	pthread_mutex_lock(&ov->lock);
	struct ov_node *n = ino >= ov->ino0 && ino - ov->ino0 < ov->nnodes ? ov->byino[ino - ov->ino0] : NULL;
	pthread_mutex_unlock(&ov->lock);
	return n;
}

/* The node's path relative to root/ ("." for the root). */
static int path_of(const struct ov_node *n, char *out, size_t size)
{
	if (!n->parent) {
		snprintf(out, size, ".");
		return 0;
	}
	size_t len = 0;
	for (const struct ov_node *p = n; p->parent; p = p->parent)
		len += strlen(p->name) + 1;
	if (len > size)
		return -ENAMETOOLONG;
	size_t end = len - 1;
	out[end] = 0;
	for (const struct ov_node *p = n; p->parent; p = p->parent) {
		size_t l = strlen(p->name);
		end -= l;
		memcpy(out + end, p->name, l);
		if (end) {
			end--;
			out[end] = '/';
		}
	}
	return 0;
}

static int child_path(const struct ov_node *parent, const char *name, char *out, size_t size)
{
	char pp[4096];
	int rc = path_of(parent, pp, sizeof(pp));
	if (rc)
		return rc;
	int l = parent->parent ? snprintf(out, size, "%s/%s", pp, name) : snprintf(out, size, "%s", name);
	return l < 0 || (size_t)l >= size ? -ENAMETOOLONG : 0;
}

static const struct manifest_entry *base_entry(const struct overlay *ov, int64_t id)
{
	return id >= 0 && id < (int64_t)ov->m->n ? &ov->m->e[id] : NULL;
}

/* The base entry at parent/name, if the parent's base shows through. */
static const struct manifest_entry *base_at(const struct overlay *ov, const struct ov_node *parent, const char *name)
{
	if (parent->base < 0)
		return NULL;
	uint32_t id = tree_lookup(ov->t, (uint32_t)parent->base, name);
	return id == MANIFEST_ROOT ? NULL : &ov->m->e[id];
}

static bool is_whiteout(const struct stat *st) { return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0); }

static int read_origin(int fd, int64_t *id, uint64_t *len)
{
	char v[64];
	ssize_t n = fgetxattr(fd, XATTR_ORIGIN, v, sizeof(v) - 1);
	if (n < 0)
		return errno == ENODATA ? 0 : -errno;
	v[n] = 0;
	int64_t i;
	uint64_t l;
	if (sscanf(v, "%" SCNd64 " %" SCNu64, &i, &l) != 2)
		return -EIO;
	*id = i;
	*len = l;
	return 0;
}

static int set_origin(int fd, int64_t id, uint64_t len)
{
	char v[64];
	int l = snprintf(v, sizeof(v), "%" PRId64 " %" PRIu64, id, len);
	return fsetxattr(fd, XATTR_ORIGIN, v, (size_t)l, 0) ? -errno : 0;
}

/* getxattr on a path relative to root_fd: there is no getxattrat, so through /proc/self/fd. */
static ssize_t xattr_get_at(struct overlay *ov, const char *path, const char *name, void *v, size_t n)
{
	char p[4200];
	snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", ov->root_fd, path);
	return getxattr(p, name, v, n);
}

/* Lookup under ov->lock. */
static int lookup_locked(struct overlay *ov, struct ov_node *parent, const char *name, struct ov_node **out)
{
	if (parent->type != S_IFDIR)
		return -ENOTDIR;
	struct ov_node *n = hash_find(ov, parent, name);
	if (n) {
		*out = n;
		return 0;
	}
	if (parent->upper) {
		char path[4096];
		struct stat st;
		int rc = child_path(parent, name, path, sizeof(path));
		if (rc)
			return rc;
		if (fstatat(ov->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (is_whiteout(&st) || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)))
				return -ENOENT;
			int64_t base = -1;
			uint64_t base_len = 0;
			if (S_ISREG(st.st_mode)) {
				int fd = openat(ov->root_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
				if (fd < 0)
					return -errno;
				rc = read_origin(fd, &base, &base_len);
				close(fd);
				if (rc)
					return rc;
				/* The upper is local, but a record naming no base file, or more of it than there
				 * is, must not send reads outside the base. */
				const struct manifest_entry *oe = base_entry(ov, base);
				if (!oe || oe->type != MANIFEST_REG)
					base = -1;
				else if (base_len > oe->size)
					base_len = oe->size;
			} else if (S_ISDIR(st.st_mode)) {
				const struct manifest_entry *be = base_at(ov, parent, name);
				char v[4];
				if (be && be->type == MANIFEST_DIR && xattr_get_at(ov, path, XATTR_OPAQUE, v, sizeof(v)) < 0)
					base = be->id;
			}
			n = node_new(ov, parent, name, st.st_mode & S_IFMT);
			if (!n)
				return -ENOMEM;
			n->upper = true;
			n->base = base;
			n->base_len = base_len;
			*out = n;
			return 0;
		}
		if (errno != ENOENT)
			return -errno;
	}
	const struct manifest_entry *be = base_at(ov, parent, name);
	if (!be)
		return -ENOENT;
	n = node_new(ov, parent, name, be->type == MANIFEST_DIR ? S_IFDIR : be->type == MANIFEST_SYMLINK ? S_IFLNK : S_IFREG);
	if (!n)
		return -ENOMEM;
	n->base = be->id;
	n->base_len = be->size;
	*out = n;
	return 0;
}

int ov_lookup(struct overlay *ov, struct ov_node *parent, const char *name, struct ov_node **out)
{
	pthread_mutex_lock(&ov->lock);
	int rc = lookup_locked(ov, parent, name, out);
	pthread_mutex_unlock(&ov->lock);
	return rc;
}

/* ---- copy-up ---- */

static int sync_parent(struct overlay *ov, const struct ov_node *parent)
{
	char path[4096];
	int rc = path_of(parent, path, sizeof(path));
	return rc ? rc : fsync_dirfd_path(ov->root_fd, path);
}

/* Make the directory exist in the upper (its ancestors first), with the base's mode and owner. */
static int upper_dir(struct overlay *ov, struct ov_node *d)
{
	if (d->upper)
		return 0;
	int rc = upper_dir(ov, d->parent);
	if (rc)
		return rc;
	char path[4096];
	if ((rc = path_of(d, path, sizeof(path))))
		return rc;
	const struct manifest_entry *be = base_entry(ov, d->base);
	if (mkdirat(ov->root_fd, path, be ? be->mode : 0755) && errno != EEXIST)
		return -errno;
	if (fchownat(ov->root_fd, path, ov->uid, ov->gid, AT_SYMLINK_NOFOLLOW) ||
	    fchmodat(ov->root_fd, path, be ? be->mode : 0755, 0))
		return -errno;
	if ((rc = sync_parent(ov, d->parent)))
		return rc;
	d->upper = true;
	return 0;
}

static void work_name(struct overlay *ov, const char *what, char *out, size_t n)
{
	snprintf(out, n, "%s.%" PRIu64, what, ++ov->seq);
}

/* Move a finished object from work/ to its place (replacing a whiteout if one is there), then make
 * the directory durable: the rename is the record that points at the durable object. */
static int publish(struct overlay *ov, const char *tmp, struct ov_node *parent, const char *name, bool is_dir)
{
	char path[4096];
	int rc = child_path(parent, name, path, sizeof(path));
	if (rc)
		return rc;
	struct stat st;
	bool whiteout = fstatat(ov->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && is_whiteout(&st);
	if (is_dir && whiteout) {
		/* A directory cannot replace a device node: swap them, then drop the whiteout. */
		if (renameat2(ov->work_fd, tmp, ov->root_fd, path, RENAME_EXCHANGE))
			return -errno;
		unlinkat(ov->work_fd, tmp, 0);
	} else if (renameat2(ov->work_fd, tmp, ov->root_fd, path, whiteout ? 0 : RENAME_NOREPLACE)) {
		return -errno;
	}
	return sync_parent(ov, parent);
}

/* Give a regular file its upper copy (sparse: no data copied, the base shows through its holes)
 * and open it. Under ov->lock. */
static int upper_file(struct overlay *ov, struct ov_node *n)
{
	if (n->ufd >= 0)
		return 0;
	char path[4096];
	int rc = path_of(n, path, sizeof(path));
	if (rc)
		return rc;
	if (n->upper) {
		n->ufd = openat(ov->root_fd, path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		return n->ufd < 0 ? -errno : 0;
	}
	if (n->gone)
		return -ENOENT; /* an unlinked base file opened read-only: nothing to write to */
	const struct manifest_entry *be = base_entry(ov, n->base);
	if (!be || (rc = upper_dir(ov, n->parent)))
		return rc ? rc : -EIO;
	char tmp[64];
	work_name(ov, "cu", tmp, sizeof(tmp));
	int fd = openat(ov->work_fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	struct timespec times[2] = { { be->mtime_sec, be->mtime_nsec }, { be->mtime_sec, be->mtime_nsec } };
	if ((rc = set_origin(fd, be->id, n->base_len)) == 0 &&
	    (ftruncate(fd, (off_t)n->base_len) || fchown(fd, ov->uid, ov->gid) || fchmod(fd, be->mode) ||
	     futimens(fd, times) || fsync(fd)))
		rc = -errno;
	if (!rc)
		rc = publish(ov, tmp, n->parent, n->name, false);
	if (rc) {
		close(fd);
		unlinkat(ov->work_fd, tmp, 0);
		return rc;
	}
	n->upper = true;
	n->ufd = fd;
	return 0;
}

static void maybe_close(struct ov_node *n)
{
	if (n->opens == 0 && n->ufd >= 0) {
		close(n->ufd);
		n->ufd = -1;
	}
}

/* A base symlink moved or chown'ed gets its upper copy. Under ov->lock. */
static int upper_symlink(struct overlay *ov, struct ov_node *n)
{
	if (n->upper)
		return 0;
	const struct manifest_entry *be = base_entry(ov, n->base);
	int rc = be ? upper_dir(ov, n->parent) : -EIO;
	if (rc)
		return rc;
	char tmp[64];
	work_name(ov, "sl", tmp, sizeof(tmp));
	if (symlinkat(be->target, ov->work_fd, tmp) || fchownat(ov->work_fd, tmp, ov->uid, ov->gid, AT_SYMLINK_NOFOLLOW))
		return -errno;
	if ((rc = publish(ov, tmp, n->parent, n->name, false)))
		return rc;
	n->upper = true;
	return 0;
}

static int upper_any(struct overlay *ov, struct ov_node *n)
{
	return n->type == S_IFDIR ? upper_dir(ov, n) : n->type == S_IFLNK ? upper_symlink(ov, n) : upper_file(ov, n);
}

/* ---- attributes ---- */

int ov_getattr(struct overlay *ov, struct ov_node *n, struct stat *st)
{
	pthread_mutex_lock(&ov->lock);
	int rc = 0;
	if (n->ufd >= 0) {
		rc = fstat(n->ufd, st) ? -errno : 0;
	} else if (n->upper && !n->gone) {
		char path[4096];
		rc = path_of(n, path, sizeof(path));
		if (!rc && fstatat(ov->root_fd, path, st, AT_SYMLINK_NOFOLLOW))
			rc = -errno;
	} else {
		const struct manifest_entry *be = base_entry(ov, n->base);
		memset(st, 0, sizeof(*st));
		st->st_uid = ov->uid;
		st->st_gid = ov->gid;
		st->st_nlink = n->type == S_IFDIR ? 2 : 1;
		st->st_mode = n->type | (be ? be->mode : 0755);
		if (be) {
			st->st_size = (off_t)(be->type == MANIFEST_SYMLINK ? strlen(be->target) : be->size);
			st->st_mtim.tv_sec = be->mtime_sec;
			st->st_mtim.tv_nsec = be->mtime_nsec;
			st->st_blocks = (blkcnt_t)((be->size + 511) / 512);
		}
		st->st_ctim = st->st_atim = st->st_mtim;
	}
	pthread_mutex_unlock(&ov->lock);
	st->st_ino = n->ino;
	st->st_blksize = OV_BLOCK;
	if (n->type == S_IFREG && n->upper) /* holes read the base: count the file as whole */
		st->st_blocks = (st->st_size + 511) / 512 > st->st_blocks ? (st->st_size + 511) / 512 : st->st_blocks;
	return rc;
}

int ov_readlink(struct overlay *ov, struct ov_node *n, char *buf, size_t len)
{
	pthread_mutex_lock(&ov->lock);
	int rc = 0;
	if (n->type != S_IFLNK) {
		rc = -EINVAL;
	} else if (n->upper) {
		char path[4096];
		ssize_t l = (rc = path_of(n, path, sizeof(path))) ? -1 : readlinkat(ov->root_fd, path, buf, len - 1);
		if (!rc && l < 0)
			rc = -errno;
		else if (!rc)
			buf[l] = 0;
	} else {
		const struct manifest_entry *be = base_entry(ov, n->base);
		snprintf(buf, len, "%s", be ? be->target : "");
	}
	pthread_mutex_unlock(&ov->lock);
	return rc;
}

/* ---- new names ---- */

static int new_name_check(struct overlay *ov, struct ov_node *parent, const char *name)
{
	struct ov_node *have;
	int rc = lookup_locked(ov, parent, name, &have);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	return upper_dir(ov, parent);
}

static int add_node(struct overlay *ov, struct ov_node *parent, const char *name, mode_t type, int64_t base,
		    struct ov_node **out)
{
	struct ov_node *n = node_new(ov, parent, name, type);
	if (!n)
		return -ENOMEM;
	n->upper = true;
	n->base = base;
	*out = n;
	return 0;
}

int ov_create(struct overlay *ov, struct ov_node *parent, const char *name, mode_t mode, uid_t uid, gid_t gid,
	      struct ov_node **out)
{
	pthread_mutex_lock(&ov->lock);
	char tmp[64];
	int fd = -1, rc = new_name_check(ov, parent, name);
	if (!rc) {
		work_name(ov, "new", tmp, sizeof(tmp));
		fd = openat(ov->work_fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
		if (fd < 0 || fchown(fd, uid, gid) || fchmod(fd, mode & 07777))
			rc = -errno;
		else
			rc = publish(ov, tmp, parent, name, false);
		if (rc && fd >= 0) {
			close(fd);
			unlinkat(ov->work_fd, tmp, 0);
		}
	}
	if (!rc && (rc = add_node(ov, parent, name, S_IFREG, -1, out)) == 0) {
		(*out)->ufd = fd;
		(*out)->opens = 1;
	} else if (!rc) {
		close(fd);
	}
	pthread_mutex_unlock(&ov->lock);
	return rc;
}

int ov_mkdir(struct overlay *ov, struct ov_node *parent, const char *name, mode_t mode, uid_t uid, gid_t gid,
	     struct ov_node **out)
{
	pthread_mutex_lock(&ov->lock);
	char tmp[64];
	int rc = new_name_check(ov, parent, name);
	const struct manifest_entry *be = rc ? NULL : base_at(ov, parent, name);
	if (!rc) {
		work_name(ov, "dir", tmp, sizeof(tmp));
		if (mkdirat(ov->work_fd, tmp, mode & 07777) || fchownat(ov->work_fd, tmp, uid, gid, 0) ||
		    fchmodat(ov->work_fd, tmp, mode & 07777, 0))
			rc = -errno;
		/* A base directory of that name was removed: its children must not show through. */
		if (!rc && be) {
			char p[4200];
			snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", ov->work_fd, tmp);
			if (setxattr(p, XATTR_OPAQUE, "y", 1, 0))
				rc = -errno;
		}
		if (!rc)
			rc = publish(ov, tmp, parent, name, true);
		if (rc)
			unlinkat(ov->work_fd, tmp, AT_REMOVEDIR);
	}
	if (!rc)
		rc = add_node(ov, parent, name, S_IFDIR, -1, out);
	pthread_mutex_unlock(&ov->lock);
	return rc;
}

int ov_symlink(struct overlay *ov, struct ov_node *parent, const char *name, const char *target, uid_t uid,
	       gid_t gid, struct ov_node **out)
{
	pthread_mutex_lock(&ov->lock);
	char tmp[64];
	int rc = new_name_check(ov, parent, name);
	if (!rc) {
		work_name(ov, "sl", tmp, sizeof(tmp));
		if (symlinkat(target, ov->work_fd, tmp) || fchownat(ov->work_fd, tmp, uid, gid, AT_SYMLINK_NOFOLLOW))
			rc = -errno;
		if (!rc)
			rc = publish(ov, tmp, parent, name, false);
		if (rc)
			unlinkat(ov->work_fd, tmp, 0);
	}
	if (!rc)
		rc = add_node(ov, parent, name, S_IFLNK, -1, out);
	pthread_mutex_unlock(&ov->lock);
	return rc;
}

/* ---- removing and renaming ---- */

static int readdir_locked(struct overlay *ov, struct ov_node *dir, struct ov_dirent **out, size_t *count);

static int dir_empty(struct overlay *ov, struct ov_node *d)
{
	struct ov_dirent *list;
	size_t n;
	int rc = readdir_locked(ov, d, &list, &n);
	if (rc)
		return rc;
	ov_dirents_free(list, n);
	return n ? -ENOTEMPTY : 0;
}

static void drop_node(struct overlay *ov, struct ov_node *n)
{
	hash_del(ov, n);
	n->gone = true;
	n->upper = false;
}

/* Take the upper object at parent/name away, leaving a whiteout when the base has that name. */
static int remove_upper(struct overlay *ov, struct ov_node *parent, const char *name, bool has_upper)
{
	char path[4096], tmp[64];
	int rc = child_path(parent, name, path, sizeof(path));
	if (rc)
		return rc;
	bool base = base_at(ov, parent, name) != NULL;
	if (!has_upper) {
		if ((rc = upper_dir(ov, parent)))
			return rc;
		if (mknodat(ov->root_fd, path, S_IFCHR | 0000, makedev(0, 0)))
			return -errno;
	} else {
		work_name(ov, "rm", tmp, sizeof(tmp));
		if (renameat2(ov->root_fd, path, ov->work_fd, tmp, base ? RENAME_WHITEOUT : 0))
			return -errno;
	}
	rc = sync_parent(ov, parent);
	if (has_upper && unlinkat(ov->work_fd, tmp, 0) && (errno == EISDIR || errno == ENOTEMPTY || errno == EPERM)) {
		int sub = openat(ov->work_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			clear_dir(sub);
			close(sub);
		}
		unlinkat(ov->work_fd, tmp, AT_REMOVEDIR);
	}
	return rc;
}

int ov_unlink(struct overlay *ov, struct ov_node *parent, const char *name, bool dir)
{
	pthread_mutex_lock(&ov->lock);
	struct ov_node *n;
	int rc = lookup_locked(ov, parent, name, &n);
	if (!rc && dir != (n->type == S_IFDIR))
		rc = dir ? -ENOTDIR : -EISDIR;
	if (!rc && dir)
		rc = dir_empty(ov, n);
	if (!rc)
		rc = remove_upper(ov, parent, name, n->upper);
	if (!rc)
		drop_node(ov, n);
	pthread_mutex_unlock(&ov->lock);
	return rc;
}

int ov_rename(struct overlay *ov, struct ov_node *p, const char *name, struct ov_node *np, const char *newname,
	      unsigned flags)
{
	if (flags & ~(unsigned)RENAME_NOREPLACE)
		return -EINVAL;
	pthread_mutex_lock(&ov->lock);
	struct ov_node *src, *dst = NULL;
	int rc = lookup_locked(ov, p, name, &src);
	if (!rc) {
		int d = lookup_locked(ov, np, newname, &dst);
		if (d == -ENOENT)
			dst = NULL;
		else if (d)
			rc = d;
	}
	if (!rc && dst == src)
		goto out;
	if (!rc && dst) {
		if (flags & RENAME_NOREPLACE)
			rc = -EEXIST;
		else if (src->type == S_IFDIR && dst->type != S_IFDIR)
			rc = -ENOTDIR;
		else if (src->type != S_IFDIR && dst->type == S_IFDIR)
			rc = -EISDIR;
		else if (dst->type == S_IFDIR)
			rc = dir_empty(ov, dst);
	}
	/* Moving a directory that holds base entries would need the base's names redirected. */
	if (!rc && src->type == S_IFDIR && src->base >= 0)
		rc = -EXDEV;
	for (struct ov_node *a = np; !rc && a; a = a->parent)
		if (a == src)
			rc = -EINVAL; /* into itself */
	if (!rc)
		rc = upper_any(ov, src);
	if (!rc && src->type == S_IFREG)
		maybe_close(src);
	if (!rc)
		rc = upper_dir(ov, np);
	char from[4096], to[4096];
	if (!rc && !(rc = child_path(p, name, from, sizeof(from))))
		rc = child_path(np, newname, to, sizeof(to));
	if (!rc) {
		/* One atomic step: the new name appears (replacing the old file) and, when the base has the
		 * old name, a whiteout takes its place in the same rename. */
		bool wh = base_at(ov, p, name) != NULL;
		if (renameat2(ov->root_fd, from, ov->root_fd, to, wh ? RENAME_WHITEOUT : 0))
			rc = -errno;
	}
	if (!rc && (rc = sync_parent(ov, p)) == 0 && np != p)
		rc = sync_parent(ov, np);
	if (!rc) {
		if (dst)
			drop_node(ov, dst);
		hash_del(ov, src);
		char *nn = strdup(newname);
		if (nn) {
			free(src->name);
			src->name = nn;
		}
		src->parent = np;
		hash_add(ov, src);
		if (!nn)
			rc = -ENOMEM;
	}
out:
	pthread_mutex_unlock(&ov->lock);
	return rc;
}

/* ---- data ---- */

int ov_open_file(struct overlay *ov, struct ov_node *n)
{
	pthread_mutex_lock(&ov->lock);
	int rc = 0;
	if (n->upper && n->ufd < 0)
		rc = upper_file(ov, n);
	if (!rc)
		n->opens++;
	pthread_mutex_unlock(&ov->lock);
	return rc;
}

void ov_release(struct overlay *ov, struct ov_node *n)
{
	pthread_mutex_lock(&ov->lock);
	if (n->opens)
		n->opens--;
	maybe_close(n);
	pthread_mutex_unlock(&ov->lock);
}

/* Base bytes [off, off + len) of e, len > 0, all below its size: fetched and verified if absent.
 * -EIO with err (the donor away past network_timeout, bad data, the cache unreadable). */
static int read_base(struct overlay *ov, const struct manifest_entry *e, uint8_t *buf, size_t len, uint64_t off,
		     struct cfs_err *err)
{
	uint32_t cs = ov->cache->chunk_size;
	uint64_t first = off / cs, last = (off + len - 1) / cs;
	if (cache_pin(ov->cache, e, first, last, err) < 0)
		return -EIO;
	int rc = fetcher_ensure(ov->fetch, e, first, last, false, err);
	ssize_t got = rc ? -1 : cache_pread(ov->cache, e, buf, len, off, err);
	cache_unpin(ov->cache, e, first, last);
	if (got >= 0 && got != (ssize_t)len)
		cfs_err_set(err, CFS_ER_CACHE, "cache: short read of '%s'", e->path);
	return got == (ssize_t)len ? 0 : -EIO;
}

/* Bytes [off, off + len) where the upper has a hole: the base below base_len, zeros above. */
static int read_hole(struct overlay *ov, const struct manifest_entry *e, uint64_t base_len, uint8_t *buf, size_t len,
		     uint64_t off, struct cfs_err *err)
{
	size_t from_base = !e || off >= base_len ? 0 : base_len - off < len ? (size_t)(base_len - off) : len;
	memset(buf + from_base, 0, len - from_base);
	return from_base ? read_base(ov, e, buf, from_base, off, err) : 0;
}

static int pread_all(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t r = pread(fd, buf, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) { /* shrunk meanwhile: zeros */
			memset(buf, 0, len);
			return 0;
		}
		buf += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t w = pwrite(fd, buf, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		buf += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* The merged bytes [off, off + len) of an upper file: its allocated extents, holes from the base. */
static int read_merged(struct overlay *ov, int fd, const struct manifest_entry *e, uint64_t base_len, uint8_t *buf,
		       size_t len, uint64_t off, struct cfs_err *err)
{
	uint64_t pos = off, end = off + len;
	while (pos < end) {
		off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
		uint64_t data = d < 0 ? end : (uint64_t)d < end ? (uint64_t)d : end;
		if (d < 0 && errno != ENXIO)
			return -errno;
		if (data > pos) {
			int rc = read_hole(ov, e, base_len, buf + (pos - off), (size_t)(data - pos), pos, err);
			if (rc)
				return rc;
			pos = data;
		}
		if (pos >= end)
			break;
		off_t h = lseek(fd, (off_t)pos, SEEK_HOLE);
		uint64_t hole = h < 0 ? end : (uint64_t)h < end ? (uint64_t)h : end;
		if (hole <= pos) /* raced with a truncation: the rest reads as a hole */
			hole = end;
		int rc = pread_all(fd, buf + (pos - off), (size_t)(hole - pos), pos);
		if (rc)
			return rc;
		pos = hole;
	}
	return 0;
}

struct file_view {
	int fd;
	const struct manifest_entry *e;
	uint64_t base_len;
	uint64_t size;
};

static int view_of(struct overlay *ov, struct ov_node *n, struct file_view *v)
{
	pthread_mutex_lock(&ov->lock);
	v->fd = n->ufd;
	v->e = base_entry(ov, n->base);
	v->base_len = n->base_len;
	pthread_mutex_unlock(&ov->lock);
	if (v->fd >= 0) {
		struct stat st;
		if (fstat(v->fd, &st))
			return -errno;
		v->size = (uint64_t)st.st_size;
	} else {
		v->size = v->e ? v->e->size : 0;
	}
	return 0;
}

ssize_t ov_read(struct overlay *ov, struct ov_node *n, void *buf, size_t size, uint64_t off, struct cfs_err *err)
{
	struct file_view v;
	int rc = view_of(ov, n, &v);
	if (rc)
		return rc;
	if (off >= v.size || size == 0)
		return 0;
	if (size > v.size - off)
		size = (size_t)(v.size - off);
	rc = v.fd >= 0 ? read_merged(ov, v.fd, v.e, v.base_len, buf, size, off, err)
		       : read_hole(ov, v.e, v.base_len, buf, size, off, err);
	return rc ? rc : (ssize_t)size;
}

static bool block_local(int fd, uint64_t block)
{
	off_t d = lseek(fd, (off_t)block, SEEK_DATA);
	return d == (off_t)block;
}

/* Does the 4 KiB block at b need its base bytes first (a partial write into a block not yet local)? */
static bool needs_fill(const struct file_view *v, uint64_t b)
{
	return v->e && b < v->base_len && !block_local(v->fd, b);
}

ssize_t ov_write(struct overlay *ov, struct ov_node *n, const void *buf, size_t size, uint64_t off,
		 struct cfs_err *err)
{
	if (size == 0)
		return 0;
	pthread_mutex_lock(&ov->lock);
	int rc = upper_file(ov, n);
	pthread_mutex_unlock(&ov->lock);
	if (rc)
		return rc;
	uint64_t end = off + size, head = off / OV_BLOCK * OV_BLOCK, tail = (end - 1) / OV_BLOCK * OV_BLOCK;
	bool partial = off != head || end % OV_BLOCK;
	pthread_rwlock_t *lk = &n->rw;
	if (partial)
		pthread_rwlock_wrlock(lk);
	else
		pthread_rwlock_rdlock(lk);
	struct file_view v;
	rc = view_of(ov, n, &v);
	bool fill_head = !rc && off != head && needs_fill(&v, head);
	bool fill_tail = !rc && end % OV_BLOCK && needs_fill(&v, tail) && !(fill_head && tail == head);
	if (!rc && (fill_head || fill_tail)) {
		/* Whole blocks: the base's bytes around the new ones, written together. */
		uint64_t from = fill_head ? head : off;
		uint64_t to = fill_tail || (fill_head && tail == head) ? tail + OV_BLOCK : end;
		uint64_t limit = v.size > end ? v.size : end;
		if (to > limit)
			to = limit;
		uint8_t *m = malloc((size_t)(to - from));
		if (!m)
			rc = -ENOMEM;
		if (!rc && fill_head)
			rc = read_merged(ov, v.fd, v.e, v.base_len, m, (size_t)((head + OV_BLOCK < to ? head + OV_BLOCK : to) - head),
					 head, err);
		if (!rc && fill_tail && to > tail)
			rc = read_merged(ov, v.fd, v.e, v.base_len, m + (tail - from), (size_t)(to - tail), tail, err);
		if (!rc) {
			memcpy(m + (off - from), buf, size);
			rc = pwrite_all(v.fd, m, (size_t)(to - from), from);
		}
		free(m);
	} else if (!rc) {
		rc = pwrite_all(v.fd, buf, size, off);
	}
	pthread_rwlock_unlock(lk);
	if (rc)
		return rc;
	atomic_fetch_add(&ov->bytes_written, size);
	return (ssize_t)size;
}

static int write_zeros(struct overlay *ov, struct ov_node *n, uint64_t off, uint64_t len, struct cfs_err *err)
{
	static const uint8_t zero[1 << 16];
	while (len) {
		size_t k = len < sizeof(zero) ? (size_t)len : sizeof(zero);
		ssize_t w = ov_write(ov, n, zero, k, off, err);
		if (w < 0)
			return (int)w;
		off += k;
		len -= k;
	}
	return 0;
}

int ov_setattr(struct overlay *ov, struct ov_node *n, const struct stat *a, int what)
{
	pthread_mutex_lock(&ov->lock);
	int rc = upper_any(ov, n);
	char path[4096];
	if (!rc)
		rc = path_of(n, path, sizeof(path));
	if (!rc && (what & OV_SET_SIZE)) {
		if (n->type != S_IFREG) {
			rc = -EISDIR;
		} else {
			/* Shrinking: the smaller base length is recorded before the file is cut, so a crash
			 * between the two never lets base bytes show past the new end. */
			if (n->base >= 0 && (uint64_t)a->st_size < n->base_len) {
				rc = set_origin(n->ufd, n->base, (uint64_t)a->st_size);
				if (!rc)
					n->base_len = (uint64_t)a->st_size;
			}
			if (!rc && ftruncate(n->ufd, a->st_size))
				rc = -errno;
		}
	}
	int flags = n->type == S_IFLNK ? AT_SYMLINK_NOFOLLOW : 0;
	/* An open file goes by its descriptor: it may have been unlinked or renamed over. */
	int fd = n->type == S_IFREG ? n->ufd : -1;
	uid_t uid = (what & OV_SET_UID) ? a->st_uid : (uid_t)-1;
	gid_t gid = (what & OV_SET_GID) ? a->st_gid : (gid_t)-1;
	if (!rc && (what & OV_SET_MODE) && n->type != S_IFLNK &&
	    (fd >= 0 ? fchmod(fd, a->st_mode & 07777) : fchmodat(ov->root_fd, path, a->st_mode & 07777, 0)))
		rc = -errno;
	if (!rc && (what & (OV_SET_UID | OV_SET_GID)) &&
	    (fd >= 0 ? fchown(fd, uid, gid) : fchownat(ov->root_fd, path, uid, gid, AT_SYMLINK_NOFOLLOW)))
		rc = -errno;
	if (!rc && (what & (OV_SET_ATIME | OV_SET_MTIME))) {
		struct timespec t[2] = { a->st_atim, a->st_mtim };
		if (!(what & OV_SET_ATIME))
			t[0].tv_nsec = UTIME_OMIT;
		if (!(what & OV_SET_MTIME))
			t[1].tv_nsec = UTIME_OMIT;
		if (fd >= 0 ? futimens(fd, t) : utimensat(ov->root_fd, path, t, flags))
			rc = -errno;
	}
	if (n->type == S_IFREG)
		maybe_close(n);
	pthread_mutex_unlock(&ov->lock);
	return rc;
}

int ov_fallocate(struct overlay *ov, struct ov_node *n, int mode, uint64_t off, uint64_t len, struct cfs_err *err)
{
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EINVAL;
	pthread_mutex_lock(&ov->lock);
	int rc = n->type == S_IFREG ? upper_file(ov, n) : -ENODEV;
	uint64_t base_len = n->base >= 0 ? n->base_len : 0;
	int fd = n->ufd;
	pthread_mutex_unlock(&ov->lock);
	if (rc)
		return rc;
	uint64_t end = off + len, split = off > base_len ? off : base_len < end ? base_len : end;
	/* Inside the base length a hole means "the base", so punching or zeroing there writes zeros;
	 * reserving there needs nothing (the blocks are readable). Past it, the upper does it. */
	if ((mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) && split > off)
		rc = write_zeros(ov, n, off, split - off, err);
	if (!rc && end > split && fallocate(fd, mode, (off_t)split, (off_t)(end - split)))
		rc = -errno;
	return rc;
}

int ov_fsync(struct overlay *ov, struct ov_node *n, bool datasync)
{
	pthread_mutex_lock(&ov->lock);
	int rc = 0, fd = -1;
	if (n->type == S_IFREG && n->ufd >= 0) {
		fd = dup(n->ufd);
	} else if (n->upper && !n->gone && n->type != S_IFLNK) {
		char path[4096];
		if (!(rc = path_of(n, path, sizeof(path))))
			fd = openat(ov->root_fd, path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0 && n->upper && !n->gone && !rc && n->type != S_IFLNK)
		rc = -errno;
	pthread_mutex_unlock(&ov->lock);
	if (fd >= 0) {
		if (datasync ? fdatasync(fd) : fsync(fd))
			rc = -errno;
		close(fd);
	}
	return rc;
}

int ov_statfs(struct overlay *ov, struct statvfs *sv)
{
	return fstatvfs(ov->root_fd, sv) ? -errno : 0;
}

/* ---- directories ---- */

void ov_dirents_free(struct ov_dirent *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i].name);
	free(d);
}

static int dirent_add(struct ov_dirent **list, size_t *n, size_t *cap, const struct ov_node *node)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct ov_dirent *l = realloc(*list, c * sizeof(*l));
		if (!l)
			return -ENOMEM;
		*list = l;
		*cap = c;
	}
	if (!((*list)[*n].name = strdup(node->name)))
		return -ENOMEM;
	(*list)[*n].ino = node->ino;
	(*list)[*n].type = node->type;
	(*n)++;
	return 0;
}

static int readdir_locked(struct overlay *ov, struct ov_node *dir, struct ov_dirent **out, size_t *count)
{
	struct ov_dirent *list = NULL;
	size_t n = 0, cap = 0;
	int rc = dir->type == S_IFDIR ? 0 : -ENOTDIR;
	if (!rc && dir->upper && !dir->gone) {
		char path[4096];
		int fd = (rc = path_of(dir, path, sizeof(path))) ? -1 : openat(ov->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		if (!rc && !d) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
		}
		struct dirent *de;
		while (!rc && d && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			struct ov_node *c;
			int lr = lookup_locked(ov, dir, de->d_name, &c);
			if (lr == 0)
				rc = dirent_add(&list, &n, &cap, c);
			else if (lr != -ENOENT)
				rc = lr;
		}
		if (d)
			closedir(d);
	}
	if (!rc && dir->base >= 0 && !dir->gone) {
		uint32_t nk;
		const uint32_t *kids = tree_children(ov->t, (uint32_t)dir->base, &nk);
		for (uint32_t i = 0; !rc && i < nk; i++) {
			struct ov_node *c;
			int lr = lookup_locked(ov, dir, ov->m->e[kids[i]].name, &c);
			if (lr == 0 && !c->upper)
				rc = dirent_add(&list, &n, &cap, c);
			else if (lr && lr != -ENOENT)
				rc = lr;
		}
	}
	if (rc) {
		ov_dirents_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

int ov_readdir(struct overlay *ov, struct ov_node *dir, struct ov_dirent **out, size_t *n)
{
	pthread_mutex_lock(&ov->lock);
	int rc = readdir_locked(ov, dir, out, n);
	pthread_mutex_unlock(&ov->lock);
	return rc;
}
