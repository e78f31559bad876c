/* spawn.c: posix_spawn with a pipe for the child's output; no shell, so no quoting to get wrong. */
#include "tools/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The child starts with no signal blocked, whatever the calling thread blocks (clonefs clone blocks
 * SIGINT, SIGTERM and SIGHUP for its interrupt thread), and SIGPIPE at its default. */
static int spawn_attr(posix_spawnattr_t *a, bool setsid)
{
	sigset_t none, pipe;
	sigemptyset(&none);
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (setsid ? POSIX_SPAWN_SETSID : 0);
	int rc = posix_spawnattr_init(a);
	if (rc == 0 && ((rc = posix_spawnattr_setflags(a, flags)) || (rc = posix_spawnattr_setsigmask(a, &none)) ||
			(rc = posix_spawnattr_setsigdefault(a, &pipe))))
		posix_spawnattr_destroy(a);
	return rc;
}

/* environ with each "NAME=value" of extra in place of NAME's own entry: a NULL-terminated array of
 * borrowed pointers to free (not its strings). */
static char **merged_env(char *const extra[])
{
	size_t n = 0, k = 0, m = 0;
	while (environ[n])
		n++;
	while (extra && extra[m])
		m++;
	char **env = calloc(n + m + 1, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;
		for (size_t j = 0; j < m && !replaced; j++) {
			size_t len = strcspn(extra[j], "=");
			replaced = !strncmp(environ[i], extra[j], len) && environ[i][len] == '=';
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		env[k++] = extra[j];
	return env;
}

int spawn_capture(char *const argv[], char *const env[], int merge_stderr, char *out, size_t cap)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char **envp = env ? merged_env(env) : environ;
	pid_t pid;
	int rc = envp ? 0 : ENOMEM;
	if (rc == 0 && (rc = posix_spawn_file_actions_init(&fa)) == 0) {
		if (!(rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) &&
		    !(rc = posix_spawn_file_actions_adddup2(&fa, p[1], 1)) &&
		    /* stderr into the pipe, or to /dev/null: never onto our own stderr */
		    !(rc = merge_stderr ? posix_spawn_file_actions_adddup2(&fa, p[1], 2)
					: posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0)) &&
		    !(rc = spawn_attr(&attr, false))) {
			rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
			posix_spawnattr_destroy(&attr);
		}
		posix_spawn_file_actions_destroy(&fa);
	}
	if (envp != environ)
		free(envp);
	close(p[1]);
	if (rc) {
		close(p[0]);
		errno = rc;
		return -1;
	}
	size_t n = 0;
	char sink[4096];
	for (;;) {
		ssize_t r = n + 1 < cap ? read(p[0], out + n, cap - 1 - n) : read(p[0], sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (n + 1 < cap)
			n += (size_t)r;
	}
	if (cap)
		out[n] = 0;
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int spawn_detached(char *const argv[], const char *cwd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	pid_t pid;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return -rc;
	for (int fd = 0; fd < 3 && rc == 0; fd++)
		rc = posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", O_RDWR, 0);
	if (rc == 0 && cwd)
		rc = posix_spawn_file_actions_addchdir_np(&fa, cwd);
	if (rc == 0 && (rc = spawn_attr(&attr, true)) == 0) {
		rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
		posix_spawnattr_destroy(&attr);
	}
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}
