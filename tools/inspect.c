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
#include "transport/errors.h"

/* One pread per MiB in the summary: few system calls, bounded memory, and on a lazy mount reads
 * that cover whole chunks. */
enum { INSPECT_BATCH_BYTES = 1 << 20 };
/* Bad pages listed by number; the count is always exact. A wholly corrupt 1 TiB file would
 * otherwise list 64 million pages. */
enum { INSPECT_BAD_LIST_MAX = 10000 };
/* Distinct index ids tracked: an ibdata1 with every table of a big schema has thousands. */
enum { INSPECT_INDEX_MAX = 65536 };

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

struct inspect_index {
	uint64_t id;
	uint64_t pages, leaf_pages, records;
	uint16_t max_level;
};

/* Why a page was not verified, as innochecksum skips it. */
enum inspect_skip { SKIP_NONE, SKIP_FREE, SKIP_PAGE_COMPRESSED };

struct inspect_summary {
	uint64_t file_size;
	uint32_t pages;
	uint32_t trailing;           /* bytes after the last whole page */
	uint64_t by_class[INNODB_CLASS_COUNT];
	uint64_t never_written, encrypted;
	uint64_t checked, valid, invalid, legacy;
	uint64_t skipped_free, skipped_compressed;
	uint64_t bad_doublewrite;    /* bad pages in ibdata1's doublewrite buffer: copies of other pages */
	uint64_t by_algo[INNODB_ALGO_NOT_APPLICABLE + 1]; /* checked pages by matched algorithm */
	bool have_lsn;
	uint64_t lsn_min, lsn_max;
	uint32_t *bad;               /* first INSPECT_BAD_LIST_MAX bad page numbers */
	size_t n_bad, bad_cap;
	struct inspect_index *idx;   /* sorted by id */
	size_t n_idx, idx_cap;
	bool idx_truncated;
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

/* Length of the well-formed UTF-8 sequence at p (1 to 4), or 0 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_seq_len(const unsigned char *p)
{
	enum { UTF8_CONT_MASK = 0xC0, UTF8_CONT = 0x80 };
	size_t n;
	unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
	if (*p < 0x80)
		return 1;
	if (*p >= 0xC2 && *p <= 0xDF)
		n = 2;
	else if (*p >= 0xE0 && *p <= 0xEF)
		n = 3, lo = *p == 0xE0 ? 0xA0 : 0x80, hi = *p == 0xED ? 0x9F : 0xBF;
	else if (*p >= 0xF0 && *p <= 0xF4)
		n = 4, lo = *p == 0xF0 ? 0x90 : 0x80, hi = *p == 0xF4 ? 0x8F : 0xBF;
	else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & UTF8_CONT_MASK) != UTF8_CONT)
			return 0;
	return n;
}

/* A JSON string: file names are bytes, JSON is Unicode, so a byte that is not part of valid UTF-8
 * becomes U+FFFD (the output stays parseable; the text output has the exact name). */
static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_seq_len(p);
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else if (n)
			fwrite(p, 1, n, out);
		else
			fputs("\\ufffd", out);
		p += n ? n : 1;
	}
	fputc('"', out);
}

static const char *yes_no(bool b) { return b ? "true" : "false"; }

static const char *format_name(const struct innodb_flags *f)
{
	return f->full_crc32 ? "full_crc32" : "mysql_compatible";
}

static void flag_words(const struct innodb_flags *f, char *out, size_t n)
{
	size_t at = 0;
	out[0] = 0;
#define WORD(cond, w)                                                                   \
	do {                                                                            \
		if ((cond) && at < n)                                                   \
			at += (size_t)snprintf(out + at, n - at, "%s%s", at ? " " : "", w); \
	} while (0)
	WORD(f->full_crc32, "FULL_CRC32");
	WORD(f->post_antelope, "POST_ANTELOPE");
	WORD(f->atomic_blobs, "ATOMIC_BLOBS");
	WORD(f->zip_size, "ROW_FORMAT=COMPRESSED");
	WORD(f->page_compressed, "PAGE_COMPRESSED");
	WORD(f->data_dir, "DATA_DIR");
	WORD(f->mysql_shared, "MYSQL_SHARED");
	WORD(f->mysql_temporary, "MYSQL_TEMPORARY");
	WORD(f->mysql_encryption, "MYSQL_ENCRYPTION");
	WORD(f->mysql_sdi, "MYSQL_SDI");
#undef WORD
	if (!at)
		snprintf(out, n, "none (REDUNDANT or COMPACT)");
}

