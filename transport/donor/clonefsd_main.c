/* clonefsd_main.c: clonefsd, the donor agent: options (command line over /etc/clonefs/clonefsd.conf),
 * TLS and RSA set-up, the listening socket, one thread per recipient connection up to a bound, and a
 * clean stop on SIGTERM/SIGINT. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "transport/conn.h"
#include "transport/donor/donor.h"
#include "transport/keypin.h"
#include "transport/metrics_http.h"
#include "transport/nofile.h"
#include "transport/units.h"
#include "transport/version.h"
#define CONFIG_FILE "/etc/clonefs/clonefsd.conf"
/* Connections refused over --max-connections are answered by short-lived threads; past this many
 * at once (a flood) they are closed without an answer. */
#define MAX_REFUSING 16
/* A refused connection: time to read the recipient's HELLO before closing, so the ERROR frame is
 * not lost to a TCP reset. */
#define REFUSE_LINGER_MS 2000
/* On SIGTERM: how long sessions get to end (a running mariabackup is stopped first). */
#define STOP_TIMEOUT_S 20

static atomic_int active_sessions;
static atomic_int refusing;
static volatile sig_atomic_t stopping, reloading;

static const char usage[] =
	"usage: clonefsd --listen=ADDR:PORT --socket=PATH [options]\n"
	"\n"
	"Serves consistent snapshots of the local MySQL/MariaDB server to clonefs recipients.\n"
	"\n"
	"  --listen=ADDR:PORT        where to listen (default 127.0.0.1:4406; [::]:4406 for IPv6)\n"
	"  --socket=PATH             the donor server's socket: recipients log in to it as themselves\n"
	"  --proxy-protocol=on|off   on (default): each login carries the recipient's address in a PROXY\n"
	"                            protocol header, so the server matches 'user'@'host' by it (MariaDB:\n"
	"                            proxy_protocol_networks=localhost, checked at start); off: every\n"
	"                            recipient is 'user'@'localhost' to the server (MySQL has no PROXY)\n"
	"  --datadir=DIR             the directory to serve with --snapshot-method=dir\n"
	"  --snapshot-method=M       auto (default) | clone | btrfs | reflink | mariabackup | dir\n"
	"  --snapshot-dir=DIR        where reflink snapshots' data goes, on the datadir's filesystem\n"
	"                            (default: DATADIR/../.clonefs-snapshots, or inside the datadir\n"
	"                            when it is the root of its filesystem)\n"
	"  --ssl-cert=F --ssl-key=F  offer TLS with this certificate\n"
	"  --ssl-ca=F                ask recipients for a client certificate signed by this CA\n"
	"  --require-client-cert     refuse recipients without one (with --ssl-ca)\n"
	"  --state-dir=DIR           snapshots (reflink: their metadata), the RSA key, the log\n"
	"                            (default /var/lib/clonefs)\n"
	"  --max-bandwidth=BYTES     bytes per second over all recipients (0 = unlimited)\n"
	"  --max-connections=N       concurrent recipient connections (default 64)\n"
	"  --snapshot-ttl=SECONDS    keep a snapshot this long after its last reader (default 600)\n"
	"  --snapshot-timeout=SECONDS  give up making a snapshot after this long (default 86400)\n"
	"  --parallel=N              threads the mariabackup method copies the datadir with\n"
	"                            (mariabackup --parallel; default: the CPUs, at most 4)\n"
	"  --idle-timeout=SECONDS    close a connection idle this long (default 600)\n"
	"  --compression=auto|on|off chunks compressed with zstd: auto (default) measures, per\n"
	"                            connection, which of zstd and raw delivers more and keeps to it\n"
	"  --compression-level=N     zstd level when compressing: 1 to 22, or -1 and below for\n"
	"                            zstd's fast modes (default 1); 0 = --compression=off\n"
	"  --chunk-size=BYTES        chunk size of new snapshots: 64K to 4M, a multiple of 4096\n"
	"                            (K and M suffixes; default 64K); a snapshot keeps its own\n"
	"  --defaults-file=F         read options from F instead of " CONFIG_FILE "\n"
	"  --metrics=ADDR:PORT       serve Prometheus metrics over HTTP at http://ADDR:PORT/metrics\n"
	"  --foreground              do not daemonize; log to stderr\n"
	"  --explain-methods         say which snapshot methods this host supports (for --datadir and\n"
	"                            --state-dir; the server is not asked), then exit\n"
	"  --help, --version\n"
	"\n"
	"Every option may also be given as `name = value` in " CONFIG_FILE ";\n"
	"the command line wins. SIGHUP reopens the log and loads the TLS files again.\n";

