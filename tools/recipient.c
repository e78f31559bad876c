/* recipient.c: the recipient's option file, server binary and settings: from the running instance
 * (libmysqlclient over its socket) when it answers, else from the binary that will start the clone
 * (mysqld --verbose --help lists every setting as its option files leave it). */
#include "tools/recipient.h"

#include <errno.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/mycnf.h"
#include "tools/spawn.h"
#include "transport/clock.h"

const char *const recipient_key_name[RK_COUNT] = {
	[RK_VERSION] = "version", [RK_OS] = "version_compile_os", [RK_MACHINE] = "version_compile_machine",
	[RK_CHARSET] = "character_set_server", [RK_COLLATION] = "collation_server",
	[RK_CHARSET_FS] = "character_set_filesystem", [RK_PAGE_SIZE] = "innodb_page_size",
	[RK_DATA_FILE_PATH] = "innodb_data_file_path", [RK_MAX_PACKET] = "max_allowed_packet",
	[RK_PLUGIN_DIR] = "plugin_dir", [RK_PLUGINS] = "plugins", [RK_COLLATIONS] = "collations",
};

enum { HELP_OUTPUT_MAX = 1 << 20 };

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

/* The binary mysqld_safe would start: [mysqld_safe] mysqld= (in ledir= when not a path), else
 * mariadbd or mysqld from PATH and the sbin directories. */
static void find_mysqld(const struct mycnf *c, struct recipient *r)
{
	const char *name = c ? mycnf_get(c, "mysqld") : NULL;
	const char *ledir = c ? mycnf_get(c, "ledir") : NULL;
	if (name && strchr(name, '/')) {
		copy(r->mysqld, sizeof(r->mysqld), name);
		return;
	}
	const char *names[] = { name, "mariadbd", "mysqld" };
	const char *dirs[] = { ledir, "/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin", "/usr/bin" };
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 5; j++) {
			if (!names[i] || !dirs[j])
				continue;
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/%s", dirs[j], names[i]);
			if (access(p, X_OK) == 0) {
				copy(r->mysqld, sizeof(r->mysqld), p);
				return;
			}
		}
}

/* "mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)" */
static void parse_version_line(const char *s, struct recipient *r)
{
	const char *ver = strstr(s, " Ver "), *for_ = strstr(s, " for "), *on = strstr(s, " on ");
	if (ver) {
		ver += 5;
		size_t n = strcspn(ver, " \n");
		snprintf(r->value[RK_VERSION], RECIPIENT_VALUE_MAX, "%.*s", (int)n, ver);
	}
	if (for_ && (!on || for_ < on)) {
		for_ += 5;
		snprintf(r->value[RK_OS], RECIPIENT_VALUE_MAX, "%.*s", (int)strcspn(for_, " \n"), for_);
	}
	if (on) {
		on += 4;
		snprintf(r->value[RK_MACHINE], RECIPIENT_VALUE_MAX, "%.*s", (int)strcspn(on, " \n"), on);
	}
}

