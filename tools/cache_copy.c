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

#include "fs/ctl.h"

/* How one file is copied: copy_file_range until the kernel refuses it for these two files, then
 * read and write through one buffer. */
struct copier {
	int in, out;
	bool plain;
	char *buf;
};

/* [off, end) of in into out at the same offsets. */
static int copy_range(struct copier *c, off_t off, off_t end)
{
	enum { BUF = 1 << 20 };
	while (off < end && !c->plain) {
		off_t o_in = off, o_out = off;
		ssize_t n = copy_file_range(c->in, &o_in, c->out, &o_out, (size_t)(end - off), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS))
			c->plain = true;
		else if (n <= 0)
			return -1;
		else
			off += n;
	}
	if (off < end && !c->buf && !(c->buf = malloc(BUF)))
		return -1;
	while (off < end) {
		ssize_t n = pread(c->in, c->buf, (size_t)(end - off) < BUF ? (size_t)(end - off) : BUF, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || pwrite(c->out, c->buf, (size_t)n, off) != n) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		off += n;
	}
	return 0;
}

/* The data extents of in (its holes stay holes), then the size. */
static int copy_extents(int in, int out, uint64_t size)
{
	struct copier c = { .in = in, .out = out };
	int rc = 0;
	for (off_t off = 0; rc == 0 && (uint64_t)off < size;) {
		off_t data = lseek(in, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;
		off_t hole = data < 0 ? -1 : lseek(in, data, SEEK_HOLE);
		if (hole < 0) {
			rc = -1;
			break;
		}
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		rc = copy_range(&c, data, hole);
		off = hole;
	}
	int saved = errno;
	free(c.buf);
	errno = saved;
	return rc ? -1 : ftruncate(out, (off_t)size);
}

int cache_copy(const char *src, const char *dst, uint64_t size, mode_t mode, enum cache_copy_how *how)
{
	char path[PATH_MAX];
	bool handoff = true;
	ssize_t n = getxattr(src, CTL_XATTR_HANDOFF, path, sizeof(path) - 1);
	if (n < 0 && errno == ENODATA) {
		handoff = false;
		n = getxattr(src, CTL_XATTR_CACHE_FILE, path, sizeof(path) - 1);
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