struct opts {
	char *ssl_cert, *ssl_key, *ssl_ca, *method, *defaults_file, *metrics;
	bool require_client_cert, foreground, explain_methods;
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
	long n = v ? strtol(v, &end, 10) : 0;
	if (!v || errno || *end || end == v || n < lo || n > hi)
		return cfs_err_set(err, CFS_ER_USAGE, "--%s=%s: expected a number from %ld to %ld", name, v ? v : "",
				   lo, hi);
	*out = n;
	return 0;
}

/* A byte count (units_parse_size: K or M suffix, binary), a multiple of align within [lo, hi]. */
static int set_size(const char *name, const char *v, unsigned long lo, unsigned long hi, unsigned long align,
		    unsigned long *out, struct cfs_err *err)
{
	uint64_t n = 0;
	if (units_parse_size(v, &n) || n < lo || n > hi || n % align)
		return cfs_err_set(err, CFS_ER_USAGE, "--%s=%s: expected a multiple of %lu from %lu (%luK) to %lu (%luM) "
				   "bytes, with an optional K or M suffix", name, v ? v : "", align, lo, lo >> 10, hi,
				   hi >> 20);
	*out = (unsigned long)n;
	return 0;
}

/* A flag given a value in a config file: "foreground = 0" turns it off. */
static bool flag_value(const char *v)
{
	return !v || !(!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off"));
}

static int set_str(char **dst, const char *name, const char *v, struct cfs_err *err)
{
	if (!v || !*v)
		return cfs_err_set(err, CFS_ER_USAGE, "--%s needs a value", name);
	free(*dst);
	*dst = strdup(v);
	return *dst ? 0 : cfs_err_set(err, CFS_ER_IO, "out of memory");
}

/* Where apply() writes: donor_cfg, or a scratch copy when a reload reads the options again while
 * sessions read donor_cfg (reload_config). */
static struct donor_config *apply_cfg = &donor_cfg;
#define donor_cfg (*apply_cfg)

/* Apply one option "name" = "value" (value NULL for flags). */
static int apply(struct opts *o, const char *name, const char *v, struct cfs_err *err)
{
	struct { const char *n; char *dst; size_t sz; } strs[] = {
		{ "listen", donor_cfg.listen, sizeof(donor_cfg.listen) },
		{ "socket", donor_cfg.socket, sizeof(donor_cfg.socket) },
		{ "datadir", donor_cfg.datadir, sizeof(donor_cfg.datadir) },
		{ "state-dir", donor_cfg.state_dir, sizeof(donor_cfg.state_dir) },
		{ "snapshot-dir", donor_cfg.snapshot_dir, sizeof(donor_cfg.snapshot_dir) },
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!strcmp(name, strs[i].n)) {
			if (!v || !*v || (size_t)snprintf(strs[i].dst, strs[i].sz, "%s", v) >= strs[i].sz)
				return cfs_err_set(err, CFS_ER_USAGE, "--%s needs a value shorter than %zu bytes", name,
						   strs[i].sz);
			return 0;
		}
	long n;
	unsigned long un = 0;
	if (!strcmp(name, "ssl-cert"))
		return set_str(&o->ssl_cert, name, v, err);
	if (!strcmp(name, "ssl-key"))
		return set_str(&o->ssl_key, name, v, err);
	if (!strcmp(name, "ssl-ca"))
		return set_str(&o->ssl_ca, name, v, err);
	if (!strcmp(name, "snapshot-method"))
		return set_str(&o->method, name, v, err);
	if (!strcmp(name, "metrics"))
		return set_str(&o->metrics, name, v, err);
	if (!strcmp(name, "require-client-cert"))
		o->require_client_cert = flag_value(v);
	else if (!strcmp(name, "foreground"))
		o->foreground = flag_value(v);
	else if (!strcmp(name, "explain-methods"))
		o->explain_methods = flag_value(v);
	else if (!strcmp(name, "max-bandwidth")) {
		if (set_num(name, v, 0, 1L << 40, &n, err))
			return -1;
		donor_cfg.max_bandwidth = (uint64_t)n;
	} else if (!strcmp(name, "max-connections")) {
		if (set_num(name, v, 1, 10000, &n, err))
			return -1;
		donor_cfg.max_connections = (int)n;
	} else if (!strcmp(name, "parallel")) {
		if (set_num(name, v, 1, 64, &n, err))
			return -1;
		donor_cfg.parallel = (int)n;
	} else if (!strcmp(name, "snapshot-ttl")) {
		if (set_num(name, v, 0, 86400 * 30, &n, err))
			return -1;
		donor_cfg.snapshot_ttl_s = (int)n;
	} else if (!strcmp(name, "snapshot-timeout")) {
		if (set_num(name, v, 10, 86400 * 7, &n, err))
			return -1;
		donor_cfg.snapshot_timeout_s = (int)n;
	} else if (!strcmp(name, "idle-timeout")) {
		if (set_num(name, v, 1, 86400, &n, err))
			return -1;
		donor_cfg.idle_timeout_s = (int)n;
	} else if (!strcmp(name, "compression-level")) {
		/* 0 is off; negative levels are zstd's fast modes (ZSTD_minCLevel() is -131072). */
		if (set_num(name, v, ZSTD_minCLevel(), ZSTD_maxCLevel(), &n, err))
			return -1;
		if (n == 0)
			donor_cfg.compression = COMPRESS_OFF;
		else
			donor_cfg.zstd_level = (int)n;
	} else if (!strcmp(name, "proxy-protocol")) {
		if (v && !strcmp(v, "on"))
			donor_cfg.proxy_protocol = true;
		else if (v && !strcmp(v, "off"))
			donor_cfg.proxy_protocol = false;
		else
			return cfs_err_set(err, CFS_ER_USAGE, "--proxy-protocol=%s: expected on or off", v ? v : "");
	} else if (!strcmp(name, "compression")) {
		if (!strcmp(v, "auto"))
			donor_cfg.compression = COMPRESS_AUTO;
		else if (!strcmp(v, "on"))
			donor_cfg.compression = COMPRESS_ON;
		else if (!strcmp(v, "off"))
			donor_cfg.compression = COMPRESS_OFF;
		else
			return cfs_err_set(err, CFS_ER_USAGE, "--compression=%s: expected auto, on or off", v);
	} else if (!strcmp(name, "chunk-size")) {
		if (set_size(name, v, DONOR_CHUNK_SIZE_MIN, DONOR_CHUNK_SIZE_MAX, DONOR_CHUNK_SIZE_ALIGN, &un, err))
			return -1;
		donor_cfg.chunk_size = (uint32_t)un;
	} else
		return cfs_err_set(err, CFS_ER_USAGE, "unknown option --%s (see clonefsd --help)", name);
	return 0;
}
#undef donor_cfg

/* `name = value` lines; '#' and ';' comments and [section] headers are ignored; '_' == '-'. */
static int read_config(struct opts *o, const char *path, bool must_exist, struct cfs_err *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return must_exist || errno != ENOENT
			       ? cfs_err_set(err, CFS_ER_USAGE, "cannot read '%s': %s", path, strerror(errno))
			       : 0;
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
			for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t');)
				*--e = 0;
		}
		for (char *e = p + strlen(p); e > p && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = 0;
		for (char *u = p; *u; u++)
			if (*u == '_')
				*u = '-';
		if (apply(o, p, v, err)) {
			char inner[CFS_ERR_MSG_MAX];
			memcpy(inner, err->msg, sizeof(inner));
			rc = cfs_err_set(err, CFS_ER_USAGE, "%s:%d: %.400s", path, lineno, inner);
		}
	}
	fclose(f);
	return rc;
}

