/* s3.c: the S3 client: requests signed by libcurl's SigV4 (the payload hash sent by us, as curl
 * 7.88 does not), path-style URLs, retries with backoff and full jitter, ListObjectsV2 paging. */
#include "transport/s3.h"
#include "transport/clock.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* A GET of a whole object we read (a manifest, an index) is bounded by the caller's wbuf; a
 * listing page by this: S3 pages hold at most 1000 keys of at most 1 KiB each. */
enum { S3_LIST_PAGE_MAX = 2 << 20 };
/* Backoff: the first retry after ~100 ms, doubling up to 5 s, each a random fraction of that. */
enum { S3_BACKOFF_MIN_MS = 100, S3_BACKOFF_MAX_MS = 5000 };

bool s3_is_url(const char *s)
{
	return s && !strncmp(s, "s3://", 5);
}

int s3_url_parse(const char *s, struct s3_url *u, struct cfs_err *err)
{
	memset(u, 0, sizeof(*u));
	if (!s3_is_url(s))
		return cfs_err_set(err, CFS_ER_USAGE, "'%s' is not an s3://BUCKET[/PREFIX] address", s);
	const char *b = s + 5, *slash = strchr(b, '/');
	size_t blen = slash ? (size_t)(slash - b) : strlen(b);
	if (blen < 3 || blen >= sizeof(u->bucket))
		return cfs_err_set(err, CFS_ER_USAGE, "'%s': a bucket name has 3 to 63 characters", s);
	for (size_t i = 0; i < blen; i++)
		if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' || b[i] == '.'))
			return cfs_err_set(err, CFS_ER_USAGE, "'%s': a bucket name has only a-z, 0-9, '.' and '-'", s);
	memcpy(u->bucket, b, blen);
	if (!slash)
		return 0;
	const char *p = slash + 1;
	size_t plen = strlen(p);
	while (plen && p[plen - 1] == '/')
		plen--;
	if (plen >= sizeof(u->prefix))
		return cfs_err_set(err, CFS_ER_USAGE, "'%s': the prefix is too long", s);
	for (size_t i = 0; i < plen; i++) {
		char c = p[i];
		if (!(isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-' || c == '/'))
			return cfs_err_set(err, CFS_ER_USAGE, "'%s': a prefix has only A-Z, a-z, 0-9, '.', '_', '-' and '/'", s);
		if (c == '/' && (i == 0 || p[i - 1] == '/'))
			return cfs_err_set(err, CFS_ER_USAGE, "'%s': empty component in the prefix", s);
		if (c == '.' && (i == 0 || p[i - 1] == '/') && i + 1 < plen && p[i + 1] == '.' &&
		    (i + 2 == plen || p[i + 2] == '/'))
			return cfs_err_set(err, CFS_ER_USAGE, "'%s': '..' in the prefix", s);
	}
	memcpy(u->prefix, p, plen);
	return 0;
}

/* One "key = value" of an ini-style AWS file's [section]; 1 when found. */
static int aws_ini_get(const char *path, const char *section, const char *key, char *out, size_t outsz)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[1024];
	int in = 0, found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *s = line, *e;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = 0;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close)
				continue;
			*close = 0;
			char *name = s + 1;
			if (!strncmp(name, "profile ", 8)) /* ~/.aws/config spells non-default ones so */
				name += 8;
			in = !strcmp(name, section);
			continue;
		}
		if (!in || *s == '#' || *s == ';')
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			continue;
		char *k = s, *ke = eq;
		while (ke > k && isspace((unsigned char)ke[-1]))
			ke--;
		char *v = eq + 1;
		while (isspace((unsigned char)*v))
			v++;
		if ((size_t)(ke - k) == strlen(key) && !strncmp(k, key, strlen(key)) && strlen(v) < outsz) {
			snprintf(out, outsz, "%s", v);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

static void aws_file(char *out, size_t outsz, const char *env, const char *name)
{
	const char *e = getenv(env), *home = getenv("HOME");
	if (e && *e)
		snprintf(out, outsz, "%s", e);
	else
		snprintf(out, outsz, "%s/.aws/%s", home && *home ? home : "/root", name);
}

int s3_config_load(struct s3_config *c, const char *endpoint_opt, struct cfs_err *err)
{
	memset(c, 0, sizeof(*c));
	c->timeout_s = 60;
	const char *ep = endpoint_opt && *endpoint_opt ? endpoint_opt : getenv("AWS_ENDPOINT_URL_S3");
	if (!ep || !*ep)
		ep = getenv("AWS_ENDPOINT_URL");
	if (!ep || !*ep)
		return cfs_err_set(err, CFS_ER_USAGE,
				   "no S3 endpoint: set AWS_ENDPOINT_URL or -o s3_endpoint=http(s)://HOST[:PORT]");
	if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8))
		return cfs_err_set(err, CFS_ER_USAGE, "S3 endpoint '%s': expected http://HOST[:PORT] or https://HOST[:PORT]", ep);
	if (strlen(ep) >= sizeof(c->endpoint))
		return cfs_err_set(err, CFS_ER_USAGE, "S3 endpoint '%s' is too long", ep);
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", ep);
	size_t n = strlen(c->endpoint);
	while (n && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = 0;

	const char *profile = getenv("AWS_PROFILE");
	if (!profile || !*profile)
		profile = "default";
	char creds[1024], conf[1024];
	aws_file(creds, sizeof(creds), "AWS_SHARED_CREDENTIALS_FILE", "credentials");
	aws_file(conf, sizeof(conf), "AWS_CONFIG_FILE", "config");
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	if (ak && *ak && sk && *sk) {
		snprintf(c->access_key, sizeof(c->access_key), "%s", ak);
		snprintf(c->secret_key, sizeof(c->secret_key), "%s", sk);
	} else if (!aws_ini_get(creds, profile, "aws_access_key_id", c->access_key, sizeof(c->access_key)) ||
		   !aws_ini_get(creds, profile, "aws_secret_access_key", c->secret_key, sizeof(c->secret_key))) {
		return cfs_err_set(err, CFS_ER_USAGE,
				   "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or profile [%s] in %s",
				   profile, creds);
	}
	const char *r = getenv("AWS_REGION");
	if (!r || !*r)
		r = getenv("AWS_DEFAULT_REGION");
	if (r && *r)
		snprintf(c->region, sizeof(c->region), "%s", r);
	else if (!aws_ini_get(conf, profile, "region", c->region, sizeof(c->region)))
		snprintf(c->region, sizeof(c->region), "us-east-1");
	for (const char *p = c->region; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-'))
			return cfs_err_set(err, CFS_ER_USAGE, "S3 region '%s' is not a region name", c->region);
	return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int s3_open(struct s3 *s, const struct s3_config *c, const char *bucket, struct cfs_err *err)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *c;
	snprintf(s->bucket, sizeof(s->bucket), "%s", bucket);
	pthread_once(&curl_once, curl_init_once);
	s->curl = curl_easy_init();
	if (!s->curl)
		return cfs_err_set(err, CFS_ER_STORE, "cannot start an S3 client (libcurl)");
	return 0;
}

void s3_close(struct s3 *s)
{
	if (s->curl)
		curl_easy_cleanup(s->curl);
	s->curl = NULL;
}

static void hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = 0;
}

