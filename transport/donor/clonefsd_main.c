/* clonefsd_main.c: clonefsd, the donor agent: options (command line over /etc/clonefs/clonefsd.conf),
 * TLS and RSA set-up, the listening socket, and one thread per recipient connection up to a bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "transport/conn.h"
#include "transport/donor/donor.h"

#define CLONEFS_VERSION "0.1.0"
#define CONFIG_FILE "/etc/clonefs/clonefsd.conf"

struct donor_config donor_cfg;
static atomic_int active_sessions;
static volatile sig_atomic_t stopping;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the log stream */

static const char usage[] =
	"usage: clonefsd --listen=ADDR:PORT --socket=PATH [options]\n"
	"\n"
	"Serves consistent snapshots of the local MySQL/MariaDB server to clonefs recipients.\n"
	"\n"
	"  --listen=ADDR:PORT        where to listen (default 127.0.0.1:4406; [::]:4406 for IPv6)\n"
	"  --socket=PATH             the donor server's socket: recipients log in to it as themselves\n"
	"  --datadir=DIR             the server's datadir (method dir; default: ask the server)\n"
	"  --snapshot-method=M       auto (default) | mariabackup | dir\n"
	"  --ssl-cert=F --ssl-key=F  offer TLS with this certificate\n"
	"  --ssl-ca=F                ask recipients for a client certificate signed by this CA\n"
	"  --require-client-cert     refuse recipients without one (with --ssl-ca)\n"
	"  --state-dir=DIR           snapshots and the RSA key (default /var/lib/clonefs)\n"
	"  --max-bandwidth=BYTES     bytes per second over all recipients (0 = unlimited)\n"
	"  --max-connections=N       concurrent recipient connections (default 64)\n"
	"  --snapshot-ttl=SECONDS    keep a snapshot this long after its last reader (default 600)\n"
	"  --idle-timeout=SECONDS    close a connection idle this long (default 600)\n"
	"  --compression-level=N     zstd level, 0 = off (default 1)\n"
	"  --defaults-file=F         read options from F instead of " CONFIG_FILE "\n"
	"  --foreground              do not daemonize; log to stderr\n"
	"\n"
	"Every option may also be given as `name = value` in " CONFIG_FILE ".\n";

void donor_log(const char *fmt, ...)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s clonefsd: ", ts);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	va_end(ap);
}

struct opts {
	char *ssl_cert, *ssl_key, *ssl_ca, *method, *defaults_file;
	bool require_client_cert, foreground;
};

static int fail(struct cfs_err *err)
{
	cfs_err_print(err, stderr);
	return 1;
}

static int set_num(const char *name, const char *v, long lo, long hi, long *out, struct cfs_err *err)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < lo || n > hi)
		return cfs_err_set(err, CFS_ER_USAGE, "--%s=%s: expected a number from %ld to %ld", name, v, lo, hi);
	*out = n;
	return 0;
}

/* Apply one option "name" = "value" (value NULL for flags). */
static int apply(struct opts *o, const char *name, const char *v, struct cfs_err *err)
{
	struct { const char *n; char *dst; size_t sz; } strs[] = {
		{ "listen", donor_cfg.listen, sizeof(donor_cfg.listen) },
		{ "socket", donor_cfg.socket, sizeof(donor_cfg.socket) },
		{ "datadir", donor_cfg.datadir, sizeof(donor_cfg.datadir) },
		{ "state-dir", donor_cfg.state_dir, sizeof(donor_cfg.state_dir) },
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!strcmp(name, strs[i].n)) {
			if (!v || (size_t)snprintf(strs[i].dst, strs[i].sz, "%s", v) >= strs[i].sz)
				return cfs_err_set(err, CFS_ER_USAGE, "--%s needs a value that fits", name);
			return 0;
		}
	long n;
	if (!strcmp(name, "ssl-cert") && v) o->ssl_cert = strdup(v);
	else if (!strcmp(name, "ssl-key") && v) o->ssl_key = strdup(v);
	else if (!strcmp(name, "ssl-ca") && v) o->ssl_ca = strdup(v);
	else if (!strcmp(name, "snapshot-method") && v) o->method = strdup(v);
	else if (!strcmp(name, "require-client-cert")) o->require_client_cert = true;
	else if (!strcmp(name, "foreground")) o->foreground = true;
	else if (!strcmp(name, "max-bandwidth") && v) {
		if (set_num(name, v, 0, 1L << 40, &n, err)) return -1;
		donor_cfg.max_bandwidth = (uint64_t)n;
	} else if (!strcmp(name, "max-connections") && v) {
		if (set_num(name, v, 1, 10000, &n, err)) return -1;
		donor_cfg.max_connections = (int)n;
	} else if (!strcmp(name, "snapshot-ttl") && v) {
		if (set_num(name, v, 0, 86400 * 30, &n, err)) return -1;
		donor_cfg.snapshot_ttl_s = (int)n;
	} else if (!strcmp(name, "idle-timeout") && v) {
		if (set_num(name, v, 1, 86400, &n, err)) return -1;
		donor_cfg.idle_timeout_s = (int)n;
	} else if (!strcmp(name, "compression-level") && v) {
		if (set_num(name, v, 0, 19, &n, err)) return -1;
		donor_cfg.zstd_level = (int)n;
	} else
		return cfs_err_set(err, CFS_ER_USAGE, "unknown option --%s%s (see clonefsd --help)", name, v ? "=..." : "");
	return 0;
}

