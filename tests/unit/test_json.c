/* test_json.c: the mount's status document is valid JSON in valid UTF-8 whatever the donor's facts
 * hold (fs/json.c, fs/status.c), and the tools read it back through jansson (tools/mountinfo.c,
 * tools/status_cmd.c, tools/clone_progress.c). */
#include <stdlib.h>
#include <string.h>

#include "fs/ctl.h"
#include "fs/json.h"
#include "fs/mount.h"
#include "tests/unit/tap.h"
#include "tools/clone_progress.h"
#include "tools/mountinfo.h"

static json_t *parse(const struct wbuf *b)
{
	return json_parse_doc((const char *)b->p, b->len, NULL, 0);
}

/* One string through the writer: its JSON text, parsed back. */
static char *roundtrip(const char *s)
{
	struct wbuf b;
	wbuf_init(&b, 1 << 16);
	json_raw(&b, "[");
	json_str(&b, s);
	json_raw(&b, "]");
	json_t *doc = parse(&b);
	wbuf_release(&b);
	char *out = json_is_string(json_array_get(doc, 0)) ? strdup(json_string_value(json_array_get(doc, 0))) : NULL;
	json_decref(doc);
	return out;
}

static void check_roundtrip(const char *in, const char *want)
{
	char *got = roundtrip(in);
	CHECK(got && !strcmp(got, want));
	free(got);
}

#define FFFD "\xef\xbf\xbd"

