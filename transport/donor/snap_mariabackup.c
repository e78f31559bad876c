/* snap_mariabackup.c: the mariabackup method: `mariabackup --backup` then `--prepare` into the
 * snapshot's directory, as the authenticated user (credentials in a 0600 defaults file, never on a
 * command line), with the binary log position mariabackup recorded at its BLOCK_COMMIT stage. */
#include "transport/donor/donor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Run argv with stdout and stderr appended to log; the exit status, or -1. */
static int run_logged(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int null = open("/dev/null", O_RDONLY);
		if (fd < 0 || null < 0)
			_exit(127);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The last line of the log that says what went wrong. */
static void last_error_line(const char *log, char *out, size_t n)
{
	FILE *f = fopen(log, "re");
	char line[1024];
	snprintf(out, n, "see %s", log);
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strstr(line, "rror") || strstr(line, "FATAL") || strstr(line, "failed"))
			snprintf(out, n, "%.500s", line);
	}
	if (f)
		fclose(f);
}

void snap_read_binlog_info(const char *dir, struct wire_snap_info *info)
{
	static const char *const names[] = { "xtrabackup_binlog_info", "mariadb_backup_binlog_info" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[4200], line[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			char *save = NULL, *file = strtok_r(line, "\t ", &save), *pos = strtok_r(NULL, "\t ", &save);
			char *gtid = strtok_r(NULL, "\t ", &save);
			wire_snap_info_set(info, "binlog_file", file ? file : "");
			wire_snap_info_set(info, "binlog_pos", pos ? pos : "");
			wire_snap_info_set(info, "gtid_pos", gtid ? gtid : "");
		}
		fclose(f);
		return;
	}
}

int snap_mariabackup_take(struct snapshot *s, MYSQL *db, const char *user, const char *password,
			  struct cfs_err *err)
{
	char cnf[4200], log[4200], target[4200], datadir[4096], tdir[4300], ddir[4200], cnfopt[4300];
	int rc = -1;
	snprintf(cnf, sizeof(cnf), "%s/.mariabackup.cnf", s->dir);
	snprintf(log, sizeof(log), "%s/mariabackup.log", s->dir);
	snprintf(target, sizeof(target), "%s/data", s->dir);
	snprintf(s->root, sizeof(s->root), "%s", target);
	s->owns_root = true;
	if (donor_query1(db, "SELECT @@datadir", datadir, sizeof(datadir), err))
		return -1;

	mode_t old = umask(077);
	FILE *f = fopen(cnf, "we");
	umask(old);
	if (!f)
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "cannot write '%s': %s", cnf, strerror(errno));
	/* Option files take quoted values; a quote or backslash in the password is escaped. */
	fprintf(f, "[mariabackup]\nuser=%s\nsocket=%s\npassword=\"", user, donor_cfg.socket);
	for (const char *p = password; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputs("\"\n", f);
	fclose(f);

	snprintf(cnfopt, sizeof(cnfopt), "--defaults-file=%s", cnf);
	snprintf(tdir, sizeof(tdir), "--target-dir=%s", target);
	snprintf(ddir, sizeof(ddir), "--datadir=%s", datadir);
	char *backup[] = { "mariabackup", cnfopt, "--backup", tdir, ddir, NULL };
	/* --prepare reads the options the backup recorded (encryption plugin and key file among them). */
	char prepcnf[4300];
	snprintf(prepcnf, sizeof(prepcnf), "--defaults-file=%s/backup-my.cnf", target);
	char *prepare[] = { "mariabackup", prepcnf, "--prepare", tdir, NULL };
	int st = run_logged(backup, log);
	unlink(cnf);
	if (st != 0) {
		char why[600];
		last_error_line(log, why, sizeof(why));
		if (st == 127 || st == -1)
			snprintf(why, sizeof(why), "cannot run mariabackup (is package mariadb-backup installed?)");
		cfs_err_set(err, CFS_ER_SNAPSHOT, "mariabackup --backup failed: %s", why);
		goto out;
	}
	snap_read_binlog_info(target, &s->info);
	st = run_logged(prepare, log);
	if (st != 0) {
		char why[600];
		last_error_line(log, why, sizeof(why));
		cfs_err_set(err, CFS_ER_SNAPSHOT, "mariabackup --prepare failed: %s", why);
		goto out;
	}
	rc = 0;
out:
	return rc;
}