static int parse_args(int argc, char **argv, struct opts *o, struct cfs_err *err)
{
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "--defaults-file=", 16) && set_str(&o->defaults_file, "defaults-file", argv[i] + 16, err))
			return -1;
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
			return cfs_err_set(err, CFS_ER_USAGE, "unknown option '%.100s'", a);
		memcpy(name, a + 2, n);
		name[n] = 0;
		if (apply(o, name, eq ? eq + 1 : NULL, err))
			return -1;
	}
	return 0;
}

/* Make path absolute against the working directory (daemon(3) changes it to /). */
static int absolute(char *path, size_t sz, const char *what, struct cfs_err *err)
{
	char cwd[PATH_MAX], tmp[PATH_MAX * 2];
	if (!*path || path[0] == '/')
		return 0;
	int n = getcwd(cwd, sizeof(cwd)) ? snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path) : -1;
	if (n < 0 || (size_t)n >= sz)
		return cfs_err_set(err, CFS_ER_USAGE, "--%s=%.300s: cannot make the path absolute", what, path);
	memcpy(path, tmp, (size_t)n + 1);
	return 0;
}

static int listen_on(const char *spec, struct cfs_err *err)
{
	char host[300];
	const char *port;
	if (spec[0] == '[') {
		const char *close_br = strchr(spec, ']');
		if (!close_br || close_br[1] != ':')
			return cfs_err_set(err, CFS_ER_USAGE, "--listen=%s: expected [ADDR]:PORT", spec);
		snprintf(host, sizeof(host), "%.*s", (int)(close_br - spec - 1), spec + 1);
		port = close_br + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (!colon || strchr(spec, ':') != colon)
			return cfs_err_set(err, CFS_ER_USAGE, "--listen=%s: expected ADDR:PORT ([ADDR]:PORT for IPv6)", spec);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
		port = colon + 1;
	}
	char *end;
	unsigned long pn = strtoul(port, &end, 10);
	if (!*port || *end || pn == 0 || pn > 65535)
		return cfs_err_set(err, CFS_ER_USAGE, "--listen=%s: the port must be a number from 1 to 65535", spec);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
	int gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (gai)
		return cfs_err_set(err, CFS_ER_USAGE, "--listen=%s: %s", spec, gai_strerror(gai));
	int fd = -1, e = 0;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return cfs_err_set(err, CFS_ER_IO, "clonefsd cannot listen on %s: %s", spec, strerror(e));
	return fd;
}

