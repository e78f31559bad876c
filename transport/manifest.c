/* manifest.c: the snapshot's file tree: built and encoded by the donor, parsed and validated by the
 * recipient so that no hostile name or shape reaches the mount or the disk (docs/protocol.md §5). */
#include "transport/manifest.h"

#include <stdlib.h>
#include <string.h>

#include "transport/wire.h"

void manifest_init(struct manifest *m)
{
	m->n = 0;
	m->e = NULL;
	m->bytes_total = 0;
}

void manifest_release(struct manifest *m)
{
	for (uint32_t i = 0; i < m->n; i++) {
		free(m->e[i].path);
		free(m->e[i].target);
	}
	free(m->e);
	manifest_init(m);
}

bool manifest_path_ok(const char *path, size_t len)
{
	if (len == 0 || len > WIRE_PATH_MAX || path[0] == '/' || memchr(path, 0, len))
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		size_t clen = i - start;
		const char *c = path + start;
		if (clen == 0 || clen > WIRE_NAME_MAX || (clen == 1 && c[0] == '.') ||
		    (clen == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

int manifest_add(struct manifest *m, uint8_t type, const char *path, const char *target, uint32_t mode,
		 uint64_t size, int64_t mtime_sec, uint32_t mtime_nsec)
{
	if (m->n >= WIRE_MANIFEST_MAX_ENTRIES || !manifest_path_ok(path, strlen(path)))
		return -1;
	if (m->n % 256 == 0) {
		struct manifest_entry *e = realloc(m->e, (m->n + 256) * sizeof(*e));
		if (!e)
			return -1;
		m->e = e;
	}
	struct manifest_entry *e = &m->e[m->n];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->mode = mode & 07777;
	e->size = type == MANIFEST_REG ? size : 0;
	e->mtime_sec = mtime_sec;
	e->mtime_nsec = mtime_nsec;
	e->path = strdup(path);
	e->target = target ? strdup(target) : NULL;
	if (!e->path || (target && !e->target)) {
		free(e->path);
		free(e->target);
		return -1;
	}
	m->n++;
	if (type == MANIFEST_REG)
		m->bytes_total += size;
	return 0;
}

void manifest_drop(struct manifest *m, const char *path)
{
	for (uint32_t i = 0; i < m->n; i++) {
		struct manifest_entry *e = &m->e[i];
		if (strcmp(e->path, path))
			continue;
		if (e->type == MANIFEST_REG)
			m->bytes_total -= e->size;
		free(e->path);
		free(e->target);
		memmove(e, e + 1, (m->n - i - 1) * sizeof(*e));
		m->n--;
		return;
	}
}

/* Order by path component-wise so that "a" < "a/b" < "a-b": a directory precedes its contents. */
static int path_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
		if (ca == cb) {
			if (!ca)
				return 0;
			continue;
		}
		if (!ca)
			return -1;
		if (!cb)
			return 1;
		if (ca == '/')
			return -1;
		if (cb == '/')
			return 1;
		return ca < cb ? -1 : 1;
	}
}

static int entry_cmp(const void *x, const void *y)
{
	return path_cmp(((const struct manifest_entry *)x)->path, ((const struct manifest_entry *)y)->path);
}

/* Link each entry to its parent and name; entries must be sorted. -1 if a parent is missing
 * or is not a directory. */
static int link_parents(struct manifest *m)
{
	char parent[WIRE_PATH_MAX + 1];
	for (uint32_t i = 0; i < m->n; i++) {
		struct manifest_entry *e = &m->e[i];
		e->id = i;
		const char *slash = strrchr(e->path, '/');
		e->name = slash ? slash + 1 : e->path;
		e->parent = MANIFEST_ROOT;
		if (!slash)
			continue;
		size_t plen = (size_t)(slash - e->path);
		memcpy(parent, e->path, plen);
		parent[plen] = 0;
		const struct manifest_entry *p = manifest_find(m, parent);
		if (!p || p->type != MANIFEST_DIR || p >= e)
			return -1;
		e->parent = (uint32_t)(p - m->e);
	}
	return 0;
}

void manifest_finish(struct manifest *m)
{
	if (m->n) /* qsort of NULL, 0 is undefined */
		qsort(m->e, m->n, sizeof(m->e[0]), entry_cmp);
	(void)link_parents(m);
}

void manifest_encode(struct wbuf *out, const struct manifest *m)
{
	wbuf_u32(out, MANIFEST_MAGIC);
	wbuf_u32(out, MANIFEST_VERSION);
	wbuf_u32(out, m->n);
	wbuf_u64(out, m->bytes_total);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->e[i];
		wbuf_u8(out, e->type);
		wbuf_u32(out, e->mode);
		wbuf_u64(out, e->size);
		wbuf_u64(out, (uint64_t)e->mtime_sec);
		wbuf_u32(out, e->mtime_nsec);
		wbuf_str(out, e->path);
		wbuf_str(out, e->target ? e->target : "");
	}
}

