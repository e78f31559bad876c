/* inspect.c: clonefs inspect FILE [--page=N] [--json]: reads an InnoDB tablespace with pread only
 * (every page for the summary; page 0 and page N for --page) and reports its header, page types,
 * checksum verdicts as innochecksum gives them, LSN range and indexes, or one page decoded. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/commands.h"
#include "tools/innodb_format.h"
#include "tools/innodb_page.h"
#include "tools/inspect.h"
#include "transport/errors.h"

/* One pread per MiB in the summary: few system calls, bounded memory, and on a lazy mount reads
 * that cover whole chunks. */
enum { INSPECT_BATCH_BYTES = 1 << 20 };
/* Bad pages listed by number; the count is always exact. A wholly corrupt 1 TiB file would
 * otherwise list 64 million pages. */
enum { INSPECT_BAD_LIST_MAX = 10000 };

static const char usage_text[] =
	"usage: clonefs inspect FILE [--page=N] [--json]\n"
	"  Reads an InnoDB tablespace (.ibd, ibdata1, undo) and reports its space id, page size, flags,\n"
	"  page types, checksum verdicts (as innochecksum gives them), LSN range and indexes.\n"
	"  --page=N  decode page N only (reads page 0 and page N)\n"
	"  --json    one JSON object instead of text\n"
	"Exit status: 0 read (bad checksums are reported, not an error), 1 I/O error, 2 usage.\n";

struct inspect_opts {
	const char *file;
	bool json;
	bool one_page;
	uint32_t page;
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	struct cfs_err err;
	va_list ap;
	va_start(ap, fmt);
	cfs_err_vset(&err, CFS_ER_USAGE, fmt, ap);
	va_end(ap);
	cfs_err_print(&err, stderr);
	return 2;
}

static int parse_args(int argc, char **argv, struct inspect_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *num = NULL;
		if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (!strncmp(a, "--page=", 7)) {
			num = a + 7;
		} else if (!strcmp(a, "--page")) {
			if (i + 1 >= argc)
				return usage_error("option '%s' needs a page number (see clonefs inspect --help)", a);
			num = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s' for clonefs inspect (see clonefs inspect --help)", a);
		} else if (!o->file) {
			o->file = a;
		} else {
			return usage_error("clonefs inspect takes one FILE; '%s' is one too many", a);
		}
		if (num) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(num, &end, 10);
			/* FIL_NULL (2^32-1) is no page number */
			if (!*num || *end || errno || num[0] == '-' || v >= INNODB_FIL_NULL)
				return usage_error("--page needs a page number from 0 to 4294967294, not '%s'", num);
			o->one_page = true;
			o->page = (uint32_t)v;
		}
	}
	if (!o->file)
		return usage_error("%s", "clonefs inspect needs a FILE (see clonefs inspect --help)");
	return -1; /* go on */
}

