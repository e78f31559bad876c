/* status.c: renders a mount's state as the /.clonefs/status JSON (DESIGN §9) and /.clonefs/facts. */
#include "fs/mount.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "fs/ctl.h"
#include "fs/json.h"
#include "fs/overlay.h"
#include "transport/clock.h"

static const char *fact(struct mount *mt, const char *k)
{
	const char *v = wire_snap_info_get(&mt->info, k);
	return v ? v : "";
}

void mount_status_json(struct mount *mt, struct wbuf *out)
{
	struct fetcher *f = &mt->fetch;
	uint64_t fetched = atomic_load(&f->bytes_fetched);
	double secs = (double)(mono_ms() - f->start_ms) / 1000.0;
	double rate = secs > 0 ? (double)fetched / secs : 0;
	struct cache_stats cs = cache_stats(&mt->cache); /* takes the cache's lock */
	uint64_t cached = cs.bytes_cached, chunks_cached = cs.chunks_cached, corrupt = cs.corrupt_found;
	uint64_t total = mt->m.bytes_total;
	pthread_mutex_lock(&f->lock);
	char last_error[sizeof(f->last_error)];
	memcpy(last_error, f->last_error, sizeof(last_error));
	pthread_mutex_unlock(&f->lock);
	char port[16];
	snprintf(port, sizeof(port), "%u", mt->port);

	json_raw(out, "{");
	json_kv_str(out, CTL_ST_SNAPSHOT_ID, mt->info.id, 0);
	json_raw(out, ",\"" CTL_ST_DONOR "\":{");
	json_kv_str(out, CTL_ST_DONOR_VERSION, fact(mt, "version"), 0);
	json_kv_str(out, "version_comment", fact(mt, "version_comment"), 1);
	json_kv_str(out, CTL_ST_DONOR_HOST, mt->host, 1);
	json_kv_u64(out, CTL_ST_DONOR_PORT, mt->port, 1);
	json_kv_str(out, "hostname", fact(mt, "hostname"), 1);
	json_kv_str(out, "method", fact(mt, "method"), 1);
	json_raw(out, "}");
	enum fetch_state state = fetcher_state(f);
	json_kv_str(out, CTL_ST_STATE, fetch_state_name(state), 1);
	json_kv_u64(out, CTL_ST_BYTES_TOTAL, total, 1);
	json_kv_u64(out, CTL_ST_BYTES_CACHED, cached, 1);
	json_kv_u64(out, CTL_ST_BYTES_FETCHED, fetched, 1);
	json_kv_u64(out, CTL_ST_BYTES_WIRE, atomic_load(&f->bytes_wire), 1); /* as received: zstd or raw (D15) */
	json_kv_u64(out, "chunks_total", mt->cache.nchunks, 1);
	json_kv_u64(out, "chunks_cached", chunks_cached, 1);
	json_kv_u64(out, "chunks_fetched", atomic_load(&f->chunks_fetched), 1);
	json_kv_u64(out, "chunks_resumed", mt->cache.chunks_at_open, 1);
	json_kv_u64(out, CTL_ST_CACHE_MAX, mt->cache.max_bytes, 1); /* 0: no bound */
	json_kv_u64(out, CTL_ST_CHUNKS_EVICTED, cs.chunks_evicted, 1);
	json_kv_u64(out, "bytes_evicted", cs.bytes_evicted, 1);
	json_kv_u64(out, "requests", atomic_load(&f->requests), 1);
	json_kv_u64(out, "reconnects", atomic_load(&f->reconnects), 1);
	json_raw(out, ",\"time_s\":{");
	json_kv_dbl(out, "network_wait", (double)atomic_load(&f->ns_wait) / 1e9, 0);
	json_kv_dbl(out, "decompress_verify", (double)atomic_load(&f->ns_decode) / 1e9, 1);
	json_kv_dbl(out, "cache_write", (double)atomic_load(&f->ns_write) / 1e9, 1);
	json_kv_dbl(out, "cache_sync", (double)atomic_load(&f->ns_sync) / 1e9, 1);
	json_raw(out, "}");
	json_kv_u64(out, "corrupt_chunks_refetched", corrupt, 1);
	json_kv_u64(out, "chunk_size", mt->cache.chunk_size, 1);
	json_kv_u64(out, "protocol", f->opts.proto, 1);
	json_kv_str(out, "digest", chunk_digest_name(mt->cache.digest), 1);
	json_kv_dbl(out, CTL_ST_RATE, rate, 1);
	/* A bounded mount stopped hydrating at its cache_max: nothing to estimate. */
	json_kv_dbl(out, CTL_ST_ETA, rate > 0 && state != FETCH_BOUNDED && state != FETCH_NO_SPACE ? (double)(total - cached) / rate : -1, 1);
	json_kv_u64(out, "space_needed", fetcher_space_needed(f), 1); /* state "no space": bytes to free */
	json_kv_str(out, CTL_ST_BINLOG_FILE, fact(mt, CTL_FACT_BINLOG_FILE), 1);
	json_kv_str(out, CTL_ST_BINLOG_POS, fact(mt, CTL_FACT_BINLOG_POS), 1);
	json_kv_str(out, CTL_ST_GTID_POS, fact(mt, CTL_FACT_GTID_POS), 1);
	json_kv_str(out, "ssl_mode", cfs_ssl_mode_name(mt->ssl_mode), 1);
	json_kv_str(out, CTL_ST_TLS, f->tls, 1);
	json_kv_u64(out, "connections", (uint64_t)f->nslots, 1);
	json_kv_u64(out, "hydrators", (uint64_t)f->nhyd, 1);
	json_kv_str(out, "prefetch", f->prefetch ? "on" : "off", 1);
	json_kv_str(out, "handoff", mt->handoff ? "on" : "off", 1);
	json_kv_str(out, "cache_dir", mt->cache.dir, 1);
	/* A thin clone: its upper directory and the bytes the clone wrote (docs/thin-clones.md). */
	json_kv_str(out, CTL_ST_UPPER, mt->ov ? mt->ov->dir : "", 1);
	json_kv_u64(out, CTL_ST_BYTES_WRITTEN, mt->ov ? atomic_load(&mt->ov->bytes_written) : 0, 1);
	json_kv_str(out, CTL_ST_LAST_ERROR, last_error, 1);
	json_raw(out, ",\"" CTL_ST_FACTS "\":{");
	for (uint32_t i = 0; i < mt->info.nfacts; i++)
		json_kv_str(out, mt->info.facts[i].key, mt->info.facts[i].value, i > 0);
	json_raw(out, "}}\n");
}

/* Values never hold a tab or newline here: the line format stays parseable. */
static void put_clean(struct wbuf *out, const char *s)
{
	for (; *s; s++)
		wbuf_u8(out, (*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : (uint8_t)*s);
}

void mount_facts_text(struct mount *mt, struct wbuf *out)
{
	char port[16];
	snprintf(port, sizeof(port), "%u", mt->port);
	const char *fixed[][2] = {
		{ CTL_FACT_SNAPSHOT_ID, mt->info.id }, { CTL_FACT_DONOR_HOST, mt->host }, { CTL_FACT_DONOR_PORT, port },
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		put_clean(out, fixed[i][0]);
		wbuf_u8(out, '\t');
		put_clean(out, fixed[i][1]);
		wbuf_u8(out, '\n');
	}
	for (uint32_t i = 0; i < mt->info.nfacts; i++) {
		put_clean(out, mt->info.facts[i].key);
		wbuf_u8(out, '\t');
		put_clean(out, mt->info.facts[i].value);
		wbuf_u8(out, '\n');
	}
}
