/* keypin.h: the donor RSA keys a recipient trusts with a password when TLS is not verified against a
 * CA: a key's fingerprint, a pinned key file (server_public_key=) and the trust-on-first-use store
 * known_donors, in the style of ssh's known_hosts (docs/security.md). */
#ifndef CLONEFS_KEYPIN_H
#define CLONEFS_KEYPIN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "transport/errors.h"

/* "SHA256:" + 43 characters of unpadded base64 of the SHA-256 of the key's DER SubjectPublicKeyInfo
 * (what `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64` prints, without
 * its '='), and a NUL. */
enum { KEYPIN_FP_MAX = 52 };
/* The store is a few lines per donor a host has ever used: anything larger is not one. */
enum { KEYPIN_STORE_MAX = 1 << 20 };
/* A mount waits at most this long for another process holding the store's lock (each one holds
 * it for one read and at most one appended line). */
enum { KEYPIN_LOCK_WAIT_MS = 10000 };

int keypin_fingerprint(EVP_PKEY *key, char fp[KEYPIN_FP_MAX]);
/* The fingerprint of a PEM public key (a donor's HELLO_OK, its rsa-public.pem). -1 if it is none. */
int keypin_fingerprint_pem(const char *pem, char fp[KEYPIN_FP_MAX]);
/* server_public_key=F: the fingerprint of the PEM public key in file F, or -1 with 7006 naming F. */
int keypin_file_fingerprint(const char *path, char fp[KEYPIN_FP_MAX], struct cfs_err *err);

/* The store's path: known_donors= if given, else $CLONEFS_KNOWN_DONORS, else
 * /var/lib/clonefs/known_donors for root, else $XDG_CONFIG_HOME/clonefs/known_donors (or
 * ~/.config/clonefs/known_donors). "none" means no store: only server_public_key= or verified TLS. */
void keypin_store_path(const char *option, char *out, size_t n);

/* "host:port" as the store keys a donor; an IPv6 address goes in brackets: "[::1]:4406". */
void keypin_donor_name(const char *host, unsigned port, char *out, size_t n);

enum keypin_found { KEYPIN_ABSENT = 0, KEYPIN_MATCH, KEYPIN_MISMATCH };
/* Looks donor up in the store's text (buf, len): lines "HOST:PORT SHA256:... [comment]", '#'
 * comments, blank lines; a line that is not of that form is skipped. MATCH when a line for donor
 * has fp; MISMATCH when lines for donor exist but none has it (the first such line's number and
 * fingerprint in *line and known); ABSENT otherwise. Fuzzed by tests/fuzz/fuzz_known_donors.c. */
enum keypin_found keypin_store_find(const char *buf, size_t len, const char *donor, const char *fp,
				    unsigned *line, char known[KEYPIN_FP_MAX]);

/* Trust on first use: under the store's lock, 0 when donor is known with fp; a donor the store
 * does not know is added with fp (*added = true) and trusted; a donor known with another key is
 * refused with ERROR 2061 naming the donor, both fingerprints, the store's line and the way out. */
int keypin_store_check(const char *store, const char *donor, const char *fp, bool *added, struct cfs_err *err);

#endif
