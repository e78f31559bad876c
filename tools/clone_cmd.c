/* clone_cmd.c: clonefs check and clonefs clone, the seed's statement: parse it, check every
 * prerequisite in MySQL's order before any byte is written, then mount, hydrate and materialize
 * into DATA DIRECTORY, or replace the recipient instance's data and restart it (DESIGN §6). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <mysql.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/clone_check.h"
#include "tools/clone_local.h"
#include "tools/clone_mount.h"
#include "tools/clone_progress.h"
#include "tools/clone_stmt.h"
#include "tools/commands.h"
#include "tools/materialize.h"
#include "tools/mountinfo.h"
#include "tools/recipient.h"
#include "tools/rmtree.h"
#include "tools/supervisor.h"
#include "transport/clock.h"
#include "transport/endpoint.h"

enum { CLONE_RESTART_WAIT_S = 300, CLONE_STOP_WAIT_S = 300, OPTS_MAX = 4096 };

static const char clone_usage[] =
	"usage: clonefs clone \"CLONE INSTANCE FROM 'user'@'host':port IDENTIFIED BY 'password'\n"
	"                      [DATA DIRECTORY [=] '/abs/dir'] [REQUIRE [NO] SSL]\" | -\n"
	"                     [--recipient-defaults-file=F] [-o MOUNT_OPTIONS] [--owner=USER] [--no-progress] [--thin]\n"
	"       clonefs clone \"CLONE LOCAL DATA DIRECTORY [=] '/abs/dir'\" | - [--defaults-file=F]\n"
	"                     [--socket=S] [--user=U] [-p | --password[=PW]]\n"
	"  '-' reads the statement from standard input (keeps the password off the command line).\n"
	"  With DATA DIRECTORY: the donor's data is copied into that new directory.\n"
	"  CLONE LOCAL: the local server (logged in to as the mysql client would: F's [client] groups, then\n"
	"  --socket, --user, -p prompting or $CLONEFS_PASSWORD) is snapshotted into the new directory by\n"
	"  reflink (XFS, btrfs; on the datadir's filesystem), ready for mysqld_safe.\n"
	"  Without it: the recipient instance of --recipient-defaults-file is stopped, its data replaced,\n"
	"  and it is started again through mysqld_safe or systemd (ERROR 3707 when it has neither).\n"
	"  --thin: after the same checks, DATA DIRECTORY becomes a writable thin clone (a clonefs mount,\n"
	"  copy-on-write over the snapshot, hydrating in the background) instead of a copy: mysqld_safe\n"
	"  starts on it at once. Its own writes are kept in .clonefs-upper-NAME beside it and the\n"
	"  snapshot's cache in .clonefs-cache-NAME (docs/thin-clones.md). Needs DATA DIRECTORY.\n";

static const char check_usage[] =
	"usage: clonefs check [USER@]HOST[:PORT] [-o MOUNT_OPTIONS] [--recipient-defaults-file=F]\n"
	"                     [--data-directory=/abs/dir]\n"
	"  Runs every clone prerequisite against the donor and the recipient without copying data and\n"
	"  prints one row each. Exit 0 when all pass, 1 (with the first failure's ERROR line) if not.\n";

/* Held while the old and new datadirs are swapped: an interrupt waits for both renames. */
static pthread_mutex_t swap_lock = PTHREAD_MUTEX_INITIALIZER;

struct clone_opts {
	const char *statement, *defaults_file, *owner, *data_directory, *donor;
	struct clone_local_login login; /* CLONE LOCAL: how to log in to the local server */
	char mount_opts[OPTS_MAX];
	bool no_progress, thin;
};

static int fail_with(const struct cfs_err *err)
{
	fflush(stdout);
	cfs_err_print(err, stderr);
	return 1;
}

static int usage_error(const char *usage, const char *msg)
{
	fprintf(stderr, "ERROR %d (HY000): %s\n%s", CFS_ER_USAGE, msg, usage);
	return 2;
}