bool manifest_symlink_inside(const char *linkpath, const char *target)
{
	size_t tlen = strlen(target);
	if (tlen == 0 || tlen > WIRE_PATH_MAX || target[0] == '/')
		return false;
	int depth = 0;
	for (const char *p = linkpath; *p; p++)
		if (*p == '/')
			depth++;
	const char *c = target;
	while (*c) {
		const char *end = strchr(c, '/');
		size_t clen = end ? (size_t)(end - c) : strlen(c);
		if (clen == 2 && c[0] == '.' && c[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (clen > 0 && !(clen == 1 && c[0] == '.')) {
			depth++;
		}
		c += clen;
		if (*c == '/')
			c++;
	}
	return true;
}

static int reject(struct manifest *m, struct cfs_err *err, const char *why, uint32_t i)
{
	manifest_release(m);
	return cfs_err_set(err, CFS_ER_PROTOCOL, "manifest from donor rejected: %s (entry %u)", why, i);
}

int manifest_parse(const uint8_t *buf, size_t len, struct manifest *m, struct cfs_err *err)
{
	struct rbuf r;
	manifest_init(m);
	rbuf_init(&r, buf, len);
	if (len > WIRE_MANIFEST_MAX_BYTES)
		return reject(m, err, "too large", 0);
	uint32_t magic = rbuf_u32(&r), version = rbuf_u32(&r), n = rbuf_u32(&r);
	uint64_t total = rbuf_u64(&r);
	if (r.bad || magic != MANIFEST_MAGIC || version != MANIFEST_VERSION)
		return reject(m, err, "bad header", 0);
	if (n > WIRE_MANIFEST_MAX_ENTRIES)
		return reject(m, err, "too many entries", n);
	/* Each entry takes at least 31 bytes: a count larger than the blob can hold is a lie. */
	if ((uint64_t)n * 31 > rbuf_left(&r))
		return reject(m, err, "entry count exceeds the data", n);
	m->e = calloc(n ? n : 1, sizeof(*m->e));
	if (!m->e)
		return reject(m, err, "out of memory", n);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct manifest_entry *e = &m->e[i];
		size_t plen, tlen;
		e->type = rbuf_u8(&r);
		e->mode = rbuf_u32(&r);
		e->size = rbuf_u64(&r);
		e->mtime_sec = (int64_t)rbuf_u64(&r);
		e->mtime_nsec = rbuf_u32(&r);
		const uint8_t *p = rbuf_str(&r, WIRE_PATH_MAX, &plen);
		const uint8_t *t = rbuf_str(&r, WIRE_PATH_MAX, &tlen);
		if (r.bad)
			return reject(m, err, "truncated", i);
		m->n = i + 1;
		if (!manifest_path_ok((const char *)p, plen))
			return reject(m, err, "unsafe path", i);
		e->path = strndup((const char *)p, plen);
		e->target = tlen ? strndup((const char *)t, tlen) : NULL;
		if (!e->path || (tlen && !e->target))
			return reject(m, err, "out of memory", i);
		if (e->type < MANIFEST_DIR || e->type > MANIFEST_SYMLINK || (e->mode & ~07777u) ||
		    e->mtime_nsec >= 1000000000u)
			return reject(m, err, "bad type, mode or time", i);
		if (e->type == MANIFEST_SYMLINK) {
			if (!e->target || memchr(t, 0, tlen) || !manifest_symlink_inside(e->path, e->target))
				return reject(m, err, "symlink leaves the tree", i);
		} else if (tlen) {
			return reject(m, err, "target on a non-symlink", i);
		}
		if (e->type != MANIFEST_REG && e->size)
			return reject(m, err, "size on a non-file", i);
		if (e->size > (UINT64_MAX >> 2) || sum + e->size < sum)
			return reject(m, err, "size out of range", i);
		sum += e->size;
		if (i > 0 && path_cmp(m->e[i - 1].path, e->path) >= 0)
			return reject(m, err, "duplicate or unsorted path", i);
	}
	if (rbuf_left(&r) != 0)
		return reject(m, err, "trailing bytes", n);
	if (sum != total)
		return reject(m, err, "bytes_total disagrees with file sizes", n);
	m->bytes_total = total;
	if (link_parents(m))
		return reject(m, err, "entry without a parent directory", n);
	return 0;
}

const struct manifest_entry *manifest_find(const struct manifest *m, const char *path)
{
	/* Entries are sorted by path_cmp: binary search. */
	uint32_t lo = 0, hi = m->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = path_cmp(m->e[mid].path, path);
		if (c == 0)
			return &m->e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
