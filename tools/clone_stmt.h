/* clone_stmt.h: the seed's statement, CLONE INSTANCE FROM 'user'@'host':port IDENTIFIED BY 'pw'
 * [DATA DIRECTORY [=] 'dir'] [REQUIRE [NO] SSL], and CLONE LOCAL DATA DIRECTORY [=] 'dir', parsed as MySQL's lexer and grammar parse it
 * (sql/sql_lex.cc, sql/sql_yacc.yy: clone_stmt). Pure: no I/O. */
#ifndef CLONEFS_CLONE_STMT_H
#define CLONEFS_CLONE_STMT_H

#include <stdbool.h>
#include <stddef.h>

#include "transport/errors.h"

/* MySQL's limits on an account name (USERNAME_CHAR_LENGTH, HOSTNAME_LENGTH) and the statement. */
enum {
	CLONE_STMT_USER_MAX = 80,
	CLONE_STMT_HOST_MAX = 255,
	CLONE_STMT_TEXT_MAX = 1 << 16,
	CLONE_STMT_NEAR_MAX = 80,      /* ER_PARSE_ERROR shows at most this much: "near '%-.80s'" */
};

enum clone_ssl { CLONE_SSL_UNSAID, CLONE_SSL_REQUIRED, CLONE_SSL_NONE };

struct clone_stmt {
	char *user, *host, *password; /* unquoted, escapes applied */
	unsigned port;
	char *data_dir;               /* NULL without DATA DIRECTORY */
	enum clone_ssl ssl;
	bool local;                   /* CLONE LOCAL DATA DIRECTORY: only data_dir is set */
};

/* Parse text (len bytes, need not be NUL-terminated). 0, or -1 with err: 1064 (syntax, "near '…' at
 * line N" as MySQL words it), 1470 (a name too long). */
int clone_stmt_parse(const char *text, size_t len, struct clone_stmt *out, struct cfs_err *err);
void clone_stmt_release(struct clone_stmt *s);

#endif
