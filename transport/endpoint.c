/* endpoint.c: "[user@]host[:port]" parsing and password sources (file, environment, terminal);
 * never the command line. */
#include "transport/endpoint.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "transport/wire.h"

int endpoint_parse(const char *s, struct endpoint *ep, struct cfs_err *err)
{
	memset(ep, 0, sizeof(*ep));
	ep->port = WIRE_DEFAULT_PORT;
	const char *at = strrchr(s, '@');
	const char *host = s;
	if (at) {
		size_t n = (size_t)(at - s);
		if (n == 0 || n >= sizeof(ep->user))
			return cfs_err_set(err, CFS_ER_USAGE, "bad user in donor address '%s'", s);
		memcpy(ep->user, s, n);
		host = at + 1;
	} else {
		struct passwd *pw = getpwuid(getuid());
		snprintf(ep->user, sizeof(ep->user), "%s", pw ? pw->pw_name : "root");
	}
	const char *port = NULL;
	size_t hlen;
	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		if (!close)
			return cfs_err_set(err, CFS_ER_USAGE, "bad donor address '%s'", s);
		hlen = (size_t)(close - host - 1);
		host++;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return cfs_err_set(err, CFS_ER_USAGE, "bad donor address '%s'", s);
	} else {
		const char *colon = strchr(host, ':');
		if (colon && strchr(colon + 1, ':'))
			return cfs_err_set(err, CFS_ER_USAGE, "an IPv6 donor address goes in brackets: [%s]", host);
		hlen = colon ? (size_t)(colon - host) : strlen(host);
		if (colon)
			port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(ep->host))
		return cfs_err_set(err, CFS_ER_USAGE, "bad host in donor address '%s'", s);
	memcpy(ep->host, host, hlen);
	ep->host[hlen] = 0;
	if (port) {
		char *end;
		errno = 0;
		unsigned long p = strtoul(port, &end, 10);
		if (errno || *end || end == port || p == 0 || p > 65535)
			return cfs_err_set(err, CFS_ER_USAGE, "bad port in donor address '%s'", s);
		ep->port = (unsigned)p;
	}
	return 0;
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
}

int endpoint_password(const char *password_file, char *out, size_t outsz, struct cfs_err *err)
{
	out[0] = 0;
	if (password_file && *password_file) {
		FILE *f = fopen(password_file, "re");
		if (!f)
			return cfs_err_set(err, CFS_ER_USAGE, "cannot read password_file '%s': %s", password_file,
					   strerror(errno));
		if (!fgets(out, (int)outsz, f))
			out[0] = 0;
		fclose(f);
		chomp(out);
		return 0;
	}
	const char *env = getenv("CLONEFS_PASSWORD");
	if (env) {
		if (strlen(env) >= outsz)
			return cfs_err_set(err, CFS_ER_USAGE, "CLONEFS_PASSWORD is too long");
		snprintf(out, outsz, "%s", env);
		return 0;
	}
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return cfs_err_set(err, CFS_ER_USAGE,
				   "no password: give -o password_file=FILE or CLONEFS_PASSWORD, or run on a terminal");
	struct termios old, quiet;
	bool have_tc = tcgetattr(fd, &old) == 0;
	if (have_tc) {
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	if (write(fd, "Enter password: ", 16) < 0)
		errno = 0;
	ssize_t n = read(fd, out, outsz - 1);
	if (have_tc)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		errno = 0;
	close(fd);
	out[n > 0 ? n : 0] = 0;
	chomp(out);
	return 0;
}

int endpoint_check_donor_list(const char *list, const struct endpoint *ep, struct cfs_err *err)
{
	char want[300], why[CFS_ERR_MSG_MAX];
	snprintf(want, sizeof(want), "%s:%u", ep->host, ep->port);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",;");
		while (n && p[n - 1] == ' ')
			n--;
		if (n == strlen(want) && !strncmp(p, want, n))
			return 0;
		p += strcspn(p, ",;");
		while (*p == ',' || *p == ';' || *p == ' ')
			p++;
	}
	snprintf(why, sizeof(why), "%.260s is not found in clone_valid_donor_list: %.200s", want, list);
	return cfs_err_set(err, ER_CLONE_SYS_CONFIG, ER_CLONE_SYS_CONFIG_MSG, why);
}