struct conn_arg {
	int fd;
	char peer[128];
};

static void *conn_main(void *arg)
{
	struct conn_arg c = *(struct conn_arg *)arg;
	free(arg); /* before the session: it ends once clonefsd may exit */
	donor_session_run(c.fd, c.peer);
	atomic_fetch_sub(&active_sessions, 1);
	return NULL;
}

/* Over --max-connections: answer with ERROR 3634, then read what the recipient sent (its HELLO)
 * until it closes or REFUSE_LINGER_MS pass, so the answer is not lost to a TCP reset. */
static void *refuse_main(void *arg)
{
	struct conn_arg *c = arg;
	struct cfs_conn conn;
	struct cfs_err e, ignored;
	conn_init_fd(&conn, c->fd, 1000, c->peer);
	cfs_err_set(&e, ER_CLONE_TOO_MANY_CONCURRENT_CLONES, "Too many concurrent clone operations. Maximum "
		    "allowed - %d. (clonefsd --max-connections)", donor_cfg.max_connections);
	if (conn_send_error(&conn, 0, &e, &ignored) == 0) {
		shutdown(c->fd, SHUT_WR);
		struct timespec t0, now;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			long left = REFUSE_LINGER_MS - (long)((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
			struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
			char sink[4096];
			if (left <= 0 || poll(&pfd, 1, (int)left) <= 0 || read(c->fd, sink, sizeof(sink)) <= 0)
				break;
		}
	}
	conn_close(&conn);
	free(c);
	atomic_fetch_sub(&refusing, 1);
	return NULL;
}

static bool spawn(void *(*fn)(void *), struct conn_arg *c)
{
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	bool ok = pthread_create(&t, &attr, fn, c) == 0;
	pthread_attr_destroy(&attr);
	return ok;
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reloading = 1;
	else
		stopping = 1;
}

static void accept_one(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			donor_event("accept_failed", "cannot accept a connection: %s", strerror(errno));
			nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000L }, NULL);
		}
		return; /* EAGAIN, ECONNABORTED, EINTR: nothing to do */
	}
	struct conn_arg *c = malloc(sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	char host[INET6_ADDRSTRLEN] = "?", serv[16] = "?";
	getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), "%s%s%s:%s", strchr(host, ':') ? "[" : "", host,
		 strchr(host, ':') ? "]" : "", serv);
	if (atomic_fetch_add(&active_sessions, 1) >= donor_cfg.max_connections) {
		atomic_fetch_sub(&active_sessions, 1);
		donor_event("connection_refused", "%s: refused, %d connections already (--max-connections)", c->peer, donor_cfg.max_connections);
		if (atomic_fetch_add(&refusing, 1) >= MAX_REFUSING || !spawn(refuse_main, c)) {
			atomic_fetch_sub(&refusing, 1);
			close(fd);
			free(c);
		}
		return;
	}
	if (!spawn(conn_main, c)) {
		donor_event("thread_failed", "%s: cannot start a thread: %s", c->peer, strerror(errno));
		close(fd);
		free(c);
		atomic_fetch_sub(&active_sessions, 1);
	}
}

