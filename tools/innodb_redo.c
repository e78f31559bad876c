/* innodb_redo.c: reads and writes the header and checkpoint blocks of InnoDB's redo log
 * (MariaDB 10.8+ format), as MariaDB's recv_sys_t::find_checkpoint reads them. */
#include "tools/innodb_redo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tools/innodb_page.h"

#define HDR_CRC_AT 508u          /* the header block's CRC-32C of bytes 0..507 */
#define HDR_FIRST_LSN 8u
#define HDR_CREATOR 16u
#define HDR_CREATOR_END 48u      /* then the encryption key info when non-zero */
#define CKPT_CRC_AT 60u

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int innodb_redo_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct innodb_redo *out, char *why,
		      size_t whysz)
{
	memset(out, 0, sizeof(*out));
	if (len < INNODB_REDO_HEADER_BYTES || file_size <= INNODB_REDO_START_OFFSET) {
		snprintf(why, whysz, "the file is %llu bytes: shorter than a redo log's %u-byte header",
			 (unsigned long long)file_size, INNODB_REDO_START_OFFSET);
		return -EINVAL;
	}
	out->format = be32(buf);
	memcpy(out->creator, buf + HDR_CREATOR, HDR_CREATOR_END - HDR_CREATOR);
	out->creator[HDR_CREATOR_END - HDR_CREATOR] = 0;
	for (char *c = out->creator; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	if ((out->format & ~INNODB_REDO_FORMAT_ENCRYPTED) != INNODB_REDO_FORMAT_10_8) {
		snprintf(why, whysz, "redo log format 0x%08x, not MariaDB 10.8+'s 0x%08x (one ib_logfile0)", out->format,
			 INNODB_REDO_FORMAT_10_8);
		return -EINVAL;
	}
	if (innodb_crc32c(0, buf, HDR_CRC_AT) != be32(buf + HDR_CRC_AT)) {
		snprintf(why, whysz, "the redo log header's checksum does not match");
		return -EINVAL;
	}
	out->first_lsn = be64(buf + HDR_FIRST_LSN);
	if (be32(buf + 4) || out->first_lsn < INNODB_REDO_START_OFFSET) {
		snprintf(why, whysz, "the redo log header is invalid (first LSN %llu)", (unsigned long long)out->first_lsn);
		return -EINVAL;
	}
	if (be32(buf + HDR_CREATOR_END))
		out->format |= INNODB_REDO_FORMAT_ENCRYPTED;
	out->file_size = file_size;
	out->capacity = file_size - INNODB_REDO_START_OFFSET;
	for (unsigned i = 1; i <= 2; i++) {
		const uint8_t *c = buf + (i == 1 ? INNODB_REDO_CHECKPOINT_1 : INNODB_REDO_CHECKPOINT_2);
		uint64_t lsn = be64(c), end = be64(c + 8);
		if (lsn < out->first_lsn || end < lsn || !all_zero(c + 16, CKPT_CRC_AT - 16) ||
		    innodb_crc32c(0, c, CKPT_CRC_AT) != be32(c + CKPT_CRC_AT))
			continue;
		if (lsn >= out->checkpoint_lsn) {
			out->checkpoint_lsn = lsn;
			out->end_lsn = end;
			out->checkpoint_block = i;
		}
	}
	if (!out->checkpoint_block) {
		snprintf(why, whysz, "the redo log has no valid checkpoint block");
		return -EINVAL;
	}
	return 0;
}

void innodb_redo_checkpoint_block(uint8_t out[INNODB_REDO_CKPT_BYTES], uint64_t lsn, uint64_t end_lsn)
{
	memset(out, 0, INNODB_REDO_CKPT_BYTES);
	put_be64(out, lsn);
	put_be64(out + 8, end_lsn);
	put_be32(out + CKPT_CRC_AT, innodb_crc32c(0, out, CKPT_CRC_AT));
}

uint64_t innodb_redo_offset(const struct innodb_redo *r, uint64_t lsn)
{
	if (!r->capacity || lsn < r->first_lsn)
		return INNODB_REDO_START_OFFSET;
	return INNODB_REDO_START_OFFSET + (lsn - r->first_lsn) % r->capacity;
}

bool innodb_redo_holds(const struct innodb_redo *r, uint64_t lsn, uint64_t written_lsn)
{
	return lsn >= r->first_lsn && written_lsn >= lsn && written_lsn - lsn <= r->capacity;
}
