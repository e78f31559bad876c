/* mount.h: one mounted snapshot: what the FUSE layer, the status file and the daemon's main share.
 * Built by mount_main.c before the FUSE session starts; read-only afterwards except inside cache
 * and fetch, which lock their own state. */
#ifndef CLONEFS_MOUNT_H
#define CLONEFS_MOUNT_H

#include <stdbool.h>
#include <sys/types.h>

#include "fs/cache.h"
#include "fs/fetch.h"
#include "fs/tree.h"

struct overlay;
#include "transport/client.h"

struct mount {
	char host[256];
	unsigned port;
	char user[160];
	enum cfs_ssl_mode ssl_mode;
	bool tls;                   /* the connection is inside TLS */
	struct wire_snap_info info; /* snapshot id and donor facts */
	struct manifest m;
	struct tree tree;
	struct cache cache;
	struct fetcher fetch;
	uid_t uid;                  /* owner shown for every file */
	gid_t gid;
	int connections;
	bool handoff;               /* -o handoff=on: complete files may be handed to materialize */
	struct overlay *ov;         /* a thin clone's writable view (-o rw,upper=DIR), else NULL */
};

/* The JSON document of /.clonefs/status and `clonefs status --json`. */
void mount_status_json(struct mount *mt, struct wbuf *out);
/* /.clonefs/facts: "key<TAB>value" lines of the donor facts plus snapshot_id, for tools. */
void mount_facts_text(struct mount *mt, struct wbuf *out);
/* /.clonefs/metrics: the mount's counters in the Prometheus text format (fs/metrics.c). */
void mount_metrics_text(struct mount *mt, struct wbuf *out);

#endif
