/* spawn.h: run another program (posix_spawn) without a shell and collect what it prints (the server binary's
 * --help, mount.clonefs's error line). */
#ifndef CLONEFS_SPAWN_H
#define CLONEFS_SPAWN_H

#include <stddef.h>

/* Run argv[0] (searched in PATH) with stdin from /dev/null; stdout (and stderr when merge_stderr, else stderr to /dev/null)
 * into out (NUL-terminated, cut at cap-1 bytes, the rest drained). Extra environment entries
 * "NAME=value" in env (NULL-terminated, or NULL). Returns the exit status (0-255), 128+signal, or
 * -1 when it could not be started (errno set). */
int spawn_capture(char *const argv[], char *const env[], int merge_stderr, char *out, size_t cap);
/* Start argv[0] (a path) in cwd, in a session of its own, with /dev/null for stdin, stdout and
 * stderr, and not wait for it (a server's supervisor outlives us). 0 or -errno. */
int spawn_detached(char *const argv[], const char *cwd);

#endif