static int parse_opts(int argc, char **argv, bool check, struct clone_opts *o)
{
	const char *usage = check ? check_usage : clone_usage;
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			exit(0);
		} else if (!strncmp(a, "--recipient-defaults-file=", 26)) {
			o->defaults_file = a + 26;
		} else if (!check && !strncmp(a, "--defaults-file=", 16)) {
			o->defaults_file = a + 16;
		} else if (!check && (!strncmp(a, "--socket=", 9) || (!strcmp(a, "-S") && i + 1 < argc))) {
			o->login.socket = a[1] == 'S' ? argv[++i] : a + 9;
		} else if (!check && (!strncmp(a, "--user=", 7) || (!strcmp(a, "-u") && i + 1 < argc))) {
			o->login.user = a[1] == 'u' ? argv[++i] : a + 7;
		} else if (!check && (!strcmp(a, "-p") || !strcmp(a, "--password"))) {
			o->login.prompt = true;
		} else if (!check && (!strncmp(a, "--password=", 11) || !strncmp(a, "-p", 2))) {
			o->login.password = a[1] == 'p' ? a + 2 : a + 11;
			fprintf(stderr, "clonefs: [Warning] Using a password on the command line interface can be insecure.\n");
		} else if (!strncmp(a, "--owner=", 8)) {
			o->owner = a + 8;
		} else if (check && !strncmp(a, "--data-directory=", 17)) {
			o->data_directory = a + 17;
		} else if (!check && !strcmp(a, "--thin")) {
			o->thin = true;
		} else if (!strcmp(a, "--no-progress")) {
			o->no_progress = true;
		} else if (!strcmp(a, "-o") && i + 1 < argc) {
			size_t n = strlen(o->mount_opts);
			snprintf(o->mount_opts + n, sizeof(o->mount_opts) - n, "%s%s", n ? "," : "", argv[++i]);
		} else if (a[0] == '-' && strcmp(a, "-")) {
			return usage_error(usage, "unknown option");
		} else if (check && !o->donor) {
			o->donor = a;
		} else if (!check && !o->statement) {
			o->statement = a;
		} else {
			return usage_error(usage, "unexpected argument");
		}
	}
	if (check ? !o->donor : !o->statement)
		return usage_error(usage, check ? "check needs the donor: [USER@]HOST[:PORT]" : "clone needs the statement");
	return 0;
}

/* Take name=value out of a comma-separated option string (the last one wins). */
static bool take_opt(char *opts, const char *name, char *out, size_t n)
{
	bool found = false;
	size_t nl = strlen(name);
	char *p = opts;
	while (*p) {
		size_t l = strcspn(p, ",");
		if (l > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			snprintf(out, n, "%.*s", (int)(l - nl - 1), p + nl + 1);
			found = true;
			memmove(p, p + l + (p[l] == ','), strlen(p + l + (p[l] == ',')) + 1);
			continue;
		}
		p += l + (p[l] == ',');
	}
	size_t len = strlen(opts);
	if (len && opts[len - 1] == ',')
		opts[len - 1] = 0;
	return found;
}

static char *read_stdin(void)
{
	size_t cap = CLONE_STMT_TEXT_MAX + 1, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return NULL;
	size_t r;
	while (n < cap && (r = fread(buf + n, 1, cap - n, stdin)) > 0)
		n += r;
	buf[n] = 0;
	return buf;
}

/* The length of a directory's name without its trailing '/'s ("/" stays "/"). */
static size_t dir_len(const char *p)
{
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	return n;
}

/* DATA DIRECTORY by the seed's rules, in MySQL's order: 1525, 1680, 1007, 3632, 1006. */
static int check_data_directory(const char *dir, const struct recipient *r, struct cfs_err *err)
{
	if (dir[0] != '/')
		return cfs_err_set(err, ER_WRONG_VALUE, ER_WRONG_VALUE_MSG, dir);
	if (strlen(dir) >= PATH_MAX - 64)
		return cfs_err_set(err, ER_PATH_LENGTH, ER_PATH_LENGTH_MSG);
	struct stat st;
	if (lstat(dir, &st) == 0)
		return cfs_err_set(err, ER_DB_CREATE_EXISTS, ER_DB_CREATE_EXISTS_MSG, dir);
	size_t dl = dir_len(r->datadir);
	if (dl && !strncmp(dir, r->datadir, dl) && (dir[dl] == '/' || dir[dl] == 0))
		return cfs_err_set(err, ER_PATH_IN_DATADIR, ER_PATH_IN_DATADIR_MSG, r->datadir);
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *pd = dirname(parent);
	if (stat(pd, &st) || !S_ISDIR(st.st_mode) || access(pd, W_OK)) {
		int e = stat(pd, &st) ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : EACCES;
		return cfs_err_set(err, ER_CANT_CREATE_DB, ER_CANT_CREATE_DB_MSG, dir, e, strerror(e));
	}
	return 0;
}

