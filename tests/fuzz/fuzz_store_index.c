/* fuzz_store_index.c: libFuzzer target for a store's pack index object: the sealed object's clear
 * header and authentication (store_object_open under a fixed key) and the plaintext parser
 * (store_index_parse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	static struct store_keys k;
	static int init;
	if (!init) {
		uint8_t key[STORE_KEY_LEN];
		memset(key, 0x42, sizeof(key)); /* the key tests/unit/test_store_fmt.c seals its seeds with */
		store_keys_derive(key, &k);
		init = 1;
	}
	parse(data, size);
	uint8_t *plain = NULL;
	size_t plen;
	struct cfs_err err;
	if (store_object_open(&k, STORE_INDEX_MAGIC, "prod/packs/0123456789abcdef0123456789abcdef.idx", data, size,
			      &plain, &plen, &err) == 0) {
		parse(plain, plen);
		free(plain);
	} else if (plain) {
		abort();
	}
	return 0;
}
