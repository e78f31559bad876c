/* cache_copy.c: a whole file from the mount's cache: handed over by rename, or copied by
 * copy_file_range over its data extents, never through FUSE (docs/decisions.md D13). */
#include "tools/cache_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define XATTR_CACHE_FILE "user.clonefs.cache_file"
#define XATTR_HANDOFF "user.clonefs.handoff"

/* [off, end) of in into out at the same offsets: copy_file_range, or read and write where the
 * kernel cannot copy between these two files. */
static int copy_range(int in, int out, off_t off, off_t end)
{
	bool plain = false; /* copy_file_range refused: read and write */
	while (off < end && !plain) {
		off_t o_in = off, o_out = off;
		ssize_t n = copy_file_range(in, &o_in, out, &o_out, (size_t)(end - off), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS))
			plain = true;
		else if (n <= 0)
			return -1;
		else
			off += n;
	}
	enum { BUF = 1 << 20 };
	char *buf = off < end ? malloc(BUF) : NULL;
	if (off < end && !buf)
		return -1;
	while (off < end) {
		ssize_t n = pread(in, buf, (size_t)(end - off) < BUF ? (size_t)(end - off) : BUF, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || pwrite(out, buf, (size_t)n, off) != n) {
			if (n == 0)
				errno = EIO;
			free(buf);
			return -1;
		}
		off += n;
	}
	free(buf);
	return 0;
}

/* The data extents of in (its holes stay holes), then the size. */
static int copy_extents(int in, int out, uint64_t size)
{
	for (off_t off = 0; (uint64_t)off < size;) {
		off_t data = lseek(in, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0)
			return -1;
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -1;
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		if (copy_range(in, out, data, hole))
			return -1;
		off = hole;
	}
	return ftruncate(out, (off_t)size);
}

int cache_copy(const char *src, const char *dst, uint64_t size, mode_t mode, enum cache_copy_how *how)
{
	char path[PATH_MAX];
	bool handoff = true;
	ssize_t n = getxattr(src, XATTR_HANDOFF, path, sizeof(path) - 1);
	if (n < 0 && errno == ENODATA) {
		handoff = false;
		n = getxattr(src, XATTR_CACHE_FILE, path, sizeof(path) - 1);
	}
	if (n < 0)
		return errno == EIO ? -1 : -2;
	path[n] = 0;
	if (handoff) {
		/* The file is ours now: moved into place, or (another file system) copied and removed. */
		int fd = -1;
		if (rename(path, dst) == 0)
			fd = open(dst, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && (ftruncate(fd, (off_t)size) || fchmod(fd, mode & 07777))) {
			close(fd);
			return -1;
		}
		if (fd >= 0 || errno != EXDEV) {
			*how = CACHE_COPY_HANDOFF;
			return fd;
		}
	}
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return handoff ? -1 : -2;
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
	int rc = out < 0 ? -1 : copy_extents(in, out, size);
	int saved = errno;
	close(in);
	if (rc && out >= 0) {
		close(out);
		out = -1;
	}
	if (out >= 0 && handoff)
		unlink(path);
	errno = saved;
	*how = CACHE_COPY_RANGE;
	return out;
}
