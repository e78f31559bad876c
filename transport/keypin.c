/* keypin.c: which donor RSA keys a recipient trusts with a password: key fingerprints, the pinned key
 * file (server_public_key=) and the trust-on-first-use store known_donors (ssh's known_hosts idea). */
#include "transport/keypin.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

int keypin_fingerprint(EVP_PKEY *key, char fp[KEYPIN_FP_MAX])
{
	unsigned char *der = NULL;
	int n = key ? i2d_PUBKEY(key, &der) : -1;
	if (n <= 0)
		return -1;
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
	SHA256(der, (size_t)n, md);
	OPENSSL_free(der);
	int len = EVP_EncodeBlock(b64, md, sizeof(md));
	while (len > 0 && b64[len - 1] == '=')
		len--;
	snprintf(fp, KEYPIN_FP_MAX, "SHA256:%.*s", len, (const char *)b64);
	return 0;
}

int keypin_fingerprint_pem(const char *pem, char fp[KEYPIN_FP_MAX])
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	int rc = keypin_fingerprint(key, fp);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return rc;
}

int keypin_file_fingerprint(const char *path, char fp[KEYPIN_FP_MAX], struct cfs_err *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return cfs_err_set(err, CFS_ER_USAGE, "server_public_key=%s: %s", path, strerror(errno));
	EVP_PKEY *key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	int rc = keypin_fingerprint(key, fp);
	EVP_PKEY_free(key);
	if (rc)
		return cfs_err_set(err, CFS_ER_USAGE, "server_public_key=%s: not a PEM public key (the donor's is "
				   "STATE_DIR/rsa-public.pem)", path);
	return 0;
}

void keypin_store_path(const char *option, char *out, size_t n)
{
	const char *env = getenv("CLONEFS_KNOWN_DONORS");
	if (option && *option) {
		snprintf(out, n, "%s", option);
	} else if (env && *env) {
		snprintf(out, n, "%s", env);
	} else if (getuid() == 0) {
		snprintf(out, n, "/var/lib/clonefs/known_donors");
	} else {
		const char *xdg = getenv("XDG_CONFIG_HOME");
		const char *home = getenv("HOME");
		struct passwd *pw = getpwuid(getuid());
		if (xdg && *xdg)
			snprintf(out, n, "%s/clonefs/known_donors", xdg);
		else
			snprintf(out, n, "%s/.config/clonefs/known_donors", home && *home ? home : pw ? pw->pw_dir : "/");
	}
}

void keypin_donor_name(const char *host, unsigned port, char *out, size_t n)
{
	snprintf(out, n, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

/* The next whitespace-separated field of [*p, end), or NULL; its length in *len. */
static const char *field(const char **p, const char *end, size_t *len)
{
	const char *s = *p;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	const char *e = s;
	while (e < end && *e != ' ' && *e != '\t')
		e++;
	*p = e;
	*len = (size_t)(e - s);
	return e > s ? s : NULL;
}

enum keypin_found keypin_store_find(const char *buf, size_t len, const char *donor, const char *fp,
				    unsigned *line, char known[KEYPIN_FP_MAX])
{
	enum keypin_found found = KEYPIN_ABSENT;
	size_t dlen = strlen(donor), flen = strlen(fp);
	const char *p = buf, *end = buf + len;
	for (unsigned no = 1; p < end; no++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *next = nl ? nl + 1 : end;
		if (eol > p && eol[-1] == '\r')
			eol--;
		size_t hl, kl;
		const char *cur = p;
		const char *h = field(&cur, eol, &hl);
		const char *k = h && *h != '#' ? field(&cur, eol, &kl) : NULL;
		p = next;
		/* Host names compare without case, as DNS does; fingerprints exactly (base64). */
		if (!k || hl != dlen || strncasecmp(h, donor, dlen) != 0 || kl < 7 || kl >= KEYPIN_FP_MAX ||
		    memcmp(k, "SHA256:", 7) != 0)
			continue;
		if (kl == flen && memcmp(k, fp, flen) == 0)
			return KEYPIN_MATCH;
		if (found == KEYPIN_ABSENT) {
			found = KEYPIN_MISMATCH;
			*line = no;
			snprintf(known, KEYPIN_FP_MAX, "%.*s", (int)kl, k);
		}
	}
	return found;
}

/* mkdir -p of path's parent directory (the store's directory may not exist yet). */
static int make_parent(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	for (char *p = dir + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(dir, 0755) && errno != EEXIST)
				return -errno;
			if (!c)
				return 0;
			*p = c;
		}
	}
}

static int lock_bounded(int fd)
{
	for (int waited = 0; ; waited += 50) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || waited >= KEYPIN_LOCK_WAIT_MS)
			return -errno;
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int keypin_store_check(const char *store, const char *donor, const char *fp, bool *added, struct cfs_err *err)
{
	*added = false;
	int rc = make_parent(store);
	int fd = rc ? -1 : open(store, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || (rc = lock_bounded(fd)) != 0) {
		if (fd >= 0)
			close(fd);
		return cfs_err_set(err, CR_AUTH_PLUGIN_ERR, CR_AUTH_PLUGIN_ERR_INSECURE " The donor %s offers no verified "
				   "TLS and its RSA key %s cannot be pinned in %s (%s): use ssl_ca= or server_public_key=",
				   donor, fp, store, strerror(rc ? -rc : errno));
	}
	struct stat st;
	char *buf = NULL;
	rc = -1;
	if (fstat(fd, &st) || st.st_size > KEYPIN_STORE_MAX || !S_ISREG(st.st_mode)) {
		cfs_err_set(err, CFS_ER_IO, "known donors file %s: not a regular file of at most %d bytes", store,
			    KEYPIN_STORE_MAX);
		goto out;
	}
	size_t len = (size_t)st.st_size;
	buf = malloc(len + 1);
	if (!buf || pread(fd, buf, len, 0) != (ssize_t)len) {
		cfs_err_set(err, CFS_ER_IO, "cannot read the known donors file %s: %s", store, buf ? strerror(errno) : "out of memory");
		goto out;
	}
	unsigned line = 0;
	char known[KEYPIN_FP_MAX] = "";
	switch (keypin_store_find(buf, len, donor, fp, &line, known)) {
	case KEYPIN_MATCH:
		rc = 0;
		break;
	case KEYPIN_MISMATCH:
		cfs_err_set(err, CR_AUTH_PLUGIN_ERR, CR_AUTH_PLUGIN_ERR_PREFIX "the RSA key of the donor %s has CHANGED: "
			    "%s:%u has %s, the donor offers %s. Someone may be intercepting the connection, or the donor's "
			    "key was replaced: if it was, delete that line", donor, store, line, known, fp);
		break;
	case KEYPIN_ABSENT: {
		char entry[512];
		int n = snprintf(entry, sizeof(entry), "%s%s %s\n", len && buf[len - 1] != '\n' ? "\n" : "", donor, fp);
		int w = n > 0 && (size_t)n < sizeof(entry) ? write_all(fd, entry, (size_t)n) : -ENAMETOOLONG;
		if (w == 0 && fsync(fd))
			w = -errno;
		if (w) {
			cfs_err_set(err, CR_AUTH_PLUGIN_ERR, CR_AUTH_PLUGIN_ERR_INSECURE " Cannot pin the RSA key %s of the "
				    "donor %s in %s (%s): use ssl_ca= or server_public_key=", fp, donor, store, strerror(-w));
			break;
		}
		*added = true;
		rc = 0;
		break;
	}
	}
out:
	free(buf);
	close(fd); /* releases the lock */
	return rc;
}
