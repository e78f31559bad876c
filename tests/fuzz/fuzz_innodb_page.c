/* fuzz_innodb_page.c: libFuzzer target for the InnoDB page parsers (tools/innodb_page.h): FSP flags,
 * page 0 as a file's first page, and one page of a space of every layout and page size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/innodb_format.h"
#include "tools/innodb_page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FSP_SPACE_FLAGS of the layouts MariaDB 10.11 writes and MySQL 5.7/8.0 left behind: the first byte
 * of an input picks one, so every page size is reached without the fuzzer finding valid flags. */
static const uint32_t fuzz_layouts[] = {
	0x15,        /* full_crc32, 16K */
	0x13,        /* full_crc32, 4K */
	0x17,        /* full_crc32, 64K */
	0x35,        /* full_crc32, 16K, page_compressed zlib */
	0x53,        /* full_crc32, 4K, page_compressed lz4 */
	0x21,        /* crc32 layout, 16K, DYNAMIC */
	0xe1,        /* crc32 layout, 4K, DYNAMIC */
	0x1e1,       /* crc32 layout, 64K, DYNAMIC */
	0x29,        /* ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8, 16K */
	0x23,        /* ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=1, 16K */
	0xe7,        /* ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=2, 4K */
	0x10021,     /* crc32 layout, 16K, PAGE_COMPRESSED=1 */
	0x4821,      /* MySQL 8.0: SDI, SHARED, 16K */
	0x0,         /* REDUNDANT/COMPACT, 16K */
};
enum { FUZZ_LAYOUTS = sizeof(fuzz_layouts) / sizeof(fuzz_layouts[0]) };

/* Selector byte: low bits pick the layout, bit 7 marks the space encrypted, bit 6 places the page
 * where its FIL_PAGE_OFFSET says (so the checks after the page-number check are reached). */
enum { FUZZ_SEL_ENCRYPTED = 0x80, FUZZ_SEL_SELF_POSITION = 0x40, FUZZ_SEL_LAYOUT_MASK = 0x3f };

static uint32_t rd4(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode a page (and what the summary and --page ask of it) of `sp` at `position`. */
static void fuzz_page(const uint8_t *page, const struct innodb_space *sp, uint32_t position)
{
	struct innodb_page pg;
	size_t ps = sp->flags.physical_size;
	if (innodb_page_decode(page, ps, sp, position, &pg))
		return;
	innodb_page_compute_all(page, ps, sp, &pg);
	(void)innodb_page_class_name(pg.cls);
	(void)innodb_checksum_algo_name(pg.matched);
	(void)innodb_bad_reason_name(pg.reason);
	(void)innodb_compression_name(pg.comp_algo);
	(void)innodb_xdes_page_free(page, ps, &sp->flags, pg.page_no);
	(void)innodb_xdes_page_free(page, ps, &sp->flags, position);
	(void)innodb_is_doublewrite_page(sp, position);
}

/* The input as a file: page 0 says the layout; the next page, if the input holds it, is page 1. */
static void fuzz_as_file(const uint8_t *data, size_t size)
{
	struct innodb_space sp;
	if (innodb_space_decode(data, size, &sp) || sp.flags.physical_size > size)
		return;
	size_t ps = sp.flags.physical_size;
	fuzz_page(data, &sp, 0);
	if (size >= 2 * ps)
		fuzz_page(data + ps, &sp, 1);
}

/* The input as one page: a selector byte, then the page (zero-padded or cut to the page size). */
static void fuzz_as_page(const uint8_t *data, size_t size)
{
	uint8_t sel = data[0];
	struct innodb_space sp;
	memset(&sp, 0, sizeof(sp));
	if (innodb_flags_decode(fuzz_layouts[(sel & FUZZ_SEL_LAYOUT_MASK) % FUZZ_LAYOUTS], &sp.flags))
		return;
	size_t ps = sp.flags.physical_size;
	/* An allocation of exactly one page: ASan sees any read past it */
	uint8_t *page = calloc(1, ps);
	if (!page)
		return;
	size_t n = size - 1 < ps ? size - 1 : ps;
	memcpy(page, data + 1, n);
	sp.encrypted = sel & FUZZ_SEL_ENCRYPTED;
	sp.has_crypt_data = sp.encrypted;
	sp.page0_space_id = rd4(page + INNODB_FIL_PAGE_SPACE_ID); /* the page agrees with its page 0 */
	sp.space_id = sp.page0_space_id;
	uint32_t position = sel & FUZZ_SEL_SELF_POSITION ? rd4(page + INNODB_FIL_PAGE_OFFSET) : 1;
	fuzz_page(page, &sp, position);
	free(page);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct innodb_flags f;
	if (size >= 4)
		innodb_flags_decode(rd4(data), &f);
	fuzz_as_file(data, size);
	if (size >= 1)
		fuzz_as_page(data, size);
	return 0;
}
