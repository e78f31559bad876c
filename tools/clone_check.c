/* clone_check.c: each seed prerequisite compared, donor fact against recipient value, in the order
 * MySQL's clone checks them (shared/ERRORS.md), each failure worded as MySQL words it. */
#include "tools/human.h"
#include "tools/clone_check.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static struct check_row *row(struct check_list *l, const char *what, const char *donor, const char *recipient)
{
	if (l->n == CHECK_MAX)
		l->n--; /* never reached with today's checks; the last row is reused rather than overrun */
	struct check_row *r = &l->row[l->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->what, sizeof(r->what), "%s", what);
	snprintf(r->donor, sizeof(r->donor), "%s", donor ? donor : "");
	snprintf(r->recipient, sizeof(r->recipient), "%s", recipient ? recipient : "");
	r->state = CHECK_PASS;
	return r;
}

__attribute__((format(printf, 3, 4))) static void fail(struct check_row *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfs_err_vset(&r->err, code, fmt, ap);
	va_end(ap);
	r->state = CHECK_FAIL;
}

static void skip(struct check_row *r, const char *why)
{
	snprintf(r->err.msg, sizeof(r->err.msg), "%s", why);
	r->state = CHECK_SKIP;
}

/* A donor-side error as clonefs clone shows it: inside 3862 (docs/errors.md, the wrapping rule). */
__attribute__((format(printf, 3, 4))) static void fail_donor(struct check_row *r, int inner, const char *fmt, ...)
{
	char msg[CFS_ERR_MSG_MAX], wrapped[CFS_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(wrapped, sizeof(wrapped), "%d : %.480s", inner, msg);
	fail(r, ER_CLONE_DONOR, ER_CLONE_DONOR_MSG, wrapped);
}

struct version {
	int major, minor, patch;
};

static int parse_version(const char *s, struct version *v)
{
	return sscanf(s, "%d.%d.%d", &v->major, &v->minor, &v->patch) == 3 ? 0 : -1;
}

int clone_version_rule(const char *donor_version, const char *donor_flavor, const char *recipient_version,
		       struct cfs_err *err)
{
	struct version d, r;
	bool donor_maria = !strcmp(donor_flavor, "MariaDB") || strstr(donor_version, "MariaDB");
	bool recipient_maria = strstr(recipient_version, "MariaDB") != NULL;
	bool ok = parse_version(donor_version, &d) == 0 && parse_version(recipient_version, &r) == 0 &&
		  donor_maria == recipient_maria;
	if (ok && donor_maria) {
		/* MariaDB starts a datadir of an older release series (then mariadb-upgrade); never a newer. */
		ok = r.major > d.major || (r.major == d.major && r.minor >= d.minor);
	} else if (ok) {
		/* MySQL: same major.minor; in 8.0 also the same point release unless both are 8.0.37+. */
		ok = r.major == d.major && r.minor == d.minor;
		if (ok && d.major == 8 && d.minor == 0)
			ok = d.patch == r.patch || (d.patch >= 37 && r.patch >= 37);
	}
	if (ok)
		return 0;
	return cfs_err_set(err, ER_CLONE_DONOR_VERSION, ER_CLONE_DONOR_VERSION_MSG, donor_version, recipient_version);
}

/* Is name one of the comma-separated items of list? */
static bool in_list(const char *list, const char *name, size_t n)
{
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		if (l == n && !strncasecmp(p, name, n))
			return true;
		p += l;
		if (*p)
			p++;
	}
	return false;
}

/* Each item of the donor's list must be in the recipient's; the first missing one fails with 3870
 * (plugins) or 3867 (collations). */
static void each_in(struct check_row *r, const char *donor_list, const char *recipient_list, int code)
{
	for (const char *p = donor_list; *p;) {
		size_t l = strcspn(p, ",");
		if (l && !in_list(recipient_list, p, l)) {
			char name[160];
			snprintf(name, sizeof(name), "%.*s", (int)(l < 128 ? l : 128), p);
			if (code == ER_CLONE_PLUGIN_MATCH)
				fail(r, code, ER_CLONE_PLUGIN_MATCH_MSG, name);
			else
				fail(r, code, ER_CLONE_CHARSET_MSG, name);
			return;
		}
		p += l;
		if (*p)
			p++;
	}
}

/* No running recipient: each donor plugin that comes from a library ("name=lib.so,...") must have
 * that library in the recipient server's plugin_dir (built-in plugins come with the same server
 * version, which the version rule already asks for). */
static void check_plugin_libraries(struct check_row *r, const char *list, const char *plugin_dir)
{
	unsigned n = 0;
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		const char *eq = memchr(p, '=', l);
		if (eq) {
			char path[PATH_MAX], name[160];
			int ll = (int)(p + l - eq - 1);
			snprintf(path, sizeof(path), "%.3000s/%.*s", plugin_dir, ll < 255 ? ll : 255, eq + 1);
			snprintf(name, sizeof(name), "%.*s", (int)(eq - p < 128 ? eq - p : 128), p);
			if (access(path, R_OK) != 0) {
				snprintf(r->recipient, sizeof(r->recipient), "no %.80s", path);
				fail(r, ER_CLONE_PLUGIN_MATCH, ER_CLONE_PLUGIN_MATCH_MSG, name);
				return;
			}
			n++;
		}
		p += l;
		if (*p)
			p++;
	}
	snprintf(r->recipient, sizeof(r->recipient), "%u libraries in plugin_dir", n);
}

