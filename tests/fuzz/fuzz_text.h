/* fuzz_text.h: a fuzz input as a C string (the readers of text take NUL-terminated strings). */
#ifndef CLONEFS_FUZZ_TEXT_H
#define CLONEFS_FUZZ_TEXT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'ed copy of data[0, size) with a NUL after it (a NUL inside ends the string early), or NULL. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = 0;
	}
	return s;
}

#endif
