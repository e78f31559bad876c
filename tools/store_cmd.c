/* store_cmd.c: `clonefs store list|gc s3://BUCKET/PREFIX`: the snapshots a store holds (size,
 * binlog position, age), and removal of the snapshots beyond --keep=N and of every pack that no
 * kept snapshot references. */
#include "tools/commands.h"
#include "tools/store_access.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
	"usage: clonefs store list s3://BUCKET[/PREFIX] -o store_key_file=F[,s3_endpoint=URL] [--json]\n"
	"       clonefs store gc   s3://BUCKET[/PREFIX] -o store_key_file=F[,s3_endpoint=URL] --keep=N\n"
	"                          [--grace=SECONDS] [--dry-run]\n"
	"  list: every snapshot, newest last: id, published, size, bytes in its packs, binlog position\n"
	"  gc:   keeps the N newest snapshots, removes the others' manifests, then every pack no kept\n"
	"        snapshot uses and that is older than --grace (default 3600 s: a publish under way\n"
	"        uploads its packs before its manifest); --dry-run: print what it would drop and\n"
	"        remove, and remove nothing\n"
	"  -o s3_endpoint=URL    else $AWS_ENDPOINT_URL; credentials from $AWS_ACCESS_KEY_ID and\n"
	"                        $AWS_SECRET_ACCESS_KEY or ~/.aws/credentials ($AWS_PROFILE); docs/store.md\n";


static const char *fact(const struct store_snapshot *s, const char *k)
{
	const char *v = wire_snap_info_get(&s->info, k);
	return v ? v : "";
}

/* Sealed bytes a snapshot's chunk references point at (a chunk referenced twice counts twice). */
static uint64_t stored_bytes(const struct store_snapshot *s)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < s->nrefs; i++)
		if (s->refs[i].pack != STORE_ZERO_PACK)
			n += s->refs[i].len;
	return n;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int cmd_list(struct store_handle *h, bool json, struct cfs_err *err)
{
	char (*ids)[WIRE_SNAP_ID_MAX + 1] = NULL;
	size_t n;
	if (store_list_snapshots(h, &ids, &n, err))
		return -1;
	if (json)
		printf("[");
	else
		printf("%-32s %-20s %10s %10s  %s\n", "SNAPSHOT", "PUBLISHED (UTC)", "SIZE_MIB", "STORED_MIB", "BINLOG FILE:POS GTID");
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		struct store_snapshot s;
		if (store_read_snapshot(h, ids[i], &s, err)) {
			rc = -1;
			break;
		}
		char when[32];
		time_t t = (time_t)s.published;
		struct tm tm;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
		if (json) {
			printf("%s{\"snapshot_id\": ", i ? ", " : "");
			json_str(s.info.id);
			printf(", \"published\": %lld, \"bytes_total\": %llu, \"bytes_stored\": %llu, \"binlog_file\": ",
			       (long long)s.published, (unsigned long long)s.m.bytes_total, (unsigned long long)stored_bytes(&s));
			json_str(fact(&s, "binlog_file"));
			printf(", \"binlog_pos\": ");
			json_str(fact(&s, "binlog_pos"));
			printf(", \"gtid_pos\": ");
			json_str(fact(&s, "gtid_pos"));
			printf(", \"packs\": %u}", s.npacks);
		} else {
			printf("%-32s %-20s %10.1f %10.1f  %s:%s %s\n", s.info.id, when, s.m.bytes_total / 1048576.0,
			       stored_bytes(&s) / 1048576.0, fact(&s, "binlog_file"), fact(&s, "binlog_pos"),
			       fact(&s, "gtid_pos"));
		}
		store_snapshot_release(&s);
	}
	if (json && !rc)
		printf("]\n");
	free(ids);
	return rc;
}

struct pack_set {
	char (*names)[STORE_PACK_NAME_LEN + 1];
	size_t n, cap;
};

static int set_add(struct pack_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->names[i], name))
			return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *p = realloc(s->names, cap * sizeof(*s->names));
		if (!p)
			return -1;
		s->names = p;
		s->cap = cap;
	}
	snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name);
	return 0;
}

static bool set_has(const struct pack_set *s, const char *name, size_t len)
{
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->names[i]) == len && !strncmp(s->names[i], name, len))
			return true;
	return false;
}

struct sweep {
	struct store_handle *h;
	const struct pack_set *keep;
	size_t skip;
	int64_t older_than;
	bool dry_run;
	char (*doomed)[1200];
	size_t n, cap;
	uint64_t bytes;
};

static int on_pack(void *arg, const char *key, uint64_t size, int64_t mtime)
{
	struct sweep *w = arg;
	if (strlen(key) <= w->skip)
		return 0;
	const char *name = key + w->skip, *dot = strchr(name, '.');
	if (!dot || (size_t)(dot - name) != STORE_PACK_NAME_LEN || set_has(w->keep, name, STORE_PACK_NAME_LEN))
		return 0;
	if (mtime > w->older_than)
		return 0; /* may be a publish under way */
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		void *p = realloc(w->doomed, cap * sizeof(*w->doomed));
		if (!p)
			return -1;
		w->doomed = p;
		w->cap = cap;
	}
	snprintf(w->doomed[w->n++], sizeof(w->doomed[0]), "%s", key);
	w->bytes += size;
	return 0;
}

/* Index objects sort after their packs' names: delete every .idx before any .pack, so that no
 * publish can find a chunk in an index whose pack is already gone. */
static int idx_first(const void *a, const void *b)
{
	bool ai = strstr(a, ".idx") != NULL, bi = strstr(b, ".idx") != NULL;
	return ai == bi ? strcmp(a, b) : ai ? -1 : 1;
}

