/* test_zadapt.c: --compression=auto's choice (transport/donor/zadapt.c): it starts compressing, turns
 * compression off when zstd is what the time goes to and the wire has room, keeps it on when the
 * wire is what holds the transfer back, comes back on when a probe shows the wire got slow, and
 * learns nothing from small READs. */
#include "tests/unit/tap.h"
#include "transport/donor/zadapt.h"

enum { MB = 1 << 20 };

/* A READ of 4 MiB of data: encoding took encode_ms, sending send_ms, zstd shrank it by ratio. */
static struct zadapt_sample sample(double ratio, double encode_ms, double send_ms)
{
	struct zadapt_sample s = { .raw_bytes = 4 * MB, .wire_bytes = (uint64_t)(4 * MB / ratio),
				   .encode_ns = (uint64_t)(encode_ms * 1e6), .send_ns = (uint64_t)(send_ms * 1e6) };
	return s;
}

static void test_cpu_bound_turns_off(void)
{
	struct zadapt a;
	zadapt_init(&a);
	CHECK(zadapt_begin(&a, 4 * MB)); /* starts on */
	/* zstd took 10 ms for 4 MiB (400 MB/s), the wire took 1 ms for the 2 MiB it carried: raw would
	 * cost about 2 ms of sending and no zstd. */
	struct zadapt_sample s = sample(2, 10, 1);
	zadapt_end(&a, true, &s);
	CHECK(!a.compress);
	CHECK(a.ratio > 1.9 && a.ratio < 2.1);
	CHECK(!zadapt_begin(&a, 4 * MB));
}

static void test_network_bound_stays_on(void)
{
	struct zadapt a;
	zadapt_init(&a);
	/* The wire took 500 ms for 2 MiB (4 MB/s): raw would take a second; zstd's 10 ms is nothing. */
	struct zadapt_sample s = sample(2, 10, 500);
	zadapt_end(&a, true, &s);
	CHECK(a.compress);
	/* Incompressible data behind the same wire: zstd saves nothing and costs 200 ms, so it goes
	 * (a cost under 10 % would keep the current choice). */
	s = sample(1, 200, 1000);
	zadapt_end(&a, true, &s);
	CHECK(!a.compress);
}

static void test_probe_brings_it_back(void)
{
	struct zadapt a;
	zadapt_init(&a);
	struct zadapt_sample s = sample(2, 10, 1);
	zadapt_end(&a, true, &s);
	CHECK(!a.compress);
	/* Raw READs on a wire that became slow: 4 MiB took 800 ms to send. The model (zstd's 10 ms
	 * plus half the bytes) says compressing pays. */
	s = sample(1, 2, 800);
	zadapt_end(&a, false, &s);
	CHECK(a.compress);
	/* And while raw, every ZADAPT_PROBE_EVERY-th READ compresses to keep the estimate fresh. */
	zadapt_init(&a);
	s = sample(2, 10, 1);
	zadapt_end(&a, true, &s);
	int probes = 0;
	for (int i = 0; i < 2 * ZADAPT_PROBE_EVERY; i++)
		probes += zadapt_begin(&a, 4 * MB);
	CHECK(probes == 2);
}

static void test_small_reads_teach_nothing(void)
{
	struct zadapt a;
	zadapt_init(&a);
	struct zadapt_sample s = sample(2, 10, 1);
	s.raw_bytes = 64 * 1024;
	zadapt_end(&a, true, &s);
	CHECK(a.compress);
	CHECK(zadapt_begin(&a, 64 * 1024));
	/* Equal costs keep the current choice (no flapping): zstd 2 ms + wire 2 ms vs raw 4 ms. */
	s = sample(2, 2, 2);
	s.encode_ns = 2000000;
	zadapt_end(&a, true, &s);
	CHECK(a.compress);
}

int main(void)
{
	test_cpu_bound_turns_off();
	test_network_bound_stays_on();
	test_probe_brings_it_back();
	test_small_reads_teach_nothing();
	return tap_done();
}
