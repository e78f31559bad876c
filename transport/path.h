/* path.h: paths built with a check instead of a buffer made "big enough" (4096, 4200, ...): a
 * result that does not fit is an error, never a cut path. */
#ifndef CLONEFS_PATH_H
#define CLONEFS_PATH_H

#include <stddef.h>

/* dir "/" name into out (n bytes). 0, or -ENAMETOOLONG (out then holds "", never a cut path). */
int path_join(char *out, size_t n, const char *dir, const char *name);
/* printf into out (n bytes) for a path: 0, or -ENAMETOOLONG as path_join. */
int path_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