/* One clone at a time on this host (MySQL's maximum of 1): an flock held until we exit. */
static int take_clone_lock(struct cfs_err *err)
{
	char path[PATH_MAX];
	const char *dir = getenv("CLONEFS_LOCK_DIR");
	if (dir)
		snprintf(path, sizeof(path), "%s/clonefs-clone.lock", dir);
	else if (geteuid() == 0)
		snprintf(path, sizeof(path), "/run/clonefs-clone.lock");
	else
		snprintf(path, sizeof(path), "/tmp/clonefs-clone-%u.lock", (unsigned)getuid());
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cfs_err_set(err, CFS_ER_IO, "cannot open the clone lock %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return cfs_err_set(err, ER_CLONE_TOO_MANY_CONCURRENT_CLONES, ER_CLONE_TOO_MANY_CONCURRENT_CLONES_MSG, 1);
	}
	return 0; /* fd stays open: the lock lasts as long as this process */
}

static void print_table(const struct check_list *l)
{
	printf("%-38s %-28s %-28s %s\n", "PREREQUISITE", "DONOR", "RECIPIENT", "RESULT");
	for (size_t i = 0; i < l->n; i++) {
		const struct check_row *r = &l->row[i];
		const char *res = r->state == CHECK_PASS ? "pass" : r->state == CHECK_FAIL ? "FAIL" : "not checked";
		printf("%-38s %-28.28s %-28.28s %s", r->what, r->donor, r->recipient, res);
		if (r->state == CHECK_FAIL)
			printf(": ERROR %d (%s): %s", r->err.code, r->err.sqlstate, r->err.msg);
		else if (r->state == CHECK_SKIP)
			printf(" (%s)", r->err.msg);
		putchar('\n');
	}
}

/* The donor list: -o valid_donor_list=, else the recipient's clone_valid_donor_list; none is empty. */
static int check_donor_list(char *mount_opts, const struct recipient *r, const char *host, unsigned port,
			    struct cfs_err *err)
{
	char list[1024] = "";
	if (!take_opt(mount_opts, "valid_donor_list", list, sizeof(list)))
		snprintf(list, sizeof(list), "%s", r->valid_donor_list);
	struct endpoint ep = { .port = port };
	snprintf(ep.host, sizeof(ep.host), "%s", host);
	return endpoint_check_donor_list(list, &ep, err);
}

