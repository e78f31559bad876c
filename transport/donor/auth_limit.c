/* auth_limit.c: MySQL's max_connect_errors for clonefsd: a host whose logins fail
 * AUTH_LIMIT_FAILURES times within AUTH_LIMIT_WINDOW_S is refused (ERROR 1129) for AUTH_LIMIT_BLOCK_S,
 * before its password reaches the server, so the donor's accounts cannot be guessed at wire speed. */
#include "transport/donor/donor.h"

#include <string.h>
#include <time.h>

struct host_record {
	char host[64];        /* the peer's address, without the port */
	int failures;
	time_t window_start, blocked_until, last_seen;
};

static struct host_record hosts[AUTH_LIMIT_HOSTS];
static pthread_mutex_t hosts_lock = PTHREAD_MUTEX_INITIALIZER; /* guards hosts[] */

/* "1.2.3.4:5678" or "[::1]:5678" -> "1.2.3.4" / "::1" */
static void host_of(const char *peer, char *out, size_t n)
{
	const char *p = peer;
	size_t len;
	if (*p == '[') {
		p++;
		len = strcspn(p, "]");
	} else {
		const char *colon = strrchr(p, ':');
		len = colon ? (size_t)(colon - p) : strlen(p);
	}
	snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), p);
}

/* The record of host, or the least recently seen one reused for it (hosts_lock held). */
static struct host_record *record(const char *host, time_t now)
{
	struct host_record *oldest = &hosts[0];
	for (size_t i = 0; i < AUTH_LIMIT_HOSTS; i++) {
		if (!strcmp(hosts[i].host, host))
			return &hosts[i];
		if (hosts[i].last_seen < oldest->last_seen)
			oldest = &hosts[i];
	}
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->host, sizeof(oldest->host), "%s", host);
	oldest->window_start = now;
	return oldest;
}

/* Lock the table and return peer's record, seen now (unlock with pthread_mutex_unlock(&hosts_lock)). */
static struct host_record *seen(const char *peer, char *host, size_t n, time_t now)
{
	host_of(peer, host, n);
	pthread_mutex_lock(&hosts_lock);
	struct host_record *r = record(host, now);
	r->last_seen = now;
	return r;
}

int donor_auth_allowed(const char *peer, struct cfs_err *err)
{
	char host[64];
	time_t now = time(NULL);
	struct host_record *r = seen(peer, host, sizeof(host), now);
	long left = (long)(r->blocked_until - now);
	pthread_mutex_unlock(&hosts_lock);
	if (left <= 0)
		return 0;
	return cfs_err_set(err, ER_HOST_IS_BLOCKED, ER_HOST_IS_BLOCKED_MSG, host, left);
}

void donor_auth_result(const char *peer, bool ok)
{
	char host[64];
	time_t now = time(NULL);
	struct host_record *r = seen(peer, host, sizeof(host), now);
	if (ok) {
		r->failures = 0;
	} else {
		if (now - r->window_start > AUTH_LIMIT_WINDOW_S) {
			r->window_start = now;
			r->failures = 0;
		}
		if (++r->failures >= AUTH_LIMIT_FAILURES) {
			r->blocked_until = now + AUTH_LIMIT_BLOCK_S;
			r->failures = 0;
			donor_event("host_blocked", "%s: blocked for %d s after %d failed logins within %d s", host, AUTH_LIMIT_BLOCK_S,
				  AUTH_LIMIT_FAILURES, AUTH_LIMIT_WINDOW_S);
		}
	}
	pthread_mutex_unlock(&hosts_lock);
}
