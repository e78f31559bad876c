/* metrics.c: a mount's /.clonefs/metrics in the Prometheus text format: what was fetched, what the
 * cache answered, how long fetches took, hydration progress, reconnects. Labelled with the
 * snapshot and the donor, so that node_exporter's textfile collector can take a copy of each
 * mount's file (docs/systemd.md). */
#include "fs/mount.h"

#include <stdio.h>

#include "transport/metrics.h"

struct mount_metric {
	const char *name, *type, *help;
	uint64_t value;
};

void mount_metrics_text(struct mount *mt, struct wbuf *out)
{
	struct fetcher *f = &mt->fetch;
	struct cache_stats cs = cache_stats(&mt->cache); /* takes the cache's lock */
	char donor[300], lb[1024] = "";
	snprintf(donor, sizeof(donor), "%s:%u", mt->host, mt->port);
	metrics_label(lb, sizeof(lb), "snapshot", mt->info.id);
	metrics_label(lb, sizeof(lb), "donor", donor);
	enum fetch_state state = fetcher_state(f);
	const struct mount_metric m[] = {
		{ "clonefs_chunks_fetched_total", "counter", "Chunks fetched from the donor and verified.",
		  atomic_load(&f->chunks_fetched) },
		{ "clonefs_fetched_bytes_total", "counter", "Bytes fetched from the donor (uncompressed).",
		  atomic_load(&f->bytes_fetched) },
		{ "clonefs_wire_bytes_total", "counter", "Chunk bytes as received (zstd or raw).",
		  atomic_load(&f->bytes_wire) },
		{ "clonefs_cache_hits_total", "counter", "Chunks a read found verified in the cache.",
		  atomic_load(&f->chunk_hits) },
		{ "clonefs_cache_misses_total", "counter", "Chunks a read had to fetch.", atomic_load(&f->chunk_misses) },
		{ "clonefs_requests_total", "counter", "READ requests sent to the donor.", atomic_load(&f->requests) },
		{ "clonefs_reconnects_total", "counter", "Connections to the donor made again after a loss.",
		  atomic_load(&f->reconnects) },
		{ "clonefs_corrupt_chunks_total", "counter", "Cached chunks found corrupt and fetched again.",
		  cs.corrupt_found },
		{ "clonefs_evicted_chunks_total", "counter", "Chunks evicted from a bounded cache (cache_max=).",
		  cs.chunks_evicted },
		{ "clonefs_bytes", "gauge", "Bytes in the snapshot.", mt->m.bytes_total },
		{ "clonefs_cached_bytes", "gauge", "Bytes of the snapshot present and verified in the cache.",
		  cs.bytes_cached },
		{ "clonefs_chunks", "gauge", "Chunks in the snapshot.", mt->cache.nchunks },
		{ "clonefs_cached_chunks", "gauge", "Chunks present in the cache.", cs.chunks_cached },
		{ "clonefs_hydrated", "gauge", "1 once every chunk is in the cache.", state == FETCH_COMPLETE },
		{ "clonefs_disconnected", "gauge", "1 while the donor cannot be reached.", state == FETCH_DISCONNECTED },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		metrics_family(out, m[i].name, m[i].type, m[i].help);
		metrics_sample_u64(out, m[i].name, lb, m[i].value);
	}
	metrics_family(out, "clonefs_hydration_ratio", "gauge", "Cached bytes over the snapshot's bytes, 0 to 1.");
	metrics_sample(out, "clonefs_hydration_ratio", lb,
		       mt->m.bytes_total ? (double)cs.bytes_cached / (double)mt->m.bytes_total : 1.0);
	metrics_family(out, "clonefs_fetch_seconds", "histogram",
		       "Time a read waited for the chunks it fetched (one fetch per run of missing chunks).");
	metrics_hist_write(out, "clonefs_fetch_seconds", lb, &f->fetch_latency);
}
