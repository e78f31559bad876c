/* donor_service.c: clonefsd as a service: readiness and reload for systemd (sd_notify when built
 * with libsystemd, nothing otherwise), the TLS context sessions take a reference to (replaced by a
 * reload: new sessions get the renewed certificate, running ones keep theirs), and the log file
 * reopened on SIGHUP (logrotate). */
#include "transport/donor/donor.h"
#include "transport/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef CLONEFS_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER; /* guards donor_cfg.tls */

void donor_notify(const char *state)
{
#ifdef CLONEFS_HAVE_LIBSYSTEMD
	sd_notify(0, state); /* without $NOTIFY_SOCKET (not under systemd): does nothing */
#else
	(void)state;
#endif
}

SSL_CTX *donor_tls_get(void)
{
	pthread_mutex_lock(&tls_lock);
	SSL_CTX *ctx = donor_cfg.tls;
	if (ctx)
		SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&tls_lock);
	return ctx;
}

void donor_tls_set(SSL_CTX *ctx)
{
	pthread_mutex_lock(&tls_lock);
	SSL_CTX *old = donor_cfg.tls;
	donor_cfg.tls = ctx;
	pthread_mutex_unlock(&tls_lock);
	SSL_CTX_free(old); /* sessions holding it keep it until they end */
}

/* The certificate's SHA-256 fingerprint (hex) and serial, for the log line of a (re)load. */
static void describe_cert(SSL_CTX *ctx, char *out, size_t outsz)
{
	X509 *x = ctx ? SSL_CTX_get0_certificate(ctx) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!x || X509_digest(x, EVP_sha256(), md, &n) != 1) {
		snprintf(out, outsz, "cert_sha256=? serial=?");
		return;
	}
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	char serial[128] = "?";
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *s = bn ? BN_bn2hex(bn) : NULL;
	if (s)
		snprintf(serial, sizeof(serial), "%s", s);
	OPENSSL_free(s);
	BN_free(bn);
	snprintf(out, outsz, "cert_sha256=%.128s serial=%.64s", hex, serial);
}

int donor_tls_reload(const char *cert, const char *key, const char *ca, bool require_client_cert)
{
	struct cfs_err err = { 0 };
	SSL_CTX *ctx = conn_tls_server_ctx(cert, key, ca, require_client_cert, &err);
	if (!ctx) {
		donor_event("reload_failed", "certificate %s not reloaded, the previous one stays: ERROR %d: %s", cert,
			    err.code, err.msg);
		return -1;
	}
	char desc[512];
	describe_cert(ctx, desc, sizeof(desc));
	donor_tls_set(ctx);
	donor_event("tls_loaded", "certificate %s loaded for new connections (%s)", cert, desc);
	return 0;
}

int donor_log_reopen(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		donor_event("log_reopen_failed", "cannot reopen the log %s: %s; logging on to the previous file", path,
			    strerror(errno));
		return -1;
	}
	donor_log_lock();
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	donor_log_unlock();
	close(fd);
	donor_event("log_reopened", "log %s reopened", path);
	return 0;
}