/* pread until len bytes or end of file. Bytes read, or -errno. */
static ssize_t read_at(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Read exactly len bytes at off, or fill err. */
static int read_exact(int fd, const char *path, uint8_t *buf, size_t len, uint64_t off, struct cfs_err *err)
{
	ssize_t n = read_at(fd, buf, len, off);
	if (n < 0)
		return cfs_err_set(err, CFS_ER_IO, "cannot read '%s' at offset %" PRIu64 ": %s", path, off,
				   strerror((int)-n));
	if ((size_t)n != len)
		return cfs_err_set(err, CFS_ER_IO,
				   "'%s' ended at byte %" PRIu64 " while %zu bytes at offset %" PRIu64
				   " were expected (the file shrank while being read?)",
				   path, off + (uint64_t)n, len, off);
	return 0;
}

/* ---- Output helpers ---------------------------------------------------------------------------- */

static int inspect_one_page(int fd, const struct inspect_opts *o, const struct innodb_space *sp, const uint8_t *page0,
			    uint32_t pages, struct cfs_err *err)
{
	const struct innodb_flags *f = &sp->flags;
	uint32_t ps = f->physical_size;
	if (o->page >= pages) {
		cfs_err_set(err, CFS_ER_USAGE, "page %" PRIu32 " is beyond the end of '%s' (%" PRIu32 " pages of %" PRIu32 " bytes)",
			    o->page, o->file, pages, ps);
		return 2;
	}
	uint8_t *buf = NULL;
	const uint8_t *page = page0;
	if (o->page != 0) {
		buf = malloc(ps);
		if (!buf) {
			cfs_err_set(err, CFS_ER_IO, "out of memory for a page of %" PRIu32 " bytes", ps);
			return 1;
		}
		if (read_exact(fd, o->file, buf, ps, (uint64_t)o->page * ps, err)) {
			free(buf);
			return 1;
		}
		page = buf;
	}
	struct innodb_page pg;
	innodb_page_decode(page, ps, sp, o->page, &pg);
	innodb_page_compute_all(page, ps, sp, &pg);
	/* Free bit: known when page 0's descriptors cover the page; the XDES page that would cover
	 * any other page is not read (--page reads page 0 and page N only). */
	int free_state = -1;
	if (o->page < ps)
		free_state = o->page != 0 && innodb_xdes_page_free(page0, ps, f, o->page);
	else if (o->page % ps == 0)
		free_state = 0; /* an XDES page is never free */
	enum inspect_skip skip = SKIP_NONE;
	if (o->page != 0) {
		if (pg.verdict == INNODB_VERDICT_NOT_CHECKED)
			skip = SKIP_PAGE_COMPRESSED;
		else if (free_state == 1)
			skip = SKIP_FREE;
	}
	if (o->json)
		inspect_print_page_json(stdout, o->file, sp, &pg, free_state, skip);
	else
		inspect_print_page_text(stdout, o->file, sp, &pg, free_state, skip);
	free(buf);
	return 0;
}

/* ---- Summary ----------------------------------------------------------------------------------- */

static void note_bad(struct inspect_summary *s, uint32_t page)
{
	s->invalid++;
	if (s->n_bad >= INSPECT_BAD_LIST_MAX)
		return;
	if (s->n_bad == s->bad_cap) {
		size_t cap = s->bad_cap ? s->bad_cap * 2 : 64;
		uint32_t *n = realloc(s->bad, cap * sizeof(*n));
		if (!n)
			return; /* the count stays exact; the list is shorter */
		s->bad = n;
		s->bad_cap = cap;
	}
	s->bad[s->n_bad++] = page;
}

static void note_index(struct inspect_summary *s, const struct innodb_index_header *ix)
{
	size_t lo = 0, hi = s->n_idx;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->idx[mid].id < ix->index_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->n_idx || s->idx[lo].id != ix->index_id) {
		if (s->n_idx >= INSPECT_INDEX_MAX) {
			s->idx_truncated = true;
			return;
		}
		if (s->n_idx == s->idx_cap) {
			size_t cap = s->idx_cap ? s->idx_cap * 2 : 16;
			struct inspect_index *n = realloc(s->idx, cap * sizeof(*n));
			if (!n) {
				s->idx_truncated = true;
				return;
			}
			s->idx = n;
			s->idx_cap = cap;
		}
		memmove(&s->idx[lo + 1], &s->idx[lo], (s->n_idx - lo) * sizeof(*s->idx));
		memset(&s->idx[lo], 0, sizeof(*s->idx));
		s->idx[lo].id = ix->index_id;
		s->n_idx++;
	}
	struct inspect_index *e = &s->idx[lo];
	e->pages++;
	e->records += ix->n_recs;
	if (!ix->level)
		e->leaf_pages++;
	if (ix->level > e->max_level)
		e->max_level = ix->level;
}

