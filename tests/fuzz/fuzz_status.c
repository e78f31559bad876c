/* fuzz_status.c: libFuzzer target for what the tools read from a mount or a clone's progress file
 * (a JSON document written by another process: clonefs status, status --clone, materialize's last
 * error) and for the writer that makes those documents from a donor's facts: any bytes written as
 * a string come back as valid JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/json.h"
#include "tests/fuzz/fuzz_text.h"
#include "tools/clone_progress.h"
#include "tools/mountinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink && !(sink = fopen("/dev/null", "w")))
		abort();
	json_t *doc = json_parse_doc((const char *)data, size, NULL, 0);
	if (doc) {
		status_cmd_print(doc, sink);
		clone_progress_print(doc, sink);
		char line[CFS_ERR_MSG_MAX + 64];
		struct cfs_err err;
		json_get_text(doc, NULL, "last_error", line, sizeof(line));
		mountinfo_parse_error(line, &err);
		json_decref(doc);
	}
	/* The input as a fact's key and value: the document parses and holds one member. */
	char *s = fuzz_text(data, size);
	if (!s)
		return 0;
	struct wbuf b;
	wbuf_init(&b, 16 * size + 64);
	json_raw(&b, "{");
	json_kv_str(&b, s, s, 0);
	json_raw(&b, "}");
	json_t *back = json_parse_doc((const char *)b.p, b.len, NULL, 0);
	if (b.over || !json_is_object(back) || json_object_size(back) != 1)
		abort();
	json_decref(back);
	wbuf_release(&b);
	free(s);
	return 0;
}
