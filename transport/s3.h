/* s3.h: a small S3 client over libcurl (SigV4, path-style addressing): PUT, ranged GET, DELETE,
 * ListObjectsV2, with retries (backoff with full jitter) on transport errors, 5xx and 429, bounded
 * in time. Credentials and endpoint follow the AWS conventions (docs/store.md). */
#ifndef CLONEFS_S3_H
#define CLONEFS_S3_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/buf.h"
#include "transport/errors.h"

/* Store errors (clonefs's own range, docs/errors.md). */
#define CFS_ER_STORE 7030          /* the store could not be reached or refused a request */
#define CFS_ER_STORE_AUTH 7031     /* the store refused the credentials */
#define CFS_ER_STORE_KEY 7032      /* an object does not decrypt or verify: wrong store key, or tampered */
#define CFS_ER_STORE_MISSING 7033  /* no such snapshot (or object) in the store */

/* A name in a bucket: what s3://BUCKET/PREFIX[/REST] says. */
struct s3_url {
	char bucket[64];
	char prefix[512];       /* no leading or trailing '/'; may be "" */
};
/* Parse "s3://bucket[/prefix...]": bucket as S3 allows (3-63 of [a-z0-9.-]), prefix of
 * [A-Za-z0-9._-/] without "..", empty components or a leading '/'. */
int s3_url_parse(const char *s, struct s3_url *u, struct cfs_err *err);
bool s3_is_url(const char *s);

struct s3_config {
	char endpoint[512];     /* http(s)://host[:port], no trailing '/' */
	char region[64];
	char access_key[256];
	char secret_key[256];
	int timeout_s;          /* bound on one request's retries together */
};
/* From, in order: endpoint_opt (-o s3_endpoint=), $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL;
 * $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials's [$AWS_PROFILE or default];
 * region from $AWS_REGION, $AWS_DEFAULT_REGION, ~/.aws/config, else us-east-1. */
int s3_config_load(struct s3_config *c, const char *endpoint_opt, struct cfs_err *err);

struct s3 {
	struct s3_config cfg;
	char bucket[64];
	void *curl;                     /* CURL *, one per struct s3: not thread-safe */
	atomic_uint_fast64_t bytes_up, bytes_down, requests, retries;
};

int s3_open(struct s3 *s, const struct s3_config *c, const char *bucket, struct cfs_err *err);
void s3_close(struct s3 *s);

int s3_put(struct s3 *s, const char *key, const void *buf, size_t len, struct cfs_err *err);
/* GET key, or bytes [off, off+len) of it when len > 0, into out (reset first; bounded by its max).
 * CFS_ER_STORE_MISSING for a missing key. */
int s3_get(struct s3 *s, const char *key, uint64_t off, uint64_t len, struct wbuf *out, struct cfs_err *err);
int s3_delete(struct s3 *s, const char *key, struct cfs_err *err);
/* Create the bucket; one that exists and is ours is fine. */
int s3_create_bucket(struct s3 *s, struct cfs_err *err);
/* Every key under prefix (with its size and last-modified unix time), in the store's order; cb
 * returning non-zero stops. */
typedef int (*s3_list_cb)(void *arg, const char *key, uint64_t size, int64_t mtime);
int s3_list(struct s3 *s, const char *prefix, s3_list_cb cb, void *arg, struct cfs_err *err);

/* The parser of one ListObjectsV2 page (XML from the network; fuzzed): each <Contents>'s Key and
 * Size to cb, *truncated and the continuation token (bounded) out. -1 on a malformed page. */
int s3_list_parse(const uint8_t *xml, size_t len, s3_list_cb cb, void *arg, bool *truncated, char *token,
		  size_t tokensz);

#endif