/* RFC 3986 unreserved characters stay; everything else is %XX (SigV4's canonical form). */
static void uri_encode(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	for (; *in && o + 4 < outsz; in++) {
		unsigned char ch = (unsigned char)*in;
		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outsz - o, "%%%02X", ch);
	}
	out[o] = 0;
}

struct sink {
	struct wbuf *out;
	bool over;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *k = arg;
	size_t len = sz * n;
	if (!k->out)
		return len;
	wbuf_put(k->out, p, len);
	if (k->out->over) {
		k->over = true;
		return 0; /* ends the transfer: more than the caller allows */
	}
	return len;
}

struct source {
	const uint8_t *p;
	size_t len, off;
};

static size_t on_read(char *p, size_t sz, size_t n, void *arg)
{
	struct source *src = arg;
	size_t k = sz * n, left = src->len - src->off;
	if (k > left)
		k = left;
	memcpy(p, src->p + src->off, k);
	src->off += k;
	return k;
}

/* The text of an S3 error body's <Code>, for messages. */
static void error_code(const struct wbuf *b, char *out, size_t outsz)
{
	out[0] = 0;
	if (!b || !b->len)
		return;
	const char *s = memmem(b->p, b->len, "<Code>", 6);
	if (!s)
		return;
	s += 6;
	const char *e = memmem(s, b->len - (size_t)((const uint8_t *)s - b->p), "</Code>", 7);
	if (!e || (size_t)(e - s) >= outsz)
		return;
	for (const char *q = s; q < e; q++)
		if (!isalnum((unsigned char)*q))
			return;
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = 0;
}

