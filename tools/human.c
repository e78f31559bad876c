/* human.c: byte counts in binary units with two decimals (whole bytes below 1 KiB). */
#include "tools/human.h"

#include <stdio.h>

void human_bytes(uint64_t b, char *out, size_t n)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, n, i ? "%.2f %s" : "%.0f %s", v, unit[i]);
}

uint64_t human_u64(double v)
{
	if (!(v > 0))
		return 0;
	return v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
}
