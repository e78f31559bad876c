/* test_clone_stmt.c: the CLONE INSTANCE parser against the statements a DBA types and MySQL's own
 * answers to the malformed ones (ER_PARSE_ERROR's near text and line). */
#include <string.h>

#include "tests/unit/tap.h"
#include "tools/clone_stmt.h"

static struct clone_stmt st;
static struct cfs_err err;

static int parse(const char *text)
{
	clone_stmt_release(&st);
	cfs_err_clear(&err);
	return clone_stmt_parse(text, strlen(text), &st, &err);
}

static bool parse_error(const char *text, int code, const char *msg)
{
	return parse(text) == -1 && err.code == code && (!msg || !strcmp(err.msg, msg));
}

#define NEAR(s, line) "You have an error in your SQL syntax; check the manual that corresponds to your MySQL " \
		      "server version for the right syntax to use near '" s "' at line " #line

int main(void)
{
	CHECK(parse("CLONE INSTANCE FROM 'cloner'@'db1.example':4406 IDENTIFIED BY 'pw'") == 0);
	CHECK(!strcmp(st.user, "cloner") && !strcmp(st.host, "db1.example") && st.port == 4406);
	CHECK(!strcmp(st.password, "pw") && st.data_dir == NULL && st.ssl == CLONE_SSL_UNSAID);

	CHECK(parse("clone instance from cloner@127.0.0.1:4406 identified by \"p\\\"w\" "
		    "data directory = '/var/lib/clone' require ssl;") == 0);
	CHECK(!strcmp(st.user, "cloner") && !strcmp(st.host, "127.0.0.1") && !strcmp(st.password, "p\"w"));
	CHECK(st.data_dir && !strcmp(st.data_dir, "/var/lib/clone") && st.ssl == CLONE_SSL_REQUIRED);

	CHECK(parse("CLONE INSTANCE FROM `we``ird` @ '::1':1 IDENTIFIED BY 'it''s\\n\\\\' DATA DIRECTORY 'd' "
		    "REQUIRE NO SSL ; ;") == 0);
	CHECK(!strcmp(st.user, "we`ird") && !strcmp(st.host, "::1") && st.port == 1);
	CHECK(!strcmp(st.password, "it's\n\\") && !strcmp(st.data_dir, "d") && st.ssl == CLONE_SSL_NONE);

	/* Comments of every kind, an executable comment, lines. */
	CHECK(parse("/* c */ CLONE -- the seed\nINSTANCE # here\nFROM /*!80017 'u'@'h' */ :5 IDENTIFIED BY ''") == 0);
	CHECK(!strcmp(st.user, "u") && !strcmp(st.host, "h") && st.port == 5 && !strcmp(st.password, ""));
	/* No host: MySQL's '%'. */
	CHECK(parse("CLONE INSTANCE FROM u:5 IDENTIFIED BY 'x'") == 0 && !strcmp(st.host, "%"));

	/* Syntax errors, worded as MySQL words them. */
	CHECK(parse_error("CLONE INSTANCE FROM 'u'@'h' IDENTIFIED BY 'x'", 1064, NEAR("IDENTIFIED BY 'x'", 1)));
	CHECK(parse_error("CLONE INSTANCE FROM 'u'@'h':3306", 1064, NEAR("", 1)));
	CHECK(parse_error("CLONE INSTANCE FROM 'u'@'h':3306 IDENTIFIED BY pw", 1064, NEAR("pw", 1)));
	CHECK(parse_error("CLONE INSTANCE\nFROM 'u'@'h':3306\nIDENTIFIED BY 'x' DATA DIRECTORY '/d' REQUIRE TLS",
			  1064, NEAR("TLS", 3)));
	CHECK(parse_error("CLONE INSTANCE FROM 'u'@'h':3306 IDENTIFIED BY 'x' REQUIRE SSL DATA DIRECTORY '/d'",
			  1064, NEAR("DATA DIRECTORY '/d'", 1)));
	CHECK(parse_error("CLONE INSTANCE FROM 'u'@'h':3306 IDENTIFIED BY 'x", 1064, NEAR("'x", 1)));
	CHECK(parse_error("CLONE INSTANCE FROM 'u'@'h':3306 IDENTIFIED BY 'x' /* open", 1064, NEAR("/* open", 1)));
	CHECK(parse_error("CLONE INSTANCES FROM 'u'@'h':3306 IDENTIFIED BY 'x'", 1064, NULL));
	CHECK(parse_error("", 1064, NEAR("", 1)));
	CHECK(parse_error("CLONE INSTANCE FROM 'u'@'h':3306 IDENTIFIED BY 'x'; DROP TABLE t", 1064, NEAR("DROP TABLE t", 1)));
	/* The near text stops at 80 characters. */
	CHECK(parse_error("CLONE INSTANCE FROM 'u'@'h':3306 IDENTIFIED BY 'x' "
			  "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
			  1064, NEAR("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", 1)));

	/* Names and ports out of MySQL's limits. */
	CHECK(parse_error("CLONE INSTANCE FROM 'uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu'"
			  "@'h':1 IDENTIFIED BY 'x'", 1470, NULL));
	CHECK(strstr(err.msg, "user name (should be no longer than 80)") != NULL);
	CHECK(parse_error("CLONE INSTANCE FROM 'u'@'h':70000 IDENTIFIED BY 'x'", 7006, NULL));
	CHECK(parse_error("CLONE INSTANCE FROM 'u'@'h':0 IDENTIFIED BY 'x'", 7006, NULL));
	/* CLONE LOCAL DATA DIRECTORY [=] 'dir', the directory required, nothing after it. */
	CHECK(parse("CLONE LOCAL DATA DIRECTORY = '/d'") == 0 && st.local && !strcmp(st.data_dir, "/d") && !st.user);
	clone_stmt_release(&st);
	CHECK(parse("clone local data directory '/var/lib/it''s';") == 0 && st.local && !strcmp(st.data_dir, "/var/lib/it's"));
	clone_stmt_release(&st);
	CHECK(parse_error("CLONE LOCAL", 1064, NEAR("", 1)));
	CHECK(parse_error("CLONE LOCAL DATA DIRECTORY = /d", 1064, NEAR("/d", 1)));
	CHECK(parse_error("CLONE LOCAL DATA DIRECTORY '/d' REQUIRE SSL", 1064, NEAR("REQUIRE SSL", 1)));
	clone_stmt_release(&st);
	return tap_done();
}
