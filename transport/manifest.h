/* manifest.h: a snapshot's file tree as the donor serves it: encoding, and a parser that rejects
 * every hostile name (.., absolute, NUL, duplicates, escaping symlinks) before anything uses it. */
#ifndef CLONEFS_MANIFEST_H
#define CLONEFS_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "transport/buf.h"
#include "transport/errors.h"

#define MANIFEST_MAGIC 0x4346534du /* "CFSM" */
#define MANIFEST_VERSION 1
/* Tablespaces outside the donor's datadir appear under this top-level directory, followed by
 * their absolute path (DESIGN §4). */
#define MANIFEST_EXTERNAL_DIR ".external"

enum manifest_type { MANIFEST_DIR = 1, MANIFEST_REG = 2, MANIFEST_SYMLINK = 3 };

struct manifest_entry {
	uint32_t id;            /* == index in the manifest; file ids on the wire */
	uint8_t type;
	uint32_t mode;          /* permission bits only (07777) */
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	char *path;             /* relative, '/'-separated, normalized; never "" (the root is implicit) */
	char *target;           /* symlinks only */
	uint32_t parent;        /* id of the parent directory; MANIFEST_ROOT for top-level entries */
	const char *name;       /* last component, points into path */
};

#define MANIFEST_ROOT UINT32_MAX

struct manifest {
	uint32_t n;
	struct manifest_entry *e;
	uint64_t bytes_total;   /* sum of regular file sizes */
};

/* Build side (donor): append an entry; paths must already be relative and normalized. */
void manifest_init(struct manifest *m);
int manifest_add(struct manifest *m, uint8_t type, const char *path, const char *target, uint32_t mode,
		 uint64_t size, int64_t mtime_sec, uint32_t mtime_nsec);
/* Remove the entry at path (before manifest_finish); nothing if there is none. */
void manifest_drop(struct manifest *m, const char *path);
/* Sort so parents precede children (by path) and assign ids. */
void manifest_finish(struct manifest *m);
void manifest_encode(struct wbuf *out, const struct manifest *m);

/* Parse and validate (recipient): names, ordering, parents, duplicates, symlink targets, limits. */
int manifest_parse(const uint8_t *buf, size_t len, struct manifest *m, struct cfs_err *err);
void manifest_release(struct manifest *m);

/* A path component or relative path is safe: no "", ".", "..", NUL, leading '/', "//",
 * component > WIRE_NAME_MAX or path > WIRE_PATH_MAX. */
bool manifest_path_ok(const char *path, size_t len);
/* A symlink at linkpath (relative to the tree's root) pointing to target stays inside the tree:
 * target is relative, not over WIRE_PATH_MAX, and its ".." never climb above the root (read
 * lexically, component by component). The donor leaves out links that fail it; the recipient
 * rejects a manifest holding one. */
bool manifest_symlink_inside(const char *linkpath, const char *target);
/* Find an entry by path; NULL if none. */
const struct manifest_entry *manifest_find(const struct manifest *m, const char *path);
/* Chunks in a regular file of `size` bytes with chunk size cs. */
static inline uint64_t manifest_chunks(uint64_t size, uint32_t cs) { return (size + cs - 1) / cs; }

#endif