int cmd_check(int argc, char **argv)
{
	struct clone_opts o;
	int rc = parse_opts(argc, argv, true, &o);
	if (rc)
		return rc;
	struct cfs_err err = { 0 };
	struct recipient *r = calloc(1, sizeof(*r));
	struct endpoint ep;
	struct clone_mount cm = { 0 };
	struct check_list *l = calloc(1, sizeof(*l));
	char password[512], pwfile[PATH_MAX] = "", work[PATH_MAX];
	if (!r || !l) {
		cfs_err_set(&err, CFS_ER_IO, "out of memory");
		goto fail;
	}
	take_opt(o.mount_opts, "password_file", pwfile, sizeof(pwfile));
	if (endpoint_parse(o.donor, &ep, &err) || endpoint_password(pwfile[0] ? pwfile : NULL, password, sizeof(password), &err) ||
	    recipient_load(o.defaults_file, r, &err))
		goto fail;
	const char *target = o.data_directory ? o.data_directory : r->datadir;
	if (o.data_directory && check_data_directory(o.data_directory, r, &err))
		goto fail;
	if (check_donor_list(o.mount_opts, r, ep.host, ep.port, &err))
		goto fail;
	snprintf(work, sizeof(work), "%s", geteuid() == 0 ? "/run" : "/tmp");
	if (clone_mount_open(&cm, work, ep.user, ep.host, ep.port, password, o.mount_opts, false, "new", false, &err))
		goto fail;
	struct mountinfo mi;
	if (mountinfo_read(cm.mnt, &mi, &err))
		goto fail;
	struct check_target t = { .target = target[0] ? target : "/", .replace = !o.data_directory };
	clone_checks_run(&mi, r, &t, l);
	printf("donor %s:%u (%s %s), snapshot %s; recipient %s (%s)\n", ep.host, ep.port, mountinfo_get(&mi, "flavor"),
	       mountinfo_get(&mi, "version"), cm.snapshot, r->mysqld, r->running ? "running" : "not running");
	print_table(l);
	mountinfo_release(&mi);
	clone_mount_close(&cm);
	const struct check_row *bad = clone_checks_first_failure(l);
	rc = bad ? fail_with(&bad->err) : 0;
	free(r);
	free(l);
	return rc;
fail:
	clone_mount_close(&cm);
	free(r);
	free(l);
	return fail_with(&err);
}

/* Two spellings of one directory ("/var/lib/mysql/" from @@datadir, "/var/lib/mysql" from my.cnf). */
static bool same_dir(const char *a, const char *b)
{
	size_t la = dir_len(a), lb = dir_len(b);
	return la == lb && !strncmp(a, b, la);
}

/* The donor is the recipient instance itself (MySQL's 3871): the same datadir on this very host. */
static bool is_self(const struct mountinfo *mi, const struct recipient *r, const char *host)
{
	char me[256] = "";
	gethostname(me, sizeof(me) - 1);
	bool local = !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "::1") ||
		     !strcmp(mountinfo_get(mi, "hostname"), me);
	return local && same_dir(mountinfo_get(mi, "datadir"), r->datadir);
}

static int owner_of(const char *path, char *out, size_t n)
{
	struct stat st;
	struct passwd *pw;
	if (stat(path, &st) || !(pw = getpwuid(st.st_uid)))
		return -1;
	snprintf(out, n, "%s", pw->pw_name);
	return 0;
}

/* The recipient answers on its socket again: the RECOVERY stage is over. */
static int wait_server(const struct recipient *r, int timeout_s)
{
	for (int i = 0; i < timeout_s * 2; i++) {
		MYSQL *db = mysql_init(NULL);
		unsigned t = 2;
		mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &t);
		bool ok = mysql_real_connect(db, NULL, r->user[0] ? r->user : NULL, r->password[0] ? r->password : NULL,
					     NULL, 0, r->socket, 0) != NULL;
		mysql_close(db);
		if (ok)
			return 0;
		sleep_ms(500);
	}
	return -1;
}

/* Swap the new data in and start the server through its supervisor. */
static int replace_and_restart(const struct recipient *r, const char *new_dir, struct clone_progress *p,
			       struct cfs_err *err)
{
	struct supervisor sup;
	if (supervisor_detect(r->pid_file, &sup, err))
		return -1;
	char old_dir[PATH_MAX + 32];
	clone_progress_stage(p, CS_DROP_DATA, CSS_IN_PROGRESS);
	if (recipient_shutdown(r, CLONE_STOP_WAIT_S, err))
		return -1;
	supervisor_wait_stopped(&sup, CLONE_STOP_WAIT_S);
	const char *dd = r->datadir; /* without its trailing '/': cmd_clone cut it */
	snprintf(old_dir, sizeof(old_dir), "%s.clonefs-old", dd);
	pthread_mutex_lock(&swap_lock);
	bool swapped = rename(dd, old_dir) == 0 && rename(new_dir, dd) == 0;
	pthread_mutex_unlock(&swap_lock);
	if (!swapped) {
		int e = errno;
		return cfs_err_set(err, CFS_ER_IO, "cannot swap %s into %s: %s (the old data is in %s)", new_dir, dd,
				   strerror(e), access(dd, F_OK) ? old_dir : dd);
	}
	clone_progress_stage(p, CS_DROP_DATA, CSS_COMPLETED);
	clone_progress_stage(p, CS_RESTART, CSS_IN_PROGRESS);
	if (supervisor_restart(&sup, err)) {
		printf("the donor's data is in place in %s (the old data in %s): start the server by hand\n", dd, old_dir);
		return -1;
	}
	clone_progress_stage(p, CS_RESTART, CSS_COMPLETED);
	clone_progress_stage(p, CS_RECOVERY, CSS_IN_PROGRESS);
	if (wait_server(r, CLONE_RESTART_WAIT_S)) {
		char why[PATH_MAX + 100];
		snprintf(why, sizeof(why), "the server did not answer on %s within %d s after %s started it", r->socket,
			 CLONE_RESTART_WAIT_S, supervisor_name(&sup));
		return cfs_err_set(err, ER_RESTART_SERVER_FAILED, ER_RESTART_SERVER_FAILED_MSG, why);
	}
	clone_progress_stage(p, CS_RECOVERY, CSS_COMPLETED);
	rm_tree(old_dir);
	return 0;
}