static const char *crypt_mode_name(uint8_t m)
{
	switch (m) {
	case 0: return "DEFAULT";
	case 1: return "ON";
	case 2: return "OFF";
	default: return "unknown";
	}
}

static void json_flags(FILE *out, const struct innodb_space *sp)
{
	const struct innodb_flags *f = &sp->flags;
	fprintf(out, "\"flags\":%" PRIu32 ",\"flags_hex\":\"0x%" PRIx32 "\",\"flags_decoded\":{\"format\":\"%s\","
		     "\"full_crc32\":%s,\"logical_page_size\":%" PRIu32 ",\"physical_page_size\":%" PRIu32
		     ",\"zip_size\":%" PRIu32 ",\"row_format_compressed\":%s,\"page_compressed\":%s,"
		     "\"compression_algorithm\":",
		f->raw, f->raw, format_name(f), yes_no(f->full_crc32), f->logical_size, f->physical_size, f->zip_size,
		yes_no(f->zip_size != 0), yes_no(f->page_compressed));
	if (f->full_crc32 && f->page_compressed)
		fprintf(out, "\"%s\"", innodb_compression_name(f->compression_algo));
	else
		fputs("null", out);
	fprintf(out, ",\"post_antelope\":%s,\"atomic_blobs\":%s,\"data_dir\":%s,\"mysql_shared\":%s,"
		     "\"mysql_temporary\":%s,\"mysql_encryption\":%s,\"mysql_sdi\":%s},",
		yes_no(f->post_antelope), yes_no(f->atomic_blobs), yes_no(f->data_dir), yes_no(f->mysql_shared),
		yes_no(f->mysql_temporary), yes_no(f->mysql_encryption), yes_no(f->mysql_sdi));
	if (sp->has_crypt_data)
		fprintf(out, "\"encryption\":{\"encrypted\":%s,\"scheme\":%u,\"key_id\":%" PRIu32
			     ",\"min_key_version\":%" PRIu32 ",\"mode\":\"%s\"},",
			yes_no(sp->encrypted), sp->crypt_scheme, sp->crypt_key_id, sp->crypt_min_key_version,
			crypt_mode_name(sp->crypt_mode));
	else
		fprintf(out, "\"encryption\":{\"encrypted\":%s},", yes_no(sp->flags.mysql_encryption));
}

static void text_header(FILE *out, const char *path, const struct innodb_space *sp)
{
	const struct innodb_flags *f = &sp->flags;
	char words[256];
	flag_words(f, words, sizeof(words));
	fprintf(out, "file:               %s\n", path);
	fprintf(out, "space_id:           %" PRIu32 "\n", sp->space_id);
	if (f->zip_size)
		fprintf(out, "page size:          %" PRIu32 " (ROW_FORMAT=COMPRESSED pages of %" PRIu32 " bytes in the file)\n",
			f->logical_size, f->physical_size);
	else
		fprintf(out, "page size:          %" PRIu32 "\n", f->logical_size);
	fprintf(out, "flags:              0x%" PRIx32 " (%s format: %s", f->raw, format_name(f), words);
	if (f->full_crc32 && f->page_compressed)
		fprintf(out, ", %s", innodb_compression_name(f->compression_algo));
	fputs(")\n", out);
	if (sp->encrypted)
		fprintf(out, "encryption:         encrypted (key_id %" PRIu32 ", min_key_version %" PRIu32 ", ENCRYPTED=%s)\n",
			sp->crypt_key_id, sp->crypt_min_key_version, crypt_mode_name(sp->crypt_mode));
	else if (sp->has_crypt_data)
		fprintf(out, "encryption:         not encrypted (crypt data present, ENCRYPTED=%s)\n",
			crypt_mode_name(sp->crypt_mode));
	else if (f->mysql_encryption)
		fputs("encryption:         MySQL ENCRYPTION='Y'\n", out);
	else
		fputs("encryption:         none\n", out);
}

