/* donor_auth.c: authenticates recipients with the donor server's own accounts (a real login as
 * that user through --socket), checks the snapshot privilege, and owns the RSA key used when a
 * password crosses without TLS. */
#include "transport/donor/donor.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

/* ip (numeric) and port of a socket address; 4 or 6 (an IPv4-mapped IPv6 address is 4), or -1. */
static int addr_text(const struct sockaddr_storage *ss, char *ip, size_t ipsz, unsigned *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		*port = ntohs(a->sin_port);
		return inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)ipsz) ? 4 : -1;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		*port = ntohs(a->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			return inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, (socklen_t)ipsz) ? 4 : -1;
		return inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)ipsz) ? 6 : -1;
	}
	return -1;
}

int donor_peer_of(int fd, struct donor_peer *p)
{
	struct sockaddr_storage peer, self;
	socklen_t pl = sizeof(peer), sl = sizeof(self);
	char sip[INET6_ADDRSTRLEN];
	unsigned pport, sport;
	memset(p, 0, sizeof(*p));
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) || getsockname(fd, (struct sockaddr *)&self, &sl))
		return -errno;
	int fam = addr_text(&peer, p->ip, sizeof(p->ip), &pport);
	if (fam < 0)
		return -EAFNOSUPPORT;
	if (addr_text(&self, sip, sizeof(sip), &sport) != fam)
		snprintf(sip, sizeof(sip), "%s", fam == 4 ? "127.0.0.1" : "::1");
	/* Version 1 of the PROXY protocol (haproxy's proxy-protocol.txt 2.1): one text line, which
	 * MariaDB reads before the handshake when proxy_protocol_networks admits the socket. */
	if (donor_cfg.proxy_protocol)
		snprintf(p->proxy, sizeof(p->proxy), "PROXY TCP%d %s %s %u %u\r\n", fam, p->ip, sip, pport, sport);
	return 0;
}

/* The one line a donor gets when its server refuses clonefsd's PROXY header. */
static int proxy_refused(struct cfs_err *err, const char *server_msg)
{
	return cfs_err_set(err, ER_CLONE_DONOR, "Clone Donor Error: the server on %s refuses the PROXY protocol "
			   "header with which clonefsd gives it each recipient's address (%s): add "
			   "proxy_protocol_networks=localhost under [mariadbd] (or SET GLOBAL proxy_protocol_networks="
			   "'localhost'), or start clonefsd with --proxy-protocol=off (the server then sees every "
			   "recipient as 'user'@'localhost').", donor_cfg.socket, server_msg);
}

static bool proxy_header_refused(MYSQL *db)
{
	return mysql_errno(db) == ER_HOST_NOT_PRIVILEGED && strstr(mysql_error(db), "Proxy header") != NULL;
}

static MYSQL *connect_socket(const char *user, const char *password, const char *proxy)
{
	MYSQL *db = mysql_init(NULL);
	if (!db)
		return NULL;
	unsigned int timeout = 10;
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &(unsigned int){ 3600 });
	if (proxy && *proxy)
		mysql_optionsv(db, MARIADB_OPT_PROXY_HEADER, proxy, strlen(proxy));
	mysql_real_connect(db, NULL, user, password, NULL, 0, donor_cfg.socket, 0);
	return db;
}

/* With skip_name_resolve, MariaDB keeps the name 'localhost' it gives a socket connection after a
 * PROXY header changed its address, so 'u'@'localhost' would match a recipient from anywhere
 * (over TCP it never would). The account the server took must match the address itself. */
static int check_account_host(MYSQL *db, const char *user, bool with_password, const struct donor_peer *peer,
			      struct cfs_err *err)
{
	if (mysql_query(db, "SELECT @@skip_name_resolve, CURRENT_USER()")) {
		cfs_err_set(err, (int)mysql_errno(db), "%s", mysql_error(db));
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", mysql_sqlstate(db));
		return -1;
	}
	MYSQL_RES *res = mysql_store_result(db);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	const char *account = row && row[1] ? row[1] : "";
	const char *at = strrchr(account, '@');
	bool ok = !row || !row[0] || strcmp(row[0], "1") || (at && donor_host_matches(at + 1, peer->ip));
	if (!ok) {
		donor_log("%s: account %s matched only by the name 'localhost' MariaDB keeps for socket connections "
			  "with skip_name_resolve; refused, as the server refuses it over TCP", peer->ip, account);
		cfs_err_set(err, ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR_MSG, user, peer->ip,
			    with_password ? "YES" : "NO");
		snprintf(err->sqlstate, sizeof(err->sqlstate), "28000");
	}
	mysql_free_result(res);
	return ok ? 0 : -1;
}

