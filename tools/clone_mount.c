/* clone_mount.c: the temporary mount clonefs check and clone read the donor through: mount.clonefs
 * beside this binary, the password over a pipe (password_file=/dev/fd/N), errors relayed. */
#include "tools/clone_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/ctl.h"
#include "tools/mountinfo.h"
#include "tools/rmtree.h"
#include "tools/spawn.h"

enum { MOUNT_OUTPUT_MAX = 4096 };

/* mount.clonefs from the directory of this binary (bin/ or /usr/local/...), else from PATH. */
static void mount_binary(char *out, size_t n)
{
	char self[PATH_MAX - 32];
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (l > 0) {
		self[l] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(out, n, "%s/mount.clonefs", self);
			if (access(out, X_OK) == 0)
				return;
			snprintf(out, n, "%s/../sbin/mount.clonefs", self);
			if (access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, n, "mount.clonefs");
}

/* Codes raised by the donor's server or clonefsd (docs/errors.md: inside 3862 for clonefs clone). */
static bool donor_side(int code)
{
	switch (code) {
	case ER_ACCESS_DENIED_ERROR: case ER_SPECIFIC_ACCESS_DENIED_ERROR: case CR_CONN_HOST_ERROR:
	case ER_CLONE_TOO_MANY_CONCURRENT_CLONES: case ER_CLONE_ENCRYPTION: case CFS_ER_SNAPSHOT:
		return true;
	default:
		return false;
	}
}

void clone_mount_relay_error(const char *line, bool wrap, struct cfs_err *err)
{
	struct cfs_err e;
	if (mountinfo_parse_error(line, &e)) {
		cfs_err_set(err, CFS_ER_MOUNT, "mount.clonefs failed: %.400s", line);
		return;
	}
	if (wrap && donor_side(e.code)) {
		char inner[CFS_ERR_MSG_MAX];
		bool connect = e.code == ER_ACCESS_DENIED_ERROR || e.code == CR_CONN_HOST_ERROR;
		snprintf(inner, sizeof(inner), "%s%d : %.440s", connect ? "Connect failed: " : "", e.code, e.msg);
		cfs_err_set(err, ER_CLONE_DONOR, ER_CLONE_DONOR_MSG, inner);
		return;
	}
	*err = e;
}

static int make_dir(char *out, size_t n, const char *workdir, const char *name, struct cfs_err *err)
{
	snprintf(out, n, "%s/.clonefs-%s-XXXXXX", workdir, name);
	if (!mkdtemp(out))
		return cfs_err_set(err, CFS_ER_IO, "cannot create %s: %s", out, strerror(errno));
	return 0;
}

int clone_mount_open(struct clone_mount *cm, const char *workdir, const char *user, const char *host,
		     unsigned port, const char *password, const char *extra_opts, bool prefetch,
		     const char *snapshot, bool wrap, struct cfs_err *err)
{
	if (!cm->mnt[0] && make_dir(cm->mnt, sizeof(cm->mnt), workdir, "mnt", err))
		return -1;
	if (!cm->cache[0] && make_dir(cm->cache, sizeof(cm->cache), workdir, "cache", err))
		return -1;
	int pw[2];
	if (pipe(pw))
		return cfs_err_set(err, CFS_ER_IO, "pipe: %s", strerror(errno));
	size_t plen = strlen(password);
	if (plen >= 65536 || write(pw[1], password, plen) != (ssize_t)plen) {
		close(pw[0]);
		close(pw[1]);
		return cfs_err_set(err, CFS_ER_IO, "cannot hand the password to mount.clonefs");
	}
	close(pw[1]);
	char bin[PATH_MAX], donor[512], opts[8192 + PATH_MAX];
	mount_binary(bin, sizeof(bin));
	/* A host with ':' (IPv6) goes in brackets, as endpoint_parse reads it. */
	snprintf(donor, sizeof(donor), strchr(host, ':') ? "%s@[%s]:%u" : "%s@%s:%u", user, host, port);
	/* A staging mount hands files to materialize; a thin clone keeps them and writes over them. */
	bool handoff = prefetch && !cm->upper[0];
	snprintf(opts, sizeof(opts), "password_file=/dev/fd/%d,cache_dir=%s,prefetch=%s,handoff=%s,snapshot=%s%s%s%s%s",
		 pw[0], cm->cache, prefetch ? "on" : "off", handoff ? "on" : "off", snapshot, cm->upper[0] ? ",rw,upper=" : "",
		 cm->upper, extra_opts && *extra_opts ? "," : "", extra_opts ? extra_opts : "");
	char *argv[] = { bin, donor, cm->mnt, "-o", opts, NULL };
	char out[MOUNT_OUTPUT_MAX];
	int rc = spawn_capture(argv, NULL, 1, out, sizeof(out));
	close(pw[0]);
	if (rc != 0) {
		if (rc < 0)
			return cfs_err_set(err, CFS_ER_MOUNT, "cannot run %s: %s", bin, strerror(errno));
		/* The last ERROR line it printed. */
		char *line = NULL;
		for (char *p = out; (p = strstr(p, "ERROR ")); p++)
			if (p == out || p[-1] == '\n')
				line = p;
		clone_mount_relay_error(line ? line : out, wrap, err);
		return -1;
	}
	cm->mounted = true;
	struct mountinfo mi;
	if (mountinfo_read(cm->mnt, &mi, err)) {
		clone_mount_unmount(cm);
		return -1;
	}
	snprintf(cm->snapshot, sizeof(cm->snapshot), "%s", mountinfo_get(&mi, CTL_FACT_SNAPSHOT_ID));
	mountinfo_release(&mi);
	return 0;
}

void clone_mount_unmount(struct clone_mount *cm)
{
	if (!cm->mounted)
		return;
	char out[1024];
	char *argv[] = { "fusermount3", "-u", cm->mnt, NULL };
	if (spawn_capture(argv, NULL, 1, out, sizeof(out)) != 0) {
		char *lazy[] = { "fusermount3", "-u", "-z", cm->mnt, NULL };
		spawn_capture(lazy, NULL, 1, out, sizeof(out));
	}
	cm->mounted = false;
}

void clone_mount_remove_paths(const char *mnt, const char *cache)
{
	char out[1024], m[PATH_MAX];
	snprintf(m, sizeof(m), "%s", mnt);
	char *argv[] = { "fusermount3", "-u", "-z", m, NULL };
	if (m[0]) {
		spawn_capture(argv, NULL, 1, out, sizeof(out));
		rmdir(m);
	}
	if (cache[0])
		rm_tree(cache);
}

void clone_mount_close(struct clone_mount *cm)
{
	clone_mount_unmount(cm);
	if (cm->mnt[0])
		rmdir(cm->mnt);
	if (cm->cache[0])
		rm_tree(cm->cache);
	cm->mnt[0] = cm->cache[0] = 0;
}
