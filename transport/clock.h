/* clock.h: the monotonic clock (nanoseconds for the timings the daemons report, milliseconds for
 * deadlines and rates) and a sleep that an interrupting signal does not cut short. */
#ifndef CLONEFS_CLOCK_H
#define CLONEFS_CLOCK_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int64_t mono_ms(void)
{
	return (int64_t)(mono_ns() / 1000000u);
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

#endif
