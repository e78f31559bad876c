/* fuzz_mycnf.c: libFuzzer target for the reader of my_print_defaults's output (tools/mycnf.c), which
 * carries whatever the recipient's option files hold. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_text.h"
#include "tools/mycnf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	if (!text)
		return 0;
	struct mycnf c;
	struct cfs_err err;
	if (mycnf_parse(text, &c, &err) == 0) {
		/* Every option kept is named, with '_' for '-', and found again by its name. */
		for (size_t i = 0; i < c.n; i++)
			if (!c.name[i][0] || strchr(c.name[i], '-') || !mycnf_get(&c, c.name[i]))
				abort();
		mycnf_release(&c);
	} else if (err.code == 0 || c.n != 0) {
		abort();
	}
	free(text);
	return 0;
}
