/* overlay.h: a thin clone's writable view (docs/thin-clones.md): the snapshot's verified chunk cache
 * is the read-only base, the upper directory holds the clone's own namespace changes and written
 * 4 KiB blocks. Every call returns 0 (or a count) or -errno, for the FUSE layer to pass on. No FUSE. */
#ifndef CLONEFS_OVERLAY_H
#define CLONEFS_OVERLAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "fs/cache.h"
#include "fs/fetch.h"
#include "fs/tree.h"
#include "transport/errors.h"

enum { OV_BLOCK = 4096 };

/* One name of the merged tree the kernel knows. Nodes are kept for the mount's life (a datadir has
 * thousands of names, each a few dozen bytes). Guarded by the overlay's lock except rw. */
struct ov_node {
	uint64_t ino;
	struct ov_node *parent;
	char *name;
	struct ov_node *hnext;  /* hash chain by (parent, name) */
	mode_t type;            /* S_IFREG, S_IFDIR or S_IFLNK */
	int64_t base;           /* reg: manifest id of the base file under it; dir: the base directory whose
	                         * children show through (MANIFEST_ROOT for the root); -1: none */
	uint64_t base_len;      /* reg: bytes of the base visible (<= size; shrinks with truncation) */
	bool upper;             /* it exists in the upper at its path */
	bool gone;              /* unlinked or replaced; open handles may still use it */
	int ufd;                /* the upper file, open while handles are (-1 otherwise) */
	unsigned opens;
	pthread_rwlock_t rw;    /* writes that fill a partial block hold it exclusively, others shared */
};

struct overlay {
	char dir[4096];
	int root_fd, work_fd, lock_fd;
	const struct manifest *m;
	const struct tree *t;
	struct cache *cache;
	struct fetcher *fetch;
	uid_t uid;              /* owner of base files (owner=) */
	gid_t gid;
	uint64_t ino0;          /* inode numbers from here up are nodes; 1 is the root */
	pthread_mutex_t lock;   /* the namespace: nodes, hash, upper flags, ufd opening */
	struct ov_node *root;
	struct ov_node **byino;
	size_t nnodes, cap;
	struct ov_node **hash;
	size_t hsize;
	uint64_t seq;           /* names in work/ */
	atomic_uint_fast64_t bytes_written;
};

/* Open (or create) the upper directory dir for snapshot snap_id of donor "host:port" and check that
 * its file system can hold a thin clone. A dir made for another snapshot or donor is refused. */
int ov_open(struct overlay *ov, const char *dir, const char *snap_id, const char *donor, const struct manifest *m,
	    const struct tree *t, struct cache *c, struct fetcher *f, uid_t uid, gid_t gid, uint64_t ino0,
	    struct cfs_err *err);
void ov_close(struct overlay *ov);
/* The snapshot id an existing upper dir belongs to ("" if none yet): a remount reopens it. */
int ov_upper_snapshot(const char *dir, char *snap, size_t n, char *donor, size_t dn, struct cfs_err *err);

struct ov_node *ov_node_of(struct overlay *ov, uint64_t ino);
int ov_lookup(struct overlay *ov, struct ov_node *parent, const char *name, struct ov_node **out);
int ov_getattr(struct overlay *ov, struct ov_node *n, struct stat *st);
int ov_readlink(struct overlay *ov, struct ov_node *n, char *buf, size_t len);

/* New names, owned by uid/gid (the caller's). create leaves the node open once (ov_release). */
int ov_create(struct overlay *ov, struct ov_node *parent, const char *name, mode_t mode, uid_t uid, gid_t gid,
	      struct ov_node **out);
int ov_mkdir(struct overlay *ov, struct ov_node *parent, const char *name, mode_t mode, uid_t uid, gid_t gid,
	     struct ov_node **out);
int ov_symlink(struct overlay *ov, struct ov_node *parent, const char *name, const char *target, uid_t uid,
	       gid_t gid, struct ov_node **out);
int ov_unlink(struct overlay *ov, struct ov_node *parent, const char *name, bool dir);
/* flags: 0 or RENAME_NOREPLACE; anything else is EINVAL. */
int ov_rename(struct overlay *ov, struct ov_node *p, const char *name, struct ov_node *np, const char *newname,
	      unsigned flags);

int ov_open_file(struct overlay *ov, struct ov_node *n);
void ov_release(struct overlay *ov, struct ov_node *n);
/* Reads, and writes that need base blocks (a partial block not yet local), may wait for the donor:
 * -EIO then comes with err saying why (the FUSE layer logs it). */
ssize_t ov_read(struct overlay *ov, struct ov_node *n, void *buf, size_t size, uint64_t off, struct cfs_err *err);
ssize_t ov_write(struct overlay *ov, struct ov_node *n, const void *buf, size_t size, uint64_t off,
		 struct cfs_err *err);

enum { OV_SET_MODE = 1, OV_SET_UID = 2, OV_SET_GID = 4, OV_SET_SIZE = 8, OV_SET_ATIME = 16, OV_SET_MTIME = 32 };
/* a's st_atim/st_mtim tv_nsec may be UTIME_NOW. */
int ov_setattr(struct overlay *ov, struct ov_node *n, const struct stat *a, int what);
int ov_fallocate(struct overlay *ov, struct ov_node *n, int mode, uint64_t off, uint64_t len, struct cfs_err *err);
int ov_fsync(struct overlay *ov, struct ov_node *n, bool datasync);
int ov_statfs(struct overlay *ov, struct statvfs *sv);

struct ov_dirent {
	char *name;
	uint64_t ino;
	mode_t type;
};
/* The merged children of a directory (without "." and ".."); free with ov_dirents_free. */
int ov_readdir(struct overlay *ov, struct ov_node *dir, struct ov_dirent **out, size_t *n);
void ov_dirents_free(struct ov_dirent *d, size_t n);

#endif