static int from_binary(struct recipient *r, struct cfs_err *err)
{
	char defaults[PATH_MAX + 32];
	char *out = malloc(HELP_OUTPUT_MAX);
	if (!out)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	snprintf(defaults, sizeof(defaults), "--defaults-file=%s", r->defaults_file);
	/* One run: the first line of --verbose --help is the --version line ("mysqld  Ver 8.0.36 for
	 * Linux on x86_64 (...)", MariaDB's alike). */
	char *help_argv[] = { r->mysqld, defaults, "--verbose", "--help", NULL };
	if (!r->defaults_file[0]) { /* the binary's own option files */
		help_argv[1] = "--verbose";
		help_argv[2] = "--help";
		help_argv[3] = NULL;
	}
	int rc = spawn_capture(help_argv, NULL, 0, out, HELP_OUTPUT_MAX);
	char first[512];
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(out, "\n"), out);
	if (rc < 0 || !strstr(first, " Ver ")) {
		cfs_err_set(err, CFS_ER_USAGE, "the recipient's server '%s --verbose --help' %s", r->mysqld,
			    rc < 0 ? strerror(errno) : "did not print its version");
		free(out);
		return -1;
	}
	parse_version_line(first, r);
	/* After the dashed line under "Variables (--variable-name=value)": "name   value" per line. */
	char *p = strstr(out, "\n-------");
	char *line = p ? strchr(p + 1, '\n') : NULL;
	while (line && *++line) {
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = 0;
		char name[128];
		int used = 0;
		if (sscanf(line, "%127s %n", name, &used) == 1) {
			for (char *q = name; *q; q++)
				if (*q == '-')
					*q = '_';
			for (int k = 0; k < RK_COUNT; k++)
				if (k != RK_VERSION && !strcmp(name, recipient_key_name[k]))
					copy(r->value[k], RECIPIENT_VALUE_MAX, line + used);
		}
		line = eol;
	}
	free(out);
	if (!r->value[RK_PAGE_SIZE][0])
		return cfs_err_set(err, CFS_ER_USAGE, "'%s --verbose --help' did not list the server's settings", r->mysqld);
	return 0;
}

static MYSQL *connect_instance(const struct recipient *r, struct cfs_err *err)
{
	MYSQL *db = mysql_init(NULL);
	unsigned timeout = 10;
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	if (!mysql_real_connect(db, NULL, r->user[0] ? r->user : NULL, r->password[0] ? r->password : NULL, NULL, 0,
				r->socket, 0)) {
		cfs_err_set(err, (int)mysql_errno(db), "%s", mysql_error(db));
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", mysql_sqlstate(db));
		mysql_close(db);
		return NULL;
	}
	return db;
}

static int query1(MYSQL *db, const char *sql, char *out, size_t n)
{
	out[0] = 0;
	if (mysql_query(db, sql))
		return -1;
	MYSQL_RES *res = mysql_store_result(db);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	if (row && row[0])
		snprintf(out, n, "%s", row[0]);
	mysql_free_result(res);
	return 0;
}

static int from_instance(MYSQL *db, struct recipient *r)
{
	mysql_query(db, "SET SESSION group_concat_max_len = 1048576");
	char sql[256];
	for (int k = 0; k < RK_PLUGINS; k++) {
		snprintf(sql, sizeof(sql), "SELECT @@%s", recipient_key_name[k]);
		if (query1(db, sql, r->value[k], RECIPIENT_VALUE_MAX))
			return -1;
	}
	query1(db, "SELECT GROUP_CONCAT(PLUGIN_NAME ORDER BY PLUGIN_NAME) FROM information_schema.PLUGINS "
		   "WHERE PLUGIN_STATUS = 'ACTIVE'", r->value[RK_PLUGINS], RECIPIENT_VALUE_MAX);
	query1(db, "SELECT GROUP_CONCAT(COLLATION_NAME ORDER BY COLLATION_NAME) FROM information_schema.COLLATIONS",
	       r->value[RK_COLLATIONS], RECIPIENT_VALUE_MAX);
	if (!r->datadir[0])
		query1(db, "SELECT @@datadir", r->datadir, sizeof(r->datadir));
	if (!r->pid_file[0])
		query1(db, "SELECT @@pid_file", r->pid_file, sizeof(r->pid_file));
	return 0;
}

