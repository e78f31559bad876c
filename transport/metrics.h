/* metrics.h: Prometheus text exposition format (version 0.0.4) written into a wbuf, and a
 * histogram updated lock-free from any thread. Shared by clonefsd (--metrics) and the mount
 * (/.clonefs/metrics); the HTTP responder that serves clonefsd's is metrics_http. */
#ifndef CLONEFS_METRICS_H
#define CLONEFS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "transport/buf.h"

/* Upper bounds in seconds, 1 ms to 60 s: a cold chunk read on a LAN to a snapshot taking a minute. */
#define METRICS_HIST_BUCKETS 12
struct metrics_hist {
	atomic_uint_fast64_t bucket[METRICS_HIST_BUCKETS]; /* observations <= the bound, not cumulative */
	atomic_uint_fast64_t count, sum_ns;                /* +Inf is count */
};

void metrics_hist_observe(struct metrics_hist *h, uint64_t ns);

/* "# HELP" and "# TYPE" lines of a family; type is counter, gauge or histogram. */
void metrics_family(struct wbuf *out, const char *name, const char *type, const char *help);
/* One sample: name{labels} value. labels: "" or `key="value",...` made with metrics_label. */
void metrics_sample(struct wbuf *out, const char *name, const char *labels, double value);
void metrics_sample_u64(struct wbuf *out, const char *name, const char *labels, uint64_t value);
/* A histogram's _bucket, _sum and _count samples (after its metrics_family). */
void metrics_hist_write(struct wbuf *out, const char *name, const char *labels, const struct metrics_hist *h);
/* Append key="value" to a label list (comma-separated), the value escaped (\\ \" \n). */
void metrics_label(char *labels, size_t sz, const char *key, const char *value);

#endif