static unsigned count_items(const char *s, char sep)
{
	unsigned n = *s ? 1 : 0;
	for (; *s; s++)
		n += *s == sep;
	return n;
}

/* The directory the data lands in, or its nearest existing ancestor (for statvfs and probes). */
static void existing_parent(const char *target, char *out, size_t n)
{
	snprintf(out, n, "%s", target);
	struct stat st;
	while (stat(out, &st) != 0 && strcmp(out, "/")) {
		char *slash = strrchr(out, '/');
		if (!slash)
			break;
		if (slash == out)
			slash[1] = 0;
		else
			*slash = 0;
	}
}

/* Hole punching, which page-compressed tablespaces need, probed with a scratch file. */
static int punch_hole_probe(const char *dir)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/.clonefs-probe-XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	static const char block[65536];
	int rc = write(fd, block, sizeof(block)) == (ssize_t)sizeof(block) ? 0 : -EIO;
	if (!rc && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, sizeof(block)))
		rc = -errno;
	close(fd);
	unlink(path);
	return rc;
}

static void check_space(const struct mountinfo *d, const struct check_target *t, struct check_list *l)
{
	uint64_t total = strtoull(mountinfo_get(d, "bytes_total"), NULL, 10), need = total;
	char dir[PATH_MAX], have_s[32], need_s[32];
	existing_parent(t->target, dir, sizeof(dir));
	struct statvfs sv;
	/* The clone's private mount hands each complete file over from its cache (D13): on the
	 * target's file system a file is renamed into place, so the data is there once, not twice. */
	human_bytes(need, need_s, sizeof(need_s));
	if (statvfs(dir, &sv)) {
		skip(row(l, "enough disk space", need_s, "?"), "statvfs failed");
		return;
	}
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	human_bytes(avail, have_s, sizeof(have_s));
	struct check_row *r = row(l, "enough disk space", need_s, have_s);
	if (avail < need)
		fail(r, ER_CLONE_DISK_SPACE, ER_CLONE_DISK_SPACE_MSG, need_s, have_s);
}

static void check_externals(const struct mountinfo *d, struct check_list *l)
{
	const char *list = mountinfo_get(d, "external_paths");
	struct check_row *r = row(l, "tablespaces outside the datadir", *list ? list : "none", "free");
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%.*s", (int)(n < PATH_MAX - 1 ? n : PATH_MAX - 1), p);
		if (access(path, F_OK) == 0) {
			snprintf(r->recipient, sizeof(r->recipient), "%.80s exists", path);
			fail(r, ER_FILE_EXISTS_ERROR, ER_FILE_EXISTS_ERROR_MSG, path);
			return;
		}
		p += n;
		if (*p)
			p++;
	}
}

static void check_undo(const struct mountinfo *d, struct check_list *l)
{
	const char *list = mountinfo_get(d, "undo_files");
	struct check_row *r = row(l, "unique undo tablespace names", *list ? list : "none", "");
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		const char *base = p;
		for (const char *q = p; q < p + n; q++)
			if (*q == '/')
				base = q + 1;
		size_t bn = (size_t)(p + n - base);
		for (const char *q = p + n; *q;) {
			q += *q == ',';
			size_t m = strcspn(q, ",");
			const char *b2 = q;
			for (const char *s = q; s < q + m; s++)
				if (*s == '/')
					b2 = s + 1;
			if ((size_t)(q + m - b2) == bn && !strncmp(base, b2, bn)) {
				char why[300];
				snprintf(why, sizeof(why), "Found multiple undo files with same name: %.*s", (int)bn, base);
				fail(r, ER_CLONE_SYS_CONFIG, ER_CLONE_SYS_CONFIG_MSG, why);
				return;
			}
			q += m;
		}
		p += n;
		if (*p)
			p++;
	}
}

void clone_checks_run(const struct mountinfo *d, const struct recipient *rc, const struct check_target *t,
		      struct check_list *l)
{
	memset(l, 0, sizeof(*l));
	const char *dv = mountinfo_get(d, "version");
	struct check_row *r = row(l, "same version series", dv, rc->value[RK_VERSION]);
	clone_version_rule(dv, mountinfo_get(d, "flavor"), rc->value[RK_VERSION], &r->err);
	if (r->err.code)
		r->state = CHECK_FAIL;

	r = row(l, "same OS", mountinfo_get(d, "version_compile_os"), rc->value[RK_OS]);
	if (strcmp(r->donor, r->recipient))
		fail(r, ER_CLONE_OS, ER_CLONE_OS_MSG, r->donor, r->recipient);
	r = row(l, "same platform", mountinfo_get(d, "version_compile_machine"), rc->value[RK_MACHINE]);
	if (strcmp(r->donor, r->recipient))
		fail(r, ER_CLONE_PLATFORM, ER_CLONE_PLATFORM_MSG, r->donor, r->recipient);

