/* supervisor.h: what restarts the recipient server after clonefs clone replaced its data: the
 * mysqld_safe that is its parent (started again with its own command line), or its systemd unit.
 * Without one, MySQL's answer: ERROR 3707 (mysqld is not managed by supervisor process). */
#ifndef CLONEFS_SUPERVISOR_H
#define CLONEFS_SUPERVISOR_H

#include <limits.h>
#include <sys/types.h>

#include "transport/errors.h"

enum supervisor_kind { SUPERVISOR_NONE, SUPERVISOR_MYSQLD_SAFE, SUPERVISOR_SYSTEMD };

enum { SUPERVISOR_CMDLINE_MAX = 8192, SUPERVISOR_ARGS_MAX = 64 };

struct supervisor {
	enum supervisor_kind kind;
	pid_t server_pid, safe_pid;
	char cmdline[SUPERVISOR_CMDLINE_MAX];   /* mysqld_safe's argv, NUL-separated */
	char *argv[SUPERVISOR_ARGS_MAX + 1];
	char cwd[PATH_MAX];
	char unit[256];                         /* systemd unit, e.g. mariadb.service */
};

/* Find the server by its pid file and what supervises it. 0 (kind may be NONE), or -1 with err
 * when the pid file names no running server. */
int supervisor_detect(const char *pid_file, struct supervisor *s, struct cfs_err *err);
/* After the server stopped: wait until mysqld_safe has noticed and exited too. */
void supervisor_wait_stopped(const struct supervisor *s, int timeout_s);
/* Start the server again through its supervisor. 0, or -1 with err (3707 for NONE). */
int supervisor_restart(const struct supervisor *s, struct cfs_err *err);
const char *supervisor_name(const struct supervisor *s);

#endif
