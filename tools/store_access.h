/* store_access.h: what publish and `clonefs store` share: -o options, opening a store from its
 * s3:// address, and reading its snapshot manifests and pack indexes (docs/store.md). */
#ifndef CLONEFS_STORE_ACCESS_H
#define CLONEFS_STORE_ACCESS_H

#include "transport/s3.h"
#include "transport/store_fmt.h"

/* -o options of publish and store (the donor's ones are only publish's). Borrowed from argv. */
struct store_opts {
	const char *store_key_file, *s3_endpoint;
	const char *ssl_mode, *ssl_ca, *ssl_cert, *ssl_key, *password_file, *network_timeout, *snapshot;
};
/* Parse one comma-separated -o list into o (pointers into list, which is modified). donor_opts:
 * whether the donor's options are accepted. */
int store_opts_parse(char *list, struct store_opts *o, bool donor_opts, struct cfs_err *err);

struct store_handle {
	struct s3_url url;
	struct store_keys keys;
	struct s3 s3;
};
int store_handle_open(struct store_handle *h, const char *url, const struct store_opts *o, struct cfs_err *err);
void store_handle_close(struct store_handle *h);
/* "s3://bucket[/prefix]" of h, for messages. */
void store_handle_url(const struct store_handle *h, char *out, size_t outsz);

/* Read and parse snapshots/ID. */
int store_read_snapshot(struct store_handle *h, const char *id, struct store_snapshot *s, struct cfs_err *err);

/* The exits of publish and store: the one ERROR line, status 1; a bad command line: usage, then the
 * ERROR line, status 2 (as every clonefs command). */
int store_cmd_fail(const struct cfs_err *e);
int store_cmd_usage_fail(const char *usage, const struct cfs_err *e);

/* Every snapshot id in the store (from the names under snapshots/), sorted; *ids malloc'd. */
int store_list_snapshots(struct store_handle *h, char (**ids)[WIRE_SNAP_ID_MAX + 1], size_t *n, struct cfs_err *err);

#endif