/* ---- One page ---------------------------------------------------------------------------------- */

static const char *verdict_name(enum innodb_verdict v)
{
	switch (v) {
	case INNODB_VERDICT_VALID: return "valid";
	case INNODB_VERDICT_ZERO: return "valid (all zero: allocated, never written)";
	case INNODB_VERDICT_NOT_CHECKED: return "not checked";
	case INNODB_VERDICT_INVALID: return "invalid";
	}
	return "invalid";
}

static const char *skip_name(enum inspect_skip s)
{
	switch (s) {
	case SKIP_NONE: return NULL;
	case SKIP_FREE: return "free page (extent descriptor)";
	case SKIP_PAGE_COMPRESSED: return "page_compressed page";
	}
	return NULL;
}

static void print_page_json(FILE *out, const char *path, const struct innodb_space *sp, const struct innodb_page *pg,
			    int free_state, enum inspect_skip skip)
{
	const struct innodb_flags *f = &sp->flags;
	fputs("{\"file\":", out);
	json_string(out, path);
	fprintf(out, ",\"page\":%" PRIu32 ",\"space_id\":%" PRIu32 ",\"page_size\":%" PRIu32
		     ",\"physical_page_size\":%" PRIu32 ",\"format\":\"%s\",\"type\":\"%s\",\"type_code\":%u,",
		pg->position, sp->space_id, f->logical_size, f->physical_size, format_name(f),
		innodb_page_class_name(pg->cls), pg->type);
	fprintf(out, "\"fil_header\":{\"%s\":%" PRIu32 ",\"page_no\":%" PRIu32 ",\"prev\":%" PRIu32
		     ",\"next\":%" PRIu32 ",\"lsn\":%" PRIu64 ",\"type\":%u,\"flush_lsn_or_key_version\":%" PRIu64
		     ",\"space_id\":%" PRIu32 "},",
		f->full_crc32 ? "key_version" : "checksum",
		f->full_crc32 ? pg->key_version : pg->stored_checksum, pg->page_no, pg->prev, pg->next, pg->lsn, pg->type,
		pg->flush_lsn, pg->space_id);
	if (f->full_crc32)
		fprintf(out, "\"fil_trailer\":{\"lsn_low32\":%" PRIu32 ",\"checksum\":%" PRIu32 ",\"checksum_offset\":%" PRIu32 "},",
			pg->trailer_lsn, pg->stored_checksum, pg->stored_size - INNODB_FIL_PAGE_FCRC32_CHECKSUM);
	else if (f->zip_size)
		fputs("\"fil_trailer\":null,", out);
	else
		fprintf(out, "\"fil_trailer\":{\"old_checksum\":%" PRIu32 ",\"lsn_low32\":%" PRIu32 "},",
			pg->stored_checksum2, pg->trailer_lsn);
	fprintf(out, "\"all_zero\":%s,\"encrypted\":%s,\"key_version\":%" PRIu32 ",", yes_no(pg->all_zero),
		yes_no(pg->encrypted), sp->encrypted || f->full_crc32 ? pg->key_version : 0);
	if (pg->compressed)
		fprintf(out, "\"page_compressed\":{\"payload_bytes\":%" PRIu32 ",\"algorithm\":\"%s\"},", pg->comp_payload,
			innodb_compression_name(pg->comp_algo));
	else
		fputs("\"page_compressed\":null,", out);
	fprintf(out, "\"checksum\":{\"expected_algorithm\":\"%s\",\"stored\":%" PRIu32 ",",
		f->full_crc32 ? "full_crc32" : "crc32", pg->stored_checksum);
	if (f->full_crc32) {
		fprintf(out, "\"computed_full_crc32\":%" PRIu32 ",", pg->calc_full_crc32);
	} else {
		if (!f->zip_size)
			fprintf(out, "\"stored_trailer\":%" PRIu32 ",", pg->stored_checksum2);
		fprintf(out, "\"computed_crc32\":%" PRIu32 ",\"computed_innodb\":%" PRIu32 ",", pg->calc_crc32,
			pg->calc_innodb);
		if (!f->zip_size)
			fprintf(out, "\"computed_innodb_old\":%" PRIu32 ",", pg->calc_innodb_old);
		if (pg->encrypted)
			fprintf(out, "\"stored_post_encryption\":%" PRIu32 ",", pg->stored_crypt_checksum);
	}
	bool valid = pg->verdict == INNODB_VERDICT_VALID || pg->verdict == INNODB_VERDICT_ZERO;
	fprintf(out, "\"matched\":\"%s\",\"verdict\":\"%s\",\"valid\":%s,\"reason\":", innodb_checksum_algo_name(pg->matched),
		pg->verdict == INNODB_VERDICT_ZERO ? "zero" : pg->verdict == INNODB_VERDICT_NOT_CHECKED ? "not_checked"
							     : valid ? "valid" : "invalid",
		pg->verdict == INNODB_VERDICT_NOT_CHECKED ? "null" : yes_no(valid));
	if (pg->verdict == INNODB_VERDICT_INVALID)
		fprintf(out, "\"%s\"", innodb_bad_reason_name(pg->reason));
	else
		fputs("null", out);
	fputs(",\"innochecksum_skips\":", out);
	if (skip_name(skip))
		fprintf(out, "\"%s\"", skip_name(skip));
	else
		fputs("null", out);
	fprintf(out, "},\"free\":%s,\"index\":", free_state < 0 ? "null" : yes_no(free_state));
	if (pg->has_index) {
		const struct innodb_index_header *ix = &pg->index;
		fprintf(out, "{\"index_id\":%" PRIu64 ",\"level\":%u,\"n_recs\":%u,\"n_heap\":%u,\"compact\":%s,"
			     "\"n_dir_slots\":%u,\"heap_top\":%u,\"free\":%u,\"garbage\":%u,\"last_insert\":%u,"
			     "\"direction\":%u,\"n_direction\":%u,\"max_trx_id\":%" PRIu64 "}",
			ix->index_id, ix->level, ix->n_recs, ix->n_heap, yes_no(ix->compact), ix->n_dir_slots, ix->heap_top,
			ix->free, ix->garbage, ix->last_insert, ix->direction, ix->n_direction, ix->max_trx_id);
	} else {
		fputs("null", out);
	}
	fputs("}\n", out);
}

