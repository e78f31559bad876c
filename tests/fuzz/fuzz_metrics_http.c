/* fuzz_metrics_http.c: libFuzzer target for clonefsd --metrics' HTTP request parser (whatever a
 * client on the metrics port sends). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/metrics_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > METRICS_HTTP_REQ_MAX)
		size = METRICS_HTTP_REQ_MAX; /* the responder never parses more */
	/* A copy of exactly size bytes: a read past it is caught by ASan. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct metrics_http_req req;
	int r = metrics_http_parse(buf, size, &req);
	if (r != 0 && r != 1)
		abort();
	if (r == 1 && req.status != 200 && req.status != 400 && req.status != 404 && req.status != 405 &&
	    req.status != 505)
		abort();
	/* 200 only for a request line that names /metrics. */
	if (r == 1 && req.status == 200 && (size < 14 || !memmem(buf, size, " /metrics", 9)))
		abort();
	free(buf);
	return 0;
}