static int cmd_gc(struct store_handle *h, long keep, long grace, bool dry_run, struct cfs_err *err)
{
	char (*ids)[WIRE_SNAP_ID_MAX + 1] = NULL;
	size_t n;
	if (store_list_snapshots(h, &ids, &n, err))
		return -1;
	struct snapinfo { char id[WIRE_SNAP_ID_MAX + 1]; int64_t published; } *all = calloc(n ? n : 1, sizeof(*all));
	struct pack_set keepset = { 0 };
	int rc = all ? 0 : cfs_err_set(err, CFS_ER_IO, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		struct store_snapshot s;
		if (store_read_snapshot(h, ids[i], &s, err)) {
			rc = -1;
			break;
		}
		snprintf(all[i].id, sizeof(all[i].id), "%s", ids[i]);
		all[i].published = s.published;
		store_snapshot_release(&s);
	}
	/* Newest first: by publish time, then id. */
	for (size_t i = 1; !rc && i < n; i++)
		for (size_t j = i; j > 0 && (all[j].published > all[j - 1].published ||
					     (all[j].published == all[j - 1].published && strcmp(all[j].id, all[j - 1].id) > 0)); j--) {
			struct snapinfo t = all[j];
			all[j] = all[j - 1];
			all[j - 1] = t;
		}
	size_t dropped = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if ((long)i < keep) {
			struct store_snapshot s;
			if (store_read_snapshot(h, all[i].id, &s, err)) {
				rc = -1;
				break;
			}
			for (uint32_t k = 0; !rc && k < s.npacks; k++)
				if (set_add(&keepset, s.packs[k]))
					rc = cfs_err_set(err, CFS_ER_IO, "out of memory");
			store_snapshot_release(&s);
			continue;
		}
		char key[1200];
		store_key_name(key, sizeof(key), h->url.prefix, "snapshots", all[i].id, "");
		printf("%s snapshot %s\n", dry_run ? "would drop" : "dropping", all[i].id);
		if (!dry_run && s3_delete(&h->s3, key, err))
			rc = -1;
		dropped++;
	}
	struct sweep w = { .h = h, .keep = &keepset, .older_than = (int64_t)time(NULL) - grace, .dry_run = dry_run };
	if (!rc) {
		char prefix[1200];
		store_key_name(prefix, sizeof(prefix), h->url.prefix, "packs", "", "");
		w.skip = strlen(prefix);
		rc = s3_list(&h->s3, prefix, on_pack, &w, err);
	}
	if (!rc && w.n)
		qsort(w.doomed, w.n, sizeof(w.doomed[0]), idx_first);
	for (size_t i = 0; !rc && i < w.n; i++) {
		printf("%s %s\n", dry_run ? "would remove" : "removing", w.doomed[i]);
		if (!dry_run && s3_delete(&h->s3, w.doomed[i], err))
			rc = -1;
	}
	if (!rc)
		printf("gc: kept %zu snapshot(s), %s %zu, %s %zu pack object(s) (%.1f MiB) no kept snapshot uses\n",
		       n - dropped, dry_run ? "would drop" : "dropped", dropped, dry_run ? "would remove" : "removed", w.n,
		       w.bytes / 1048576.0);
	free(w.doomed);
	free(keepset.names);
	free(all);
	free(ids);
	return rc;
}

static int parse_long(const char *s, long min, const char *what, long *out, struct cfs_err *err)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min)
		return cfs_err_set(err, CFS_ER_USAGE, "%s=%s: expected a number of at least %ld", what, s, min);
	*out = v;
	return 0;
}

int cmd_store(int argc, char **argv)
{
	struct cfs_err err = { 0 };
	struct store_opts o = { 0 };
	const char *verb = NULL, *url = NULL;
	bool json = false, dry_run = false;
	long keep = -1, grace = 3600;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--dry-run")) {
			dry_run = true;
		} else if (!strncmp(a, "--keep=", 7)) {
			if (parse_long(a + 7, 1, "--keep", &keep, &err))
				return store_cmd_usage_fail(usage, &err);
		} else if (!strncmp(a, "--grace=", 8)) {
			if (parse_long(a + 8, 0, "--grace", &grace, &err))
				return store_cmd_usage_fail(usage, &err);
		} else if (!strcmp(a, "-o") && i + 1 < argc) {
			if (store_opts_parse(argv[++i], &o, false, &err))
				return store_cmd_usage_fail(usage, &err);
		} else if (!strncmp(a, "-o", 2) && a[2]) {
			if (store_opts_parse(argv[i] + 2, &o, false, &err))
				return store_cmd_usage_fail(usage, &err);
		} else if (a[0] != '-' && !verb) {
			verb = a;
		} else if (a[0] != '-' && !url) {
			url = a;
		} else {
			cfs_err_set(&err, CFS_ER_USAGE, "unexpected argument '%s'", a);
			return store_cmd_usage_fail(usage, &err);
		}
	}
	if (!verb || !url || (strcmp(verb, "list") && strcmp(verb, "gc"))) {
		cfs_err_set(&err, CFS_ER_USAGE, "store needs list or gc and an s3://BUCKET[/PREFIX] store");
		return store_cmd_usage_fail(usage, &err);
	}
	if (!strcmp(verb, "gc") && keep < 1) {
		cfs_err_set(&err, CFS_ER_USAGE, "store gc needs --keep=N (N >= 1): how many of the newest snapshots to keep");
		return store_cmd_usage_fail(usage, &err);
	}
	struct store_handle h;
	if (store_handle_open(&h, url, &o, &err)) {
		store_handle_close(&h);
		return store_cmd_fail(&err);
	}
	int rc = !strcmp(verb, "list") ? cmd_list(&h, json, &err) : cmd_gc(&h, keep, grace, dry_run, &err);
	store_handle_close(&h);
	return rc ? store_cmd_fail(&err) : 0;
}
