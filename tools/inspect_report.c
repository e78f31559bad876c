/* inspect_report.c: clonefs inspect's output: one page or the summary, as text or as JSON (names
 * that are not UTF-8 made safe), worded as innochecksum words its verdicts. */
#include "tools/inspect.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tools/innodb_format.h"
#include "tools/innodb_page.h"

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

void inspect_print_page_json(FILE *out, const char *path, const struct innodb_space *sp, const struct innodb_page *pg,
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

void inspect_print_page_text(FILE *out, const char *path, const struct innodb_space *sp, const struct innodb_page *pg,
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

void inspect_print_summary_json(FILE *out, const char *path, const struct innodb_space *sp, const struct inspect_summary *s)
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

void inspect_print_summary_text(FILE *out, const char *path, const struct innodb_space *sp, const struct inspect_summary *s)
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