static bool retryable(CURLcode cc, long http)
{
	if (cc != CURLE_OK)
		return cc != CURLE_WRITE_ERROR; /* a body larger than allowed is final */
	return http >= 500 || http == 429 || http == 408;
}

/* One request with retries. method: "GET", "PUT", "DELETE", "HEAD". key may be NULL (the bucket);
 * query must be canonical (sorted, encoded). out may be NULL. *http_out gets the final status. */
static int request(struct s3 *s, const char *method, const char *key, const char *query, const void *body,
		   size_t blen, uint64_t roff, uint64_t rlen, struct wbuf *out, long *http_out, struct cfs_err *err)
{
	char url[2048], sig[128], auth[600], hdr_sha[128], range[80], keyenc[1200];
	keyenc[0] = 0;
	if (key) {
		/* Keys are ours ([A-Za-z0-9._/-]): only '/' stays as it is. */
		size_t o = 0;
		for (const char *k = key; *k && o + 4 < sizeof(keyenc); k++) {
			if (*k == '/')
				keyenc[o++] = '/';
			else {
				char one[2] = { *k, 0 }, enc[8];
				uri_encode(one, enc, sizeof(enc));
				o += (size_t)snprintf(keyenc + o, sizeof(keyenc) - o, "%s", enc);
			}
		}
	}
	snprintf(url, sizeof(url), "%s/%s%s%s%s%s", s->cfg.endpoint, s->bucket, key ? "/" : "", keyenc,
		 query && *query ? "?" : "", query ? query : "");
	snprintf(sig, sizeof(sig), "aws:amz:%s:s3", s->cfg.region);
	snprintf(auth, sizeof(auth), "%s:%s", s->cfg.access_key, s->cfg.secret_key);
	uint8_t md[SHA256_DIGEST_LENGTH];
	SHA256(body ? body : (const void *)"", blen, md);
	char mdhex[2 * SHA256_DIGEST_LENGTH + 1];
	hex(md, sizeof(md), mdhex);
	snprintf(hdr_sha, sizeof(hdr_sha), "x-amz-content-sha256: %s", mdhex);

	int64_t deadline = mono_ms() + (int64_t)s->cfg.timeout_s * 1000;
	unsigned backoff = S3_BACKOFF_MIN_MS;
	char cerr[CURL_ERROR_SIZE];
	for (int attempt = 0;; attempt++) {
		CURL *h = s->curl;
		curl_easy_reset(h);
		struct curl_slist *hl = curl_slist_append(NULL, hdr_sha);
		if (rlen) {
			snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)roff,
				 (unsigned long long)(roff + rlen - 1));
			hl = curl_slist_append(hl, range);
		}
		struct sink sk = { out, false };
		struct source src = { body, blen, 0 };
		if (out)
			wbuf_reset(out);
		cerr[0] = 0;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sig);
		curl_easy_setopt(h, CURLOPT_USERPWD, auth);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &sk);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
		/* A stalled transfer (under 1 KiB/s for 15 s) is a transport error, retried. */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 15L);
		if (!strcmp(method, "PUT")) {
			curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(h, CURLOPT_READDATA, &src);
			curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)blen);
		} else if (!strcmp(method, "HEAD")) {
			curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		} else if (strcmp(method, "GET")) {
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		}
		atomic_fetch_add(&s->requests, 1);
		CURLcode cc = curl_easy_perform(h);
		long http = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
		curl_slist_free_all(hl);
		if (cc == CURLE_OK && http >= 200 && http < 300) {
			if (!strcmp(method, "PUT"))
				atomic_fetch_add(&s->bytes_up, blen);
			if (out)
				atomic_fetch_add(&s->bytes_down, out->len);
			*http_out = http;
			return 0;
		}
		if (sk.over)
			return cfs_err_set(err, CFS_ER_STORE, "S3 %s %s/%s: the answer is larger than %zu bytes", method,
					   s->bucket, key ? key : "", out ? out->max : 0);
		*http_out = http;
		int64_t now = mono_ms();
		if (retryable(cc, http) && now < deadline) {
			unsigned r = 0;
			RAND_bytes((unsigned char *)&r, sizeof(r));
			unsigned wait = backoff ? r % backoff + 1 : 1;
			if (now + wait > deadline)
				wait = (unsigned)(deadline - now);
			atomic_fetch_add(&s->retries, 1);
			struct timespec ts = { wait / 1000, (long)(wait % 1000) * 1000000L };
			nanosleep(&ts, NULL);
			backoff = backoff * 2 > S3_BACKOFF_MAX_MS ? S3_BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		if (cc != CURLE_OK || retryable(cc, http))
			return cfs_err_set(err, CFS_ER_NETWORK, "S3 store %s unreachable (%s %s/%s, %d attempts in %d s): %s",
					   s->cfg.endpoint, method, s->bucket, key ? key : "", attempt + 1,
					   s->cfg.timeout_s, cc != CURLE_OK ? (cerr[0] ? cerr : curl_easy_strerror(cc)) : "HTTP 5xx/429");
		char code[64];
		error_code(out, code, sizeof(code));
		if (http == 403 && (!strcmp(code, "InvalidAccessKeyId") || !strcmp(code, "SignatureDoesNotMatch") ||
				    !strcmp(code, "AccessDenied") || !code[0]))
			return cfs_err_set(err, CFS_ER_STORE_AUTH, "S3 store %s refused the credentials of access key '%s' (%s %s/%s: HTTP 403 %s)",
					   s->cfg.endpoint, s->cfg.access_key, method, s->bucket, key ? key : "",
					   code[0] ? code : "Forbidden");
		if (http == 404)
			return cfs_err_set(err, CFS_ER_STORE_MISSING, "S3 %s/%s: not found in store %s (%s)", s->bucket,
					   key ? key : "", s->cfg.endpoint, code[0] ? code : "NoSuchKey");
		return cfs_err_set(err, CFS_ER_STORE, "S3 %s %s/%s failed at store %s: HTTP %ld %s (%d attempts)", method,
				   s->bucket, key ? key : "", s->cfg.endpoint, http, code, attempt + 1);
	}
}

