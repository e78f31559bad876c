/* zadapt.h: chooses, READ by READ, whether a session compresses its chunks (--compression=auto,
 * D15). From each READ it learns where the time went, encoding (the digest, and zstd when on) and
 * sending (the network, the peer and --max-bandwidth pushing back), and how much zstd shrank the
 * data; it estimates what the other choice would have cost on the same bytes and switches when
 * that is clearly cheaper. Pure policy: no clock, no I/O, so it is unit-tested. */
#ifndef CLONEFS_ZADAPT_H
#define CLONEFS_ZADAPT_H

#include <stdbool.h>
#include <stdint.h>

/* READs with less data than this (zero chunks do not count) say little: they use the current
 * choice and teach nothing. While raw, every ZADAPT_PROBE_EVERY-th READ compresses, to keep the
 * data's compressibility and zstd's speed up to date. */
enum { ZADAPT_MIN_BYTES = 1 << 20, ZADAPT_PROBE_EVERY = 16 };

/* What one READ cost: its data chunks (zero chunks left out), their bytes on the wire, the time
 * spent encoding them and the time spent sending everything. */
struct zadapt_sample {
	uint64_t raw_bytes, wire_bytes, encode_ns, send_ns;
};

struct zadapt {
	bool compress;        /* the current choice */
	double ratio;         /* raw / wire of the last compressed READ (1 = incompressible) */
	double zstd_ns_per_b; /* zstd's cost per raw byte, the digest left out; 0 = not measured yet */
	double digest_ns_per_b;  /* encoding cost per byte without zstd; 0 = not measured yet */
	unsigned since_probe;
};

void zadapt_init(struct zadapt *a);
/* Whether the next READ, with about raw_bytes of data, is compressed. */
bool zadapt_begin(struct zadapt *a, uint64_t raw_bytes);
/* What that READ cost, compressed or not. */
void zadapt_end(struct zadapt *a, bool compressed, const struct zadapt_sample *s);

#endif
