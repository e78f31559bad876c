/* human.h: byte counts as a DBA reads them (1.50 GiB), the one format every clonefs command uses. */
#ifndef CLONEFS_HUMAN_H
#define CLONEFS_HUMAN_H

#include <stddef.h>
#include <stdint.h>

void human_bytes(uint64_t b, char *out, size_t n);

#endif
