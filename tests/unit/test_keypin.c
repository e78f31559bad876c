/* test_keypin.c: the recipient's pinned donor keys: fingerprints, the known_donors parser, and trust
 * on first use (added once, known after, a changed key refused with ERROR 2061 and the facts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "tests/unit/tap.h"
#include "transport/keypin.h"

static char *pem_of(EVP_PKEY *k)
{
	static char buf[2][4096];
	static int which;
	char *out = buf[which++ % 2];
	BIO *bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, k);
	int n = BIO_read(bio, out, 4095);
	out[n > 0 ? n : 0] = 0;
	BIO_free(bio);
	return out;
}

static void test_fingerprint(EVP_PKEY *a, EVP_PKEY *b)
{
	char fa[KEYPIN_FP_MAX], fa2[KEYPIN_FP_MAX], fb[KEYPIN_FP_MAX];
	CHECK(keypin_fingerprint(a, fa) == 0);
	CHECK(strncmp(fa, "SHA256:", 7) == 0 && strlen(fa) == 7 + 43);
	CHECK(keypin_fingerprint_pem(pem_of(a), fa2) == 0 && strcmp(fa, fa2) == 0);
	CHECK(keypin_fingerprint(b, fb) == 0 && strcmp(fa, fb) != 0);
	CHECK(keypin_fingerprint_pem("not a key", fa2) == -1);
	CHECK(keypin_fingerprint(NULL, fa2) == -1);
}

static void test_names(void)
{
	char n[300];
	keypin_donor_name("db.example", 4406, n, sizeof(n));
	CHECK(strcmp(n, "db.example:4406") == 0);
	keypin_donor_name("::1", 4406, n, sizeof(n));
	CHECK(strcmp(n, "[::1]:4406") == 0);
	keypin_store_path("/x/kd", n, sizeof(n));
	CHECK(strcmp(n, "/x/kd") == 0);
	setenv("CLONEFS_KNOWN_DONORS", "/env/kd", 1);
	keypin_store_path(NULL, n, sizeof(n));
	CHECK(strcmp(n, "/env/kd") == 0);
	unsetenv("CLONEFS_KNOWN_DONORS");
	keypin_store_path(NULL, n, sizeof(n));
	CHECK(strcmp(n, getuid() == 0 ? "/var/lib/clonefs/known_donors" : n) == 0);
}

static void test_find(void)
{
	const char *fp = "SHA256:AAAA", *other = "SHA256:BBBB";
	char known[KEYPIN_FP_MAX];
	unsigned line = 0;
	const char *s = "# pinned keys\n\nh:1 SHA256:BBBB\nH:1\tSHA256:AAAA comment\r\n";
	CHECK(keypin_store_find(s, strlen(s), "h:1", fp, &line, known) == KEYPIN_MATCH);
	s = "# pinned keys\n\nh:1 SHA256:BBBB\nh:2 SHA256:AAAA";
	CHECK(keypin_store_find(s, strlen(s), "h:1", fp, &line, known) == KEYPIN_MISMATCH);
	CHECK(line == 3 && strcmp(known, other) == 0);
	CHECK(keypin_store_find(s, strlen(s), "h:2", fp, &line, known) == KEYPIN_MATCH);
	CHECK(keypin_store_find(s, strlen(s), "h:3", fp, &line, known) == KEYPIN_ABSENT);
	CHECK(keypin_store_find(s, strlen(s) - 1, "h:2", fp, &line, known) == KEYPIN_MISMATCH); /* a cut line */
	s = "h:1\nh:1 nokey\n#h:1 SHA256:BBBB\nh:10 SHA256:BBBB\n";
	CHECK(keypin_store_find(s, strlen(s), "h:1", fp, &line, known) == KEYPIN_ABSENT);
	CHECK(keypin_store_find("", 0, "h:1", fp, &line, known) == KEYPIN_ABSENT);
}

static void test_store(void)
{
	char dir[] = "/tmp/clonefs-keypin.XXXXXX", store[300];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(store, sizeof(store), "%s/sub/known_donors", dir);
	struct cfs_err err = { 0 };
	bool added = false;
	CHECK(keypin_store_check(store, "h:1", "SHA256:AAAA", &added, &err) == 0 && added);
	CHECK(keypin_store_check(store, "h:1", "SHA256:AAAA", &added, &err) == 0 && !added);
	CHECK(keypin_store_check(store, "h:2", "SHA256:BBBB", &added, &err) == 0 && added);
	CHECK(keypin_store_check(store, "h:1", "SHA256:CCCC", &added, &err) == -1 && !added);
	CHECK(err.code == CR_AUTH_PLUGIN_ERR && strstr(err.msg, "h:1") && strstr(err.msg, "SHA256:AAAA") &&
	      strstr(err.msg, "SHA256:CCCC") && strstr(err.msg, ":1 has"));
	/* A store that cannot be written: refused, not trusted. */
	char blocked[320];
	snprintf(blocked, sizeof(blocked), "%s/sub/known_donors/x", dir);
	CHECK(keypin_store_check(blocked, "h:1", "SHA256:AAAA", &added, &err) == -1 && err.code == CR_AUTH_PLUGIN_ERR);
	CHECK(strstr(err.msg, "Authentication requires secure connection.") != NULL);
	FILE *f = fopen(store, "r");
	char text[256] = "";
	size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	text[n] = 0;
	if (f)
		fclose(f);
	CHECK(strcmp(text, "h:1 SHA256:AAAA\nh:2 SHA256:BBBB\n") == 0);
	unlink(store);
	snprintf(store, sizeof(store), "%s/sub", dir);
	rmdir(store);
	rmdir(dir);
}

int main(void)
{
	EVP_PKEY *a = EVP_RSA_gen(2048), *b = EVP_RSA_gen(2048);
	test_fingerprint(a, b);
	test_names();
	test_find();
	test_store();
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	return tap_done();
}