static void print_u32_or_null(FILE *out, const char *label, uint32_t v)
{
	if (v == INNODB_FIL_NULL)
		fprintf(out, "%s FIL_NULL\n", label);
	else
		fprintf(out, "%s %" PRIu32 "\n", label, v);
}

static void print_page_text(FILE *out, const char *path, const struct innodb_space *sp, const struct innodb_page *pg,
			    int free_state, enum inspect_skip skip)
{
	const struct innodb_flags *f = &sp->flags;
	text_header(out, path, sp);
	fprintf(out, "\npage %" PRIu32 ": %s (FIL_PAGE_TYPE %u)%s%s\n", pg->position, innodb_page_class_name(pg->cls),
		pg->type, pg->all_zero ? ", all zero: allocated, never written" : "",
		pg->encrypted ? ", encrypted" : "");
	fputs("FIL header:\n", out);
	if (f->full_crc32)
		fprintf(out, "  key version:      %" PRIu32 "\n", pg->key_version);
	else
		fprintf(out, "  checksum:         0x%08" PRIx32 "\n", pg->stored_checksum);
	fprintf(out, "  page number:      %" PRIu32 "%s\n", pg->page_no, pg->page_no != pg->position ? " (MISMATCH)" : "");
	print_u32_or_null(out, "  previous page:   ", pg->prev);
	print_u32_or_null(out, "  next page:       ", pg->next);
	fprintf(out, "  LSN:              %" PRIu64 "\n", pg->lsn);
	fprintf(out, "  flush LSN / key:  0x%016" PRIx64 "\n", pg->flush_lsn);
	fprintf(out, "  space id:         %" PRIu32 "\n", pg->space_id);
	if (pg->encrypted && !f->full_crc32)
		fprintf(out, "  key version:      %" PRIu32 " (post-encryption checksum 0x%08" PRIx32 ")\n", pg->key_version,
			pg->stored_crypt_checksum);
	if (f->full_crc32)
		fprintf(out, "FIL trailer:\n  LSN low 32:       %" PRIu32 "%s\n  checksum:         0x%08" PRIx32
			     " (at offset %" PRIu32 ")\n",
			pg->trailer_lsn, pg->compressed ? " (page_compressed: no LSN copy)" : "", pg->stored_checksum,
			pg->stored_size - INNODB_FIL_PAGE_FCRC32_CHECKSUM);
	else if (!f->zip_size)
		fprintf(out, "FIL trailer:\n  old checksum:     0x%08" PRIx32 "\n  LSN low 32:       %" PRIu32 "\n",
			pg->stored_checksum2, pg->trailer_lsn);
	if (pg->compressed)
		fprintf(out, "page_compressed:    %" PRIu32 " bytes of payload, %s\n", pg->comp_payload,
			innodb_compression_name(pg->comp_algo));
	fputs("checksum:\n", out);
	if (f->full_crc32) {
		fprintf(out, "  stored:           0x%08" PRIx32 "\n  full_crc32:       0x%08" PRIx32 "\n", pg->stored_checksum,
			pg->calc_full_crc32);
	} else {
		fprintf(out, "  stored:           0x%08" PRIx32, pg->stored_checksum);
		if (!f->zip_size)
			fprintf(out, " / trailer 0x%08" PRIx32, pg->stored_checksum2);
		fputc('\n', out);
		fprintf(out, "  crc32:            0x%08" PRIx32 "\n", pg->calc_crc32);
		if (f->zip_size)
			fprintf(out, "  innodb (adler32): 0x%08" PRIx32 "\n", pg->calc_innodb);
		else
			fprintf(out, "  innodb (legacy):  0x%08" PRIx32 " / old formula 0x%08" PRIx32 "\n", pg->calc_innodb,
				pg->calc_innodb_old);
	}
	fprintf(out, "  matches:          %s\n", innodb_checksum_algo_name(pg->matched));
	fprintf(out, "  verdict:          %s", verdict_name(pg->verdict));
	if (pg->verdict == INNODB_VERDICT_INVALID)
		fprintf(out, " (%s)", innodb_bad_reason_name(pg->reason));
	if (pg->verdict == INNODB_VERDICT_INVALID && (pg->matched == INNODB_ALGO_INNODB || pg->matched == INNODB_ALGO_NONE))
		fprintf(out, "; the stored value is a legacy '%s' checksum, which the server accepts and innochecksum does not",
			innodb_checksum_algo_name(pg->matched));
	fputc('\n', out);
	if (skip_name(skip))
		fprintf(out, "  innochecksum:     skips this page (%s)\n", skip_name(skip));
	fprintf(out, "free (descriptor):  %s\n", free_state < 0 ? "unknown (its descriptor page was not read)"
					       : free_state ? "yes" : "no");
	if (pg->has_index) {
		const struct innodb_index_header *ix = &pg->index;
		fputs("INDEX header:\n", out);
		fprintf(out, "  index id:         %" PRIu64 "\n", ix->index_id);
		fprintf(out, "  level:            %u%s\n", ix->level, ix->level ? "" : " (leaf)");
		fprintf(out, "  records:          %u\n", ix->n_recs);
		fprintf(out, "  heap:             %u records, top at %u, %s format\n", ix->n_heap, ix->heap_top,
			ix->compact ? "COMPACT/DYNAMIC/COMPRESSED" : "REDUNDANT");
		fprintf(out, "  directory slots:  %u\n", ix->n_dir_slots);
		fprintf(out, "  garbage:          %u bytes\n", ix->garbage);
		fprintf(out, "  max trx id:       %" PRIu64 "\n", ix->max_trx_id);
	}
}

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
		print_page_json(stdout, o->file, sp, &pg, free_state, skip);
	else
		print_page_text(stdout, o->file, sp, &pg, free_state, skip);
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

