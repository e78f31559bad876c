/* xxh64.h: XXH64, the 64-bit xxHash of Yann Collet (doc/xxhash_spec.md of github.com/Cyan4973/
 * xxHash, version 0.1.1), written from the specification: the chunk digest of protocol version 2
 * (docs/protocol.md §4, docs/decisions.md D16). */
#ifndef CLONEFS_XXH64_H
#define CLONEFS_XXH64_H

#include <stddef.h>
#include <stdint.h>

/* The XXH64 of buf[0, len) with seed. */
uint64_t xxh64(const void *buf, size_t len, uint64_t seed);

#endif