MYSQL *donor_login(const char *user, const char *password, const struct donor_peer *peer, struct cfs_err *err)
{
	const char *proxy = peer ? peer->proxy : NULL;
	if (peer && donor_cfg.proxy_protocol && !*proxy) {
		cfs_err_set(err, ER_CLONE_DONOR, "Clone Donor Error: clonefsd cannot tell the server this recipient's "
			    "address, which it judges the account by.");
		return NULL;
	}
	MYSQL *db = connect_socket(user, password, proxy);
	if (!db) {
		cfs_err_set(err, CFS_ER_IO, "out of memory");
		return NULL;
	}
	unsigned code = mysql_errno(db);
	if (code) {
		/* The server's own words: 1045 Access denied for user 'u'@'10.0.0.7' (using password: YES). */
		cfs_err_set(err, (int)code, "%s", mysql_error(db));
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", mysql_sqlstate(db));
		if (proxy_header_refused(db))
			proxy_refused(err, mysql_error(db));
		else if (code >= 2000 && code < 3000)
			cfs_err_set(err, ER_CLONE_DONOR, "Clone Donor Error: clonefsd cannot reach its server at %s: %u : %s.",
				    donor_cfg.socket, code, mysql_error(db));
		mysql_close(db);
		return NULL;
	}
	if (proxy && *proxy && check_account_host(db, user, password && *password, peer, err)) {
		mysql_close(db);
		return NULL;
	}
	mysql_set_character_set(db, "utf8mb4");
	return db;
}

int donor_proxy_check(struct cfs_err *err)
{
	/* A LOCAL header ("UNKNOWN": the address stays the socket's) and an account that does not exist:
	 * Access denied (1045) means the header was read; 1130 "Proxy header is not accepted" that it was
	 * refused; a MySQL server, which has no PROXY protocol, fails the handshake. */
	MYSQL *db = connect_socket("clonefsd_proxy_check", "-", "PROXY UNKNOWN\r\n");
	if (!db)
		return cfs_err_set(err, CFS_ER_IO, "out of memory");
	unsigned code = mysql_errno(db);
	int rc = 0;
	if (code == 0 || code == ER_ACCESS_DENIED_ERROR)
		rc = 0;
	else if (code == 2002)
		rc = 1;
	else if (proxy_header_refused(db))
		rc = proxy_refused(err, mysql_error(db));
	else
		rc = cfs_err_set(err, ER_CLONE_DONOR, "Clone Donor Error: the server on %s does not take the PROXY "
				 "protocol header with which clonefsd gives it each recipient's address (ERROR %u: %s): "
				 "MariaDB needs proxy_protocol_networks=localhost under [mariadbd]; MySQL has no PROXY "
				 "protocol: start clonefsd with --proxy-protocol=off (every recipient is then "
				 "'user'@'localhost' to the server).", donor_cfg.socket, code, mysql_error(db));
	mysql_close(db);
	return rc;
}

/* MariaDB's wild_compare for host patterns: % any run, _ one character, \ escapes. */
static bool wild_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*p == '%') {
			star = ++p;
			resume = s;
		} else if (*p == '\\' && p[1] && p[1] == *s) {
			p += 2;
			s++;
		} else if (*p && *p != '\\' && (*p == '_' || *p == *s)) {
			p++;
			s++;
		} else if (star) {
			p = star;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '%')
		p++;
	return !*p;
}

bool donor_host_matches(const char *host, const char *ip)
{
	const char *slash = strchr(host, '/');
	if (!*host)
		return true; /* 'u'@'' is 'u'@'%' */
	if (!slash)
		return wild_match(host, ip);
	/* "net/mask" (MariaDB) or "net/bits": IPv4 only. */
	char net[INET_ADDRSTRLEN];
	struct in_addr n, m, a;
	size_t nlen = (size_t)(slash - host);
	if (nlen >= sizeof(net))
		return false;
	memcpy(net, host, nlen);
	net[nlen] = 0;
	if (inet_pton(AF_INET, net, &n) != 1 || inet_pton(AF_INET, ip, &a) != 1)
		return false;
	const char *mask = slash + 1;
	if (*mask && strspn(mask, "0123456789") == strlen(mask) && strlen(mask) <= 2) {
		unsigned long bits = strtoul(mask, NULL, 10);
		if (bits > 32)
			return false;
		m.s_addr = htonl(bits ? 0xffffffffu << (32 - bits) : 0);
	} else if (inet_pton(AF_INET, mask, &m) != 1) {
		return false;
	}
	return (a.s_addr & m.s_addr) == n.s_addr;
}

