/* errors.c: fills and prints struct cfs_err; owns the code -> SQLSTATE table. */
#include "transport/errors.h"

#include <string.h>

static const struct { int code; const char *state; } sqlstates[] = {
	{ ER_ACCESS_DENIED_ERROR, "28000" },
	{ ER_PARSE_ERROR, "42000" },
	{ ER_SPECIFIC_ACCESS_DENIED_ERROR, "42000" },
	{ ER_QUERY_INTERRUPTED, "70100" },
};

const char *cfs_err_sqlstate(int code)
{
	for (size_t i = 0; i < sizeof(sqlstates) / sizeof(sqlstates[0]); i++)
		if (sqlstates[i].code == code)
			return sqlstates[i].state;
	return "HY000";
}

int cfs_err_vset(struct cfs_err *e, int code, const char *fmt, va_list ap)
{
	if (!e)
		return -1;
	e->code = code;
	snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", cfs_err_sqlstate(code));
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	/* One line, always: a message from a peer or a server must not break the form. */
	for (char *p = e->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return -1;
}

int cfs_err_set(struct cfs_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfs_err_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

void cfs_err_print(const struct cfs_err *e, FILE *f)
{
	if (e->code == 0)
		fprintf(f, "ERROR %d (%s): %s\n", CFS_ER_IO, "HY000", "unknown error");
	else
		fprintf(f, "ERROR %d (%s): %s\n", e->code, e->sqlstate, e->msg);
}