/* Account one page the way innochecksum's main loop does. `xdes` is its current descriptor page. */
static void summarize_page(struct inspect_summary *s, const struct innodb_space *sp, const uint8_t *page,
			   uint8_t *xdes, uint32_t pos)
{
	const struct innodb_flags *f = &sp->flags;
	struct innodb_page pg;
	innodb_page_decode(page, f->physical_size, sp, pos, &pg);
	s->by_class[pg.cls]++;
	if (pg.all_zero)
		s->never_written++;
	if (pg.encrypted)
		s->encrypted++;
	if (!pg.all_zero && pg.lsn) {
		if (!s->have_lsn || pg.lsn < s->lsn_min)
			s->lsn_min = pg.lsn;
		if (!s->have_lsn || pg.lsn > s->lsn_max)
			s->lsn_max = pg.lsn;
		s->have_lsn = true;
	}
	bool is_free = pos != 0 && innodb_xdes_page_free(xdes, f->physical_size, f, pos);
	/* innochecksum's order: page_compressed types, then free pages; the doublewrite buffer is
	 * checked like any other extent (MariaDB 10.11 innochecksum) */
	if (pg.verdict == INNODB_VERDICT_NOT_CHECKED) {
		s->skipped_compressed++;
	} else if (is_free) {
		s->skipped_free++;
	} else {
		s->checked++;
		s->by_algo[pg.matched]++;
		if (pg.verdict == INNODB_VERDICT_INVALID) {
			note_bad(s, pos);
			if (pos != 0 && innodb_is_doublewrite_page(sp, pos))
				s->bad_doublewrite++;
			if (pg.matched == INNODB_ALGO_INNODB || pg.matched == INNODB_ALGO_NONE)
				s->legacy++;
		} else {
			s->valid++;
		}
	}
	/* innochecksum takes every page whose stored number is a multiple of the descriptor interval
	 * (all-zero pages included) as the descriptor page for the pages after it */
	if (pg.page_no % f->physical_size == 0)
		memcpy(xdes, page, f->physical_size);
	/* innochecksum's per-index statistics: not in encrypted spaces, not for free pages */
	if (pg.has_index && !sp->encrypted && !(pos != 0 && innodb_xdes_page_free(xdes, f->physical_size, f, pg.page_no)))
		note_index(s, &pg.index);
}

static int inspect_summary(int fd, const struct inspect_opts *o, const struct innodb_space *sp, const uint8_t *page0,
			   struct inspect_summary *s, struct cfs_err *err)
{
	uint32_t ps = sp->flags.physical_size;
	size_t batch_pages = INSPECT_BATCH_BYTES / ps ? INSPECT_BATCH_BYTES / ps : 1;
	uint8_t *buf = malloc(batch_pages * ps);
	uint8_t *xdes = malloc(ps);
	if (!buf || !xdes) {
		free(buf);
		free(xdes);
		cfs_err_set(err, CFS_ER_IO, "out of memory for %zu bytes of read buffer", batch_pages * ps);
		return 1;
	}
	memcpy(xdes, page0, ps);
	summarize_page(s, sp, page0, xdes, 0);
	int rc = 0;
	for (uint32_t pos = 1; pos < s->pages;) {
		uint32_t n = s->pages - pos < batch_pages ? s->pages - pos : (uint32_t)batch_pages;
		if (read_exact(fd, o->file, buf, (size_t)n * ps, (uint64_t)pos * ps, err)) {
			rc = 1;
			break;
		}
		for (uint32_t i = 0; i < n; i++)
			summarize_page(s, sp, buf + (size_t)i * ps, xdes, pos + i);
		pos += n;
	}
	free(buf);
	free(xdes);
	return rc;
}

/* ---- The command ------------------------------------------------------------------------------- */