int s3_put(struct s3 *s, const char *key, const void *buf, size_t len, struct cfs_err *err)
{
	struct wbuf eb;
	wbuf_init(&eb, 64 << 10);
	long http;
	int rc = request(s, "PUT", key, NULL, buf, len, 0, 0, &eb, &http, err);
	wbuf_release(&eb);
	return rc;
}

int s3_get(struct s3 *s, const char *key, uint64_t off, uint64_t len, struct wbuf *out, struct cfs_err *err)
{
	long http;
	if (request(s, "GET", key, NULL, NULL, 0, off, len, out, &http, err))
		return -1;
	if (len && out->len != len)
		return cfs_err_set(err, CFS_ER_STORE, "S3 %s/%s: asked for %llu bytes at %llu, got %zu (HTTP %ld)",
				   s->bucket, key, (unsigned long long)len, (unsigned long long)off, out->len, http);
	return 0;
}

int s3_delete(struct s3 *s, const char *key, struct cfs_err *err)
{
	struct wbuf eb;
	wbuf_init(&eb, 64 << 10);
	long http;
	int rc = request(s, "DELETE", key, NULL, NULL, 0, 0, 0, &eb, &http, err);
	wbuf_release(&eb);
	if (rc && err->code == CFS_ER_STORE_MISSING) { /* gone already: what we wanted */
		cfs_err_clear(err);
		rc = 0;
	}
	return rc;
}

int s3_create_bucket(struct s3 *s, struct cfs_err *err)
{
	struct wbuf eb;
	wbuf_init(&eb, 64 << 10);
	long http;
	int rc = request(s, "PUT", NULL, NULL, NULL, 0, 0, 0, &eb, &http, err);
	if (rc && http == 409) {
		char code[64];
		error_code(&eb, code, sizeof(code));
		if (!strcmp(code, "BucketAlreadyOwnedByYou") || !strcmp(code, "BucketAlreadyExists")) {
			cfs_err_clear(err);
			rc = 0;
		}
	}
	wbuf_release(&eb);
	return rc;
}

