/* fuzz_chunk.c: libFuzzer target for the chunk decoder (header, zstd, zero marker, digest). */
#include <stdint.h>
#include <stdlib.h>

#include "transport/chunk.h"
#include "transport/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *out;
	struct chunk_hdr h;
	struct cfs_err err;
	if (!out)
		out = malloc(WIRE_CHUNK_SIZE);
	if (!out)
		return 0;
	/* Both protocol versions' digests: they differ only in the verification at the end. */
	chunk_decode(data, size, WIRE_CHUNK_SIZE, out, WIRE_CHUNK_SIZE, &h, NULL, CHUNK_DIGEST_XXH64, &err);
	chunk_decode(data, size, WIRE_CHUNK_SIZE, out, WIRE_CHUNK_SIZE, &h, NULL, CHUNK_DIGEST_SHA256, &err);
	return 0;
}