static const char *summary_algorithm(const struct inspect_summary *s, const struct innodb_flags *f)
{
	if (f->full_crc32)
		return "full_crc32";
	uint64_t crc = s->by_algo[INNODB_ALGO_CRC32] + s->by_algo[INNODB_ALGO_CRYPT];
	uint64_t inn = s->by_algo[INNODB_ALGO_INNODB], none = s->by_algo[INNODB_ALGO_NONE];
	int kinds = (crc > 0) + (inn > 0) + (none > 0);
	if (kinds > 1)
		return "mixed";
	if (inn)
		return "innodb";
	if (none)
		return "none";
	if (crc)
		return "crc32";
	return "unknown";
}

static void print_summary_json(FILE *out, const char *path, const struct innodb_space *sp, const struct inspect_summary *s)
{
	fputs("{\"file\":", out);
	json_string(out, path);
	fprintf(out, ",\"space_id\":%" PRIu32 ",\"page_size\":%" PRIu32 ",\"physical_page_size\":%" PRIu32 ",",
		sp->space_id, sp->flags.logical_size, sp->flags.physical_size);
	json_flags(out, sp);
	fprintf(out, "\"file_size\":%" PRIu64 ",\"pages\":%" PRIu32 ",\"trailing_bytes\":%" PRIu32 ",\"fsp_size\":%" PRIu32
		     ",\"free_limit\":%" PRIu32 ",\"page_types\":{",
		s->file_size, s->pages, s->trailing, sp->fsp_size, sp->free_limit);
	bool first = true;
	for (int c = 0; c < INNODB_CLASS_COUNT; c++) {
		if (!s->by_class[c])
			continue;
		fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", innodb_page_class_name((enum innodb_page_class)c),
			s->by_class[c]);
		first = false;
	}
	fprintf(out, "},\"never_written_pages\":%" PRIu64 ",\"encrypted_pages\":%" PRIu64 ",\"checksum_algorithm\":\"%s\","
		     "\"checksums\":{\"checked\":%" PRIu64 ",\"valid\":%" PRIu64 ",\"invalid\":%" PRIu64
		     ",\"legacy_innodb_or_none\":%" PRIu64 ",\"skipped_free\":%" PRIu64 ",\"skipped_page_compressed\":%" PRIu64
		     ",\"bad_in_doublewrite\":%" PRIu64 "},\"bad_checksum_pages\":[",
		s->never_written, s->encrypted, summary_algorithm(s, &sp->flags), s->checked, s->valid, s->invalid, s->legacy,
		s->skipped_free, s->skipped_compressed, s->bad_doublewrite);
	for (size_t i = 0; i < s->n_bad; i++)
		fprintf(out, "%s%" PRIu32, i ? "," : "", s->bad[i]);
	fprintf(out, "],\"bad_checksum_count\":%" PRIu64 ",\"bad_checksum_pages_truncated\":%s,", s->invalid,
		yes_no(s->n_bad < s->invalid));
	if (s->have_lsn)
		fprintf(out, "\"lsn_min\":%" PRIu64 ",\"lsn_max\":%" PRIu64 ",", s->lsn_min, s->lsn_max);
	else
		fputs("\"lsn_min\":null,\"lsn_max\":null,", out);
	fputs("\"indexes\":[", out);
	for (size_t i = 0; i < s->n_idx; i++)
		fprintf(out, "%s{\"index_id\":%" PRIu64 ",\"pages\":%" PRIu64 ",\"leaf_pages\":%" PRIu64 ",\"max_level\":%u"
			     ",\"records\":%" PRIu64 "}",
			i ? "," : "", s->idx[i].id, s->idx[i].pages, s->idx[i].leaf_pages, s->idx[i].max_level,
			s->idx[i].records);
	fprintf(out, "],\"indexes_truncated\":%s}\n", yes_no(s->idx_truncated));
}

