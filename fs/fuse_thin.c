/* fuse_thin.c: the FUSE layer of a thin clone (-o rw,upper=DIR): turns kernel requests into calls
 * on the overlay (fs/overlay.c); the /.clonefs files and the cache_file attribute of untouched base
 * files are answered by the read-only layer. Each handler ends in exactly one fuse_reply_*. */
#include "fs/fuse_ll.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/mount.h"
#include "fs/overlay.h"

#define CTL_DIR_NAME ".clonefs"

/* Names and attributes change now, but only through this mount: a short cache is enough. */
static const double THIN_TIMEOUT_S = 1.0;

static struct mount *mt_of(fuse_req_t req) { return fuse_req_userdata(req); }
static struct overlay *ov_of(fuse_req_t req) { return mt_of(req)->ov; }
/* The read-only layer's inodes for /.clonefs: n + 2 .. n + 4, below the overlay's nodes. */
static bool is_ctl(const struct mount *mt, fuse_ino_t ino) { return ino >= mt->m.n + 2 && ino <= mt->m.n + 4; }

static struct ov_node *node_or_reply(fuse_req_t req, fuse_ino_t ino)
{
	struct ov_node *n = ov_node_of(ov_of(req), ino);
	if (!n)
		fuse_reply_err(req, ENOENT);
	return n;
}

static void reply_entry(fuse_req_t req, struct ov_node *n)
{
	struct fuse_entry_param ep;
	memset(&ep, 0, sizeof(ep));
	int rc = ov_getattr(ov_of(req), n, &ep.attr);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	ep.ino = n->ino;
	ep.attr_timeout = ep.entry_timeout = THIN_TIMEOUT_S;
	fuse_reply_entry(req, &ep);
}

static void th_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mount *mt = mt_of(req);
	if ((parent == FUSE_ROOT_ID && !strcmp(name, CTL_DIR_NAME)) || is_ctl(mt, parent)) {
		clonefs_ll_ops.lookup(req, parent, name);
		return;
	}
	struct ov_node *p = node_or_reply(req, parent), *n;
	if (!p)
		return;
	int rc = ov_lookup(mt->ov, p, name, &n);
	if (rc == -ENOENT) {
		struct fuse_entry_param ep;
		memset(&ep, 0, sizeof(ep)); /* negative, not cached: the name may be created */
		fuse_reply_entry(req, &ep);
	} else if (rc) {
		fuse_reply_err(req, -rc);
	} else {
		reply_entry(req, n);
	}
}

static void th_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (is_ctl(mt_of(req), ino)) {
		clonefs_ll_ops.getattr(req, ino, fi);
		return;
	}
	struct ov_node *n = node_or_reply(req, ino);
	struct stat st;
	int rc = n ? ov_getattr(ov_of(req), n, &st) : 0;
	if (!n)
		return;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, THIN_TIMEOUT_S);
}

static void th_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int to_set, struct fuse_file_info *fi)
{
	(void)fi;
	struct ov_node *n = is_ctl(mt_of(req), ino) ? NULL : node_or_reply(req, ino);
	if (!n) {
		if (is_ctl(mt_of(req), ino))
			fuse_reply_err(req, EPERM);
		return;
	}
	int what = 0;
	what |= to_set & FUSE_SET_ATTR_MODE ? OV_SET_MODE : 0;
	what |= to_set & FUSE_SET_ATTR_UID ? OV_SET_UID : 0;
	what |= to_set & FUSE_SET_ATTR_GID ? OV_SET_GID : 0;
	what |= to_set & FUSE_SET_ATTR_SIZE ? OV_SET_SIZE : 0;
	what |= to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW) ? OV_SET_ATIME : 0;
	what |= to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW) ? OV_SET_MTIME : 0;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		a->st_atim.tv_nsec = UTIME_NOW;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		a->st_mtim.tv_nsec = UTIME_NOW;
	int rc = what ? ov_setattr(ov_of(req), n, a, what) : 0;
	struct stat st;
	if (!rc)
		rc = ov_getattr(ov_of(req), n, &st);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, THIN_TIMEOUT_S);
}

