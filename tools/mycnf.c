/* mycnf.c: the recipient server's effective options through my_print_defaults (mycnf.h). */
#include "tools/mycnf.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/spawn.h"
#include "transport/path.h"

const char *const mycnf_safe_groups[] = { "mysqld_safe", "safe_mysqld", "mariadb-safe", "mariadbd-safe", NULL };
const char *const mycnf_client_groups[] = { "client", "clonefs", NULL };
const char *const mycnf_clonefs_groups[] = { "clonefs", NULL };

enum { GROUPS_MAX = 16 };

static int add(struct mycnf *c, const char *name, size_t nlen, const char *value, struct cfs_err *err)
{
	if (c->n == MYCNF_MAX_OPTIONS)
		return cfs_err_set(err, CFS_ER_USAGE, "more than %d options in the option files", MYCNF_MAX_OPTIONS);
	if (nlen > 6 && !strncmp(name, "loose", 5) && (name[5] == '-' || name[5] == '_')) {
		name += 6;
		nlen -= 6;
	}
	c->name[c->n] = strndup(name, nlen);
	c->value[c->n] = strdup(value);
	if (!c->name[c->n] || !c->value[c->n]) {
		free(c->name[c->n]);
		free(c->value[c->n]);
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	}
	for (char *p = c->name[c->n]; *p; p++)
		if (*p == '-')
			*p = '_';
	c->n++;
	return 0;
}

int mycnf_parse(const char *text, struct mycnf *c, struct cfs_err *err)
{
	memset(c, 0, sizeof(*c));
	for (const char *line = text; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len > 2 && line[0] == '-' && line[1] == '-') {
			const char *name = line + 2, *eq = memchr(name, '=', len - 2);
			size_t nlen = eq ? (size_t)(eq - name) : len - 2;
			char *value = eq ? strndup(eq + 1, len - 2 - nlen - 1) : strdup("");
			int rc = !value ? cfs_err_set(err, CFS_ER_IO, "out of memory")
			       : nlen ? add(c, name, nlen, value, err) : 0;
			free(value);
			if (rc) {
				mycnf_release(c);
				return -1;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	return 0;
}


/* MySQL's my_print_defaults (it refused --mysqld) masks passwords unless given --show, which
 * MariaDB's refuses: set once the server's groups have been read. */
static bool mysql_tool;

/* Run my_print_defaults [--defaults-file=F] [--show] ARGS...: its exit status, its output in out. */
static int print_defaults(const char *defaults_file, const char *const *args, size_t nargs, char *out, size_t cap)
{
	char buf[GROUPS_MAX + 2][PATH_MAX + 32];
	char *argv[GROUPS_MAX + 4];
	size_t k = 0;
	snprintf(buf[k], sizeof(buf[k]), "my_print_defaults");
	argv[k] = buf[k];
	k++;
	if (defaults_file) {
		if (path_fmt(buf[k], sizeof(buf[k]), "--defaults-file=%s", defaults_file)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		argv[k] = buf[k];
		k++;
	}
	if (mysql_tool) {
		snprintf(buf[k], sizeof(buf[k]), "--show");
		argv[k] = buf[k];
		k++;
	}
	for (size_t i = 0; i < nargs && k <= GROUPS_MAX; i++, k++) {
		snprintf(buf[k], sizeof(buf[k]), "%s", args[i]);
		argv[k] = buf[k];
	}
	argv[k] = NULL;
	return spawn_capture(argv, NULL, 1, out, cap);
}

/* The groups the server binary reads, named from its version ("mysqld  Ver 8.0.36 for Linux ..."):
 * mysqld, server, mysqld-8.0; MariaDB's mariadb, mariadbd, client-server and their version groups. */
static int server_groups(const char *defaults_file, const char *server_binary, char *out)
{
	char bin[PATH_MAX];
	snprintf(bin, sizeof(bin), "%s", server_binary);
	char *vargv[] = { bin, "--version", NULL };
	unsigned major = 0, minor = 0;
	const char *ver = spawn_capture(vargv, NULL, 0, out, MYCNF_OUTPUT_MAX) == 0 ? strstr(out, " Ver ") : NULL;
	bool mariadb = ver && strstr(ver, "MariaDB");
	bool versioned = ver && sscanf(ver, " Ver %u.%u", &major, &minor) == 2;
	char g[3][48];
	snprintf(g[0], sizeof(g[0]), "mysqld-%u.%u", major, minor);
	snprintf(g[1], sizeof(g[1]), "mariadb-%u.%u", major, minor);
	snprintf(g[2], sizeof(g[2]), "mariadbd-%u.%u", major, minor);
	const char *args[GROUPS_MAX];
	size_t n = 0;
	args[n++] = "mysqld";
	args[n++] = "server";
	if (versioned)
		args[n++] = g[0];
	if (mariadb) {
		args[n++] = "mariadb";
		args[n++] = "mariadbd";
		args[n++] = "client-server";
		if (versioned)
			args[n++] = g[1], args[n++] = g[2];
	}
	return print_defaults(defaults_file, args, n, out, MYCNF_OUTPUT_MAX);
}

int mycnf_load(const char *defaults_file, const char *const *groups, const char *server_binary, struct mycnf *c,
	       struct cfs_err *err)
{
	memset(c, 0, sizeof(*c));
	char *out = malloc(MYCNF_OUTPUT_MAX);
	if (!out)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	const char *args[GROUPS_MAX];
	size_t n = 0;
	int rc;
	if (groups) {
		while (groups[n] && n < GROUPS_MAX)
			args[n] = groups[n], n++;
		rc = print_defaults(defaults_file, args, n, out, MYCNF_OUTPUT_MAX);
	} else {
		/* MariaDB's my_print_defaults knows the server's groups (its version groups too). */
		args[0] = "--mysqld";
		rc = print_defaults(defaults_file, args, 1, out, MYCNF_OUTPUT_MAX);
		if (rc > 0 && strstr(out, "--mysqld") && server_binary) { /* MySQL's: name the groups */
			mysql_tool = true;
			rc = server_groups(defaults_file, server_binary, out);
		}
	}
	if (rc != 0) {
		int e = errno;
		out[strcspn(out, "\n")] = 0;
		cfs_err_set(err, CFS_ER_USAGE, "cannot read the option file%s%s: my_print_defaults %s",
			    defaults_file ? " " : "s", defaults_file ? defaults_file : "",
			    rc < 0 ? strerror(e) : out[0] ? out : "failed");
		free(out);
		return -1;
	}
	rc = mycnf_parse(out, c, err);
	free(out);
	return rc;
}

const char *mycnf_get(const struct mycnf *c, const char *name)
{
	const char *found = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const char *a = c->name[i], *b = name;
		while (*a && (*a == *b || (*a == '_' && *b == '-')))
			a++, b++;
		if (!*a && !*b)
			found = c->value[i];
	}
	return found;
}

void mycnf_release(struct mycnf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->name[i]);
		free(c->value[i]);
	}
	memset(c, 0, sizeof(*c));
}