int donor_check_privilege(MYSQL *db, struct cfs_err *err)
{
	const char *need = donor_is_mariadb(db) ? "RELOAD" : "BACKUP_ADMIN";
	/* Plain SHOW GRANTS: the account's grants and, on MariaDB, those of its active (default) role. */
	if (mysql_query(db, "SHOW GRANTS")) {
		cfs_err_set(err, (int)mysql_errno(db), "%s", mysql_error(db));
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", mysql_sqlstate(db));
		return -1;
	}
	MYSQL_RES *res = mysql_store_result(db);
	bool ok = false;
	MYSQL_ROW row;
	while (res && (row = mysql_fetch_row(res))) {
		const char *g = row[0] ? row[0] : "";
		const char *on = strstr(g, " ON *.* TO ");
		if (!on || strncmp(g, "GRANT ", 6) != 0)
			continue;
		/* The privilege list is between "GRANT " and " ON": match whole words. */
		char privs[1024];
		size_t n = (size_t)(on - g - 6) < sizeof(privs) - 3 ? (size_t)(on - g - 6) : sizeof(privs) - 3;
		privs[0] = ',';
		memcpy(privs + 1, g + 6, n);
		privs[n + 1] = ',';
		privs[n + 2] = 0;
		char word[64];
		snprintf(word, sizeof(word), ",%s,", need);
		for (char *p = privs; *p; p++)
			if (*p == ' ' && (p[-1] == ','))
				memmove(p, p + 1, strlen(p));
		if (strstr(privs, ",ALL PRIVILEGES,") || strstr(privs, ",ALL,") || strstr(privs, word))
			ok = true;
	}
	mysql_free_result(res);
	if (!ok)
		return cfs_err_set(err, ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR_MSG, need);
	return 0;
}

int donor_rsa_init(struct cfs_err *err)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/rsa.pem", donor_cfg.state_dir);
	FILE *f = fopen(path, "re");
	if (f) {
		donor_cfg.rsa = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!donor_cfg.rsa) {
		donor_cfg.rsa = EVP_RSA_gen(2048);
		if (!donor_cfg.rsa)
			return cfs_err_set(err, CFS_ER_IO, "cannot generate the RSA key");
		mode_t old = umask(077);
		f = fopen(path, "we");
		umask(old);
		if (!f || PEM_write_PrivateKey(f, donor_cfg.rsa, NULL, NULL, 0, NULL, NULL) != 1) {
			if (f)
				fclose(f);
			return cfs_err_set(err, CFS_ER_IO, "cannot write '%s': %s", path, strerror(errno));
		}
		fclose(f);
	}
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio || PEM_write_bio_PUBKEY(bio, donor_cfg.rsa) != 1) {
		BIO_free(bio);
		return cfs_err_set(err, CFS_ER_IO, "cannot encode the RSA public key");
	}
	int n = BIO_read(bio, donor_cfg.rsa_pem, sizeof(donor_cfg.rsa_pem) - 1);
	donor_cfg.rsa_pem[n > 0 ? n : 0] = 0;
	BIO_free(bio);
	/* The public half, for recipients to pin (server_public_key=, docs/security.md). */
	snprintf(path, sizeof(path), "%s/rsa-public.pem", donor_cfg.state_dir);
	f = fopen(path, "we");
	bool written = f && fputs(donor_cfg.rsa_pem, f) != EOF;
	if (!f || fclose(f) || !written)
		return cfs_err_set(err, CFS_ER_IO, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

int donor_rsa_decrypt(const uint8_t *ct, size_t ctlen, const uint8_t nonce[WIRE_NONCE_LEN], char *pw,
		      size_t pwsz, struct cfs_err *err)
{
	uint8_t plain[512];
	size_t n = sizeof(plain);
	int rc = -1;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(donor_cfg.rsa, NULL);
	if (!ctx || EVP_PKEY_decrypt_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 || EVP_PKEY_decrypt(ctx, plain, &n, ct, ctlen) != 1 ||
	    n < WIRE_NONCE_LEN || CRYPTO_memcmp(plain, nonce, WIRE_NONCE_LEN) != 0 || n - WIRE_NONCE_LEN >= pwsz) {
		cfs_err_set(err, ER_CLONE_PROTOCOL, ER_CLONE_PROTOCOL_MSG, "the encrypted password does not decrypt for this connection");
		goto out;
	}
	memcpy(pw, plain + WIRE_NONCE_LEN, n - WIRE_NONCE_LEN);
	pw[n - WIRE_NONCE_LEN] = 0;
	if (memchr(pw, 0, n - WIRE_NONCE_LEN)) {
		cfs_err_set(err, CFS_ER_PROTOCOL, "password holds a NUL byte");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(plain, sizeof(plain));
	EVP_PKEY_CTX_free(ctx);
	return rc;
}
