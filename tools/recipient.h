/* recipient.h: what the recipient side is, for the seed's checks: its option file (datadir, socket,
 * account, clone_valid_donor_list), its server binary, and its settings, asked of the running
 * instance when there is one, else of the binary (mysqld --verbose --help, --version). */
#ifndef CLONEFS_RECIPIENT_H
#define CLONEFS_RECIPIENT_H

#include <limits.h>
#include <stdbool.h>

#include "transport/errors.h"

enum { RECIPIENT_VALUE_MAX = 1 << 16 }; /* the list of collations is about 12 KiB */

/* The settings compared with the donor's facts (same keys as the donor's facts). */
enum recipient_key {
	RK_VERSION, RK_OS, RK_MACHINE, RK_CHARSET, RK_COLLATION, RK_CHARSET_FS, RK_PAGE_SIZE, RK_DATA_FILE_PATH,
	RK_MAX_PACKET, RK_PLUGIN_DIR, RK_PLUGINS, RK_COLLATIONS, RK_COUNT
};
extern const char *const recipient_key_name[RK_COUNT];

struct recipient {
	char defaults_file[PATH_MAX];  /* "" when none was given: the binary's own defaults */
	char mysqld[PATH_MAX];         /* the server binary that will start the clone */
	char datadir[PATH_MAX], socket[PATH_MAX], pid_file[PATH_MAX];
	char user[129], password[256]; /* [client]/[clonefs] account of the running instance */
	char valid_donor_list[1024];
	bool has_donor_list;           /* clone_valid_donor_list was set (even empty) */
	bool running;                  /* the instance answered on its socket; values are its own */
	char value[RK_COUNT][RECIPIENT_VALUE_MAX]; /* "" when unknown (RK_PLUGINS, RK_COLLATIONS offline) */
};

/* Learn the recipient from defaults_file (NULL: the server binary's defaults). 0, or -1 with err:
 * 7006 (no server binary, unreadable file), or the running instance's own error (1045). */
int recipient_load(const char *defaults_file, struct recipient *r, struct cfs_err *err);
/* The running instance's account holds priv (SHUTDOWN, ...). 0, or -1 with 1227 / a server error. */
int recipient_check_privilege(const struct recipient *r, const char *priv, struct cfs_err *err);
/* Stop the running instance cleanly (SHUTDOWN) and wait until its socket is gone. */
int recipient_shutdown(const struct recipient *r, int timeout_s, struct cfs_err *err);

#endif