/* <state_dir>/clonefsd.pid, locked for clonefsd's life: a second clonefsd on the same state dir
 * would remove the first one's snapshot in the making as "unfinished". The fd, or -1 + err. */
static int lock_state_dir(const char *path, struct cfs_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return cfs_err_set(err, CFS_ER_IO, "cannot open '%s': %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		close(fd);
		return cfs_err_set(err, CFS_ER_SNAPSHOT, "--state-dir=%s is in use by another clonefsd (pid %s)",
				   donor_cfg.state_dir, *pid ? pid : "?");
	}
	return fd;
}

static int write_pid(int fd, const char *path, struct cfs_err *err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n)
		return cfs_err_set(err, CFS_ER_IO, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

/* clonefsd --explain-methods: one line per method, available or not and why; what auto takes. */
static int explain_methods(struct cfs_err *err)
{
	if (absolute(donor_cfg.datadir, sizeof(donor_cfg.datadir), "datadir", err) ||
	    absolute(donor_cfg.state_dir, sizeof(donor_cfg.state_dir), "state-dir", err) ||
	    absolute(donor_cfg.snapshot_dir, sizeof(donor_cfg.snapshot_dir), "snapshot-dir", err))
		return fail(err);
	static const enum snap_method order[] = { SNAP_CLONE, SNAP_BTRFS, SNAP_REFLINK, SNAP_MARIABACKUP, SNAP_DIR };
	const char *pick = NULL;
	char why[8400];
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		bool ok = snap_method_available(order[i], donor_cfg.datadir, why, sizeof(why));
		/* clone is the server's to say: not asked here (no account of our own). */
		const char *state = order[i] == SNAP_CLONE ? "depends on the server" : ok ? "available" : "not available";
		printf("%-12s %s: %s\n", snap_method_name(order[i]), state, why);
		if (ok && !pick && order[i] != SNAP_DIR)
			pick = snap_method_name(order[i]);
	}
	if (pick && (!strcmp(pick, "btrfs") || !strcmp(pick, "reflink")))
		printf("%-12s would take %s (clone first for a MySQL server that has it)\n", "auto", pick);
	else if (pick)
		printf("%-12s would take %s for a MariaDB server; a MySQL server needs clone here\n", "auto", pick);
	else
		printf("%-12s has no method here but clone, for a MySQL server that has it\n", "auto");
	return 0;
}

static void opts_release(struct opts *o)
{
	free(o->ssl_cert);
	free(o->ssl_key);
	free(o->ssl_ca);
	free(o->method);
	free(o->defaults_file);
	free(o->metrics);
}