static void print_summary_text(FILE *out, const char *path, const struct innodb_space *sp, const struct inspect_summary *s)
{
	text_header(out, path, sp);
	fprintf(out, "pages:              %" PRIu32 " (file %" PRIu64 " bytes; the space header says %" PRIu32 ")\n", s->pages,
		s->file_size, sp->fsp_size);
	if (s->trailing)
		fprintf(out, "trailing bytes:     %" PRIu32 " after the last whole page (not read)\n", s->trailing);
	fprintf(out, "checksum algorithm: %s\n", summary_algorithm(s, &sp->flags));
	fprintf(out, "checksums:          %" PRIu64 " checked: %" PRIu64 " valid, %" PRIu64 " bad", s->checked, s->valid,
		s->invalid);
	if (s->skipped_free || s->skipped_compressed)
		fprintf(out, "; not checked (as innochecksum): %" PRIu64 " free, %" PRIu64 " page_compressed",
			s->skipped_free, s->skipped_compressed);
	fputc('\n', out);
	if (s->bad_doublewrite)
		fprintf(out, "                    %" PRIu64 " of the bad pages are in the doublewrite buffer: copies of other"
			     " pages, not corruption (innochecksum reports them too)\n",
			s->bad_doublewrite);
	if (s->legacy)
		fprintf(out, "                    %" PRIu64 " of the bad pages carry a legacy innodb/none checksum: the server"
			     " accepts them, innochecksum does not\n",
			s->legacy);
	if (s->have_lsn)
		fprintf(out, "LSN:                %" PRIu64 " .. %" PRIu64 "\n", s->lsn_min, s->lsn_max);
	else
		fputs("LSN:                none (no written page)\n", out);
	if (s->encrypted)
		fprintf(out, "encrypted pages:    %" PRIu64 "\n", s->encrypted);
	fputs("page types:\n", out);
	for (int c = 0; c < INNODB_CLASS_COUNT; c++) {
		if (!s->by_class[c])
			continue;
		fprintf(out, "  %-26s %10" PRIu64, innodb_page_class_name((enum innodb_page_class)c), s->by_class[c]);
		if (c == INNODB_CLASS_ALLOCATED && s->never_written)
			fprintf(out, "  (%" PRIu64 " never written: all zero)", s->never_written);
		fputc('\n', out);
	}
	if (s->n_idx) {
		fputs("indexes:\n  index_id        pages   leaf_pages  max_level      records\n", out);
		for (size_t i = 0; i < s->n_idx; i++)
			fprintf(out, "  %-12" PRIu64 " %8" PRIu64 " %12" PRIu64 " %10u %12" PRIu64 "\n", s->idx[i].id,
				s->idx[i].pages, s->idx[i].leaf_pages, s->idx[i].max_level, s->idx[i].records);
		if (s->idx_truncated)
			fprintf(out, "  (only the first %d index ids are listed)\n", INSPECT_INDEX_MAX);
	} else if (sp->encrypted) {
		fputs("indexes:            not readable (encrypted)\n", out);
	}
	if (!s->invalid) {
		fputs("bad checksum pages: none\n", out);
	} else {
		fprintf(out, "bad checksum pages: %" PRIu64 ":", s->invalid);
		for (size_t i = 0; i < s->n_bad; i++)
			fprintf(out, " %" PRIu32, s->bad[i]);
		if (s->n_bad < s->invalid)
			fputs(" ...", out);
		fputc('\n', out);
	}
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
		print_summary_json(stdout, o->file, &sp, &s);
	else
		print_summary_text(stdout, o->file, &sp, &s);
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
