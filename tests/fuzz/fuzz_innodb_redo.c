/* fuzz_innodb_redo.c: libFuzzer target for the redo log header parser (tools/innodb_redo.h): any
 * bytes as the start of an ib_logfile0 whose size the first 4 bytes pick; a parse that succeeds must
 * name a checkpoint recovery could start from, inside the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/innodb_redo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[INNODB_REDO_HEADER_BYTES];
	if (size < 4)
		return 0;
	uint64_t file_size = (uint64_t)(data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24) << 9;
	data += 4;
	size -= 4;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, data, size < sizeof(buf) ? size : sizeof(buf));
	struct innodb_redo r;
	char why[200];
	size_t len = size < sizeof(buf) ? sizeof(buf) - (size & 1) : sizeof(buf); /* sometimes short */
	if (innodb_redo_parse(buf, len, file_size, &r, why, sizeof(why)) == 0) {
		if (r.checkpoint_lsn < r.first_lsn || r.end_lsn < r.checkpoint_lsn || !r.checkpoint_block ||
		    r.capacity != file_size - INNODB_REDO_START_OFFSET || strlen(r.creator) > 32)
			abort();
		uint64_t off = innodb_redo_offset(&r, r.end_lsn);
		if (off < INNODB_REDO_START_OFFSET || off >= file_size)
			abort();
		(void)innodb_redo_holds(&r, r.checkpoint_lsn, r.end_lsn);
	} else if (!why[0]) {
		abort();
	}
	return 0;
}
