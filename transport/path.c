/* path.c: checked path building (path.h). */
#include "transport/path.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int path_fmt(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = n ? vsnprintf(out, n, fmt, ap) : -1;
	va_end(ap);
	if (len < 0 || (size_t)len >= n) {
		if (n)
			out[0] = 0;
		return -ENAMETOOLONG;
	}
	return 0;
}

int path_join(char *out, size_t n, const char *dir, const char *name)
{
	return path_fmt(out, n, "%s/%s", dir, name);
}