/* Ctrl-C, SIGTERM or SIGHUP while a clone runs: the private mount is unmounted, the scratch and the
 * partial copy removed, the progress says Failed, and the DBA sees MySQL's 1317 (as after KILL
 * QUERY). The signals are blocked everywhere else and taken here with sigwait, so the cleanup runs
 * in an ordinary thread rather than a signal handler. */
struct interrupt_ctx {
	sigset_t set;
	pthread_mutex_t lock;        /* guards mnt and cache, copied from the clone's mount when made */
	char mnt[PATH_MAX], cache[PATH_MAX];
	struct clone_progress *p;
	char partial[PATH_MAX + 64];
};

/* Tell the interrupt thread where the private mount and its cache are. */
static void note_scratch(struct interrupt_ctx *ic, const struct clone_mount *cm)
{
	pthread_mutex_lock(&ic->lock);
	snprintf(ic->mnt, sizeof(ic->mnt), "%s", cm->mnt);
	snprintf(ic->cache, sizeof(ic->cache), "%s", cm->cache);
	pthread_mutex_unlock(&ic->lock);
}

static void *interrupt_main(void *arg)
{
	struct interrupt_ctx *ic = arg;
	int sig;
	if (sigwait(&ic->set, &sig))
		return NULL;
	pthread_mutex_lock(&swap_lock);
	/* From here the main thread's reads fail as the mount goes: its words are not the DBA's answer. */
	fflush(stdout);
	int errfd = dup(2), nul = open("/dev/null", O_WRONLY);
	if (nul >= 0) {
		dup2(nul, 1);
		dup2(nul, 2);
	}
	struct cfs_err err;
	cfs_err_set(&err, ER_QUERY_INTERRUPTED, ER_QUERY_INTERRUPTED_MSG);
	clone_progress_interrupted(ic->p, &err);
	pthread_mutex_lock(&ic->lock);
	clone_mount_remove_paths(ic->mnt, ic->cache);
	pthread_mutex_unlock(&ic->lock);
	if (ic->partial[0])
		rm_tree(ic->partial);
	FILE *f = errfd >= 0 ? fdopen(errfd, "w") : NULL;
	if (f)
		cfs_err_print(&err, f), fflush(f);
	_exit(1);
}

static void catch_interrupts(struct interrupt_ctx *ic, const char *target)
{
	if (materialize_partial_path(target, ic->partial, sizeof(ic->partial)))
		ic->partial[0] = 0; /* target is shorter than PATH_MAX - 64 (check_data_directory) */
	sigemptyset(&ic->set);
	sigaddset(&ic->set, SIGINT);
	sigaddset(&ic->set, SIGTERM);
	sigaddset(&ic->set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &ic->set, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, interrupt_main, ic) == 0)
		pthread_detach(t);
}