static void th_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct ov_node *n = node_or_reply(req, ino);
	char buf[4096];
	int rc = n ? ov_readlink(ov_of(req), n, buf, sizeof(buf)) : 0;
	if (!n)
		return;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, buf);
}

/* A directory's listing, taken at opendir and served by offset until releasedir. Listings still
 * open when the session ends (a reader killed while the mount goes) are freed by destroy. */
struct dirlist {
	struct ov_dirent *e;
	size_t n;
	struct dirlist *prev, *next;
};
static pthread_mutex_t dirlists_lock = PTHREAD_MUTEX_INITIALIZER; /* guards dirlists */
static struct dirlist *dirlists;

static void dirlist_free(struct dirlist *l)
{
	pthread_mutex_lock(&dirlists_lock);
	if (l->prev)
		l->prev->next = l->next;
	else
		dirlists = l->next;
	if (l->next)
		l->next->prev = l->prev;
	pthread_mutex_unlock(&dirlists_lock);
	ov_dirents_free(l->e, l->n);
	free(l);
}

static void th_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fi->fh = 0;
	if (is_ctl(mt_of(req), ino)) {
		fuse_reply_open(req, fi);
		return;
	}
	struct ov_node *n = node_or_reply(req, ino);
	if (!n)
		return;
	struct dirlist *l = calloc(1, sizeof(*l));
	int rc = l ? ov_readdir(ov_of(req), n, &l->e, &l->n) : -ENOMEM;
	if (rc) {
		free(l);
		fuse_reply_err(req, -rc);
		return;
	}
	pthread_mutex_lock(&dirlists_lock);
	l->next = dirlists;
	if (dirlists)
		dirlists->prev = l;
	dirlists = l;
	pthread_mutex_unlock(&dirlists_lock);
	fi->fh = (uint64_t)(uintptr_t)l;
	if (fuse_reply_open(req, fi) == -ENOENT) /* the opener was interrupted: no releasedir comes */
		dirlist_free(l);
}

static void th_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct dirlist *l = (struct dirlist *)(uintptr_t)fi->fh;
	if (!l) {
		clonefs_ll_ops.readdir(req, ino, size, off, fi);
		return;
	}
	/* /.clonefs is not listed: mysqld would take a directory in the datadir for a database (and
	 * mariadb-check --all-databases fail on its name); clonefs status opens it by name. */
	uint64_t total = 2 + l->n;
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	for (uint64_t pos = (uint64_t)off; pos < total; pos++) {
		struct stat st;
		memset(&st, 0, sizeof(st));
		const char *name;
		if (pos < 2) {
			name = pos ? ".." : ".";
			st.st_ino = pos ? FUSE_ROOT_ID : ino;
			st.st_mode = S_IFDIR;
		} else {
			name = l->e[pos - 2].name;
			st.st_ino = l->e[pos - 2].ino;
			st.st_mode = l->e[pos - 2].type;
		}
		size_t k = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)(pos + 1));
		if (k > size - used)
			break;
		used += k;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void th_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct dirlist *l = (struct dirlist *)(uintptr_t)fi->fh;
	if (l)
		dirlist_free(l);
	fuse_reply_err(req, 0);
}

static void set_io(struct fuse_file_info *fi)
{
	fi->fh = 0;
	fi->keep_cache = 0;
	/* O_DIRECT (InnoDB's default flush method) bypasses the page cache here too. libfuse 3.14 has
	 * no parallel_direct_writes flag yet: the kernel serializes a file's direct writes. */
	fi->direct_io = (fi->flags & O_DIRECT) ? 1 : 0;
}

