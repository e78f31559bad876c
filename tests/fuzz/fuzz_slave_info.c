/* fuzz_slave_info.c: libFuzzer target for what the recipient writes from a donor's replication and
 * InnoDB facts (clonefs_slave_info, clonefs_info.json's replication and innodb_note): a hostile
 * donor chooses every fact. Input: the mount's facts text, "key<TAB>value" lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/slave_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mountinfo mi;
	memset(&mi, 0, sizeof(mi));
	mi.text = malloc(size + 1);
	if (!mi.text)
		return 0;
	memcpy(mi.text, data, size);
	mi.text[size] = 0;
	for (char *line = mi.text; line && *line && mi.n < MOUNTINFO_MAX;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		char *tab = strchr(line, '\t');
		if (tab) {
			*tab = 0;
			mi.key[mi.n] = line;
			mi.val[mi.n] = tab + 1;
			mi.n++;
		}
		line = nl ? nl + 1 : NULL;
	}
	struct wbuf b;
	wbuf_init(&b, 1u << 20);
	slave_info_text(&mi, &b);
	slave_info_json(&mi, &b);
	if (b.len > (1u << 20))
		abort();
	wbuf_release(&b);
	char note[2048];
	slave_info_innodb_note(&mi, note, sizeof(note));
	if (strlen(note) >= sizeof(note))
		abort();
	mountinfo_release(&mi);
	return 0;
}
