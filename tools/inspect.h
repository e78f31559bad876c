/* inspect.h: what clonefs inspect learns of a tablespace (the summary of every page) and the two
 * ways it says it: text for a DBA, JSON for scripts (inspect_report.c). */
#ifndef CLONEFS_INSPECT_H
#define CLONEFS_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/innodb_page.h"

/* Distinct index ids tracked: an ibdata1 with every table of a big schema has thousands. */
enum { INSPECT_INDEX_MAX = 65536 };

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

void inspect_print_page_json(FILE *out, const char *path, const struct innodb_space *sp, const struct innodb_page *pg,
			     int free_state, enum inspect_skip skip);
void inspect_print_page_text(FILE *out, const char *path, const struct innodb_space *sp, const struct innodb_page *pg,
			     int free_state, enum inspect_skip skip);
void inspect_print_summary_json(FILE *out, const char *path, const struct innodb_space *sp,
				const struct inspect_summary *s);
void inspect_print_summary_text(FILE *out, const char *path, const struct innodb_space *sp,
				const struct inspect_summary *s);

#endif
