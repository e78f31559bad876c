/* donor_auth.c: authenticates recipients with the donor server's own accounts (a real login as
 * that user through --socket), checks the snapshot privilege, and owns the RSA key used when a
 * password crosses without TLS. */
#include "transport/donor/donor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

MYSQL *donor_login(const char *user, const char *password, struct cfs_err *err)
{
	MYSQL *db = mysql_init(NULL);
	if (!db) {
		cfs_err_set(err, CFS_ER_IO, "out of memory");
		return NULL;
	}
	unsigned int timeout = 10;
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &(unsigned int){ 3600 });
	if (!mysql_real_connect(db, NULL, user, password, NULL, 0, donor_cfg.socket, 0)) {
		/* The server's own words: 1045 Access denied for user 'u'@'localhost' (using password: YES). */
		unsigned code = mysql_errno(db);
		cfs_err_set(err, (int)code, "%s", mysql_error(db));
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", mysql_sqlstate(db));
		if (code >= 2000 && code < 3000)
			cfs_err_set(err, ER_CLONE_DONOR, "Clone Donor Error: clonefsd cannot reach its server at %s: %u : %s.",
				    donor_cfg.socket, code, mysql_error(db));
		mysql_close(db);
		return NULL;
	}
	mysql_set_character_set(db, "utf8mb4");
	return db;
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
