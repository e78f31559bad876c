/* test_units.c: the one size reader (transport/units.c) and the checked path builder
 * (transport/path.c): suffixes, overflow, refusals; a path that does not fit is an error. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "tests/unit/tap.h"
#include "transport/path.h"
#include "transport/units.h"

static void test_sizes(void)
{
	uint64_t v = 7;
	CHECK(units_parse_size("0", &v) == 0 && v == 0);
	CHECK(units_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(units_parse_size("64K", &v) == 0 && v == 65536);
	CHECK(units_parse_size("64k", &v) == 0 && v == 65536);
	CHECK(units_parse_size("10M", &v) == 0 && v == 10ull << 20);
	CHECK(units_parse_size("20G", &v) == 0 && v == 20ull << 30);
	CHECK(units_parse_size("3t", &v) == 0 && v == 3ull << 40);
	CHECK(units_parse_size("18446744073709551615", &v) == 0 && v == UINT64_MAX);
	v = 7;
	CHECK(units_parse_size("18446744073709551616", &v) == -ERANGE && v == 7);
	CHECK(units_parse_size("16777216T", &v) == -ERANGE);
	CHECK(units_parse_size("16777215T", &v) == 0 && v == 16777215ull << 40);
	CHECK(units_parse_size("99999999999999999999999G", &v) == -ERANGE);
	const char *bad[] = { "", "-1", "+1", " 1", "1 ", "1.5G", "G", "1KB", "1X", "0x10", "1e3", NULL };
	for (int i = 0; bad[i]; i++)
		CHECK(units_parse_size(bad[i], &v) == -EINVAL);
	CHECK(units_parse_size(NULL, &v) == -EINVAL);
}

static void test_paths(void)
{
	char out[16];
	CHECK(path_join(out, sizeof(out), "/a", "b") == 0 && !strcmp(out, "/a/b"));
	CHECK(path_join(out, sizeof(out), "/0123456789", "abc") == 0 && !strcmp(out, "/0123456789/abc"));
	CHECK(path_join(out, sizeof(out), "/0123456789", "abcd") == -ENAMETOOLONG && out[0] == 0);
	CHECK(path_fmt(out, sizeof(out), "%s.tmp", "/x") == 0 && !strcmp(out, "/x.tmp"));
	CHECK(path_fmt(out, 0, "%s", "") == -ENAMETOOLONG);
}

int main(void)
{
	test_sizes();
	test_paths();
	return tap_done();
}
