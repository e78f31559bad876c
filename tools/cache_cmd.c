/* cache_cmd.c: clonefs cache list|prune: the snapshot caches under cache_dir, their size on disk,
 * last use and whether a mount holds them; prune removes unmounted ones (all, the older ones, or
 * the least recently used until the total fits --max-size). A mounted cache is never touched. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/cache.h"
#include "tools/human.h"
#include "tools/commands.h"
#include "tools/rmtree.h"
#include "transport/path.h"
#include "transport/units.h"

enum { CACHE_LIST_MAX = 4096 };

static const char cache_usage[] =
	"usage: clonefs cache list  [--cache-dir=DIR]\n"
	"       clonefs cache prune [--cache-dir=DIR] [--max-size=SIZE] [--older-than=DAYS] [--dry-run]\n"
	"  list   one line per snapshot cache: id, size on disk, last used, mounted or not\n"
	"  prune  removes caches no mount holds: all of them, or those unused for DAYS, or the least\n"
	"         recently used until the rest fits in SIZE (K, M, G, T suffixes)\n";

struct entry {
	char id[256];
	uint64_t bytes;     /* allocated on disk (sparse files count what they hold) */
	time_t used;        /* its last use (cache_last_used) */
	bool mounted;
};

static uint64_t tree_bytes;

static int add_blocks(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path; (void)flag; (void)ftw;
	tree_bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

static int by_age(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return (x->used > y->used) - (x->used < y->used);
}

/* The caches under dir, oldest first. */
static size_t scan(const char *dir, struct entry *e, size_t max)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) && n < max) {
		char path[PATH_MAX];
		if (de->d_name[0] == '.' || path_join(path, sizeof(path), dir, de->d_name) ||
		    !cache_last_used(path, &e[n].used))
			continue;
		snprintf(e[n].id, sizeof(e[n].id), "%s", de->d_name);
		e[n].mounted = cache_in_use(path);
		tree_bytes = 0;
		nftw(path, add_blocks, 16, FTW_PHYS);
		e[n].bytes = tree_bytes;
		n++;
	}
	if (d)
		closedir(d);
	qsort(e, n, sizeof(*e), by_age);
	return n;
}

static int usage_err(const char *msg)
{
	fprintf(stderr, "ERROR %d (HY000): %s\n%s", CFS_ER_USAGE, msg, cache_usage);
	return 2;
}

int cmd_cache(int argc, char **argv)
{
	char dir[PATH_MAX - 256]; /* room for a cache's name and its files under it */
	cache_default_dir(dir, sizeof(dir));
	const char *verb = NULL;
	uint64_t max_size = UINT64_MAX;
	long older_days = -1;
	bool dry = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(cache_usage, stdout);
			return 0;
		} else if (!strncmp(a, "--cache-dir=", 12)) {
			if (path_fmt(dir, sizeof(dir), "%s", a + 12))
				return usage_err("--cache-dir: path too long");
		} else if (!strncmp(a, "--max-size=", 11)) {
			if (units_parse_size(a + 11, &max_size))
				return usage_err("--max-size: expected a size such as 500M or 20G");
		} else if (!strncmp(a, "--older-than=", 13)) {
			char *end;
			older_days = strtol(a + 13, &end, 10);
			if (*end || older_days < 0)
				return usage_err("--older-than: expected a number of days");
		} else if (!strcmp(a, "--dry-run")) {
			dry = true;
		} else if (!verb && (!strcmp(a, "list") || !strcmp(a, "prune"))) {
			verb = a;
		} else {
			return usage_err("unexpected argument");
		}
	}
	if (!verb)
		return usage_err("cache needs list or prune");
	static struct entry e[CACHE_LIST_MAX];
	size_t n = scan(dir, e, CACHE_LIST_MAX);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += e[i].bytes;
	char h[32], when[32];
	if (!strcmp(verb, "list")) {
		printf("%-32s %12s  %-19s  %s\n", "SNAPSHOT", "ON DISK", "LAST USED", "STATE");
		for (size_t i = 0; i < n; i++) {
			struct tm tm;
			localtime_r(&e[i].used, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			human_bytes(e[i].bytes, h, sizeof(h));
			printf("%-32s %12s  %-19s  %s\n", e[i].id, h, when, e[i].mounted ? "mounted" : "unmounted");
		}
		human_bytes(total, h, sizeof(h));
		printf("%zu caches, %s in %s\n", n, h, dir);
		return 0;
	}
	bool all = max_size == UINT64_MAX && older_days < 0;
	time_t now = time(NULL);
	size_t removed = 0;
	uint64_t freed = 0;
	for (size_t i = 0; i < n; i++) {
		bool old = older_days >= 0 && now - e[i].used > older_days * 86400;
		bool over = max_size != UINT64_MAX && total > max_size;
		if (e[i].mounted || !(all || old || over))
			continue;
		char path[PATH_MAX];
		path_join(path, sizeof(path), dir, e[i].id); /* dir and a name fit: dir is PATH_MAX - 256 at most */
		human_bytes(e[i].bytes, h, sizeof(h));
		struct cfs_err err = { 0 };
		int rc = dry ? 0 : cache_remove(path, &err);
		if (rc == -EBUSY)
			continue; /* a mount took it since the scan: it is in use, not prunable */
		if (rc) {
			cfs_err_print(&err, stderr);
			return 1;
		}
		printf("%s %s (%s)\n", dry ? "would remove" : "removed", e[i].id, h);
		total -= e[i].bytes;
		freed += e[i].bytes;
		removed++;
	}
	human_bytes(freed, h, sizeof(h));
	char left[32];
	human_bytes(total, left, sizeof(left));
	printf("%s %zu caches, %s; %s left in %s\n", dry ? "would prune" : "pruned", removed, h, left, dir);
	return 0;
}