static void test_strings(void)
{
	check_roundtrip("plain", "plain");
	check_roundtrip("q\"b\\s\tn\n\x01", "q\"b\\s\tn\n\x01");
	check_roundtrip("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xac", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xac");
	check_roundtrip("latin1 caf\xe9!", "latin1 caf" FFFD "!");         /* a latin1 byte */
	check_roundtrip("\x80x", FFFD "x");                                 /* a lone continuation */
	check_roundtrip("\xc0\xaf", FFFD FFFD);                             /* overlong '/' */
	check_roundtrip("\xe0\x80\xaf", FFFD FFFD FFFD);                    /* overlong, 3 bytes */
	check_roundtrip("\xed\xa0\x80", FFFD FFFD FFFD);                    /* a surrogate */
	check_roundtrip("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);           /* above U+10FFFF */
	check_roundtrip("\xff\xfe", FFFD FFFD);
	check_roundtrip("cut \xe2\x82", "cut " FFFD FFFD);                  /* cut at the end */
	check_roundtrip(NULL, "");
}

/* A mount whose donor said something that is not UTF-8: the whole status still parses. */
static void test_status_document(void)
{
	static struct mount mt;
	pthread_mutex_init(&mt.cache.lock, NULL);
	pthread_mutex_init(&mt.fetch.lock, NULL);
	mt.fetch.cache = &mt.cache;
	snprintf(mt.host, sizeof(mt.host), "donor\xfe.example");
	mt.port = 4406;
	snprintf(mt.info.id, sizeof(mt.info.id), "snap-1");
	snprintf(mt.fetch.last_error, sizeof(mt.fetch.last_error), "ERROR 2013 (HY000): Lost connection \xff");
	CHECK(wire_snap_info_set(&mt.info, "version", "10.11.6-MariaDB\xc0") == 0);
	CHECK(wire_snap_info_set(&mt.info, "hostname\xe9", "h\x01\"") == 0);
	CHECK(wire_snap_info_set(&mt.info, CTL_FACT_BINLOG_FILE, "binlog.000002") == 0);
	struct wbuf b;
	wbuf_init(&b, 1 << 20);
	mount_status_json(&mt, &b);
	CHECK(!b.over);
	json_t *doc = parse(&b);
	CHECK(json_is_object(doc));
	char v[256];
	CHECK(!strcmp(json_get_text(doc, CTL_ST_DONOR, CTL_ST_DONOR_VERSION, v, sizeof(v)), "10.11.6-MariaDB" FFFD));
	CHECK(!strcmp(json_get_text(doc, CTL_ST_DONOR, CTL_ST_DONOR_HOST, v, sizeof(v)), "donor" FFFD ".example"));
	CHECK(!strcmp(json_get_text(doc, CTL_ST_DONOR, CTL_ST_DONOR_PORT, v, sizeof(v)), "4406"));
	CHECK(!strcmp(json_get_text(doc, CTL_ST_FACTS, "hostname" FFFD, v, sizeof(v)), "h\x01\""));
	CHECK(!strcmp(json_get_text(doc, NULL, CTL_ST_BINLOG_FILE, v, sizeof(v)), "binlog.000002"));
	CHECK(!strcmp(json_get_text(doc, NULL, CTL_ST_SNAPSHOT_ID, v, sizeof(v)), "snap-1"));
	CHECK(json_get_num(doc, NULL, CTL_ST_BYTES_TOTAL) == 0);
	json_get_text(doc, NULL, CTL_ST_LAST_ERROR, v, sizeof(v));
	struct cfs_err err;
	CHECK(mountinfo_parse_error(v, &err) == 0 && err.code == 2013 && !strcmp(err.sqlstate, "HY000") &&
	      !strcmp(err.msg, "Lost connection " FFFD));
	/* What clonefs status prints from it. */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	status_cmd_print(doc, f);
	fclose(f);
	CHECK(text && strstr(text, "snapshot   snap-1 of donor" FFFD ".example:4406 (10.11.6-MariaDB" FFFD ")\n"));
	CHECK(text && strstr(text, "last error ERROR 2013 (HY000): Lost connection " FFFD "\n"));
	free(text);
	json_decref(doc);
	wbuf_release(&b);
	wire_snap_info_release(&mt.info);
}

/* The reader takes what it is given: absent keys, other types, numbers as strings, nesting. */
static void test_reader(void)
{
	const char *t = "{\"a\":\"x\",\"n\":12,\"r\":1.5,\"s\":\"7.25\",\"o\":{\"k\":\"in\"},\"arr\":[1],\"z\":null}";
	json_t *doc = json_parse_doc(t, strlen(t), NULL, 0);
	char v[16];
	CHECK(doc != NULL);
	CHECK(!strcmp(json_get_text(doc, NULL, "a", v, sizeof(v)), "x"));
	CHECK(!strcmp(json_get_text(doc, NULL, "n", v, sizeof(v)), "12"));
	CHECK(!strcmp(json_get_text(doc, NULL, "r", v, sizeof(v)), "1.500"));
	CHECK(!strcmp(json_get_text(doc, "o", "k", v, sizeof(v)), "in"));
	CHECK(!strcmp(json_get_text(doc, NULL, "k", v, sizeof(v)), ""));
	CHECK(!strcmp(json_get_text(doc, "a", "k", v, sizeof(v)), "")); /* "a" is no object */
	CHECK(!strcmp(json_get_text(doc, NULL, "arr", v, sizeof(v)), ""));
	CHECK(!strcmp(json_get_text(doc, NULL, "z", v, sizeof(v)), ""));
	CHECK(json_get_num(doc, NULL, "n") == 12 && json_get_num(doc, NULL, "s") == 7.25);
	CHECK(json_get_num(doc, NULL, "a") == 0 && json_get_num(doc, NULL, "missing") == 0);
	json_decref(doc);
	char why[200] = "";
	CHECK(json_parse_doc("{\"a\":", 5, why, sizeof(why)) == NULL && why[0]);
	CHECK(json_parse_doc("{\"a\":\"\xff\"}", 9, NULL, 0) == NULL); /* jansson refuses what we never write */
	CHECK(mountinfo_parse_error("no error", &(struct cfs_err){ 0 }) == -1);
	CHECK(mountinfo_parse_error("", &(struct cfs_err){ 0 }) == -1);
}

static void test_clone_progress(void)
{
	const char *t = "{\"state\":\"Failed\",\"error_message\":\"it \\\"broke\\\"\",\"stages\":["
			"{\"stage\":\"SNAPSHOT\",\"state\":\"Completed\",\"begin_time\":\"b\",\"end_time\":\"e\"},"
			"{\"stage\":\"FILE COPY\",\"state\":\"Failed\",\"begin_time\":\"b2\",\"end_time\":\"\"}]}";
	json_t *doc = json_parse_doc(t, strlen(t), NULL, 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	clone_progress_print(doc, f);
	fclose(f);
	CHECK(text && strstr(text, "SNAPSHOT   Completed    b                    e"));
	CHECK(text && strstr(text, "FILE COPY  Failed       b2"));
	CHECK(text && strstr(text, "error: it \"broke\"\n"));
	free(text);
	json_decref(doc);
}

int main(void)
{
	test_strings();
	test_status_document();
	test_reader();
	test_clone_progress();
	return tap_done();
}
