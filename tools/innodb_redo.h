/* innodb_redo.h: pure helpers for InnoDB's redo log file ib_logfile0 in MariaDB 10.8+'s format
 * (FORMAT_10_8): the header block, the two checkpoint blocks, the LSN-to-offset map of the circular
 * payload, and a checkpoint block written back. No I/O, no allocation. */
#ifndef CLONEFS_INNODB_REDO_H
#define CLONEFS_INNODB_REDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INNODB_REDO_FORMAT_10_8 0x50687973u    /* "Phys" */
#define INNODB_REDO_FORMAT_ENCRYPTED 0x80000000u
#define INNODB_REDO_CHECKPOINT_1 4096u        /* first checkpoint block */
#define INNODB_REDO_CHECKPOINT_2 8192u        /* second checkpoint block */
#define INNODB_REDO_START_OFFSET 12288u       /* the circular payload starts here */
#define INNODB_REDO_CKPT_BYTES 64u            /* what a checkpoint block holds: lsn, end_lsn, zeros, CRC */
#define INNODB_REDO_HEADER_BYTES INNODB_REDO_START_OFFSET /* what innodb_redo_parse reads */

struct innodb_redo {
	uint32_t format;          /* INNODB_REDO_FORMAT_10_8, possibly | ENCRYPTED */
	uint64_t first_lsn;       /* the LSN at INNODB_REDO_START_OFFSET on the first pass */
	uint64_t file_size;       /* bytes of ib_logfile0 */
	uint64_t capacity;        /* file_size - START_OFFSET: bytes of log the circle holds */
	char creator[33];         /* "MariaDB 10.11.6", NUL-terminated */
	/* The checkpoint recovery would start from: the valid block with the largest LSN. */
	uint64_t checkpoint_lsn;  /* every change below it is in the data files */
	uint64_t end_lsn;         /* where its FILE_CHECKPOINT record is */
	unsigned checkpoint_block; /* 1 or 2 */
};

/* Parse the first len (>= INNODB_REDO_HEADER_BYTES) bytes of an ib_logfile0 of file_size bytes as
 * recovery reads them: the header's CRC-32C, format 10.8, first_lsn, then the valid checkpoint block
 * with the largest LSN. 0, or -EINVAL with why set (another format, a bad checksum, no checkpoint). */
int innodb_redo_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct innodb_redo *out, char *why,
		      size_t whysz);

/* A checkpoint block's 64 bytes for (lsn, end_lsn), with its CRC-32C. */
void innodb_redo_checkpoint_block(uint8_t out[INNODB_REDO_CKPT_BYTES], uint64_t lsn, uint64_t end_lsn);

/* The file offset of the log byte at lsn (lsn >= first_lsn). */
uint64_t innodb_redo_offset(const struct innodb_redo *r, uint64_t lsn);

/* Whether a log written up to written_lsn still holds every record from lsn on: the circle has not
 * come round over it (written_lsn - lsn <= capacity). */
bool innodb_redo_holds(const struct innodb_redo *r, uint64_t lsn, uint64_t written_lsn);

#endif