static void th_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (is_ctl(mt_of(req), ino)) {
		clonefs_ll_ops.open(req, ino, fi);
		return;
	}
	struct ov_node *n = node_or_reply(req, ino);
	if (!n)
		return;
	if (n->type != S_IFREG) {
		fuse_reply_err(req, n->type == S_IFDIR ? EISDIR : ELOOP);
		return;
	}
	int rc = ov_open_file(ov_of(req), n);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	set_io(fi);
	if (fuse_reply_open(req, fi) == -ENOENT) /* the opener was interrupted */
		ov_release(ov_of(req), n);
}

static void th_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (is_ctl(mt_of(req), ino)) {
		clonefs_ll_ops.release(req, ino, fi);
		return;
	}
	struct ov_node *n = ov_node_of(ov_of(req), ino);
	if (n)
		ov_release(ov_of(req), n);
	fuse_reply_err(req, 0);
}

/* An errno for the kernel; a failure that has a DBA-level cause (the base could not be read) is
 * logged with it, as the read-only layer logs its failed reads. */
static void reply_failed(fuse_req_t req, const struct ov_node *n, const char *what, int e, const struct cfs_err *err)
{
	if (err->code)
		fprintf(stderr, "clonefs: %s of %s failed: ERROR %d (%s): %s\n", what, n->name, err->code, err->sqlstate,
			err->msg);
	fuse_reply_err(req, e);
}

static void th_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	if (is_ctl(mt_of(req), ino)) {
		clonefs_ll_ops.read(req, ino, size, off, fi);
		return;
	}
	struct ov_node *n = node_or_reply(req, ino);
	if (!n)
		return;
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct cfs_err err = { 0 };
	ssize_t r = ov_read(ov_of(req), n, buf, size, (uint64_t)off, &err);
	if (r < 0)
		reply_failed(req, n, "read", (int)-r, &err);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

static void th_write(fuse_req_t req, fuse_ino_t ino, const char *b, size_t s, off_t o, struct fuse_file_info *fi)
{
	(void)fi;
	struct ov_node *n = node_or_reply(req, ino);
	if (!n)
		return;
	struct cfs_err err = { 0 };
	ssize_t w = ov_write(ov_of(req), n, b, s, (uint64_t)o, &err);
	if (w < 0)
		reply_failed(req, n, "write", (int)-w, &err);
	else
		fuse_reply_write(req, (size_t)w);
}

static void th_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino; (void)fi;
	fuse_reply_err(req, 0); /* nothing is buffered here: every write went to the upper */
}

static void th_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)fi;
	struct ov_node *n = node_or_reply(req, ino);
	if (n)
		fuse_reply_err(req, -ov_fsync(ov_of(req), n, datasync != 0));
}

static void reply_created(fuse_req_t req, int rc, struct ov_node *n)
{
	if (rc)
		fuse_reply_err(req, -rc);
	else
		reply_entry(req, n);
}

static void th_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	struct ov_node *p = node_or_reply(req, parent), *n;
	if (!p)
		return;
	const struct fuse_ctx *c = fuse_req_ctx(req);
	int rc = ov_create(ov_of(req), p, name, mode, c->uid, c->gid, &n);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct fuse_entry_param ep;
	memset(&ep, 0, sizeof(ep));
	if ((rc = ov_getattr(ov_of(req), n, &ep.attr))) {
		ov_release(ov_of(req), n);
		fuse_reply_err(req, -rc);
		return;
	}
	ep.ino = n->ino;
	ep.attr_timeout = ep.entry_timeout = THIN_TIMEOUT_S;
	set_io(fi);
	if (fuse_reply_create(req, &ep, fi) == -ENOENT)
		ov_release(ov_of(req), n);
}

static void th_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)rdev;
	struct ov_node *p = node_or_reply(req, parent), *n = NULL;
	if (!p)
		return;
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM); /* a datadir holds files, directories and symlinks */
		return;
	}
	const struct fuse_ctx *c = fuse_req_ctx(req);
	int rc = ov_create(ov_of(req), p, name, mode, c->uid, c->gid, &n);
	if (!rc)
		ov_release(ov_of(req), n);
	reply_created(req, rc, n);
}

