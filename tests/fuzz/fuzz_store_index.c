/* fuzz_store_index.c: libFuzzer target for a store's pack index object: the sealed object's clear
 * header and authentication (store_object_open under a fixed key) and the plaintext parser
 * (store_index_parse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_store.h"
#include "transport/store_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const uint8_t *p, size_t n)
{
	struct store_index_ent *e = NULL;
	uint32_t ne = 0;
	struct cfs_err err;
	if (store_index_parse(p, n, &e, &ne, &err) == 0) {
		/* Exactly the entries the bytes hold: a 4-byte count, then 44 bytes each. */
		if (4 + (uint64_t)ne * (STORE_ID_LEN + 12) != n || !e)
			abort();
		volatile uint64_t sum = 0;
		for (uint32_t i = 0; i < ne; i++)
			sum += e[i].off + e[i].len + e[i].id[STORE_ID_LEN - 1];
	} else if (e || ne) {
		abort();
	}
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse(data, size);
	fuzz_store_open(STORE_INDEX_MAGIC, "prod/packs/0123456789abcdef0123456789abcdef.idx", data, size, parse);
	return 0;
}
