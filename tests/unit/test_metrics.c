/* test_metrics.c: the Prometheus text writer (transport/metrics.c: label escapes, cumulative
 * histogram buckets) and the HTTP request parser behind clonefsd --metrics (transport/metrics_http.c:
 * what gets 200, 400, 404, 405 and 505, and an incomplete head waiting for more). */
#include <string.h>

#include "tests/unit/tap.h"
#include "transport/metrics.h"
#include "transport/metrics_http.h"

static int status_of(const char *req, bool *head)
{
	struct metrics_http_req r;
	int rc = metrics_http_parse((const uint8_t *)req, strlen(req), &r);
	if (head)
		*head = r.head;
	return rc == 0 ? 0 : r.status;
}

static void test_parse(void)
{
	bool head = true;
	CHECK(status_of("GET /metrics HTTP/1.1\r\nHost: a:1\r\nAccept: */*\r\n\r\n", &head) == 200 && !head);
	CHECK(status_of("HEAD /metrics?x=1 HTTP/1.0\n\n", &head) == 200 && head);
	CHECK(status_of("GET /metrics HTTP/1.1\r\nHost: a", NULL) == 0);  /* not yet whole */
	CHECK(status_of("GET /metricsx HTTP/1.0\r\n\r\n", NULL) == 404);
	CHECK(status_of("GET / HTTP/1.0\r\n\r\n", NULL) == 404);
	CHECK(status_of("POST /metrics HTTP/1.0\r\n\r\n", NULL) == 405);
	CHECK(status_of("GET /metrics HTTP/2.0\r\n\r\n", NULL) == 505);
	CHECK(status_of("GET /metrics HTTP/1.0\r\nno colon\r\n\r\n", NULL) == 400);
	CHECK(status_of("GET /metrics HTTP/1.0\r\n: empty name\r\n\r\n", NULL) == 400);
	CHECK(status_of("GET  /metrics HTTP/1.0\r\n\r\n", NULL) == 400);
	CHECK(status_of("GET /metrics\r\n\r\n", NULL) == 400);
	CHECK(status_of("\r\n\r\n", NULL) == 400);
	static const char nul[] = "GET /met\0rics HTTP/1.0\r\n\r\n";
	struct metrics_http_req r;
	CHECK(metrics_http_parse((const uint8_t *)nul, sizeof(nul) - 1, &r) == 1 && r.status == 400);
}

static void test_text(void)
{
	struct wbuf b;
	wbuf_init(&b, 1 << 20);
	char lb[256] = "";
	metrics_label(lb, sizeof(lb), "snapshot", "a\"b\\c\nd");
	metrics_label(lb, sizeof(lb), "donor", "h:1");
	CHECK(strcmp(lb, "snapshot=\"a\\\"b\\\\c\\nd\",donor=\"h:1\"") == 0);
	struct metrics_hist h;
	memset(&h, 0, sizeof(h));
	metrics_hist_observe(&h, 500000);         /* 0.5 ms: the first bucket */
	metrics_hist_observe(&h, 30000000);       /* 30 ms: le 0.05 */
	metrics_hist_observe(&h, 120000000000ull); /* 2 min: only +Inf */
	metrics_hist_write(&b, "x_seconds", "", &h);
	wbuf_u8(&b, 0);
	const char *t = (const char *)b.p;
	CHECK(strstr(t, "x_seconds_bucket{le=\"0.001\"} 1\n") != NULL);
	CHECK(strstr(t, "x_seconds_bucket{le=\"0.025\"} 1\n") != NULL);
	CHECK(strstr(t, "x_seconds_bucket{le=\"0.05\"} 2\n") != NULL);
	CHECK(strstr(t, "x_seconds_bucket{le=\"60\"} 2\n") != NULL);
	CHECK(strstr(t, "x_seconds_bucket{le=\"+Inf\"} 3\n") != NULL);
	CHECK(strstr(t, "x_seconds_count 3\n") != NULL);
	CHECK(strstr(t, "x_seconds_sum 120.0305\n") != NULL);
	wbuf_release(&b);
}

int main(void)
{
	test_parse();
	test_text();
	return tap_done();
}
