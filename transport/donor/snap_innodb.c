/* snap_innodb.c: the InnoDB files a server keeps outside its datadir (redo log, undo tablespaces,
 * system tablespace files), from its own settings; which a snapshot method holds and which it
 * cannot (the check every method calls before its lock); and their place in a clone: its data
 * directory, under their own names, as MySQL's clone puts them. */
#include "transport/donor/donor.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "transport/buf.h"

/* "ib_logfile0" (and MySQL's ib_logfile1), "undo001".."undo127": a name of that kind. */
static bool kind_match(const char *kind, const char *name)
{
	if (!strcmp(kind, "redo log"))
		return !strncmp(name, "ib_logfile", 10) && name[10] >= '0' && name[10] <= '9';
	if (!strcmp(kind, "undo tablespace"))
		return !strncmp(name, "undo", 4) && strlen(name) == 7 && strspn(name + 4, "0123456789") == 3;
	return false;
}

/* dir (a setting's value, relative to the datadir when not absolute) resolved; false when it is
 * the datadir itself (nothing outside) or does not resolve. */
static bool outside_dir(const char *datadir, const char *value, char *out, size_t n)
{
	char joined[PATH_MAX * 2], real[PATH_MAX], dd[PATH_MAX];
	if (!value || !*value)
		return false;
	if (value[0] == '/')
		snprintf(joined, sizeof(joined), "%s", value);
	else
		snprintf(joined, sizeof(joined), "%s/%s", datadir, value);
	if (!realpath(joined, real) || !realpath(datadir, dd) || !strcmp(real, dd))
		return false;
	snprintf(out, n, "%s", real);
	return true;
}

static int add(struct snap_outside *o, const char *kind, const char *name, const char *path)
{
	if (o->n >= SNAP_OUTSIDE_MAX)
		return -1;
	snprintf(o->f[o->n].kind, sizeof(o->f[0].kind), "%s", kind);
	snprintf(o->f[o->n].name, sizeof(o->f[0].name), "%s", name);
	snprintf(o->f[o->n].path, sizeof(o->f[0].path), "%s", path);
	o->n++;
	return 0;
}

/* Every file of kind in dir. */
static int add_dir(struct snap_outside *o, const char *kind, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		char path[PATH_MAX + 300];
		if (!kind_match(kind, de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		rc = add(o, kind, de->d_name, path);
	}
	closedir(d);
	return rc;
}

int snap_innodb_outside(MYSQL *db, const char *datadir, struct snap_outside *o, struct cfs_err *err)
{
	memset(o, 0, sizeof(*o));
	static const struct { const char *var, *kind; } dirs[] = {
		{ "innodb_log_group_home_dir", "redo log" },
		{ "innodb_undo_directory", "undo tablespace" },
	};
	char val[4096], dir[PATH_MAX];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char sql[96];
		struct cfs_err ignored;
		snprintf(sql, sizeof(sql), "SELECT @@GLOBAL.%s", dirs[i].var);
		if (donor_query1(db, sql, val, sizeof(val), &ignored))
			continue; /* a server without the setting keeps those files in the datadir */
		if (outside_dir(datadir, val, dir, sizeof(dir)) && add_dir(o, dirs[i].kind, dir))
			goto full;
	}
	/* The system tablespace: innodb_data_file_path's names ("ibdata1:12M:autoextend;..."), in
	 * innodb_data_home_dir (or absolute when that is empty). */
	char home[4096], path[4096];
	if (donor_query1(db, "SELECT @@GLOBAL.innodb_data_home_dir", home, sizeof(home), err) ||
	    donor_query1(db, "SELECT @@GLOBAL.innodb_data_file_path", path, sizeof(path), err))
		return -1;
	char hdir[PATH_MAX], pdir[PATH_MAX];
	bool home_out = outside_dir(datadir, home, hdir, sizeof(hdir));
	for (char *p = path, *next; p && *p; p = next) {
		next = strchr(p, ';');
		if (next)
			*next++ = 0;
		p[strcspn(p, ":")] = 0;
		char file[PATH_MAX + sizeof(path) + 2];
		if (p[0] == '/')
			snprintf(file, sizeof(file), "%s", p);
		else if (home_out)
			snprintf(file, sizeof(file), "%s/%s", hdir, p);
		else
			continue; /* in the datadir */
		char *slash = strrchr(file, '/');
		*slash = 0;
		bool out = outside_dir(datadir, *file ? file : "/", pdir, sizeof(pdir));
		*slash = '/';
		if (out && add(o, "system tablespace", slash + 1, file))
			goto full;
	}
	return 0;
full:
	return cfs_err_set(err, CFS_ER_SNAPSHOT, "more than %d InnoDB files outside the datadir", SNAP_OUTSIDE_MAX);
}

int snap_innodb_outside_check(const struct snap_outside *o, const char *holder, dev_t dev, const char *method,
			      struct cfs_err *err)
{
	size_t n = strlen(holder);
	for (size_t i = 0; i < o->n; i++) {
		struct stat st;
		const char *p = o->f[i].path;
		if (stat(p, &st) == 0 && st.st_dev == dev && !strncmp(p, holder, n) && p[n] == '/')
			continue;
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--snapshot-method=%s refused: the %s '%s' is outside '%s', so a "
				   "snapshot of it cannot include it and the clone could not start (use "
				   "--snapshot-method=mariabackup, which copies it)", method, o->f[i].kind, p, holder);
	}
	return 0;
}

void snap_innodb_outside_fact(const struct snap_outside *o, struct wire_snap_info *info)
{
	struct wbuf b;
	wbuf_init(&b, WIRE_FACT_VALUE_MAX);
	for (size_t i = 0; i < o->n; i++) {
		if (i)
			wbuf_u8(&b, ',');
		wbuf_put(&b, o->f[i].name, strlen(o->f[i].name));
		wbuf_u8(&b, '=');
		wbuf_put(&b, o->f[i].path, strlen(o->f[i].path));
	}
	wbuf_u8(&b, 0);
	if (b.over)
		donor_log("fact innodb_outside is longer than %u bytes: not sent", WIRE_FACT_VALUE_MAX);
	else
		wire_snap_info_set(info, "innodb_outside", (const char *)b.p);
	wbuf_release(&b);
}
