/* zadapt.c: compress or not, by what each READ's time went to (see zadapt.h, D15). */
#include "transport/donor/zadapt.h"

void zadapt_init(struct zadapt *a)
{
	a->compress = true; /* until a READ shows that compressing is what holds the transfer back */
	a->ratio = 1;
	a->zstd_ns_per_b = a->digest_ns_per_b = 0;
	a->since_probe = 0;
}

bool zadapt_begin(struct zadapt *a, uint64_t raw_bytes)
{
	if (raw_bytes < ZADAPT_MIN_BYTES || a->compress)
		return a->compress;
	if (++a->since_probe >= ZADAPT_PROBE_EVERY) {
		a->since_probe = 0;
		return true; /* a probe: the data may have become compressible, or the network slower */
	}
	return false;
}

void zadapt_end(struct zadapt *a, bool compressed, const struct zadapt_sample *s)
{
	if (s->raw_bytes < ZADAPT_MIN_BYTES)
		return;
	double raw = (double)s->raw_bytes, send = (double)s->send_ns;
	double est_zstd, est_raw;
	if (compressed) {
		a->ratio = s->wire_bytes ? raw / (double)s->wire_bytes : 1;
		if (a->ratio < 1)
			a->ratio = 1;
		double zstd = (double)s->encode_ns - a->digest_ns_per_b * raw; /* the digest is paid either way */
		a->zstd_ns_per_b = zstd > 0 ? zstd / raw : 0;
		/* Raw, the wire would have carried ratio times the bytes, at the rate it carried these. */
		est_zstd = a->zstd_ns_per_b * raw + send;
		est_raw = send * a->ratio;
	} else {
		a->digest_ns_per_b = (double)s->encode_ns / raw;
		if (a->zstd_ns_per_b == 0)
			return; /* nothing known of zstd yet: the next probe measures it */
		est_raw = send;
		est_zstd = a->zstd_ns_per_b * raw + send / a->ratio;
	}
	/* Switch only for a clear gain (10 %): equal costs keep the current choice. */
	if (a->compress && est_raw * 1.1 < est_zstd)
		a->compress = false;
	else if (!a->compress && est_zstd * 1.1 < est_raw)
		a->compress = true;
}
