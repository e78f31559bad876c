/* fuzz_known_donors.c: libFuzzer target for the known_donors store's parser (keypin_store_find). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/keypin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact copy, unterminated, so a read past the end is ASan's to see. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	static const char *const donors[] = { "127.0.0.1:4406", "[::1]:4406", "db.example:4406" };
	static const char *const fps[] = { "SHA256:HKsnbSxMSDLwnm7cDKUfezi2c/0nFTMOSX50z01Z7ac", "SHA256:" };
	unsigned line = 0;
	char known[KEYPIN_FP_MAX];
	for (size_t d = 0; d < sizeof(donors) / sizeof(donors[0]); d++)
		for (size_t f = 0; f < sizeof(fps) / sizeof(fps[0]); f++)
			if (keypin_store_find(buf, size, donors[d], fps[f], &line, known) == KEYPIN_MISMATCH &&
			    strnlen(known, KEYPIN_FP_MAX) >= KEYPIN_FP_MAX)
				abort();
	free(buf);
	return 0;
}
