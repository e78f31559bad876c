/* mount_main.c: mount.clonefs: parses the mount-helper command line and -o options, connects and
 * authenticates, opens the snapshot, then mounts, daemonizes and serves FUSE until unmounted. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "fs/fuse_ll.h"
#include "fs/mount.h"
#include "fs/overlay.h"
#include "transport/endpoint.h"
#include "transport/nofile.h"
#include "transport/path.h"
#include "transport/s3.h"
#include "transport/units.h"
#include "transport/version.h"

static const char usage[] =
	"usage: mount.clonefs [USER@]HOST[:PORT] MOUNTPOINT [-o OPTION[,OPTION...]] [-f] [-d]\n"
	"       mount.clonefs s3://BUCKET[/PREFIX]/SNAPSHOT_ID MOUNTPOINT -o store_key_file=F[,...]\n"
	"\n"
	"Mounts a consistent snapshot of a live MySQL/MariaDB donor (served by clonefsd) read-only.\n"
	"Pages are fetched when read, verified and cached; the rest hydrates in the background.\n"
	"\n"
	"options (-o):\n"
	"  password_file=F      read the donor account's password from F (else $CLONEFS_PASSWORD, else a prompt)\n"
	"  ssl_mode=M           required | preferred (default) | disabled   (REQUIRE [NO] SSL)\n"
	"  ssl_ca=F             TLS is then required, and the donor's certificate and host name are\n"
	"                       verified against this CA (MySQL's VERIFY_CA/VERIFY_IDENTITY)\n"
	"  ssl_cert=F,ssl_key=F present a client certificate\n"
	"  server_public_key=F  without ssl_ca=, send the password only to this donor RSA key (PEM: the\n"
	"                       donor's STATE_DIR/rsa-public.pem), like mysql --server-public-key-path\n"
	"  known_donors=F|none  else the key is pinned on first use in F (default: $CLONEFS_KNOWN_DONORS,\n"
	"                       root: /var/lib/clonefs/known_donors, others: ~/.config/clonefs/known_donors)\n"
	"                       and a changed key is refused; none: refuse a key not given by server_public_key=\n"
	"  bind_address=IP      connect from this local address (as mysql --bind-address): the donor's\n"
	"                       server judges the account's host by the address it sees\n"
	"  cache_dir=D          persistent chunk cache (default /var/cache/clonefs, or ~/.cache/clonefs)\n"
	"  prefetch=on|off      hydrate the whole snapshot in the background (default on)\n"
	"  cache_max=SIZE       keep the cache under SIZE bytes (K, M, G, T suffixes; at least 4M) while mounted:\n"
	"                       least recently used chunks are evicted, hydration stops at 90% of SIZE and\n"
	"                       the mount is then a lazy one with a warm set (state \"bounded\"); materialize\n"
	"                       reads such a mount through FUSE (default: no bound, the whole snapshot)\n"
	"  snapshot=new|ID      take a new snapshot (default) or reopen snapshot ID (resumes its cache)\n"
	"  network_timeout=S    retry a lost donor for S seconds before reads fail with EIO (default 300)\n"
	"  connections=N        donor connections (default 4)\n"
	"  valid_donor_list=H:P[;H:P...]  refuse a donor not in this list (like clone_valid_donor_list)\n"
	"  digest=xxh64|sha256  the chunks' digest: XXH64 (protocol 2, the default when the donor speaks it)\n"
	"                       or SHA-256 (protocol 1, which every clonefsd speaks)\n"
	"  handoff=on|off       let materialize take complete files out of the cache instead of copying\n"
	"                       them (a staging mount, unmounted after one materialize; default off)\n";
/* Two strings: C11 promises literals of 4095 bytes only. */
static const char usage_more[] =
	"  allow_other          let other local users in (as sshfs: by default only the mounting user,\n"
	"                       root included, sees the mount); file modes still apply (default_permissions)\n"
	"                       and /.clonefs/ stays the mounting user's\n"
	"  rw,upper=DIR         a thin clone: the mount is writable, the clone's own writes and namespace\n"
	"                       changes are kept in DIR (4 KiB blocks, copy-on-write over the snapshot's\n"
	"                       cache, durable when fsynced); mounting again with the same upper= reopens\n"
	"                       that clone (its snapshot and donor are recorded in DIR; docs/thin-clones.md)\n"
	"  owner=USER           owner of the snapshot's files (default: mysql on a thin clone when that user\n"
	"                       exists, else the mounting user); a thin clone also sets allow_other, for\n"
	"                       mysqld runs as that user\n"
	"  log_file=F           once it runs in the background, what it reports (failed reads, a lost donor)\n"
	"                       is appended to F (default: mount.log in the snapshot's cache directory)\n"
	"  store_key_file=F     (s3:// sources) the store's key, 64 hex digits (see clonefs publish)\n"
	"  s3_endpoint=URL      (s3:// sources) else $AWS_ENDPOINT_URL; credentials as the AWS tools take them\n"
	"  and other FUSE options\n"
	"  -f  stay in the foreground     -d  FUSE debug output\n"
	"\n"
	"Unmount with: umount MOUNTPOINT   or   fusermount3 -u MOUNTPOINT\n";

