/* metrics.c: the Prometheus text format (names, labels with their escapes, counters, gauges,
 * histograms) into a bounded wbuf, and the lock-free histogram both daemons observe into. */
#include "transport/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const double hist_bounds[METRICS_HIST_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 10, 60,
};

void metrics_hist_observe(struct metrics_hist *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	for (int i = 0; i < METRICS_HIST_BUCKETS; i++)
		if (s <= hist_bounds[i]) {
			atomic_fetch_add(&h->bucket[i], 1);
			break;
		}
	atomic_fetch_add(&h->sum_ns, ns);
	atomic_fetch_add(&h->count, 1);
}

static void put_str(struct wbuf *out, const char *s)
{
	wbuf_put(out, s, strlen(s));
}

void metrics_family(struct wbuf *out, const char *name, const char *type, const char *help)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	wbuf_put(out, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
}

static void sample_head(struct wbuf *out, const char *name, const char *labels)
{
	put_str(out, name);
	if (labels && *labels) {
		wbuf_u8(out, '{');
		put_str(out, labels);
		wbuf_u8(out, '}');
	}
	wbuf_u8(out, ' ');
}

void metrics_sample(struct wbuf *out, const char *name, const char *labels, double value)
{
	char v[64];
	sample_head(out, name, labels);
	int n = snprintf(v, sizeof(v), "%.9g\n", value);
	wbuf_put(out, v, (size_t)n);
}

void metrics_sample_u64(struct wbuf *out, const char *name, const char *labels, uint64_t value)
{
	char v[32];
	sample_head(out, name, labels);
	int n = snprintf(v, sizeof(v), "%" PRIu64 "\n", value);
	wbuf_put(out, v, (size_t)n);
}

void metrics_label(char *labels, size_t sz, const char *key, const char *value)
{
	size_t o = strlen(labels);
	int n = snprintf(labels + o, sz - o, "%s%s=\"", o ? "," : "", key);
	if (n < 0 || (size_t)n >= sz - o)
		return;
	o += (size_t)n;
	for (const char *p = value; *p && o + 3 < sz; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			labels[o++] = '\\';
			labels[o++] = *p == '\n' ? 'n' : *p;
		} else {
			labels[o++] = *p;
		}
	}
	if (o + 1 < sz)
		labels[o++] = '"';
	labels[o] = 0;
}

void metrics_hist_write(struct wbuf *out, const char *name, const char *labels, const struct metrics_hist *h)
{
	char bname[256], lb[1024];
	uint64_t cum = 0, count = atomic_load(&h->count);
	snprintf(bname, sizeof(bname), "%s_bucket", name);
	for (int i = 0; i < METRICS_HIST_BUCKETS; i++) {
		char le[32];
		cum += atomic_load(&h->bucket[i]);
		snprintf(le, sizeof(le), "%g", hist_bounds[i]);
		snprintf(lb, sizeof(lb), "%s", labels ? labels : "");
		metrics_label(lb, sizeof(lb), "le", le);
		/* Read while others observe: a bucket never shows more than the count after it. */
		metrics_sample_u64(out, bname, lb, cum < count ? cum : count);
	}
	snprintf(lb, sizeof(lb), "%s", labels ? labels : "");
	metrics_label(lb, sizeof(lb), "le", "+Inf");
	metrics_sample_u64(out, bname, lb, count);
	snprintf(bname, sizeof(bname), "%s_sum", name);
	metrics_sample(out, bname, labels, (double)atomic_load(&h->sum_ns) / 1e9);
	snprintf(bname, sizeof(bname), "%s_count", name);
	metrics_sample_u64(out, bname, labels, count);
}
