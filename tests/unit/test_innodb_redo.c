/* test_innodb_redo.c: tools/innodb_redo.c against redo log headers built as MariaDB 10.8+ writes
 * them: the checkpoint recovery would take (the valid block with the larger LSN), each way a block
 * or the header is refused, the LSN-to-offset map of the circle, the wrap test, and a checkpoint
 * block written back reads as written. */
#include <errno.h>
#include <string.h>

#include "tests/unit/tap.h"
#include "tools/innodb_page.h"
#include "tools/innodb_redo.h"

static uint8_t hdr[INNODB_REDO_HEADER_BYTES];
enum { FILE_SIZE = 4 << 20 };

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* A header block of format 10.8 with first_lsn, and the two checkpoint blocks. */
static void build(uint64_t first_lsn, uint64_t c1, uint64_t e1, uint64_t c2, uint64_t e2)
{
	memset(hdr, 0, sizeof(hdr));
	put32(hdr, INNODB_REDO_FORMAT_10_8);
	put64(hdr + 8, first_lsn);
	memcpy(hdr + 16, "MariaDB 10.11.19", 16);
	put32(hdr + 508, innodb_crc32c(0, hdr, 508));
	innodb_redo_checkpoint_block(hdr + INNODB_REDO_CHECKPOINT_1, c1, e1);
	innodb_redo_checkpoint_block(hdr + INNODB_REDO_CHECKPOINT_2, c2, e2);
}

static int parse(struct innodb_redo *r)
{
	char why[200];
	return innodb_redo_parse(hdr, sizeof(hdr), FILE_SIZE, r, why, sizeof(why));
}

static void test_picks_larger_checkpoint(void)
{
	struct innodb_redo r;
	build(12288, 50000, 50100, 70000, 70123);
	CHECK(parse(&r) == 0);
	CHECK(r.checkpoint_lsn == 70000 && r.end_lsn == 70123 && r.checkpoint_block == 2);
	CHECK(r.first_lsn == 12288 && r.capacity == FILE_SIZE - 12288);
	CHECK(!strcmp(r.creator, "MariaDB 10.11.19"));
	build(12288, 90000, 90000, 70000, 70123);
	CHECK(parse(&r) == 0 && r.checkpoint_lsn == 90000 && r.checkpoint_block == 1);
}

static void test_invalid_blocks_skipped(void)
{
	struct innodb_redo r;
	build(12288, 50000, 50100, 70000, 70123);
	hdr[INNODB_REDO_CHECKPOINT_2 + 3] ^= 1; /* CRC no longer matches */
	CHECK(parse(&r) == 0 && r.checkpoint_lsn == 50000);
	build(12288, 50000, 50100, 70000, 69999); /* end before the checkpoint */
	CHECK(parse(&r) == 0 && r.checkpoint_lsn == 50000);
	build(60000, 50000, 50100, 70000, 70100); /* a checkpoint below the first LSN */
	CHECK(parse(&r) == 0 && r.checkpoint_lsn == 70000);
	build(12288, 50000, 50100, 70000, 70123);
	hdr[INNODB_REDO_CHECKPOINT_2 + 20] = 1; /* reserved bytes must be zero (CRC recomputed) */
	put32(hdr + INNODB_REDO_CHECKPOINT_2 + 60, innodb_crc32c(0, hdr + INNODB_REDO_CHECKPOINT_2, 60));
	CHECK(parse(&r) == 0 && r.checkpoint_lsn == 50000);
	hdr[INNODB_REDO_CHECKPOINT_1] ^= 0x80;
	CHECK(parse(&r) == -EINVAL); /* neither block valid */
}

static void test_header_refused(void)
{
	struct innodb_redo r;
	char why[200];
	build(12288, 50000, 50100, 70000, 70123);
	hdr[100] = 1; /* header CRC */
	CHECK(parse(&r) == -EINVAL);
	build(12288, 50000, 50100, 70000, 70123);
	put32(hdr, 0x50485953); /* MariaDB 10.5's format */
	put32(hdr + 508, innodb_crc32c(0, hdr, 508));
	CHECK(innodb_redo_parse(hdr, sizeof(hdr), FILE_SIZE, &r, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "0x50485953") != NULL);
	build(100, 50000, 50100, 70000, 70123); /* first LSN below the payload start */
	CHECK(parse(&r) == -EINVAL);
	build(12288, 50000, 50100, 70000, 70123);
	CHECK(innodb_redo_parse(hdr, sizeof(hdr) - 1, FILE_SIZE, &r, why, sizeof(why)) == -EINVAL);
	CHECK(innodb_redo_parse(hdr, sizeof(hdr), 12288, &r, why, sizeof(why)) == -EINVAL);
	hdr[48] = 1; /* encryption key info present */
	put32(hdr + 508, innodb_crc32c(0, hdr, 508));
	CHECK(parse(&r) == 0 && (r.format & INNODB_REDO_FORMAT_ENCRYPTED));
}

static void test_offsets_and_wrap(void)
{
	struct innodb_redo r;
	build(12288, 50000, 50100, 70000, 70123);
	CHECK(parse(&r) == 0);
	CHECK(innodb_redo_offset(&r, 12288) == 12288);
	CHECK(innodb_redo_offset(&r, 12288 + r.capacity) == 12288);
	CHECK(innodb_redo_offset(&r, 12288 + r.capacity + 5) == 12293);
	CHECK(innodb_redo_holds(&r, 70000, 70000 + r.capacity));
	CHECK(!innodb_redo_holds(&r, 70000, 70001 + r.capacity));
	CHECK(!innodb_redo_holds(&r, 70000, 69999)); /* written before the checkpoint: not a log state */
	CHECK(!innodb_redo_holds(&r, 100, 200));
}

static void test_block_roundtrip(void)
{
	uint8_t b[INNODB_REDO_CKPT_BYTES];
	innodb_redo_checkpoint_block(b, 0x0102030405060708ull, 0x1112131415161718ull);
	CHECK(b[0] == 1 && b[7] == 8 && b[8] == 0x11 && b[15] == 0x18);
	CHECK(innodb_crc32c(0, b, 60) == ((uint32_t)b[60] << 24 | (uint32_t)b[61] << 16 | (uint32_t)b[62] << 8 | b[63]));
}

int main(void)
{
	test_picks_larger_checkpoint();
	test_invalid_blocks_skipped();
	test_header_refused();
	test_offsets_and_wrap();
	test_block_roundtrip();
	return tap_done();
}
