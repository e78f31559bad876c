/* fuzz_clone_stmt.c: libFuzzer target for the CLONE INSTANCE statement parser (text a user or a
 * script hands to clonefs clone). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/clone_stmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clone_stmt st;
	struct cfs_err err;
	if (clone_stmt_parse((const char *)data, size, &st, &err) == 0) {
		/* What parsed is whole: every name present, a real port; CLONE LOCAL: its directory only. */
		if (st.local ? !st.data_dir || st.user || st.host || st.password
			     : !st.user || !st.host || !st.password || st.port == 0 || st.port > 65535)
			abort();
		clone_stmt_release(&st);
	} else if (err.code == 0 || strlen(err.msg) == 0) {
		abort();
	}
	return 0;
}
