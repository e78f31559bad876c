/* test_mycnf.c: the recipient's option file as its server reads it (tools/mycnf.c): the parse of
 * my_print_defaults's lines, and the real my_print_defaults on files with the server's groups,
 * quotes, loose- prefixes, !include and !includedir, where the last value wins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/tap.h"
#include "tools/mycnf.h"

static void test_parse(void)
{
	struct mycnf c;
	struct cfs_err err;
	const char *t = "--datadir=/a\n--socket=/s\nWarning: World-writable config file is ignored\n"
			"--loose-clone-valid-donor-list=h:1,h:2\n--skip-grant-tables\n--init-connect=SET x=1\n"
			"--datadir=/b\n--pid_file=/p\n-x\n--=v\n--loose-=v2\n--";
	CHECK(mycnf_parse(t, &c, &err) == 0);
	CHECK(mycnf_get(&c, "datadir") && !strcmp(mycnf_get(&c, "datadir"), "/b")); /* the last wins */
	CHECK(mycnf_get(&c, "socket") && !strcmp(mycnf_get(&c, "socket"), "/s"));
	CHECK(mycnf_get(&c, "clone_valid_donor_list") && !strcmp(mycnf_get(&c, "clone_valid_donor_list"), "h:1,h:2"));
	CHECK(mycnf_get(&c, "clone-valid-donor-list") != NULL);
	CHECK(mycnf_get(&c, "skip_grant_tables") && !strcmp(mycnf_get(&c, "skip_grant_tables"), ""));
	CHECK(mycnf_get(&c, "init_connect") && !strcmp(mycnf_get(&c, "init_connect"), "SET x=1"));
	CHECK(mycnf_get(&c, "pid_file") && !strcmp(mycnf_get(&c, "pid-file"), "/p"));
	CHECK(mycnf_get(&c, "Warning: World") == NULL && mycnf_get(&c, "x") == NULL);
	CHECK(mycnf_get(&c, "data") == NULL && mycnf_get(&c, "datadirx") == NULL);
	mycnf_release(&c);
	CHECK(mycnf_parse("", &c, &err) == 0 && c.n == 0);
	/* More options than it keeps: an error, not a silent cut. */
	char *many = malloc((MYCNF_MAX_OPTIONS + 1) * 6 + 1);
	for (int i = 0; i <= MYCNF_MAX_OPTIONS; i++)
		memcpy(many + i * 6, "--a=1\n", 6);
	many[(MYCNF_MAX_OPTIONS + 1) * 6] = 0;
	CHECK(mycnf_parse(many, &c, &err) == -1 && err.code == 7006 && c.n == 0);
	free(many);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_my_print_defaults(void)
{
	char dir[] = "/tmp/clonefs-test-mycnf.XXXXXX", path[256], inc[256], incdir[256], text[1024];
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	snprintf(inc, sizeof(inc), "%s/inc.cnf", dir);
	snprintf(incdir, sizeof(incdir), "%s/conf.d", dir);
	mkdir(incdir, 0755);
	put(inc, "[mysqld]\nsocket=/from/include\n");
	snprintf(path, sizeof(path), "%s/conf.d/z.cnf", dir);
	put(path, "[mariadbd]\npid-file = /from/includedir\n");
	snprintf(path, sizeof(path), "%s/my.cnf", dir);
	snprintf(text, sizeof(text),
		 "[client]\nuser=root\npassword = \"p w#x\"\n"
		 "[mysqld]\ndatadir=/first\nsocket=/first.sock\n# a comment\n"
		 "[mysqld_safe]\nledir=/opt/bin\nmysqld=mariadbd\n"
		 "[mysql]\ndatadir=/not/a/server/group\n"
		 "!include %s\n!includedir %s\n"
		 "[client-server]\ndatadir=/last   # trailing\n"
		 "[clonefs]\nvalid_donor_list=127.0.0.1:1\n", inc, incdir);
	put(path, text);
	struct mycnf c;
	struct cfs_err err;
	CHECK(mycnf_load(path, MYCNF_SERVER_GROUPS, "/usr/sbin/mariadbd", &c, &err) == 0);
	CHECK(mycnf_get(&c, "datadir") && !strcmp(mycnf_get(&c, "datadir"), "/last"));
	CHECK(mycnf_get(&c, "socket") && !strcmp(mycnf_get(&c, "socket"), "/from/include"));
	CHECK(mycnf_get(&c, "pid_file") && !strcmp(mycnf_get(&c, "pid_file"), "/from/includedir"));
	CHECK(mycnf_get(&c, "ledir") == NULL && mycnf_get(&c, "valid_donor_list") == NULL);
	mycnf_release(&c);
	CHECK(mycnf_load(path, mycnf_safe_groups, NULL, &c, &err) == 0);
	CHECK(mycnf_get(&c, "ledir") && !strcmp(mycnf_get(&c, "ledir"), "/opt/bin"));
	CHECK(mycnf_get(&c, "mysqld") && !strcmp(mycnf_get(&c, "mysqld"), "mariadbd"));
	mycnf_release(&c);
	CHECK(mycnf_load(path, mycnf_client_groups, NULL, &c, &err) == 0);
	CHECK(mycnf_get(&c, "password") && !strcmp(mycnf_get(&c, "password"), "p w#x"));
	CHECK(mycnf_get(&c, "valid_donor_list") && !strcmp(mycnf_get(&c, "valid_donor_list"), "127.0.0.1:1"));
	mycnf_release(&c);
	snprintf(path, sizeof(path), "%s/missing.cnf", dir);
	CHECK(mycnf_load(path, mycnf_client_groups, NULL, &c, &err) == -1 && err.code == 7006 && strstr(err.msg, path));
	snprintf(text, sizeof(text), "rm -rf '%s'", dir);
	CHECK(system(text) == 0);
}

