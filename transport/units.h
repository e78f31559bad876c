/* units.h: the one reader of a size a user writes (cache_max=10G, --max-size=500M, --chunk-size=64K). */
#ifndef CLONEFS_UNITS_H
#define CLONEFS_UNITS_H

#include <stdint.h>

/* Decimal digits with an optional binary suffix K, M, G or T (either case), nothing else: no sign,
 * no space, no fraction. 0, or -EINVAL (not that form) or -ERANGE (more than UINT64_MAX bytes). */
int units_parse_size(const char *s, uint64_t *out);

#endif