/* The recipient's option file as its server, mysqld_safe and a client read it (my_print_defaults). */
static int read_options(struct recipient *r, struct cfs_err *err)
{
	struct mycnf safe, server = { 0 }, client = { 0 }, own = { 0 };
	const char *df = r->defaults_file;
	if (mycnf_load(df, mycnf_safe_groups, NULL, &safe, err))
		return -1;
	find_mysqld(&safe, r);
	mycnf_release(&safe);
	int rc = 0;
	if (r->mysqld[0] && (mycnf_load(df, MYCNF_SERVER_GROUPS, r->mysqld, &server, err) ||
			     mycnf_load(df, mycnf_client_groups, NULL, &client, err) ||
			     mycnf_load(df, mycnf_clonefs_groups, NULL, &own, err)))
		rc = -1;
	if (rc == 0) {
		copy(r->datadir, sizeof(r->datadir), mycnf_get(&server, "datadir"));
		copy(r->socket, sizeof(r->socket), mycnf_get(&server, "socket"));
		copy(r->pid_file, sizeof(r->pid_file), mycnf_get(&server, "pid_file"));
		copy(r->user, sizeof(r->user), mycnf_get(&client, "user"));
		copy(r->password, sizeof(r->password), mycnf_get(&client, "password"));
		const char *list = mycnf_get(&own, "valid_donor_list");
		if (!list)
			list = mycnf_get(&server, "clone_valid_donor_list");
		r->has_donor_list = list != NULL;
		copy(r->valid_donor_list, sizeof(r->valid_donor_list), list);
		if (!r->socket[0])
			copy(r->socket, sizeof(r->socket), mycnf_get(&client, "socket"));
	}
	mycnf_release(&server);
	mycnf_release(&client);
	mycnf_release(&own);
	return rc;
}

int recipient_load(const char *defaults_file, struct recipient *r, struct cfs_err *err)
{
	memset(r, 0, sizeof(*r));
	if (defaults_file) {
		if (defaults_file[0] != '/' && !realpath(defaults_file, r->defaults_file))
			return cfs_err_set(err, CFS_ER_USAGE, "--recipient-defaults-file=%s: %s", defaults_file, strerror(errno));
		if (defaults_file[0] == '/')
			copy(r->defaults_file, sizeof(r->defaults_file), defaults_file);
		if (read_options(r, err))
			return -1;
	} else {
		find_mysqld(NULL, r);
	}
	if (!r->mysqld[0])
		return cfs_err_set(err, CFS_ER_USAGE, "no MariaDB or MySQL server binary found to start the clone "
				   "(install mariadb-server, or name it with mysqld= in [mysqld_safe] of the recipient's option file)");
	struct stat st;
	if (r->socket[0] && stat(r->socket, &st) == 0 && S_ISSOCK(st.st_mode)) {
		MYSQL *db = connect_instance(r, err);
		if (!db)
			return -1;
		r->running = from_instance(db, r) == 0;
		mysql_close(db);
		if (r->running)
			return 0;
	}
	return from_binary(r, err);
}

int recipient_check_privilege(const struct recipient *r, const char *priv, struct cfs_err *err)
{
	MYSQL *db = connect_instance(r, err);
	if (!db)
		return -1;
	bool ok = false;
	if (mysql_query(db, "SHOW GRANTS") == 0) {
		MYSQL_RES *res = mysql_store_result(db);
		MYSQL_ROW row;
		while (res && (row = mysql_fetch_row(res)))
			if (row[0] && (strstr(row[0], "ALL PRIVILEGES ON *.*") || (strstr(row[0], " ON *.*") && strstr(row[0], priv))))
				ok = true;
		mysql_free_result(res);
	}
	mysql_close(db);
	return ok ? 0 : cfs_err_set(err, ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR_MSG, priv);
}

int recipient_shutdown(const struct recipient *r, int timeout_s, struct cfs_err *err)
{
	MYSQL *db = connect_instance(r, err);
	if (!db)
		return -1;
	if (mysql_query(db, "SHUTDOWN")) {
		cfs_err_set(err, (int)mysql_errno(db), "%s", mysql_error(db));
		mysql_close(db);
		return -1;
	}
	mysql_close(db);
	struct stat st;
	for (int i = 0; i < timeout_s * 10; i++) {
		if (stat(r->socket, &st) != 0 && (!r->pid_file[0] || stat(r->pid_file, &st) != 0))
			return 0;
		sleep_ms(100);
	}
	return cfs_err_set(err, CFS_ER_IO, "the recipient server did not stop within %d s (socket %s)", timeout_s, r->socket);
}
