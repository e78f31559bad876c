/* spawn.c: fork/exec with a pipe for the child's output; no shell, so no quoting to get wrong. */
#include "tools/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int spawn_capture(char *const argv[], char *const env[], int merge_stderr, char *out, size_t cap)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(merge_stderr || devnull < 0 ? p[1] : devnull, 2); /* never onto our own stderr */
		sigset_t none; /* the child starts with no signal blocked, whatever this thread blocks */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (char *const *e = env; e && *e; e++)
			putenv(*e);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
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
