/* fuzz_store_snapshot.c: libFuzzer target for a store's snapshot object: the sealed object's clear
 * header and authentication (store_object_open under a fixed key) and the plaintext parser
 * (store_snapshot_parse), whose result must be safe for the store reader to index. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_store.h"
#include "transport/store_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What passed must hold what store_reader.c relies on: one ref per chunk of every file, each in
 * a pack the snapshot names, of a length a chunk can have. */
static void check(const struct store_snapshot *s)
{
	uint64_t want = 0;
	for (uint32_t i = 0; i < s->m.n; i++) {
		if (s->first_ref[i] != want)
			abort();
		if (s->m.e[i].type == MANIFEST_REG)
			want += manifest_chunks(s->m.e[i].size, s->info.chunk_size);
	}
	if (want != s->nrefs)
		abort();
	for (uint64_t i = 0; i < s->nrefs; i++) {
		const struct store_ref *r = &s->refs[i];
		if (r->pack != STORE_ZERO_PACK &&
		    (r->pack >= s->npacks || r->len < STORE_SEAL_OVERHEAD + 1 ||
		     r->len > STORE_SEAL_OVERHEAD + 1 + s->info.chunk_size + 4096))
			abort();
	}
	for (uint32_t i = 0; i < s->npacks; i++)
		if (strlen(s->packs[i]) != STORE_PACK_NAME_LEN)
			abort();
}

static void parse(const uint8_t *p, size_t n)
{
	struct store_snapshot s;
	struct cfs_err err;
	if (store_snapshot_parse(p, n, &s, &err) == 0) {
		check(&s);
		store_snapshot_release(&s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse(data, size);
	fuzz_store_open(STORE_MANIFEST_MAGIC, "prod/snapshots/20261203T033000Z-1a2b3c4d", data, size, parse);
	return 0;
}
