/* store_access.c: opens a store named by an s3:// address with the -o options of publish and
 * `clonefs store`, and reads its snapshot objects and their names. */
#include "tools/store_access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_opts_parse(char *list, struct store_opts *o, bool donor_opts, struct cfs_err *err)
{
	static const struct { const char *name; size_t off; bool donor; } known[] = {
		{ "store_key_file", offsetof(struct store_opts, store_key_file), false },
		{ "s3_endpoint", offsetof(struct store_opts, s3_endpoint), false },
		{ "ssl_mode", offsetof(struct store_opts, ssl_mode), true },
		{ "ssl_ca", offsetof(struct store_opts, ssl_ca), true },
		{ "ssl_cert", offsetof(struct store_opts, ssl_cert), true },
		{ "ssl_key", offsetof(struct store_opts, ssl_key), true },
		{ "password_file", offsetof(struct store_opts, password_file), true },
		{ "network_timeout", offsetof(struct store_opts, network_timeout), true },
		{ "snapshot", offsetof(struct store_opts, snapshot), true },
	};
	for (char *opt = list, *next; opt && *opt; opt = next) {
		next = strchr(opt, ',');
		if (next)
			*next++ = 0;
		char *eq = strchr(opt, '=');
		size_t klen = eq ? (size_t)(eq - opt) : strlen(opt);
		size_t i;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strlen(known[i].name) == klen && !strncmp(opt, known[i].name, klen))
				break;
		if (i == sizeof(known) / sizeof(known[0]) || (known[i].donor && !donor_opts))
			return cfs_err_set(err, CFS_ER_USAGE, "unknown option -o %s", opt);
		if (!eq || !eq[1])
			return cfs_err_set(err, CFS_ER_USAGE, "option -o %.*s needs a value", (int)klen, opt);
		*(const char **)((char *)o + known[i].off) = eq + 1;
	}
	return 0;
}

int store_handle_open(struct store_handle *h, const char *url, const struct store_opts *o, struct cfs_err *err)
{
	memset(h, 0, sizeof(*h));
	struct s3_config cfg;
	if (s3_url_parse(url, &h->url, err) || store_key_load(o->store_key_file, &h->keys, err) ||
	    s3_config_load(&cfg, o->s3_endpoint, err))
		return -1;
	return s3_open(&h->s3, &cfg, h->url.bucket, err);
}

void store_handle_close(struct store_handle *h)
{
	s3_close(&h->s3);
}

void store_handle_url(const struct store_handle *h, char *out, size_t outsz)
{
	snprintf(out, outsz, "s3://%s%s%s", h->url.bucket, h->url.prefix[0] ? "/" : "", h->url.prefix);
}

int store_read_snapshot(struct store_handle *h, const char *id, struct store_snapshot *s, struct cfs_err *err)
{
	char key[1200];
	store_key_name(key, sizeof(key), h->url.prefix, "snapshots", id, "");
	struct wbuf obj;
	wbuf_init(&obj, STORE_OBJECT_MAX);
	uint8_t *plain = NULL;
	size_t plen;
	int rc = s3_get(&h->s3, key, 0, 0, &obj, err);
	if (rc && err->code == CFS_ER_STORE_MISSING) {
		char u[700];
		store_handle_url(h, u, sizeof(u));
		cfs_err_set(err, CFS_ER_STORE_MISSING, "snapshot %s not found in %s", id, u);
	}
	if (!rc)
		rc = store_object_open(&h->keys, STORE_MANIFEST_MAGIC, key, obj.p, obj.len, &plain, &plen, err) ||
		     store_snapshot_parse(plain, plen, s, err) ? -1 : 0;
	free(plain);
	wbuf_release(&obj);
	return rc;
}

struct id_list {
	char (*ids)[WIRE_SNAP_ID_MAX + 1];
	size_t n, cap;
	size_t skip;    /* length of "PREFIX/snapshots/" */
};

static int on_snapshot_key(void *arg, const char *key, uint64_t size, int64_t mtime)
{
	struct id_list *l = arg;
	(void)size;
	(void)mtime;
	const char *id = key + l->skip;
	if (strlen(key) <= l->skip || strlen(id) > WIRE_SNAP_ID_MAX || strchr(id, '/'))
		return 0; /* not one of ours */
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *p = realloc(l->ids, cap * sizeof(*l->ids));
		if (!p)
			return -1;
		l->ids = p;
		l->cap = cap;
	}
	snprintf(l->ids[l->n++], sizeof(l->ids[0]), "%s", id);
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

int store_list_snapshots(struct store_handle *h, char (**ids)[WIRE_SNAP_ID_MAX + 1], size_t *n, struct cfs_err *err)
{
	char prefix[1200];
	store_key_name(prefix, sizeof(prefix), h->url.prefix, "snapshots", "", "");
	struct id_list l = { .skip = strlen(prefix) };
	if (s3_list(&h->s3, prefix, on_snapshot_key, &l, err)) {
		free(l.ids);
		return -1;
	}
	if (l.n)
		qsort(l.ids, l.n, sizeof(l.ids[0]), cmp_id);
	*ids = l.ids;
	*n = l.n;
	return 0;
}

int store_cmd_fail(const struct cfs_err *e)
{
	cfs_err_print(e, stderr);
	return 1;
}

int store_cmd_usage_fail(const char *usage, const struct cfs_err *e)
{
	fputs(usage, stderr);
	cfs_err_print(e, stderr);
	return 2;
}
