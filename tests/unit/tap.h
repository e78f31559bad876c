/* tap.h: the tiny test harness every unit test uses; ends with "N passed, N failed". */
#ifndef CLONEFS_TAP_H
#define CLONEFS_TAP_H

#include <stdbool.h>

/* Record one check; prints "ok"/"not ok" with the expression and location. */
bool tap_check(bool cond, const char *expr, const char *file, int line);
/* Print the closing line and return the process exit status. */
int tap_done(void);

#define CHECK(cond) tap_check((cond), #cond, __FILE__, __LINE__)

#endif