/* MySQL's my_print_defaults refuses --mysqld: the groups are named from the server's version. A
 * stand-in my_print_defaults (first in PATH) prints the groups it is asked for as options. */
static void test_mysql_groups(void)
{
	char dir[] = "/tmp/clonefs-test-mycnf.XXXXXX", path[256], text[512];
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	snprintf(path, sizeof(path), "%s/my_print_defaults", dir);
	put(path, "#!/bin/sh\npw='*****'\nfor a; do case $a in --mysqld) echo \"unknown option '--mysqld'\" >&2; exit 1;; "
		  "--show) pw=secret;; --defaults-file=*) ;; client) echo \"--password=$pw\";; *) echo \"--group-$a\";; "
		  "esac; done\n");
	chmod(path, 0755);
	char mysqld[256], mariadbd[256];
	snprintf(mysqld, sizeof(mysqld), "%s/mysqld", dir);
	put(mysqld, "#!/bin/sh\necho 'mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)'\n");
	chmod(mysqld, 0755);
	snprintf(mariadbd, sizeof(mariadbd), "%s/mariadbd", dir);
	put(mariadbd, "#!/bin/sh\necho 'mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64'\n");
	chmod(mariadbd, 0755);
	const char *old = getenv("PATH");
	char *saved = old ? strdup(old) : NULL;
	snprintf(text, sizeof(text), "%s:%s", dir, old ? old : "/usr/bin:/bin");
	setenv("PATH", text, 1);
	struct mycnf c;
	struct cfs_err err;
	CHECK(mycnf_load("/etc/my.cnf", MYCNF_SERVER_GROUPS, mysqld, &c, &err) == 0);
	CHECK(c.n == 3 && mycnf_get(&c, "group_mysqld") && mycnf_get(&c, "group_server") &&
	      mycnf_get(&c, "group_mysqld_8.0"));
	mycnf_release(&c);
	CHECK(mycnf_load("/etc/my.cnf", MYCNF_SERVER_GROUPS, mariadbd, &c, &err) == 0);
	CHECK(c.n == 8 && mycnf_get(&c, "group_mysqld_10.11") && mycnf_get(&c, "group_mariadb") &&
	      mycnf_get(&c, "group_mariadbd") && mycnf_get(&c, "group_client_server") &&
	      mycnf_get(&c, "group_mariadb_10.11") && mycnf_get(&c, "group_mariadbd_10.11"));
	mycnf_release(&c);
	/* After the server's groups, a client's password is asked for in clear (--show). */
	CHECK(mycnf_load("/etc/my.cnf", mycnf_client_groups, NULL, &c, &err) == 0);
	CHECK(mycnf_get(&c, "password") && !strcmp(mycnf_get(&c, "password"), "secret"));
	mycnf_release(&c);
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
	snprintf(text, sizeof(text), "rm -rf '%s'", dir);
	CHECK(system(text) == 0);
}

int main(void)
{
	test_parse();
	if (access("/usr/bin/my_print_defaults", X_OK) == 0)
		test_my_print_defaults();
	test_mysql_groups();
	return tap_done();
}