/* The text between <tag> and </tag> starting at or after p, within end; NULL if none. */
static const char *xml_elem(const char *p, const char *end, const char *tag, size_t *n, const char **after)
{
	char open[48], close[48];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	size_t ol = strlen(open), cl = strlen(close);
	const char *a = memmem(p, (size_t)(end - p), open, ol);
	if (!a)
		return NULL;
	a += ol;
	const char *b = memmem(a, (size_t)(end - a), close, cl);
	if (!b)
		return NULL;
	*n = (size_t)(b - a);
	if (after)
		*after = b + cl;
	return a;
}

int s3_list_parse(const uint8_t *xml, size_t len, s3_list_cb cb, void *arg, bool *truncated, char *token,
		  size_t tokensz)
{
	const char *p = (const char *)xml, *end = p + len;
	*truncated = false;
	token[0] = 0;
	size_t n;
	const char *t = xml_elem(p, end, "IsTruncated", &n, NULL);
	if (t && n == 4 && !memcmp(t, "true", 4)) {
		*truncated = true;
		t = xml_elem(p, end, "NextContinuationToken", &n, NULL);
		/* A token with a NUL would be cut to another one ("" restarts the listing: forever). */
		if (!t || n == 0 || n >= tokensz || memchr(t, 0, n))
			return -1;
		memcpy(token, t, n);
		token[n] = 0;
	}
	const char *c;
	size_t cn;
	while ((c = xml_elem(p, end, "Contents", &cn, &p))) {
		const char *ce = c + cn;
		size_t kn, sn;
		const char *k = xml_elem(c, ce, "Key", &kn, NULL), *sz = xml_elem(c, ce, "Size", &sn, NULL);
		size_t mn;
		const char *mt = xml_elem(c, ce, "LastModified", &mn, NULL);
		int64_t mtime = 0;
		if (mt && mn >= 19 && mn < 40) { /* 2026-12-02T22:41:00.123Z */
			char ts[40];
			struct tm tm;
			memcpy(ts, mt, mn);
			ts[mn] = 0;
			memset(&tm, 0, sizeof(tm));
			if (strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
				mtime = (int64_t)timegm(&tm);
		}
		char key[1025], num[24];
		if (!k || !sz || kn == 0 || kn >= sizeof(key) || sn == 0 || sn >= sizeof(num))
			return -1;
		memcpy(key, k, kn);
		key[kn] = 0;
		memcpy(num, sz, sn);
		num[sn] = 0;
		/* Our keys have no characters XML escapes, and no NUL: anything else is not ours. */
		if (strlen(key) != kn || strchr(key, '&'))
			continue;
		char *ep;
		errno = 0;
		unsigned long long size = strtoull(num, &ep, 10);
		if (errno || *ep || !isdigit((unsigned char)num[0]))
			return -1;
		if (cb(arg, key, size, mtime))
			return 1;
	}
	return 0;
}

int s3_list(struct s3 *s, const char *prefix, s3_list_cb cb, void *arg, struct cfs_err *err)
{
	struct wbuf page;
	wbuf_init(&page, S3_LIST_PAGE_MAX);
	char token[1024] = "", query[5000], ptok[1024 * 3 + 1], ppre[1600];
	uri_encode(prefix, ppre, sizeof(ppre));
	int rc = 0;
	for (;;) {
		/* Canonical order: continuation-token < list-type < prefix. */
		if (token[0]) {
			uri_encode(token, ptok, sizeof(ptok));
			snprintf(query, sizeof(query), "continuation-token=%s&list-type=2&prefix=%s", ptok, ppre);
		} else {
			snprintf(query, sizeof(query), "list-type=2&prefix=%s", ppre);
		}
		long http;
		if (request(s, "GET", NULL, query, NULL, 0, 0, 0, &page, &http, err)) {
			rc = -1;
			break;
		}
		bool more;
		char prev[sizeof(token)];
		memcpy(prev, token, sizeof(prev));
		int pr = s3_list_parse(page.p, page.len, cb, arg, &more, token, sizeof(token));
		/* A page must move on: the same token again would list the same page forever. */
		if (pr < 0 || (pr == 0 && more && !strcmp(token, prev))) {
			rc = cfs_err_set(err, CFS_ER_STORE, "S3 store %s: a listing of %s/%s is malformed", s->cfg.endpoint,
					 s->bucket, prefix);
			break;
		}
		if (pr > 0 || !more)
			break;
	}
	wbuf_release(&page);
	return rc;
}
