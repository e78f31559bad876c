/* cache_copy.h: gets a whole file of a clonefs mount from the mount's own cache instead of reading it
 * through FUSE: the file's data file handed over (renamed into place) on a handoff=on mount, else
 * copied with copy_file_range (a reflink where the file system shares extents). */
#ifndef CLONEFS_CACHE_COPY_H
#define CLONEFS_CACHE_COPY_H

#include <stdint.h>
#include <sys/types.h>

/* How the bytes got there, for the materializer's summary. */
enum cache_copy_how { CACHE_COPY_NONE, CACHE_COPY_HANDOFF, CACHE_COPY_RANGE };

/* Make dst (which must not exist yet, or be a leftover to replace) a complete copy of src, a regular
 * file of size bytes on a clonefs mount, with mode, holes where the donor's file had all-zero 4 KiB
 * blocks. On success returns an fd of dst open for writing (times and owner are the caller's) and
 * sets *how. Returns -1 with errno when the mount refused (EIO: ask the mount why) or dst failed,
 * and -2 when the mount offers no cache copy (an older mount, or another user's cache): read it
 * through the mount instead. */
int cache_copy(const char *src, const char *dst, uint64_t size, mode_t mode, enum cache_copy_how *how);

#endif