static bool str_differs(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

/* SIGHUP: the log reopened (daemonized: logrotate moved it), the options read again as at start.
 * Of them the TLS files are taken at once (new sessions get the renewed certificate; sessions and
 * snapshots carry on); every other option read by running sessions waits for the next start, and
 * each one that changed is logged saying so (docs/decisions.md D37). */
static void reload_config(int argc, char **argv, struct opts *o)
{
	donor_notify("RELOADING=1");
	if (!o->foreground) {
		char log[4200];
		snprintf(log, sizeof(log), "%s/clonefsd.log", donor_cfg.state_dir);
		donor_log_reopen(log);
	}
	struct donor_config *fresh = malloc(sizeof(*fresh));
	struct opts no;
	struct cfs_err err = { 0 };
	memset(&no, 0, sizeof(no));
	int rc = fresh ? 0 : cfs_err_set(&err, CFS_ER_IO, "out of memory");
	if (rc == 0) {
		memcpy(fresh, &donor_cfg, sizeof(*fresh));
		apply_cfg = fresh;
		rc = parse_args(argc, argv, &no, &err);
		apply_cfg = &donor_cfg;
	}
	if (rc == 0 && no.ssl_cert && !no.ssl_key)
		rc = cfs_err_set(&err, CFS_ER_USAGE, "--ssl-cert needs --ssl-key");
	if (rc) {
		donor_event("reload_failed", "configuration not reloaded, the running one stays: ERROR %d: %s", err.code,
			    err.msg);
	} else {
		const struct { const char *name; bool changed; } later[] = {
			{ "listen", strcmp(fresh->listen, donor_cfg.listen) != 0 },
			{ "socket", strcmp(fresh->socket, donor_cfg.socket) != 0 },
			{ "datadir", strcmp(fresh->datadir, donor_cfg.datadir) != 0 },
			{ "state-dir", strcmp(fresh->state_dir, donor_cfg.state_dir) != 0 },
			{ "snapshot-method", str_differs(no.method, o->method) },
			{ "metrics", str_differs(no.metrics, o->metrics) },
			{ "max-bandwidth", fresh->max_bandwidth != donor_cfg.max_bandwidth },
			{ "max-connections", fresh->max_connections != donor_cfg.max_connections },
			{ "snapshot-ttl", fresh->snapshot_ttl_s != donor_cfg.snapshot_ttl_s },
			{ "snapshot-timeout", fresh->snapshot_timeout_s != donor_cfg.snapshot_timeout_s },
			{ "idle-timeout", fresh->idle_timeout_s != donor_cfg.idle_timeout_s },
			{ "parallel", fresh->parallel != donor_cfg.parallel },
			{ "compression", fresh->compression != donor_cfg.compression ||
						 fresh->zstd_level != donor_cfg.zstd_level },
			{ "chunk-size", fresh->chunk_size != donor_cfg.chunk_size },
			{ "ssl-cert", !o->ssl_cert != !no.ssl_cert }, /* TLS on or off */
		};
		for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
			if (later[i].changed)
				donor_event("reload_deferred", "--%s changed; it takes effect when clonefsd is restarted",
					    later[i].name);
		if (o->ssl_cert && no.ssl_cert)
			rc = donor_tls_reload(no.ssl_cert, no.ssl_key, no.ssl_ca, no.require_client_cert);
		if (o->ssl_cert && no.ssl_cert && rc == 0) {
			struct opts swap = *o; /* the files now in use */
			o->ssl_cert = no.ssl_cert, o->ssl_key = no.ssl_key, o->ssl_ca = no.ssl_ca;
			o->require_client_cert = no.require_client_cert;
			no.ssl_cert = swap.ssl_cert, no.ssl_key = swap.ssl_key, no.ssl_ca = swap.ssl_ca;
		}
		if (rc == 0)
			donor_event("reloaded", "configuration read again");
	}
	donor_metrics_reload(rc == 0);
	opts_release(&no);
	free(fresh);
	donor_notify("READY=1");
}

/* Everything clonefsd does; main releases the options however this returns. */
static int run(int argc, char **argv, struct opts *o)
{
	struct cfs_err err = { 0 };
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
	donor_cfg.snapshot_timeout_s = 86400;
	donor_cfg.idle_timeout_s = 600;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	donor_cfg.parallel = cpus < 1 ? 1 : cpus > 4 ? 4 : (int)cpus;
	donor_cfg.zstd_level = 1;
	donor_cfg.chunk_size = WIRE_CHUNK_SIZE;
	donor_cfg.proxy_protocol = true;
	if (parse_args(argc, argv, o, &err))
		return fail(&err);
	if (o->explain_methods)
		return explain_methods(&err);
	if (!donor_cfg.socket[0]) {
		cfs_err_set(&err, CFS_ER_USAGE, "clonefsd needs --socket=PATH, the donor server's socket");
		return fail(&err);
	}
	if (absolute(donor_cfg.socket, sizeof(donor_cfg.socket), "socket", &err) ||
	    absolute(donor_cfg.datadir, sizeof(donor_cfg.datadir), "datadir", &err) ||
	    absolute(donor_cfg.state_dir, sizeof(donor_cfg.state_dir), "state-dir", &err) ||
	    absolute(donor_cfg.snapshot_dir, sizeof(donor_cfg.snapshot_dir), "snapshot-dir", &err))
		return fail(&err);
	if (!o->method || !strcmp(o->method, "auto"))
		donor_cfg.method = SNAP_AUTO;
	else if (!strcmp(o->method, "mariabackup"))
		donor_cfg.method = SNAP_MARIABACKUP;
	else if (!strcmp(o->method, "dir"))
		donor_cfg.method = SNAP_DIR;
	else if (!strcmp(o->method, "btrfs"))
		donor_cfg.method = SNAP_BTRFS;
	else if (!strcmp(o->method, "clone"))
		donor_cfg.method = SNAP_CLONE;
	else if (!strcmp(o->method, "reflink"))
		donor_cfg.method = SNAP_REFLINK;
	else {
		cfs_err_set(&err, CFS_ER_USAGE, "--snapshot-method=%s: expected auto, clone, btrfs, reflink, mariabackup or dir",
			    o->method);
		return fail(&err);
	}
	if (donor_cfg.method == SNAP_MARIABACKUP && !snap_have_mariabackup()) {
		cfs_err_set(&err, CFS_ER_SNAPSHOT, "--snapshot-method=mariabackup needs mariabackup in PATH "
			    "(Debian package mariadb-backup)");
		return fail(&err);
	}
	if (donor_cfg.method == SNAP_DIR) {
		struct stat st;
		if (!donor_cfg.datadir[0] || stat(donor_cfg.datadir, &st) || !S_ISDIR(st.st_mode)) {
			cfs_err_set(&err, CFS_ER_USAGE, "--snapshot-method=dir needs --datadir=DIR, an existing directory%s%s",
				    donor_cfg.datadir[0] ? ": " : "", donor_cfg.datadir);
			return fail(&err);
		}
	}
	if (o->ssl_cert) {
		if (!o->ssl_key) {
			cfs_err_set(&err, CFS_ER_USAGE, "--ssl-cert needs --ssl-key");
			return fail(&err);
		}
		donor_cfg.tls = conn_tls_server_ctx(o->ssl_cert, o->ssl_key, o->ssl_ca, o->require_client_cert, &err);
		if (!donor_cfg.tls)
			return fail(&err);
	} else if (o->ssl_key || o->ssl_ca) {
		cfs_err_set(&err, CFS_ER_USAGE, "--ssl-key and --ssl-ca need --ssl-cert");
		return fail(&err);
	}
	if (o->require_client_cert && !o->ssl_ca) {
		cfs_err_set(&err, CFS_ER_USAGE, "--require-client-cert needs --ssl-ca, the CA client certificates are checked against");
		return fail(&err);
	}
	if (mkdir(donor_cfg.state_dir, 0700) && errno != EEXIST) {
		cfs_err_set(&err, CFS_ER_SNAPSHOT, "cannot create --state-dir '%s': %s", donor_cfg.state_dir, strerror(errno));
		return fail(&err);
	}
	if (donor_cfg.method == SNAP_BTRFS && !snap_btrfs_is_btrfs(donor_cfg.state_dir)) {
		cfs_err_set(&err, CFS_ER_SNAPSHOT, "--snapshot-method=btrfs needs --state-dir on the btrfs filesystem "
			    "holding the datadir: '%s' is not on btrfs (--snapshot-method=reflink, which auto takes then, "
			    "keeps its snapshots on the datadir's filesystem whatever --state-dir is)", donor_cfg.state_dir);
		return fail(&err);
	}
	char pidfile[4200];
	snprintf(pidfile, sizeof(pidfile), "%s/clonefsd.pid", donor_cfg.state_dir);
	int pidfd = lock_state_dir(pidfile, &err);
	if (pidfd < 0)
		return fail(&err);
	if (mysql_library_init(0, NULL, NULL)) {
		cfs_err_set(&err, CFS_ER_IO, "cannot initialize the MySQL client library");
		return fail(&err);
	}
	int proxy = donor_cfg.proxy_protocol ? donor_proxy_check(&err) : 0;
	if (proxy < 0)
		return fail(&err);
	if (donor_rsa_init(&err))
		return fail(&err);
	int lfd = listen_on(donor_cfg.listen, &err);
	if (lfd < 0)
		return fail(&err);
	int mfd = o->metrics ? listen_on(o->metrics, &err) : -1; /* bound before daemonizing: errors seen */
	if (o->metrics && mfd < 0) {
		char why[CFS_ERR_MSG_MAX];
		memcpy(why, err.msg, sizeof(why));
		cfs_err_set(&err, err.code, "--metrics=%s: %.400s", o->metrics, why);
		return fail(&err);
	}
	if (snap_registry_init(&err))
		return fail(&err);
	snap_reflink_sweep();
	if (!o->foreground) {
		/* Everything that can fail at start-up has been checked: the parent exits 0 with the port open. */
		char log[4200];
		snprintf(log, sizeof(log), "%s/clonefsd.log", donor_cfg.state_dir);
		int lf = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (lf < 0) {
			cfs_err_set(&err, CFS_ER_IO, "cannot write '%s': %s", log, strerror(errno));
			return fail(&err);
		}
		if (daemon(0, 0)) {
			cfs_err_set(&err, CFS_ER_IO, "cannot daemonize: %s", strerror(errno));
			return fail(&err);
		}
		dup2(lf, STDERR_FILENO);
		close(lf);
	}
	if (write_pid(pidfd, pidfile, &err))
		return fail(&err);

	/* Signals reach only the accept loop's ppoll: every thread started from here on blocks them. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &orig);
	sigdelset(&orig, SIGTERM);
	sigdelset(&orig, SIGINT);
	sigdelset(&orig, SIGHUP);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (snap_reaper_start(&err))
		return fail(&err);
	struct metrics_http *metrics = NULL;
	if (mfd >= 0 && metrics_http_start(mfd, donor_metrics_render, NULL, &metrics, &err))
		return fail(&err);
	donor_event("started", "clonefsd %s listening on %s (TLS %s%s, method %s, state %s, max %d connections, TTL %d s, "
		  "chunk size %u, compression %s, zstd level %d, parallel %d%s%s)",
		  CLONEFS_VERSION, donor_cfg.listen, donor_cfg.tls ? "offered" : "off",
		  o->require_client_cert ? ", client certificate required" : "", snap_method_name(donor_cfg.method),
		  donor_cfg.state_dir, donor_cfg.max_connections, donor_cfg.snapshot_ttl_s, donor_cfg.chunk_size,
		  donor_cfg.compression == COMPRESS_AUTO ? "auto" : donor_cfg.compression == COMPRESS_ON ? "on" : "off",
		  donor_cfg.zstd_level, donor_cfg.parallel, o->metrics ? ", metrics on " : "", o->metrics ? o->metrics : "");
	char key_fp[KEYPIN_FP_MAX];
	if (keypin_fingerprint(donor_cfg.rsa, key_fp) == 0)
		donor_log("RSA key %s (%s/rsa-public.pem): what recipients without ssl_ca= pin", key_fp, donor_cfg.state_dir);
	if (!donor_cfg.proxy_protocol)
		donor_event("warning", "warning: --proxy-protocol=off: the server sees every recipient as 'user'@'localhost', "
			  "whatever its address; accounts' host patterns do not apply");
	else if (proxy > 0)
		donor_event("warning", "warning: the server on %s cannot be reached now: whether it takes the PROXY protocol "
			  "header (proxy_protocol_networks=localhost) is checked at each login", donor_cfg.socket);
	if (donor_cfg.method == SNAP_AUTO && !snap_have_mariabackup())
		donor_event("warning", "warning: mariabackup is not installed: --snapshot-method=auto has a method for MariaDB only "
			  "where btrfs can be used (clonefsd --explain-methods)");
	char ready[512];
	snprintf(ready, sizeof(ready), "READY=1\nSTATUS=listening on %s, method %s, TLS %s", donor_cfg.listen,
		 snap_method_name(donor_cfg.method), donor_cfg.tls ? "offered" : "off");
	donor_notify(ready);

	while (!stopping) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		int r = ppoll(&pfd, 1, NULL, &orig);
		int poll_errno = errno; /* before the reload, which may set errno */
		if (reloading) {
			reloading = 0;
			reload_config(argc, argv, o);
		}
		if (r > 0)
			accept_one(lfd);
		else if (r < 0 && poll_errno != EINTR)
			donor_event("poll_failed", "poll: %s", strerror(poll_errno));
	}
	donor_notify("STOPPING=1");
	donor_event("stopping", "stopping: closing the listening socket, ending %d connections", atomic_load(&active_sessions));
	close(lfd);
	metrics_http_stop(metrics);
	snap_cancel();
	int left = donor_sessions_stop(STOP_TIMEOUT_S);
	if (left)
		donor_event("stop_timeout", "%d connections did not end within %d s", left, STOP_TIMEOUT_S);
	snap_registry_shutdown();
	unlink(pidfile);
	donor_event("stopped", "stopped");
	if (!left) {
		/* Everything released, so that a leak checker sees only real leaks. */
		mysql_library_end();
		SSL_CTX_free(donor_cfg.tls);
		EVP_PKEY_free(donor_cfg.rsa);
		donor_cfg.tls = NULL;
		donor_cfg.rsa = NULL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	memset(&o, 0, sizeof(o));
	cfs_nofile_raise(); /* mariabackup, a child, inherits it: a file per table */
	int rc = run(argc, argv, &o);
	opts_release(&o);
	return rc;
}
