/* fuzz_s3_list.c: libFuzzer target for the parser of an S3 ListObjectsV2 page (s3_list_parse): XML
 * from the network. Its seeds are pages a real radosgw answered. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_key(void *arg, const char *key, uint64_t size, int64_t mtime)
{
	(void)size;
	(void)mtime;
	size_t n = strlen(key);
	if (n == 0 || n > 1024 || strchr(key, '&'))
		abort();
	return ++*(int *)arg > 5000; /* a caller may stop the walk */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact copy, unterminated, so a read past the end is ASan's to see. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	char token[1024];
	bool more;
	int keys = 0;
	int rc = s3_list_parse(buf, size, on_key, &keys, &more, token, sizeof(token));
	if (rc == 0 && more && (!token[0] || strnlen(token, sizeof(token)) >= sizeof(token)))
		abort();
	/* A small token buffer: a long token is refused, never cut. */
	char small[8];
	if (s3_list_parse(buf, size, on_key, &keys, &more, small, sizeof(small)) == 0 && more &&
	    strnlen(small, sizeof(small)) >= sizeof(small))
		abort();
	free(buf);
	return 0;
}