static int read_config(struct opts *o, const char *path, bool must_exist, struct cfs_err *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return must_exist ? cfs_err_set(err, CFS_ER_USAGE, "cannot read '%s': %s", path, strerror(errno)) : 0;
	char line[8192];
	int rc = 0, lineno = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		char *p = line + strspn(line, " \t");
		p[strcspn(p, "\r\n")] = 0;
		if (!*p || *p == '#' || *p == ';' || *p == '[')
			continue;
		char *eq = strchr(p, '=');
		char *v = NULL;
		if (eq) {
			*eq = 0;
			v = eq + 1 + strspn(eq + 1, " \t");
		}
		for (char *e = p + strlen(p); e > p && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = 0;
		for (char *u = p; *u; u++)
			if (*u == '_')
				*u = '-';
		if (apply(o, p, v, err))
			rc = cfs_err_set(err, CFS_ER_USAGE, "%s:%d: %s", path, lineno, err->msg);
	}
	fclose(f);
	return rc;
}

static int parse_args(int argc, char **argv, struct opts *o, struct cfs_err *err)
{
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "--defaults-file=", 16))
			o->defaults_file = argv[i] + 16;
	if (read_config(o, o->defaults_file ? o->defaults_file : CONFIG_FILE, o->defaults_file != NULL, err))
		return -1;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (!strncmp(a, "--defaults-file=", 16))
			continue;
		if (strncmp(a, "--", 2))
			return cfs_err_set(err, CFS_ER_USAGE, "unexpected argument '%s' (see clonefsd --help)", a);
		char name[64];
		char *eq = strchr(a, '=');
		size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (n >= sizeof(name))
			return cfs_err_set(err, CFS_ER_USAGE, "unknown option '%s'", a);
		memcpy(name, a + 2, n);
		name[n] = 0;
		if (apply(o, name, eq ? eq + 1 : NULL, err))
			return -1;
	}
	return 0;
}

static int listen_on(const char *spec, struct cfs_err *err)
{
	char host[300];
	const char *port;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':')
			return cfs_err_set(err, CFS_ER_USAGE, "--listen=%s: expected [ADDR]:PORT", spec);
		snprintf(host, sizeof(host), "%.*s", (int)(close - spec - 1), spec + 1);
		port = close + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (!colon)
			return cfs_err_set(err, CFS_ER_USAGE, "--listen=%s: expected ADDR:PORT", spec);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
		port = colon + 1;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
	int gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (gai)
		return cfs_err_set(err, CFS_ER_USAGE, "--listen=%s: %s", spec, gai_strerror(gai));
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 64)) {
		int e = errno;
		freeaddrinfo(res);
		if (fd >= 0)
			close(fd);
		return cfs_err_set(err, CR_CONN_HOST_ERROR, "clonefsd cannot listen on %s: %s", spec, strerror(e));
	}
	freeaddrinfo(res);
	return fd;
}

struct conn_arg {
	int fd;
	char peer[128];
};