static int inspect_file(const struct inspect_opts *o, struct cfs_err *err)
{
	/* O_NONBLOCK: a FIFO or a device must not hang the open; cleared again once fstat says the
	 * file is regular */
	int fd = open(o->file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		cfs_err_set(err, CFS_ER_IO, "cannot open '%s': %s", o->file, strerror(errno));
		return 1;
	}
	int rc = 1;
	uint8_t *page0 = NULL;
	struct inspect_summary s;
	memset(&s, 0, sizeof(s));
	struct stat st;
	if (fstat(fd, &st)) {
		cfs_err_set(err, CFS_ER_IO, "cannot stat '%s': %s", o->file, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		cfs_err_set(err, CFS_ER_IO, "'%s' is not a regular file", o->file);
		goto out;
	}
	int fdfl = fcntl(fd, F_GETFL);
	if (fdfl < 0 || fcntl(fd, F_SETFL, fdfl & ~O_NONBLOCK)) {
		cfs_err_set(err, CFS_ER_IO, "cannot set '%s' to blocking reads: %s", o->file, strerror(errno));
		goto out;
	}
	s.file_size = (uint64_t)st.st_size;
	/* One page (and page 0): no kernel read-ahead, which on a lazy mount would fetch the chunks
	 * around them too. The whole-file summary keeps read-ahead: it reads everything in order. */
	if (o->one_page)
		posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	/* The flags say the page size: read their prefix, then page 0 whole */
	uint8_t head[INNODB_FLAGS_PREFIX_LEN];
	struct innodb_space sp;
	if (s.file_size < INNODB_ZIP_SIZE_MIN) {
		cfs_err_set(err, CFS_ER_IO, "'%s' is not an InnoDB tablespace: %" PRIu64 " bytes, less than the smallest page (%d)",
			    o->file, s.file_size, INNODB_ZIP_SIZE_MIN);
		goto out;
	}
	if (read_exact(fd, o->file, head, sizeof(head), 0, err))
		goto out;
	if (innodb_space_decode(head, sizeof(head), &sp)) {
		const uint8_t *fl = head + INNODB_FSP_HEADER_OFFSET + INNODB_FSP_SPACE_FLAGS;
		uint32_t raw = (uint32_t)fl[0] << 24 | (uint32_t)fl[1] << 16 | (uint32_t)fl[2] << 8 | fl[3];
		cfs_err_set(err, CFS_ER_IO,
			    "'%s' is not an InnoDB tablespace: page 0 has invalid FSP_SPACE_FLAGS 0x%" PRIx32
			    ", no page size can be derived",
			    o->file, raw);
		goto out;
	}
	uint32_t ps = sp.flags.physical_size;
	if (s.file_size < ps) {
		cfs_err_set(err, CFS_ER_IO, "'%s' is shorter (%" PRIu64 " bytes) than its first page (%" PRIu32 " bytes)",
			    o->file, s.file_size, ps);
		goto out;
	}
	page0 = malloc(ps);
	if (!page0) {
		cfs_err_set(err, CFS_ER_IO, "out of memory for a page of %" PRIu32 " bytes", ps);
		goto out;
	}
	if (read_exact(fd, o->file, page0, ps, 0, err))
		goto out;
	innodb_space_decode(page0, ps, &sp);
	uint64_t pages = s.file_size / ps;
	if (pages > INNODB_FIL_NULL) {
		cfs_err_set(err, CFS_ER_IO, "'%s' has %" PRIu64 " pages, more than InnoDB can number", o->file, pages);
		goto out;
	}
	s.pages = (uint32_t)pages;
	s.trailing = (uint32_t)(s.file_size % ps);
	if (o->one_page) {
		rc = inspect_one_page(fd, o, &sp, page0, s.pages, err);
		goto out;
	}
	if (inspect_summary(fd, o, &sp, page0, &s, err))
		goto out;
	if (o->json)
		inspect_print_summary_json(stdout, o->file, &sp, &s);
	else
		inspect_print_summary_text(stdout, o->file, &sp, &s);
	rc = 0;
out:
	free(page0);
	free(s.bad);
	free(s.idx);
	close(fd);
	return rc;
}

int cmd_inspect(int argc, char **argv)
{
	struct inspect_opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	struct cfs_err err;
	cfs_err_clear(&err);
	rc = inspect_file(&o, &err);
	if (rc == 0 && (fflush(stdout) || ferror(stdout))) {
		cfs_err_set(&err, CFS_ER_IO, "cannot write the report: %s", strerror(errno));
		rc = 1;
	}
	if (rc)
		cfs_err_print(&err, stderr);
	return rc;
}