/* The -o options mount.clonefs takes itself: X(name, field). */
#define MOUNT_OPTIONS(X)                                                                                       \
	X("password_file", password_file) X("ssl_mode", ssl_mode) X("ssl_ca", ssl_ca) X("ssl_cert", ssl_cert) \
	X("ssl_key", ssl_key) X("cache_dir", cache_dir) X("prefetch", prefetch) X("snapshot", snapshot)        \
	X("bind_address", bind_address) X("network_timeout", network_timeout) X("connections", connections)  \
	X("valid_donor_list", valid_donor_list) X("handoff", handoff) X("cache_max", cache_max)              \
	X("digest", digest) X("server_public_key", server_public_key) X("known_donors", known_donors)        \
	X("upper", upper) X("owner", owner) X("log_file", log_file) X("store_key_file", store_key_file)       \
	X("s3_endpoint", s3_endpoint)

struct mount_opts {
#define MOUNT_OPT_FIELD(name, field) char *field;
	MOUNT_OPTIONS(MOUNT_OPT_FIELD) /* NULL: not given; else malloc'd by fuse_opt_parse */
#undef MOUNT_OPT_FIELD
	char fuse_opts[4096];     /* everything else, passed to FUSE */
	char refused[64];         /* the option parse_o refused, and why (refused_why) */
	const char *refused_why;
	bool foreground, debug;
};

static int fail(struct cfs_err *err)
{
	cfs_err_print(err, stderr);
	return 1;
}

/* Split -o lists into our options and FUSE's with fuse_opt_parse, as sshfs does: a comma inside a
 * value is written "\,", a later value of an option overrides an earlier one. */
