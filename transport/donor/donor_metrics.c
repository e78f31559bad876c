/* donor_metrics.c: what clonefsd counts for Prometheus (clonefsd --metrics): sessions, snapshots,
 * bytes served by snapshot method, errors sent by code, failed logins, how long snapshots took and
 * held their lock; rendered in the text format by donor_metrics_render, served by metrics_http. */
#include "transport/donor/donor.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "transport/metrics.h"

/* Room for every snapshot method, those added after clone included: the samples list each method
 * snap_method_name knows (it says "auto" past the last). */
enum { NMETHODS = 8, ERROR_CODES = 64 };
_Static_assert((int)SNAP_CLONE < (int)NMETHODS, "NMETHODS must hold every snapshot method");

static atomic_uint_fast64_t sessions_total, sessions_active, auth_failures;
static atomic_uint_fast64_t bytes_raw[NMETHODS], bytes_wire[NMETHODS], chunks_served[NMETHODS];
static atomic_uint_fast64_t snaps_made[NMETHODS], snaps_failed[NMETHODS];
static struct metrics_hist snap_seconds, lock_seconds;
static atomic_int reloads_ok, reloads_failed;

/* Errors by MySQL code: a fixed table, so a peer cannot grow it; codes past it count as "other". */
static pthread_mutex_t errors_lock = PTHREAD_MUTEX_INITIALIZER; /* guards error_code, error_count */
static int error_code[ERROR_CODES];
static uint64_t error_count[ERROR_CODES + 1]; /* [ERROR_CODES]: other */

void donor_metrics_session(int delta)
{
	if (delta > 0)
		atomic_fetch_add(&sessions_total, 1);
	atomic_fetch_add(&sessions_active, (uint_fast64_t)(int_fast64_t)delta);
}

void donor_metrics_auth_failed(void)
{
	atomic_fetch_add(&auth_failures, 1);
}

void donor_metrics_served(enum snap_method m, uint64_t raw, uint64_t wire)
{
	if ((unsigned)m >= NMETHODS)
		return;
	atomic_fetch_add(&bytes_raw[m], raw);
	atomic_fetch_add(&bytes_wire[m], wire);
	atomic_fetch_add(&chunks_served[m], 1);
}

void donor_metrics_error(int code)
{
	pthread_mutex_lock(&errors_lock);
	int i = 0;
	while (i < ERROR_CODES && error_code[i] && error_code[i] != code)
		i++;
	if (i < ERROR_CODES && !error_code[i])
		error_code[i] = code;
	error_count[i]++;
	pthread_mutex_unlock(&errors_lock);
}

void donor_metrics_snapshot(enum snap_method m, bool ok, uint64_t ns, long long lock_ms)
{
	if ((unsigned)m >= NMETHODS)
		return;
	atomic_fetch_add(ok ? &snaps_made[m] : &snaps_failed[m], 1);
	if (!ok)
		return;
	metrics_hist_observe(&snap_seconds, ns);
	if (lock_ms >= 0)
		metrics_hist_observe(&lock_seconds, (uint64_t)lock_ms * 1000000u);
}

void donor_metrics_reload(bool ok)
{
	atomic_fetch_add(ok ? &reloads_ok : &reloads_failed, 1);
}

static void per_method(struct wbuf *out, const char *name, const char *type, const char *help,
		       atomic_uint_fast64_t *v)
{
	metrics_family(out, name, type, help);
	for (int m = SNAP_MARIABACKUP; m < NMETHODS && strcmp(snap_method_name((enum snap_method)m), "auto"); m++) {
		char lb[64] = "";
		metrics_label(lb, sizeof(lb), "method", snap_method_name((enum snap_method)m));
		metrics_sample_u64(out, name, lb, atomic_load(&v[m]));
	}
}

void donor_metrics_render(struct wbuf *out, void *arg)
{
	(void)arg;
	metrics_family(out, "clonefsd_sessions_total", "counter", "Recipient connections accepted.");
	metrics_sample_u64(out, "clonefsd_sessions_total", "", atomic_load(&sessions_total));
	metrics_family(out, "clonefsd_sessions", "gauge", "Recipient connections open now.");
	metrics_sample_u64(out, "clonefsd_sessions", "", atomic_load(&sessions_active));
	metrics_family(out, "clonefsd_snapshots", "gauge", "Snapshots held in the state directory.");
	metrics_sample_u64(out, "clonefsd_snapshots", "", (uint64_t)snap_count());
	per_method(out, "clonefsd_snapshots_made_total", "counter", "Snapshots made, by method.", snaps_made);
	per_method(out, "clonefsd_snapshots_failed_total", "counter", "Snapshots that failed, by method.", snaps_failed);
	metrics_family(out, "clonefsd_snapshot_seconds", "histogram",
		       "Time to make a snapshot: what the first recipient waits (stall).");
	metrics_hist_write(out, "clonefsd_snapshot_seconds", "", &snap_seconds);
	metrics_family(out, "clonefsd_snapshot_lock_seconds", "histogram",
		       "Time the server's backup lock was held for a snapshot (btrfs method).");
	metrics_hist_write(out, "clonefsd_snapshot_lock_seconds", "", &lock_seconds);
	per_method(out, "clonefsd_served_bytes_total", "counter",
		   "Chunk bytes served (uncompressed), by the snapshot's method.", bytes_raw);
	per_method(out, "clonefsd_served_wire_bytes_total", "counter",
		   "Chunk bytes sent as they crossed the network (zstd or raw), by the snapshot's method.", bytes_wire);
	per_method(out, "clonefsd_served_chunks_total", "counter", "Chunks served, by the snapshot's method.",
		   chunks_served);
	metrics_family(out, "clonefsd_auth_failures_total", "counter", "Recipient logins the server refused.");
	metrics_sample_u64(out, "clonefsd_auth_failures_total", "", atomic_load(&auth_failures));
	metrics_family(out, "clonefsd_errors_total", "counter", "ERROR frames sent to recipients, by MySQL error code.");
	pthread_mutex_lock(&errors_lock);
	for (int i = 0; i <= ERROR_CODES; i++) {
		if (i < ERROR_CODES && !error_code[i])
			continue;
		if (i == ERROR_CODES && !error_count[i])
			continue;
		char code[16], lb[64] = "";
		snprintf(code, sizeof(code), "%d", i < ERROR_CODES ? error_code[i] : 0);
		metrics_label(lb, sizeof(lb), "code", i < ERROR_CODES ? code : "other");
		metrics_sample_u64(out, "clonefsd_errors_total", lb, error_count[i]);
	}
	pthread_mutex_unlock(&errors_lock);
	metrics_family(out, "clonefsd_reloads_total", "counter", "SIGHUP reloads, by result.");
	metrics_sample_u64(out, "clonefsd_reloads_total", "result=\"ok\"", (uint64_t)atomic_load(&reloads_ok));
	metrics_sample_u64(out, "clonefsd_reloads_total", "result=\"failed\"", (uint64_t)atomic_load(&reloads_failed));
}
