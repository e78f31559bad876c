/* fuzz_manifest.c: libFuzzer target for the manifest parser (hostile donors). */
#include <stdint.h>
#include <stdlib.h>

#include "transport/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m;
	struct cfs_err err;
	if (manifest_parse(data, size, &m, &err) == 0) {
		/* What passed must be safe to use: every path valid and every parent a directory. */
		for (uint32_t i = 0; i < m.n; i++) {
			if (!manifest_path_ok(m.e[i].path, __builtin_strlen(m.e[i].path)))
				abort();
			if (m.e[i].parent != MANIFEST_ROOT && m.e[m.e[i].parent].type != MANIFEST_DIR)
				abort();
		}
		manifest_release(&m);
	}
	return 0;
}