enum { OPT_KEY_NO_VALUE, OPT_KEY_PASSWORD };
static const struct fuse_opt opt_templates[] = {
#define MOUNT_OPT_VALUE(name, field) { name "=%s", offsetof(struct mount_opts, field), 0 },
#define MOUNT_OPT_BARE(name, field) FUSE_OPT_KEY(name, OPT_KEY_NO_VALUE),
	MOUNT_OPTIONS(MOUNT_OPT_VALUE) MOUNT_OPTIONS(MOUNT_OPT_BARE)
#undef MOUNT_OPT_VALUE
#undef MOUNT_OPT_BARE
	FUSE_OPT_KEY("password", OPT_KEY_PASSWORD), FUSE_OPT_KEY("password=", OPT_KEY_PASSWORD),
	/* What mount(8) and fstab pass to every helper: meaningless here (rw alone stays read-only:
	 * only upper= says where a clone's writes would go). */
	FUSE_OPT_KEY("ro", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("rw", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("exec", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("noexec", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("suid", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("nosuid", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("dev", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("nodev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("async", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("sync", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("atime", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("noatime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("relatime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

/* fuse_opt_parse's callback for what no template stores: FUSE's own options are collected in
 * fuse_opts (1 would hand them to an args list we do not keep), refusals recorded for parse_o. */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct mount_opts *o = data;
	(void)outargs;
	switch (key) {
	case OPT_KEY_NO_VALUE:
		snprintf(o->refused, sizeof(o->refused), "%s", arg);
		o->refused_why = "needs a value";
		return -1;
	case OPT_KEY_PASSWORD:
		snprintf(o->refused, sizeof(o->refused), "password");
		o->refused_why = "on the command line is refused: use password_file= or CLONEFS_PASSWORD";
		return -1;
	case FUSE_OPT_KEY_OPT: {
		size_t used = strlen(o->fuse_opts);
		if (used + strlen(arg) + 2 >= sizeof(o->fuse_opts)) {
			snprintf(o->refused, sizeof(o->refused), "-o");
			o->refused_why = "lists too many options";
			return -1;
		}
		snprintf(o->fuse_opts + used, sizeof(o->fuse_opts) - used, "%s%s", used ? "," : "", arg);
		return 0;
	}
	default: /* FUSE_OPT_KEY_NONOPT: only "-o LIST" reaches fuse_opt_parse */
		return 0;
	}
}

static int parse_o(char *list, struct mount_opts *o, struct cfs_err *err)
{
	char *argv[] = { "mount.clonefs", "-o", list, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	int rc = fuse_opt_parse(&args, o, opt_templates, opt_proc);
	fuse_opt_free_args(&args);
	if (rc == 0)
		return 0;
	if (!strcmp(o->refused, "password"))
		return cfs_err_set(err, CFS_ER_USAGE, "a password %s", o->refused_why);
	if (o->refused[0])
		return cfs_err_set(err, CFS_ER_USAGE, "option %s %s", o->refused, o->refused_why);
	return cfs_err_set(err, CFS_ER_USAGE, "cannot parse the options '%s'", list);
}

/* The option strings fuse_opt_parse allocated. */
static void mount_opts_release(struct mount_opts *o)
{
#define MOUNT_OPT_FREE(name, field) free(o->field);
	MOUNT_OPTIONS(MOUNT_OPT_FREE)
#undef MOUNT_OPT_FREE
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, const char *what, unsigned long *out,
		      struct cfs_err *err)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi)
		return cfs_err_set(err, CFS_ER_USAGE, "%s=%s: expected a number from %lu to %lu", what, s, lo, hi);
	*out = v;
	return 0;
}

/* A size in bytes with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, const char *what, uint64_t *out, struct cfs_err *err)
{
	if (units_parse_size(s, out))
		return cfs_err_set(err, CFS_ER_USAGE, "%s=%s: expected a size in bytes, with an optional K, M, G or T suffix",
				   what, s);
	return 0;
}

/* owner=USER (any mount), or on a thin clone the mysql user when there is one: the files must be
 * the server's for mysqld_safe to start on them. */
static int thin_owner(const struct mount_opts *o, struct mount *mt, struct cfs_err *err)
{
	const char *name = o->owner ? o->owner : o->upper ? "mysql" : NULL;
	if (!name)
		return 0;
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		if (!o->owner)
			return 0;
		return cfs_err_set(err, CFS_ER_USAGE, "owner=%s: no such user", name);
	}
	mt->uid = pw->pw_uid;
	mt->gid = pw->pw_gid;
	return 0;
}

/* The log a daemonized mount writes its stderr to: log_file=, else mount.log in its cache directory.
 * Opened before the mount so a bad path is an error the DBA sees. */
static int open_log(const char *log_file, const char *cache_dir, struct cfs_err *err)
{
	char path[PATH_MAX];
	if (!log_file && path_join(path, sizeof(path), cache_dir, "mount.log"))
		return cfs_err_set(err, CFS_ER_USAGE, "cache_dir=%s: path too long", cache_dir);
	const char *p = log_file ? log_file : path;
	int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return cfs_err_set(err, CFS_ER_USAGE, "log_file=%s: %s", p, strerror(errno));
	return fd;
}

/* After fuse_daemonize: stderr (every report of the mount's threads) goes to the log from now on. */
static void log_to(int fd, const struct mount *mt, const char *mountpoint)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (dup2(fd, 2) >= 0)
		fprintf(stderr, "%s mount.clonefs: snapshot %s of %s:%u mounted on %s (pid %d)\n", ts, mt->info.id,
			mt->host, mt->port, mountpoint, (int)getpid());
}

static void on_progress(void *arg, const char *line)
{
	(void)arg;
	if (isatty(2))
		fprintf(stderr, "clonefsd: %s\n", line);
}

static int run(int argc, char **argv, struct mount_opts *mo)
{
	struct cfs_err err = { 0 };
	struct endpoint ep;
	const char *source = NULL, *mountpoint = NULL;
	char password[512];
	
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			fputs(usage_more, stdout);
			return 0;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("mount.clonefs %s (protocol %d)\n", CLONEFS_VERSION, WIRE_PROTO_VERSION);
			return 0;
		} else if (!strcmp(a, "-o") && i + 1 < argc) {
			if (parse_o(argv[++i], mo, &err))
				return fail(&err);
		} else if (!strncmp(a, "-o", 2) && a[2]) {
			if (parse_o(argv[i] + 2, mo, &err))
				return fail(&err);
		} else if (!strcmp(a, "-f")) {
			mo->foreground = true;
		} else if (!strcmp(a, "-d")) {
			mo->debug = mo->foreground = true;
		} else if (!strcmp(a, "-n") || !strcmp(a, "-s") || !strcmp(a, "-v")) {
			/* mount(8) helper flags: no mtab, sloppy, verbose */
		} else if (a[0] == '-') {
			cfs_err_set(&err, CFS_ER_USAGE, "unknown option '%s' (see mount.clonefs --help)", a);
			return fail(&err);
		} else if (!source) {
			source = a;
		} else if (!mountpoint) {
			mountpoint = a;
		} else {
			cfs_err_set(&err, CFS_ER_USAGE, "unexpected argument '%s'", a);
			return fail(&err);
		}
	}
	const char *snapshot = mo->snapshot; /* snapshot=, or the one an s3:// source or an upper names */
	if (!source || !mountpoint) {
		fputs(usage, stderr);
		fputs(usage_more, stderr);
		cfs_err_set(&err, CFS_ER_USAGE, "mount.clonefs needs a donor and a mount point");
		return fail(&err);
	}
	/* mount -t clonefs passes "clonefs#user@host:port" style sources from some fstab lines. */
	if (!strncmp(source, "clonefs#", 8))
		source += 8;
	/* A store: s3://BUCKET/PREFIX/SNAPSHOT_ID, or s3://BUCKET/PREFIX with snapshot=ID. */
	char store_url[1024] = "", store_snap[WIRE_SNAP_ID_MAX + 1] = "";
	if (s3_is_url(source)) {
		snprintf(store_url, sizeof(store_url), "%s", source);
		size_t n = strlen(store_url);
		while (n > 5 && store_url[n - 1] == '/')
			store_url[--n] = 0;
		char *last = strrchr(store_url + 5, '/');
		if (!snapshot || !strcmp(snapshot, "new")) {
			if (!last || strlen(last + 1) > WIRE_SNAP_ID_MAX) {
				cfs_err_set(&err, CFS_ER_USAGE, "%s: name the snapshot, s3://BUCKET[/PREFIX]/SNAPSHOT_ID "
					    "(clonefs store list shows them)", source);
				return fail(&err);
			}
			snprintf(store_snap, sizeof(store_snap), "%s", last + 1);
			*last = 0;
			snapshot = store_snap;
		}
		if ((size_t)snprintf(ep.host, sizeof(ep.host), "%s", store_url) >= sizeof(ep.host)) {
			cfs_err_set(&err, CFS_ER_USAGE, "'%s': the store's URL is longer than %zu bytes", source,
				    sizeof(ep.host) - 1);
			return fail(&err);
		}
		ep.port = 0;
		ep.user[0] = 0;
	} else if (endpoint_parse(source, &ep, &err)) {
		return fail(&err);
	}
	struct stat st;
	if (stat(mountpoint, &st) || !S_ISDIR(st.st_mode)) {
		cfs_err_set(&err, CFS_ER_MOUNT, "mount point '%s' is not a directory", mountpoint);
		return fail(&err);
	}
	if (mo->valid_donor_list && !store_url[0] && endpoint_check_donor_list(mo->valid_donor_list, &ep, &err))
		return fail(&err);

	struct cfs_client_opts co = { .host = ep.host, .port = ep.port, .user = ep.user,
				      .ssl_ca = mo->ssl_ca, .ssl_cert = mo->ssl_cert, .ssl_key = mo->ssl_key,
				      .server_public_key = mo->server_public_key, .known_donors = mo->known_donors,
				      .bind_address = mo->bind_address };
	unsigned long timeout_s = 300, nconn = 4;
	uint64_t cache_max = 0;
	if (mo->ssl_mode && cfs_ssl_mode_parse(mo->ssl_mode, &co.ssl_mode)) {
		cfs_err_set(&err, CFS_ER_USAGE, "ssl_mode=%s: expected required, preferred or disabled", mo->ssl_mode);
		return fail(&err);
	}
	if ((mo->network_timeout && parse_uint(mo->network_timeout, 1, 86400, "network_timeout", &timeout_s, &err)) ||
	    (mo->connections && parse_uint(mo->connections, 1, 128, "connections", &nconn, &err)) ||
	    (mo->cache_max && parse_size(mo->cache_max, "cache_max", &cache_max, &err)))
		return fail(&err);
	if (cache_max && cache_max < CACHE_MAX_MIN_BYTES) { /* the chunk count is checked once the chunk size is known */
		cfs_err_set(&err, CFS_ER_USAGE, "cache_max=%s: the bound must be at least %u MiB", mo->cache_max,
			    (unsigned)(CACHE_MAX_MIN_BYTES >> 20));
		return fail(&err);
	}
	if (mo->upper && (cache_max || (mo->handoff && !strcmp(mo->handoff, "on")))) {
		/* Both take chunks out of a cache that other thin clones may be serving from. */
		cfs_err_set(&err, CFS_ER_USAGE, "%s cannot be used with upper= (a thin clone's cache may be shared)",
			    cache_max ? "cache_max=" : "handoff=on");
		return fail(&err);
	}
	bool prefetch = !mo->prefetch || !strcmp(mo->prefetch, "on");
	if (mo->prefetch && strcmp(mo->prefetch, "on") && strcmp(mo->prefetch, "off")) {
		cfs_err_set(&err, CFS_ER_USAGE, "prefetch=%s: expected on or off", mo->prefetch);
		return fail(&err);
	}
	if (mo->digest && strcmp(mo->digest, "xxh64") && strcmp(mo->digest, "sha256")) {
		cfs_err_set(&err, CFS_ER_USAGE, "digest=%s: expected xxh64 or sha256", mo->digest);
		return fail(&err);
	}
	if (mo->handoff && strcmp(mo->handoff, "on") && strcmp(mo->handoff, "off")) {
		cfs_err_set(&err, CFS_ER_USAGE, "handoff=%s: expected on or off", mo->handoff);
		return fail(&err);
	}
	/* A single connection wait is bounded; the whole outage bound is network_timeout. */
	co.timeout_ms = (int)(timeout_s < 30 ? timeout_s * 1000 : 30000);
	if (store_url[0]) {
		co.store_url = store_url;
		co.store_key_file = mo->store_key_file;
		co.s3_endpoint = mo->s3_endpoint;
		password[0] = 0;
	} else if (endpoint_password(mo->password_file, password, sizeof(password), &err)) {
		return fail(&err);
	}
	co.password = password;
	co.proto = !mo->digest ? 0 : !strcmp(mo->digest, "sha256") ? 1 : 2;
	/* rw alone stays read-only: mount(8) and fstab's "defaults" pass rw to every helper, and only
	 * upper= says where a clone's writes would go. */
	/* A thin clone's upper records its snapshot: mounting it again reopens that snapshot. */
	char upper_snap[256] = "", upper_donor[1100] = "", donor_name[1100]; /* a store URL fits */
	if (store_url[0]) /* a thin clone of a published snapshot: the store is its donor */
		snprintf(donor_name, sizeof(donor_name), "%s", store_url);
	else
		snprintf(donor_name, sizeof(donor_name), "%s:%u", ep.host, ep.port);
	if (mo->upper && ov_upper_snapshot(mo->upper, upper_snap, sizeof(upper_snap), upper_donor, sizeof(upper_donor), &err))
		return fail(&err);
	if (upper_snap[0] && ((snapshot && strcmp(snapshot, upper_snap)) || strcmp(upper_donor, donor_name))) {
		cfs_err_set(&err, CFS_ER_MOUNT, "upper directory '%s' holds a thin clone of snapshot %s of donor %s, not of "
			    "snapshot %s of donor %s: mount it with snapshot=%s and that donor, or use another upper=",
			    mo->upper, upper_snap, upper_donor, snapshot ? snapshot : "new", donor_name, upper_snap);
		return fail(&err);
	}
	if (upper_snap[0])
		snapshot = upper_snap;

	static struct mount mt;
	memset(&mt, 0, sizeof(mt));
	snprintf(mt.host, sizeof(mt.host), "%s", ep.host);
	snprintf(mt.user, sizeof(mt.user), "%s", ep.user);
	mt.port = ep.port;
	mt.handoff = mo->handoff && !strcmp(mo->handoff, "on");
	mt.ssl_mode = co.ssl_mode;
	mt.uid = getuid();
	mt.gid = getgid();
	if (thin_owner(mo, &mt, &err))
		return fail(&err);

	struct cfs_session first;
	if (cfs_session_open(&first, &co, NULL, &err))
		return fail(&err);
	mt.tls = first.tls;
	/* Every later connection of this mount must meet the key its password went to first. */
	snprintf(co.key_pin, sizeof(co.key_pin), "%s", first.key_fp);
	bool key_added = first.key_added;
	if (co.ssl_mode == CFS_SSL_PREFERRED && !first.tls && !first.store)
		fprintf(stderr, "mount.clonefs: warning: the donor offers no TLS; data travels unencrypted "
				"(the password is RSA-encrypted)\n");
	const char *snap = snapshot ? snapshot : "new";
	/* A new snapshot can take a while (mariabackup): no single wait may cut it short. */
	first.conn.timeout_ms = 3600 * 1000;
	if (cfs_session_snap_open(&first, snap, &mt.info, on_progress, NULL, &err) ||
	    cfs_session_manifest(&first, &mt.m, &err)) {
		cfs_session_close(&first);
		return fail(&err);
	}
	first.conn.timeout_ms = co.timeout_ms;

	char cache_dir[PATH_MAX - 256]; /* room for the snapshot's directory and its files */
	if (mo->cache_dir && path_fmt(cache_dir, sizeof(cache_dir), "%s", mo->cache_dir)) {
		cfs_session_close(&first);
		cfs_err_set(&err, CFS_ER_USAGE, "cache_dir=%s: path too long", mo->cache_dir);
		return fail(&err);
	} else if (!mo->cache_dir)
		cache_default_dir(cache_dir, sizeof(cache_dir));
	struct wbuf blob;
	wbuf_init(&blob, WIRE_MANIFEST_MAX_BYTES);
	manifest_encode(&blob, &mt.m);
	/* Thin clones of one snapshot share its cache (D34). */
	int rc = (mo->upper ? cache_open_shared : cache_open)(&mt.cache, cache_dir, mt.info.id, &mt.m, mt.info.chunk_size, chunk_digest_of_proto(first.proto), blob.p,
			    blob.len, &err);
	mt.cache.staging = mt.handoff;
	wbuf_release(&blob);
	if (rc == 0 && cache_set_max(&mt.cache, cache_max, &err)) {
		cfs_session_close(&first);
		return fail(&err);
	}
	if (rc || tree_build(&mt.tree, &mt.m)) {
		cfs_session_close(&first);
		if (!rc)
			cfs_err_set(&err, CFS_ER_IO, "out of memory");
		return fail(&err);
	}
	int logfd = open_log(mo->log_file, mt.cache.dir, &err);
	if (logfd < 0) {
		cfs_session_close(&first);
		return fail(&err);
	}
	if (fetcher_init(&mt.fetch, &co, &first, mt.info.id, &mt.m, &mt.cache, (int)nconn, (int)timeout_s,
			 prefetch, &err)) {
		cfs_session_close(&first);
		return fail(&err);
	}
	OPENSSL_cleanse(password, sizeof(password));
	if (key_added) { /* as ssh's "Permanently added": said once the mount is sure to go ahead */
		char store[4096], donor[300];
		keypin_store_path(mo->known_donors, store, sizeof(store));
		keypin_donor_name(ep.host, ep.port, donor, sizeof(donor));
		fprintf(stderr, "mount.clonefs: warning: the donor %s was not known: its RSA key %s is now pinned in %s "
				"(compare it with the one clonefsd logs at start)\n", donor, co.key_pin, store);
	}
	static struct overlay ov;
	if (mo->upper) {
		/* A thin clone keeps an upper file open for each file mysqld has open: main raised the
		 * open-files limit to the hard one (cfs_nofile_raise). */
		if (ov_open(&ov, mo->upper, mt.info.id, donor_name, &mt.m, &mt.tree, &mt.cache, &mt.fetch, mt.uid, mt.gid,
			    (uint64_t)mt.m.n + 5, &err))
			return fail(&err);
		mt.ov = &ov;
	}

	/* FUSE: read-only (a thin clone: writable), named after the donor, the kernel's permission
	 * checks; only the mounting user gets in unless -o allow_other says otherwise (as sshfs), or
	 * it is a thin clone, which mysqld uses as its own user. */
	char fsopts[4400];
	char fsname[1400];
	if (store_url[0])
		snprintf(fsname, sizeof(fsname), "%s/%s", store_url, mt.info.id);
	else
		snprintf(fsname, sizeof(fsname), "%s@%s:%u", ep.user, ep.host, ep.port);
	if ((size_t)snprintf(fsopts, sizeof(fsopts), "%s,fsname=%s,subtype=clonefs,default_permissions%s%s%s",
			     mt.ov ? "rw" : "ro", fsname, mt.ov ? ",allow_other" : "", mo->fuse_opts[0] ? "," : "",
			     mo->fuse_opts) >= sizeof(fsopts)) {
		cfs_err_set(&err, CFS_ER_USAGE, "too many options");
		return fail(&err);
	}
	char *fargv[] = { argv[0], "-o", fsopts, mo->debug ? "-d" : NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(mo->debug ? 4 : 3, fargv);
	/* args may be reallocated by libfuse (args.allocated): freed on every way out once made. */
	const struct fuse_lowlevel_ops *ops = mt.ov ? &clonefs_thin_ops : &clonefs_ll_ops;
	struct fuse_session *se = fuse_session_new(&args, ops, sizeof(*ops), &mt);
	if (!se) {
		fuse_opt_free_args(&args);
		cfs_err_set(&err, CFS_ER_MOUNT, "cannot start FUSE with options '%s'", fsopts);
		return fail(&err);
	}
	if (fuse_set_signal_handlers(se) || fuse_session_mount(se, mountpoint)) {
		cfs_err_set(&err, CFS_ER_MOUNT, "cannot mount on '%s' (is /dev/fuse available and fuse3 installed?)",
			    mountpoint);
		fuse_session_destroy(se);
		fuse_opt_free_args(&args);
		return fail(&err);
	}
	/* The mount exists: the parent returns now, the kernel queues requests until the loop runs. */
	if (fuse_daemonize(mo->foreground)) {
		fuse_session_unmount(se);
		fuse_session_destroy(se);
		fuse_opt_free_args(&args);
		return 1;
	}
	if (!mo->foreground)
		log_to(logfd, &mt, mountpoint);
	close(logfd);
	fetcher_start(&mt.fetch);
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(lc, 16);
	fuse_loop_cfg_set_idle_threads(lc, 8);
	int loop = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	fetcher_stop(&mt.fetch);
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	if (mt.ov)
		ov_close(mt.ov);
	tree_release(&mt.tree);
	cache_close(&mt.cache);
	manifest_release(&mt.m);
	wire_snap_info_release(&mt.info);
	return loop ? 1 : 0;
}

int main(int argc, char **argv)
{
	/* A donor that closes first must be an error we report, not a death by SIGPIPE (TLS writes). */
	signal(SIGPIPE, SIG_IGN);
	cfs_nofile_raise(); /* the cache keeps data files open (bounded by this limit: cache.c) */
	struct mount_opts o;
	memset(&o, 0, sizeof(o));
	int rc = run(argc, argv, &o);
	mount_opts_release(&o);
	return rc;
}
