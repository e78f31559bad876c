/* snap_mariabackup.c: the mariabackup method: `mariabackup --backup` then `--prepare` into the
 * snapshot's directory, as the authenticated user (credentials in a 0600 defaults file, never on a
 * command line), with the binary log position mariabackup recorded at its BLOCK_COMMIT stage. */
#include "transport/donor/donor.h"
#include "transport/nofile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* How often the wait for mariabackup looks at the clock, the cancel flag and the log. */
#define POLL_MS 200
/* After SIGTERM, how long mariabackup gets to exit before SIGKILL. */
#define KILL_GRACE_S 10

/* "[01] 2026-11-25 05:57:25 Copying ./a/b.ibd to /state/.../b.ibd" -> "Copying ./a/b.ibd". */
static void tidy_line(char *line)
{
	char *p = line;
	if (p[0] == '[' && strchr(p, ']'))
		p = strchr(p, ']') + 1;
	while (*p == ' ')
		p++;
	/* A "YYYY-MM-DD HH:MM:SS " stamp near the start ("FATAL ERROR: 2026-11-25 06:07:03 failed ..."). */
	for (size_t i = 0; i < 16 && strlen(p + i) > 20; i++) {
		char *t = p + i;
		if (t[4] == '-' && t[7] == '-' && t[10] == ' ' && t[13] == ':' && t[16] == ':' && t[19] == ' ' &&
		    t[0] >= '0' && t[0] <= '9') {
			memmove(t, t + 20, strlen(t + 20) + 1);
			break;
		}
	}
	char *to = strstr(p, " to /");
	if (to)
		*to = 0;
	memmove(line, p, strlen(p) + 1);
}

/* The last non-empty line of the log, tidied; "" if none. */
static void log_tail(const char *log, char *out, size_t n)
{
	char buf[4096];
	out[0] = 0;
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
	ssize_t got = pread(fd, buf, sizeof(buf) - 1, from);
	close(fd);
	if (got <= 0)
		return;
	buf[got] = 0;
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
		buf[--got] = 0;
	char *last = strrchr(buf, '\n');
	last = last ? last + 1 : buf;
	tidy_line(last);
	snprintf(out, n, "%.120s", last);
}

/* The last line of the log that says what went wrong. */
static void last_error_line(const char *log, char *out, size_t n)
{
	FILE *f = fopen(log, "re");
	char line[1024];
	snprintf(out, n, "see %s", log);
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (strstr(line, "rror") || strstr(line, "FATAL") || strstr(line, "failed") || strstr(line, "Access denied")) {
			tidy_line(line);
			snprintf(out, n, "%.400s", line);
		}
	}
	if (f)
		fclose(f);
}

/* Run argv in its own process group with stdout and stderr appended to log, waiting at most until
 * deadline and while no shutdown cancels it. The exit status, or -1 + err. */
static int run_logged(char *const argv[], const char *log, time_t deadline, struct cfs_err *err)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot write '%s': %s", log, strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(fd);
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot start %s: %s", argv[0], strerror(errno));
	}
	if (pid == 0) {
		setpgid(0, 0); /* a terminal's ^C goes to clonefsd, which stops it; kill(-pid) reaches its children */
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		closefrom(3);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fd);
	setpgid(pid, pid);
	int st = 0;
	const char *why = NULL;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			st = -1;
			break;
		}
		if (snap_cancelled())
			why = "clonefsd is stopping";
		else if (time(NULL) >= deadline)
			why = "the snapshot took longer than --snapshot-timeout";
		if (why) {
			kill(-pid, SIGTERM);
			for (int i = 0; i < KILL_GRACE_S * 1000 / POLL_MS && waitpid(pid, &st, WNOHANG) == 0; i++)
				nanosleep(&(struct timespec){ .tv_nsec = POLL_MS * 1000000L }, NULL);
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			return cfs_err_set(err, CFS_ER_SNAPSHOT, "%s %s stopped: %s", argv[0], argv[2], why);
		}
		char line[160];
		log_tail(log, line, sizeof(line));
		snap_set_status(line);
		nanosleep(&(struct timespec){ .tv_nsec = POLL_MS * 1000000L }, NULL);
	}
	if (st == -1 || !WIFEXITED(st))
		return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
	return WEXITSTATUS(st);
}

int snap_parse_binlog_line(char *line, char **file, char **pos, char **gtid)
{
	line[strcspn(line, "\r\n")] = 0;
	char *f[3] = { line, NULL, NULL };
	for (int i = 1; i < 3; i++) {
		char *tab = f[i - 1] ? strchr(f[i - 1], '\t') : NULL;
		if (tab) {
			*tab = 0;
			f[i] = tab + 1;
		}
	}
	if (!*f[0] || !f[1] || !*f[1] || strspn(f[1], "0123456789") != strlen(f[1]))
		return -1;
	*file = f[0];
	*pos = f[1];
	*gtid = f[2] ? f[2] : f[1] + strlen(f[1]);
	return 0;
}

