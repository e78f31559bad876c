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
	if (out)
		chunk_decode(data, size, WIRE_CHUNK_SIZE, out, WIRE_CHUNK_SIZE, &h, NULL, &err);
	return 0;
}
