/* store_reader.h: cfs_session_* on an object store (s3://BUCKET/PREFIX) rather than a donor:
 * client.c calls these when the options name a store (docs/store.md). */
#ifndef CLONEFS_STORE_READER_H
#define CLONEFS_STORE_READER_H

#include "transport/client.h"

int store_reader_open(struct cfs_session *s, const struct cfs_client_opts *o, struct cfs_err *err);
void store_reader_close(struct cfs_session *s);
int store_reader_snap_open(struct cfs_session *s, const char *snap, struct wire_snap_info *info, struct cfs_err *err);
int store_reader_manifest(struct cfs_session *s, struct manifest *m, struct cfs_err *err);
int store_reader_read_send(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
			   uint32_t *req, struct cfs_err *err);
int store_reader_read_recv(struct cfs_session *s, const struct manifest_entry *e, uint64_t first, uint32_t count,
			   uint32_t req, cfs_chunk_cb cb, void *arg, struct cfs_err *err);

#endif