/* mkdir (target NULL) or symlink, owned by the caller. */
static void make_name(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, const char *target)
{
	struct ov_node *p = node_or_reply(req, parent), *n = NULL;
	if (!p)
		return;
	const struct fuse_ctx *c = fuse_req_ctx(req);
	int rc = target ? ov_symlink(ov_of(req), p, name, target, c->uid, c->gid, &n)
			: ov_mkdir(ov_of(req), p, name, mode, c->uid, c->gid, &n);
	reply_created(req, rc, n);
}
static void th_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	make_name(req, parent, name, mode, NULL);
}
static void th_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	make_name(req, parent, name, 0, target);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct ov_node *p = node_or_reply(req, parent);
	if (p)
		fuse_reply_err(req, -ov_unlink(ov_of(req), p, name, dir));
}
static void th_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) { remove_name(req, parent, name, false); }
static void th_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) { remove_name(req, parent, name, true); }

static void th_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn, unsigned flags)
{
	struct ov_node *a = node_or_reply(req, p), *b = a ? node_or_reply(req, np) : NULL;
	if (b)
		fuse_reply_err(req, -ov_rename(ov_of(req), a, n, b, nn, flags));
}

static void th_link(fuse_req_t req, fuse_ino_t i, fuse_ino_t np, const char *nn)
{
	(void)i; (void)np; (void)nn;
	fuse_reply_err(req, EPERM); /* hard links: not kept in the upper (docs/thin-clones.md) */
}

static void th_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	(void)fi;
	struct ov_node *n = node_or_reply(req, ino);
	struct cfs_err err = { 0 };
	int rc = n ? ov_fallocate(ov_of(req), n, mode, (uint64_t)off, (uint64_t)len, &err) : 0;
	if (n && rc)
		reply_failed(req, n, "fallocate", -rc, &err);
	else if (n)
		fuse_reply_err(req, 0);
}

static void th_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs sv;
	int rc = ov_statfs(ov_of(req), &sv);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv); /* the upper's real free space: what new writes can use */
}

/* cache_file of a base file the clone never touched: the read-only layer answers from the cache
 * (its inode there is id + 2); anything the clone changed is read through the mount. */
static void th_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct ov_node *n = is_ctl(mt_of(req), ino) ? NULL : ov_node_of(ov_of(req), ino);
	if (n && n->type == S_IFREG && !n->upper && !n->gone && n->base >= 0) {
		clonefs_ll_ops.getxattr(req, (fuse_ino_t)n->base + 2, name, size);
		return;
	}
	fuse_reply_err(req, ENODATA);
}

static void th_setxattr(fuse_req_t req, fuse_ino_t i, const char *n, const char *v, size_t s, int f)
{
	(void)i; (void)n; (void)v; (void)s; (void)f;
	fuse_reply_err(req, ENOTSUP);
}

static void th_init(void *userdata, struct fuse_conn_info *conn)
{
	clonefs_ll_ops.init(userdata, conn);
	conn->max_write = 1u << 20;
}

static void th_destroy(void *userdata)
{
	(void)userdata;
	while (dirlists)
		dirlist_free(dirlists);
}

const struct fuse_lowlevel_ops clonefs_thin_ops = {
	.init = th_init,
	.destroy = th_destroy,
	.lookup = th_lookup,
	.getattr = th_getattr,
	.setattr = th_setattr,
	.readlink = th_readlink,
	.opendir = th_opendir,
	.readdir = th_readdir,
	.releasedir = th_releasedir,
	.fsyncdir = th_fsync,
	.open = th_open,
	.release = th_release,
	.read = th_read,
	.write = th_write,
	.flush = th_flush,
	.fsync = th_fsync,
	.create = th_create,
	.mknod = th_mknod,
	.mkdir = th_mkdir,
	.symlink = th_symlink,
	.unlink = th_unlink,
	.rmdir = th_rmdir,
	.rename = th_rename,
	.link = th_link,
	.fallocate = th_fallocate,
	.statfs = th_statfs,
	.getxattr = th_getxattr,
	.setxattr = th_setxattr,
};