	r = row(l, "same active plugins", "", "");
	snprintf(r->donor, sizeof(r->donor), "%u active", count_items(mountinfo_get(d, "plugins"), ','));
	if (rc->running) {
		snprintf(r->recipient, sizeof(r->recipient), "%u active", count_items(rc->value[RK_PLUGINS], ','));
		each_in(r, mountinfo_get(d, "plugins"), rc->value[RK_PLUGINS], ER_CLONE_PLUGIN_MATCH);
	} else {
		check_plugin_libraries(r, mountinfo_get(d, "plugin_libraries"), rc->value[RK_PLUGIN_DIR]);
	}

	r = row(l, "donor collations available", mountinfo_get(d, "collations"), rc->running ? "" : "?");
	if (!rc->running)
		skip(r, "the recipient server is not running: its collations are known once it runs");
	else
		each_in(r, mountinfo_get(d, "collations"), rc->value[RK_COLLATIONS], ER_CLONE_CHARSET);

	static const enum recipient_key same[] = { RK_CHARSET, RK_CHARSET_FS, RK_COLLATION, RK_PAGE_SIZE };
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		const char *name = recipient_key_name[same[i]];
		r = row(l, name, mountinfo_get(d, name), rc->value[same[i]]);
		if (strcasecmp(r->donor, r->recipient))
			fail(r, ER_CLONE_CONFIG, ER_CLONE_CONFIG_MSG, name, r->donor, r->recipient);
	}
	r = row(l, "innodb_data_file_path", mountinfo_get(d, "innodb_data_file_path"), rc->value[RK_DATA_FILE_PATH]);
	unsigned dn = count_items(r->donor, ';'), rn = count_items(r->recipient, ';');
	if (rn < dn) {
		char why[200];
		snprintf(why, sizeof(why), "innodb_data_file_path: Recipient file count: %u is less than Donor file count: %u",
			 rn, dn);
		fail(r, ER_CLONE_SYS_CONFIG, ER_CLONE_SYS_CONFIG_MSG, why);
	}

	unsigned long dp = strtoul(mountinfo_get(d, "max_allowed_packet"), NULL, 10);
	unsigned long rp = strtoul(rc->value[RK_MAX_PACKET], NULL, 10);
	r = row(l, "max_allowed_packet >= 2 MiB", mountinfo_get(d, "max_allowed_packet"), rc->value[RK_MAX_PACKET]);
	if (dp < CLONE_MIN_PACKET)
		fail_donor(r, ER_CLONE_NETWORK_PACKET, ER_CLONE_NETWORK_PACKET_MSG, CLONE_MIN_PACKET, (unsigned)dp);
	else if (rp < CLONE_MIN_PACKET)
		fail(r, ER_CLONE_NETWORK_PACKET, ER_CLONE_NETWORK_PACKET_MSG, CLONE_MIN_PACKET, (unsigned)rp);

	check_undo(d, l);

	char dir[PATH_MAX];
	existing_parent(t->target, dir, sizeof(dir));
	r = row(l, "hole punching (page-compressed data)", mountinfo_get(d, "page_compressed"), dir);
	if (strcmp(r->donor, "1")) {
		skip(r, "the donor has no page-compressed table");
	} else {
		int e = punch_hole_probe(dir);
		if (e) {
			char why[PATH_MAX + 100];
			snprintf(why, sizeof(why), "the file system of '%.300s' cannot punch holes (%s), which "
				 "page-compressed tables need", dir, strerror(-e));
			fail(r, ER_CLONE_SYS_CONFIG, ER_CLONE_SYS_CONFIG_MSG, why);
		}
	}
	r = row(l, "file system block size (page-compressed)", mountinfo_get(d, "fs_block_size"), "");
	struct statvfs bsv;
	if (statvfs(dir, &bsv) == 0)
		snprintf(r->recipient, sizeof(r->recipient), "%lu", (unsigned long)bsv.f_bsize);
	if (strcmp(mountinfo_get(d, "page_compressed"), "1")) {
		skip(r, "the donor has no page-compressed table");
	} else if (!r->donor[0]) {
		skip(r, "the donor did not say its block size");
	} else if (strcmp(r->donor, r->recipient)) {
		char why[200];
		snprintf(why, sizeof(why), "file system block size: Donor value: %.20s is different from Recipient value: "
			 "%.20s (page-compressed tables are written in its units)", r->donor, r->recipient);
		fail(r, ER_CLONE_SYS_CONFIG, ER_CLONE_SYS_CONFIG_MSG, why);
	}
	check_space(d, t, l);
	check_externals(d, l);
}

const struct check_row *clone_checks_first_failure(const struct check_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->row[i].state == CHECK_FAIL)
			return &l->row[i];
	return NULL;
}
