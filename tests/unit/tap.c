/* tap.c: counts checks for the unit tests and prints the closing "N passed, N failed" line. */
#include "tests/unit/tap.h"

#include <stdio.h>

static int passed, failed;

bool tap_check(bool cond, const char *expr, const char *file, int line)
{
	if (cond) {
		passed++;
	} else {
		failed++;
		printf("not ok: %s (%s:%d)\n", expr, file, line);
	}
	return cond;
}

int tap_done(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
