/* fuzz_store.h: what the store's fuzz targets share: a sealed object opened under a fixed store
 * key (the one tests/unit/test_store_fmt.c seals its seeds with), its plaintext to a parser. */
#ifndef CLONEFS_FUZZ_STORE_H
#define CLONEFS_FUZZ_STORE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/store_fmt.h"

static inline void fuzz_store_open(uint32_t magic, const char *what, const uint8_t *data, size_t size,
				   void (*parse)(const uint8_t *p, size_t n))
{
	static struct store_keys k;
	static int init;
	if (!init) {
		uint8_t key[STORE_KEY_LEN];
		memset(key, 0x42, sizeof(key));
		store_keys_derive(key, &k);
		init = 1;
	}
	uint8_t *plain = NULL;
	size_t plen;
	struct cfs_err err;
	if (store_object_open(&k, magic, what, data, size, &plain, &plen, &err) == 0) {
		parse(plain, plen);
		free(plain);
	} else if (plain) {
		abort(); /* a failed open leaves nothing to free */
	}
}

#endif
