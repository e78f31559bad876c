/* donor_log.c: clonefsd's log: one line per event in a stable key=value form,
 *   ts=2026-12-02T22:00:00.000Z event=snapshot_made msg="snapshot ... made with btrfs in 0 s: ..."
 * (ts in UTC; event a fixed name per kind of event, for grep and log processors; msg the words for a
 * DBA, quoted with \" \\ and \n escaped), on stderr: the journal under systemd, the log file once
 * daemonized. Whole lines even from many threads. Callers never pass a password. */
#include "transport/donor/donor.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER; /* guards stderr: one line at a time */

void donor_log_lock(void) { pthread_mutex_lock(&log_lock); }
void donor_log_unlock(void) { pthread_mutex_unlock(&log_lock); }

static void donor_vevent(const char *event, const char *fmt, va_list ap)
{
	char ts[32];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);
	char msg[2048], line[4200];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t o = 0;
	for (const char *p = msg; *p && o + 3 < sizeof(line); p++) {
		if (*p == '"' || *p == '\\' || *p == '\n') {
			line[o++] = '\\';
			line[o++] = *p == '\n' ? 'n' : *p;
		} else {
			line[o++] = *p;
		}
	}
	line[o] = 0;
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "ts=%s event=%s msg=\"%s\"\n", ts, event, line);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void donor_event(const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	donor_vevent(event, fmt, ap);
	va_end(ap);
}

void donor_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	donor_vevent("log", fmt, ap);
	va_end(ap);
}