static void *conn_main(void *arg)
{
	struct conn_arg *c = arg;
	donor_session_run(c->fd, c->peer);
	free(c);
	atomic_fetch_sub(&active_sessions, 1);
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct cfs_err err = { 0 };
	memset(&o, 0, sizeof(o));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("clonefsd %s (protocol %d)\n", CLONEFS_VERSION, WIRE_PROTO_VERSION);
			return 0;
		}
	}
	snprintf(donor_cfg.listen, sizeof(donor_cfg.listen), "127.0.0.1:%d", WIRE_DEFAULT_PORT);
	snprintf(donor_cfg.state_dir, sizeof(donor_cfg.state_dir), "/var/lib/clonefs");
	donor_cfg.max_connections = 64;
	donor_cfg.snapshot_ttl_s = 600;
	donor_cfg.idle_timeout_s = 600;
	donor_cfg.zstd_level = 1;
	if (parse_args(argc, argv, &o, &err))
		return fail(&err);
	if (!donor_cfg.socket[0]) {
		cfs_err_set(&err, CFS_ER_USAGE, "clonefsd needs --socket=PATH, the donor server's socket");
		return fail(&err);
	}
	if (!o.method || !strcmp(o.method, "auto") || !strcmp(o.method, "mariabackup"))
		donor_cfg.method = SNAP_MARIABACKUP;
	else if (!strcmp(o.method, "dir"))
		donor_cfg.method = SNAP_DIR;
	else {
		cfs_err_set(&err, CFS_ER_USAGE, "--snapshot-method=%s: expected auto, mariabackup or dir "
			    "(btrfs and clone are not built yet)", o.method);
		return fail(&err);
	}
	if (donor_cfg.method == SNAP_MARIABACKUP && system("command -v mariabackup >/dev/null 2>&1") != 0) {
		cfs_err_set(&err, CFS_ER_SNAPSHOT, "--snapshot-method=%s needs mariabackup (Debian package mariadb-backup)",
			    o.method ? o.method : "auto");
		return fail(&err);
	}
	if (o.ssl_cert) {
		donor_cfg.tls = conn_tls_server_ctx(o.ssl_cert, o.ssl_key, o.ssl_ca, o.require_client_cert, &err);
		if (!donor_cfg.tls)
			return fail(&err);
	} else if (o.ssl_key || o.ssl_ca) {
		cfs_err_set(&err, CFS_ER_USAGE, "--ssl-key and --ssl-ca need --ssl-cert");
		return fail(&err);
	}
	if (mkdir(donor_cfg.state_dir, 0700) && errno != EEXIST) {
		cfs_err_set(&err, CFS_ER_SNAPSHOT, "cannot create --state-dir '%s': %s", donor_cfg.state_dir, strerror(errno));
		return fail(&err);
	}
	if (donor_rsa_init(&err))
		return fail(&err);
	int lfd = listen_on(donor_cfg.listen, &err);
	if (lfd < 0)
		return fail(&err);
	if (!o.foreground) {
		char log[4200];
		snprintf(log, sizeof(log), "%s/clonefsd.log", donor_cfg.state_dir);
		if (daemon(0, 0) || !freopen(log, "a", stderr)) {
			cfs_err_set(&err, CFS_ER_IO, "cannot daemonize: %s", strerror(errno));
			return fail(&err);
		}
	}
	if (snap_registry_init(&err))
		return fail(&err);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	donor_log("listening on %s (TLS %s, method %s, state %s)", donor_cfg.listen, donor_cfg.tls ? "on" : "off",
		  snap_method_name(donor_cfg.method), donor_cfg.state_dir);
	while (!stopping) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* EINTR on a signal: the loop checks stopping */
		struct conn_arg *c = malloc(sizeof(*c));
		char host[INET6_ADDRSTRLEN] = "?", serv[16] = "?";
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, serv);
		if (atomic_fetch_add(&active_sessions, 1) >= donor_cfg.max_connections) {
			struct cfs_conn tmp;
			struct cfs_err e, ignored;
			conn_init_fd(&tmp, fd, 1000, c->peer);
			cfs_err_set(&e, ER_CLONE_TOO_MANY_CONCURRENT_CLONES, "Too many concurrent clone operations. Maximum "
				    "allowed - %d. (clonefsd --max-connections)", donor_cfg.max_connections);
			conn_send_error(&tmp, 1, &e, &ignored);
			conn_close(&tmp);
			free(c);
			atomic_fetch_sub(&active_sessions, 1);
			donor_log("%s: refused, %d connections already", c->peer, donor_cfg.max_connections);
			continue;
		}
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, conn_main, c)) {
			close(fd);
			free(c);
			atomic_fetch_sub(&active_sessions, 1);
		}
		pthread_attr_destroy(&attr);
	}
	donor_log("stopping");
	close(lfd);
	snap_registry_shutdown();
	return 0;
}
