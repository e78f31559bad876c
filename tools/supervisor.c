/* supervisor.c: finds the recipient server's supervisor through /proc (its parent mysqld_safe, or
 * the systemd unit of its cgroup) and starts the server again through it after the data swap. */
#include "tools/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/mountinfo.h"
#include "tools/spawn.h"
#include "transport/clock.h"

static int read_small(const char *path, char *out, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, out, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	out[r] = 0;
	return (int)r;
}

/* The state letter and parent of pid, from /proc/<pid>/stat (after the command's closing ')'). */
static int proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	char *rp = strrchr(buf, ')');
	int pp = 0;
	if (!rp || sscanf(rp + 1, " %c %d", state, &pp) != 2)
		return -1;
	*ppid = (pid_t)pp;
	return 0;
}

/* Alive and not a zombie (a zombie mysqld_safe has stopped supervising). */
static bool alive(pid_t pid)
{
	char state;
	pid_t pp;
	return proc_stat(pid, &state, &pp) == 0 && state != 'Z' && state != 'X';
}

/* A pid as a pid file or systemctl writes it: digits, then only white space. 0 when it is not one. */
static pid_t parse_pid(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || v <= 0 || v > INT_MAX || end[strspn(end, " \t\r\n")])
		return 0;
	return (pid_t)v;
}

static pid_t parent_of(pid_t pid)
{
	char state;
	pid_t pp;
	return proc_stat(pid, &state, &pp) == 0 ? pp : 0;
}

int supervisor_detect(const char *pid_file, struct supervisor *s, struct cfs_err *err)
{
	memset(s, 0, sizeof(*s));
	char buf[64], path[PATH_MAX];
	if (read_small(pid_file, buf, sizeof(buf)) <= 0 || (s->server_pid = parse_pid(buf)) <= 0 || !alive(s->server_pid))
		return cfs_err_set(err, CFS_ER_USAGE, "the recipient's pid file '%s' names no running server", pid_file);
	pid_t pp = parent_of(s->server_pid);
	char comm[64] = "";
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pp);
	if (pp > 1 && read_small(path, comm, sizeof(comm)) > 0) {
		comm[strcspn(comm, "\n")] = 0;
		if (!strcmp(comm, "mysqld_safe") || !strcmp(comm, "mariadbd-safe")) {
			snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pp);
			int n = read_small(path, s->cmdline, sizeof(s->cmdline));
			ssize_t cl;
			snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pp);
			if (n > 0 && (cl = readlink(path, s->cwd, sizeof(s->cwd) - 1)) > 0) {
				s->cwd[cl] = 0;
				size_t k = 0;
				for (int i = 0; i < n && k < SUPERVISOR_ARGS_MAX; i += (int)strlen(s->cmdline + i) + 1)
					s->argv[k++] = s->cmdline + i;
				s->argv[k] = NULL;
				s->kind = SUPERVISOR_MYSQLD_SAFE;
				s->safe_pid = pp;
				return 0;
			}
		}
	}
	char cg[2048];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)s->server_pid);
	if (read_small(path, cg, sizeof(cg)) > 0) {
		char *svc = strstr(cg, ".service");
		if (svc) {
			char *start = svc;
			while (start > cg && start[-1] != '/')
				start--;
			snprintf(s->unit, sizeof(s->unit), "%.*s", (int)(svc + 8 - start), start);
			/* Only the unit whose main process is this server (not a CI runner's unit around it). */
			char out[128], unit[sizeof(s->unit)];
			snprintf(unit, sizeof(unit), "%s", s->unit);
			char *argv[] = { "systemctl", "show", "-p", "MainPID", "--value", unit, NULL };
			if (access("/run/systemd/system", F_OK) == 0 && spawn_capture(argv, NULL, 0, out, sizeof(out)) == 0 &&
			    parse_pid(out) == s->server_pid)
				s->kind = SUPERVISOR_SYSTEMD;
		}
	}
	return 0;
}

void supervisor_wait_stopped(const struct supervisor *s, int timeout_s)
{
	for (int i = 0; i < timeout_s * 10; i++) {
		if (!alive(s->server_pid) && (s->kind != SUPERVISOR_MYSQLD_SAFE || !alive(s->safe_pid)))
			return;
		sleep_ms(100);
	}
}

const char *supervisor_name(const struct supervisor *s)
{
	switch (s->kind) {
	case SUPERVISOR_MYSQLD_SAFE: return "mysqld_safe";
	case SUPERVISOR_SYSTEMD: return "systemd";
	case SUPERVISOR_NONE: break;
	}
	return "none";
}

int supervisor_restart(const struct supervisor *s, struct cfs_err *err)
{
	switch (s->kind) {
	case SUPERVISOR_NONE:
		return cfs_err_set(err, ER_RESTART_SERVER_FAILED, ER_RESTART_SERVER_FAILED_MSG,
				   "mysqld is not managed by supervisor process");
	case SUPERVISOR_SYSTEMD: {
		char out[1024], unit[sizeof(s->unit)];
		snprintf(unit, sizeof(unit), "%s", s->unit);
		char *argv[] = { "systemctl", "start", unit, NULL };
		if (spawn_capture(argv, NULL, 1, out, sizeof(out)) != 0) {
			out[strcspn(out, "\n")] = 0;
			char why[600];
			snprintf(why, sizeof(why), "systemctl start %.100s: %.400s", s->unit, out);
			return cfs_err_set(err, ER_RESTART_SERVER_FAILED, ER_RESTART_SERVER_FAILED_MSG, why);
		}
		return 0;
	}
	case SUPERVISOR_MYSQLD_SAFE:
		break;
	}
	/* mysqld_safe again, as it was started, detached from us (its own session, no terminal). */
	int rc = spawn_detached(s->argv, s->cwd);
	if (rc)
		return cfs_err_set(err, ER_RESTART_SERVER_FAILED, ER_RESTART_SERVER_FAILED_MSG, strerror(-rc));
	return 0;
}