void snap_read_binlog_info(const char *dir, struct wire_snap_info *info)
{
	/* MariaDB 11 renamed mariabackup's files to mariadb_backup_*. */
	static const char *const names[] = { "xtrabackup_binlog_info", "mariadb_backup_binlog_info" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[4200], line[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		char *file, *pos, *gtid;
		if (fgets(line, sizeof(line), f) && snap_parse_binlog_line(line, &file, &pos, &gtid) == 0) {
			wire_snap_info_set(info, "binlog_file", file);
			wire_snap_info_set(info, "binlog_pos", pos);
			wire_snap_info_set(info, "gtid_pos", gtid);
		}
		fclose(f);
		return;
	}
}

int snap_cnf_quote(const char *v, char *out, size_t outsz)
{
	size_t o = 0;
	if (outsz < 3)
		return -1;
	out[o++] = '"';
	for (const char *p = v; *p; p++) {
		char esc = 0;
		switch (*p) {
		case '"': esc = '"'; break;
		case '\\': esc = '\\'; break;
		case '\n': esc = 'n'; break;
		case '\r': esc = 'r'; break;
		case '\t': esc = 't'; break;
		case '\b': esc = 'b'; break;
		default: break;
		}
		if (o + (esc ? 2 : 1) + 2 > outsz)
			return -1;
		if (esc) {
			out[o++] = '\\';
			out[o++] = esc;
		} else {
			out[o++] = *p;
		}
	}
	out[o++] = '"';
	out[o] = 0;
	return 0;
}

/* The defaults file mariabackup reads first: who to log in as, and where. 0600, in the 0700 snapshot dir. */
static int write_cnf(const char *cnf, const char *user, const char *password, const char *sock, struct cfs_err *err)
{
	char quser[2 * WIRE_USER_MAX + 8], qpw[2 * WIRE_SECRET_MAX + 8], qsock[2 * sizeof(donor_cfg.socket) + 8];
	if (snap_cnf_quote(user, quser, sizeof(quser)) || snap_cnf_quote(password, qpw, sizeof(qpw)) ||
	    snap_cnf_quote(sock, qsock, sizeof(qsock)))
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "the account name or socket path is too long for mariabackup");
	int fd = open(cnf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot write '%s': %s", cnf, strerror(errno));
	}
	fprintf(f, "[mariabackup]\nuser=%s\npassword=%s\nsocket=%s\n", quser, qpw, qsock);
	explicit_bzero(qpw, sizeof(qpw));
	int bad = ferror(f);
	if (fclose(f) || bad)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot write '%s': %s", cnf, strerror(errno));
	return 0;
}

int snap_mariabackup_take(struct snapshot *s, MYSQL *db, const char *user, const char *password,
			  struct cfs_err *err)
{
	char cnf[4200], log[4200], target[4200], datadir[4096], tdir[4300], ddir[4200], cnfopt[4300], prepcnf[4300];
	snprintf(cnf, sizeof(cnf), "%s/.mariabackup.cnf", s->dir);
	snprintf(log, sizeof(log), "%s/mariabackup.log", s->dir);
	snprintf(target, sizeof(target), "%s/data", s->dir);
	snprintf(s->root, sizeof(s->root), "%s", target);
	s->owns_root = true;
	if (donor_query1(db, "SELECT @@datadir", datadir, sizeof(datadir), err))
		return -1;
	/* mariabackup logs in as the recipient, through a relay that gives the server its address. */
	struct donor_relay *relay;
	char sock[sizeof(donor_cfg.socket)];
	if (donor_relay_start(s, &relay, sock, sizeof(sock), err))
		return -1;
	if (write_cnf(cnf, user, password, sock, err)) {
		donor_relay_stop(relay);
		return -1;
	}

	/* --defaults-file must come first; the server's datadir as it reports it. */
	snprintf(cnfopt, sizeof(cnfopt), "--defaults-file=%s", cnf);
	snprintf(tdir, sizeof(tdir), "--target-dir=%s", target);
	snprintf(ddir, sizeof(ddir), "--datadir=%s", datadir);
	/* Several copy threads: a local copy waits on the disk file by file (a 685 MiB donor: 1.3-2.5 s
	 * with one, 0.5-0.8 s with two). */
	char par[32];
	snprintf(par, sizeof(par), "--parallel=%d", donor_cfg.parallel);
	char nofile[48]; /* a file per table open at once: the limit clonefsd raised to (issue 20) */
	snprintf(nofile, sizeof(nofile), "--open-files-limit=%ld", cfs_nofile_raise());
	/* A replica donor: --slave-info records the primary's position under the same commit lock. */
	struct cfs_err ignored = { 0 };
	bool replica = donor_replica_sources(db, &s->info, &ignored) == 1;
	char *backup[] = { "mariabackup", cnfopt, "--backup", par, nofile, tdir, ddir, replica ? "--slave-info" : NULL, NULL };
	/* --prepare reads the options the backup recorded (encryption plugin and key file among them). */
	snprintf(prepcnf, sizeof(prepcnf), "--defaults-file=%s/backup-my.cnf", target);
	char *prepare[] = { "mariabackup", prepcnf, "--prepare", tdir, NULL };
	time_t deadline = time(NULL) + donor_cfg.snapshot_timeout_s;

	int st = run_logged(backup, log, deadline, err);
	donor_relay_stop(relay);
	unlink(cnf);
	if (st < 0)
		return -1;
	if (st != 0) {
		char why[600];
		last_error_line(log, why, sizeof(why));
		if (st == 127)
			snprintf(why, sizeof(why), "cannot run mariabackup (is package mariadb-backup installed?)");
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "mariabackup --backup failed: %s", why);
	}
	snap_read_binlog_info(target, &s->info);
	donor_replica_from_backup(db, target, log, &s->info);
	/* mariabackup copies the InnoDB files kept outside the datadir into the backup's root: say so. */
	struct snap_outside *o = malloc(sizeof(*o));
	if (o && snap_innodb_outside(db, datadir, o, &ignored) == 0 && o->n)
		snap_innodb_outside_fact(o, &s->info);
	free(o);
	snap_set_status("preparing the backup");
	st = run_logged(prepare, log, deadline, err);
	if (st < 0)
		return -1;
	if (st != 0) {
		char why[600];
		last_error_line(log, why, sizeof(why));
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "mariabackup --prepare failed: %s", why);
	}
	return 0;
}
