/* human.h: byte counts as a DBA reads them (1.50 GiB), the one format every clonefs command uses. */
#ifndef CLONEFS_HUMAN_H
#define CLONEFS_HUMAN_H

#include <stddef.h>
#include <stdint.h>

void human_bytes(uint64_t b, char *out, size_t n);
/* A count read as a double (a JSON number) as a uint64_t: 0 below 0 or not a number, at most
 * UINT64_MAX (a plain cast of a value out of range is undefined). */
uint64_t human_u64(double v);

#endif