/* A thin clone's upper and cache, beside DATA DIRECTORY (D35). */
static void thin_paths(const char *target, const char *work, char *upper, char *cache, size_t n)
{
	char copy[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", target);
	const char *name = basename(copy);
	snprintf(cache, n, "%.2000s/.clonefs-cache-%.1000s", work, name);
	snprintf(upper, n, "%.2000s/.clonefs-upper-%.1000s", work, name);
}

/* An earlier thin clone of the same name left its upper (its own writes) or cache: never reused or
 * removed by a new clone. */
static int thin_paths_free(const char *target, const char *work, struct cfs_err *err)
{
	char upper[PATH_MAX], cache[PATH_MAX];
	thin_paths(target, work, upper, cache, sizeof(upper));
	const char *both[] = { upper, cache };
	for (int i = 0; i < 2; i++)
		if (access(both[i], F_OK) == 0)
			return cfs_err_set(err, CFS_ER_USAGE, "'%s' exists (left by an earlier thin clone of that name): "
					   "remove it, or choose another DATA DIRECTORY", both[i]);
	return 0;
}

/* clonefs clone --thin, after every check passed: the checked snapshot mounted writable at target
 * (docs/thin-clones.md), its cache and upper beside it, kept for the clone's life. */
static int thin_clone(struct clone_mount *cm, const struct clone_stmt *st, const struct clone_opts *o,
		      const char *target, const char *work, const char *owner, struct clone_progress *p,
		      struct cfs_err *err)
{
	char snapshot[128], opts[OPTS_MAX + 128];
	snprintf(snapshot, sizeof(snapshot), "%s", cm->snapshot);
	clone_mount_close(cm); /* the check's private mount and its empty cache */
	static struct clone_mount t;
	memset(&t, 0, sizeof(t));
	snprintf(t.mnt, sizeof(t.mnt), "%s", target);
	thin_paths(target, work, t.upper, t.cache, sizeof(t.upper));
	if (thin_paths_free(target, work, err))
		return -1;
	snprintf(opts, sizeof(opts), "owner=%s%s%s", owner, o->mount_opts[0] ? "," : "", o->mount_opts);
	if (mkdir(target, 0750))
		return cfs_err_set(err, CFS_ER_IO, "cannot create '%s': %s", target, strerror(errno));
	if (mkdir(t.cache, 0700)) {
		cfs_err_set(err, CFS_ER_IO, "cannot create '%s': %s", t.cache, strerror(errno));
		rmdir(target);
		return -1;
	}
	clone_progress_stage(p, CS_FILE_COPY, CSS_IN_PROGRESS);
	if (clone_mount_open(&t, work, st->user, st->host, st->port, st->password, opts, true, snapshot, true, err)) {
		rmdir(target);
		rm_tree(t.cache);
		rm_tree(t.upper);
		return -1;
	}
	/* The binlog position travels with the clone, as a materialized one has it. */
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/clonefs_binlog_info", target);
	FILE *f = fopen(path, "w");
	struct passwd *pw = getpwnam(owner);
	if (f) {
		pthread_mutex_lock(&p->lock);
		fprintf(f, "%s\t%s\t%s\n", p->binlog_file, p->binlog_pos, p->gtid);
		pthread_mutex_unlock(&p->lock);
		if (fflush(f) || fsync(fileno(f)) || (pw && fchown(fileno(f), pw->pw_uid, pw->pw_gid)))
			fprintf(stderr, "clonefs: [Warning] cannot write %s: %s\n", path, strerror(errno));
		fclose(f);
	}
	clone_progress_stage(p, CS_FILE_COPY, CSS_COMPLETED);
	clone_progress_stage(p, CS_FILE_SYNC, CSS_COMPLETED);
	printf("thin clone of snapshot %s mounted at %s (its own writes in %s)\n", snapshot, target, t.upper);
	printf("start it with: mysqld_safe --datadir=%s\n", target);
	return 0;
}

int cmd_clone(int argc, char **argv)
{
	struct clone_opts o;
	int rc = parse_opts(argc, argv, false, &o);
	if (rc)
		return rc;
	struct cfs_err err = { 0 };
	struct clone_stmt st = { 0 };
	struct clone_mount cm = { 0 };
	struct recipient *r = calloc(1, sizeof(*r));
	struct check_list *l = calloc(1, sizeof(*l));
	struct clone_progress *p = calloc(1, sizeof(*p));
	char *text = NULL;
	if (!r || !l || !p) {
		cfs_err_set(&err, CFS_ER_IO, "out of memory");
		goto fail;
	}
	if (!strcmp(o.statement, "-")) {
		if (!(text = read_stdin())) {
			cfs_err_set(&err, CFS_ER_IO, "out of memory");
			goto fail;
		}
	}
	const char *stmt = text ? text : o.statement;
	size_t len = strlen(stmt);
	while (len && (stmt[len - 1] == '\n' || stmt[len - 1] == '\r' || stmt[len - 1] == ' ' || stmt[len - 1] == '\t'))
		len--; /* as the mysql client sends it: without the line's end */
	if (clone_stmt_parse(stmt, len, &st, &err))
		goto fail;
	if (!text && !st.local) /* CLONE LOCAL has no password in it */
		fprintf(stderr, "clonefs: [Warning] Using a password on the command line interface can be insecure.\n");
	if (st.local) { /* the local server into DATA DIRECTORY, by reflink (tools/clone_local.c) */
		if (clone_local_login(o.defaults_file, &o.login, r, &err) || check_data_directory(st.data_dir, r, &err) ||
		    take_clone_lock(&err) || clone_local_run(r, st.data_dir, &err))
			goto fail;
		rc = 0;
		goto out;
	}
	if (recipient_load(o.defaults_file, r, &err))
		goto fail;
	bool replace = st.data_dir == NULL;
	if (replace && o.thin) {
		cfs_err_set(&err, CFS_ER_USAGE, "a thin clone (--thin) needs DATA DIRECTORY: it is a mount at that directory, "
			    "and without it clonefs clone would replace the running instance's own data directory, which "
			    "a mount that lives beside the server cannot take the place of");
		goto fail;
	}
	char target[PATH_MAX], work[PATH_MAX], owner[64] = "";
	/* 1. Privileges and DATA DIRECTORY. */
	if (replace) {
		if (!o.defaults_file) {
			cfs_err_set(&err, CFS_ER_USAGE, "without DATA DIRECTORY clonefs clone replaces the data of the recipient "
				    "instance named by --recipient-defaults-file=F; give it, or a DATA DIRECTORY");
			goto fail;
		}
		if (!r->running) {
			cfs_err_set(&err, CFS_ER_USAGE, "the recipient server (socket '%s') is not running: its data is replaced "
				    "only while it runs, as MySQL's clone does", r->socket);
			goto fail;
		}
		if (recipient_check_privilege(r, "SHUTDOWN", &err))
			goto fail;
		r->datadir[dir_len(r->datadir)] = 0;
		snprintf(target, sizeof(target), "%.4000s.clonefs-new", r->datadir);
		if (owner_of(r->datadir, owner, sizeof(owner)))
			snprintf(owner, sizeof(owner), "mysql");
	} else {
		if (check_data_directory(st.data_dir, r, &err))
			goto fail;
		snprintf(target, sizeof(target), "%s", st.data_dir);
		snprintf(owner, sizeof(owner), "%s", o.owner ? o.owner : "mysql");
	}
	char tcopy[PATH_MAX];
	snprintf(tcopy, sizeof(tcopy), "%s", target);
	snprintf(work, sizeof(work), "%s", dirname(tcopy)); /* scratch beside the target, on its file system */
	if (o.thin && thin_paths_free(target, work, &err))
		goto fail;
	/* 2. Donor list, 3. one clone at a time. */
	if (check_donor_list(o.mount_opts, r, st.host, st.port, &err) || take_clone_lock(&err))
		goto fail;
	pthread_mutex_init(&p->lock, NULL);
	clone_progress_path(p->path, sizeof(p->path));
	snprintf(p->source, sizeof(p->source), "%s:%u", st.host, st.port);
	snprintf(p->destination, sizeof(p->destination), "%s", replace ? r->datadir : target);
	static struct interrupt_ctx ic;
	pthread_mutex_init(&ic.lock, NULL);
	ic.p = p;
	catch_interrupts(&ic, target);
	/* REQUIRE [NO] SSL decides over any ssl_mode= in -o. */
	char ignored[128];
	take_opt(o.mount_opts, "ssl_mode", ignored, sizeof(ignored));
	take_opt(o.mount_opts, "snapshot", ignored, sizeof(ignored)); /* always a new one */
	size_t ol = strlen(o.mount_opts);
	snprintf(o.mount_opts + ol, sizeof(o.mount_opts) - ol, "%sssl_mode=%s", ol ? "," : "",
		 st.ssl == CLONE_SSL_REQUIRED ? "required" : st.ssl == CLONE_SSL_NONE ? "disabled" : "preferred");
	/* 4. Connect and authenticate (a snapshot is made), 5. compare, all before writing. */
	clone_progress_stage(p, CS_SNAPSHOT, CSS_IN_PROGRESS);
	if (clone_mount_open(&cm, work, st.user, st.host, st.port, st.password, o.mount_opts, false, "new", true, &err))
		goto fail;
	note_scratch(&ic, &cm);
	struct mountinfo mi;
	if (mountinfo_read(cm.mnt, &mi, &err))
		goto fail;
	if (replace && is_self(&mi, r, st.host)) {
		mountinfo_release(&mi);
		cfs_err_set(&err, ER_CLONE_LOOPBACK, ER_CLONE_LOOPBACK_MSG);
		goto fail;
	}
	struct check_target t = { .target = target, .replace = replace };
	clone_checks_run(&mi, r, &t, l);
	pthread_mutex_lock(&p->lock);
	snprintf(p->binlog_file, sizeof(p->binlog_file), "%s", mountinfo_get(&mi, "binlog_file"));
	snprintf(p->binlog_pos, sizeof(p->binlog_pos), "%s", mountinfo_get(&mi, "binlog_pos"));
	snprintf(p->gtid, sizeof(p->gtid), "%s", mountinfo_get(&mi, "gtid_pos"));
	p->stage[CS_FILE_COPY].estimate = strtoull(mountinfo_get(&mi, "bytes_total"), NULL, 10);
	pthread_mutex_unlock(&p->lock);
	mountinfo_release(&mi);
	const struct check_row *bad = clone_checks_first_failure(l);
	if (bad) {
		err = bad->err;
		goto fail;
	}
	clone_progress_stage(p, CS_SNAPSHOT, CSS_COMPLETED);
	if (o.thin) {
		rc = thin_clone(&cm, &st, &o, target, work, owner, p, &err) ? fail_with(&err) : 0;
		goto out;
	}
	/* 6. Hydrate (the same snapshot, now prefetching) and copy out. */
	char snapshot[128];
	snprintf(snapshot, sizeof(snapshot), "%s", cm.snapshot);
	clone_mount_unmount(&cm);
	if (clone_mount_open(&cm, work, st.user, st.host, st.port, st.password, o.mount_opts, true, snapshot, true, &err))
		goto fail;
	clone_progress_stage(p, CS_FILE_COPY, CSS_IN_PROGRESS);
	struct materialize_opts mo = { .mount = cm.mnt, .clone_dir = target, .owner = owner,
				       .progress = !o.no_progress && isatty(2) };
	int mrc = materialize(&mo, &err);
	clone_mount_close(&cm);
	if (mrc) {
		rm_tree(ic.partial); /* a clone starts over from a new snapshot: its partial copy is of no use */
		goto fail;
	}
	pthread_mutex_lock(&p->lock);
	p->stage[CS_FILE_COPY].data = p->stage[CS_FILE_COPY].estimate;
	pthread_mutex_unlock(&p->lock);
	clone_progress_stage(p, CS_FILE_COPY, CSS_COMPLETED);
	clone_progress_stage(p, CS_FILE_SYNC, CSS_COMPLETED); /* materialize made it all durable (syncfs) */
	if (replace && replace_and_restart(r, target, p, &err))
		goto fail;
	rc = 0;
	goto out;
fail:
	if (p && p->path[0])
		clone_progress_fail(p, &err);
	rc = fail_with(&err);
out:
	clone_mount_close(&cm);
	clone_stmt_release(&st);
	free(text);
	free(r);
	free(l);
	free(p);
	return rc;
}
