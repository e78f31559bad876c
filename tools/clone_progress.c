/* clone_progress.c: writes clonefs clone's stages as one JSON document (replaced atomically, so a
 * reader never sees half of one) and prints them as lines; reads it back for clonefs status. */
#include "tools/clone_progress.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/json.h"
#include "tools/mountinfo.h"
#include "transport/path.h"

static const char *const stage_name[CS_COUNT] = {
	[CS_SNAPSHOT] = "SNAPSHOT", [CS_DROP_DATA] = "DROP DATA", [CS_FILE_COPY] = "FILE COPY",
	[CS_FILE_SYNC] = "FILE SYNC", [CS_RESTART] = "RESTART", [CS_RECOVERY] = "RECOVERY",
};
static const char *const state_name[] = {
	[CSS_NOT_STARTED] = "Not Started", [CSS_IN_PROGRESS] = "In Progress", [CSS_COMPLETED] = "Completed",
	[CSS_FAILED] = "Failed",
};

void clone_progress_path(char *out, size_t n)
{
	const char *dir = getenv("CLONEFS_LOCK_DIR");
	if (dir)
		snprintf(out, n, "%s/clonefs-clone.json", dir);
	else if (geteuid() == 0)
		snprintf(out, n, "/run/clonefs-clone.json");
	else
		snprintf(out, n, "/tmp/clonefs-clone-%u.json", (unsigned)getuid());
}

static void iso(time_t t, char *out, size_t n)
{
	struct tm tm;
	if (!t) {
		out[0] = 0;
		return;
	}
	localtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static void write_file(const struct clone_progress *p)
{
	if (!p->path[0])
		return;
	struct wbuf b;
	wbuf_init(&b, 1u << 20);
	json_raw(&b, "{");
	json_kv_str(&b, "source", p->source, 0);
	json_kv_str(&b, "destination", p->destination, 1);
	bool failed = false, running = false;
	for (int i = 0; i < CS_COUNT; i++) {
		failed = failed || p->stage[i].state == CSS_FAILED;
		running = running || p->stage[i].state == CSS_IN_PROGRESS;
	}
	json_kv_str(&b, "state", failed ? "Failed" : running ? "In Progress" : "Completed", 1);
	json_kv_u64(&b, "error_no", (uint64_t)p->error_no, 1);
	json_kv_str(&b, "error_message", p->error_message, 1);
	json_kv_str(&b, "binlog_file", p->binlog_file, 1);
	json_kv_str(&b, "binlog_position", p->binlog_pos, 1);
	json_kv_str(&b, "gtid_executed", p->gtid, 1);
	json_raw(&b, ",\"stages\":[");
	for (int i = 0; i < CS_COUNT; i++) {
		char begin[32], end[32];
		iso(p->stage[i].begin, begin, sizeof(begin));
		iso(p->stage[i].end, end, sizeof(end));
		json_raw(&b, i ? ",{" : "{");
		json_kv_str(&b, "stage", stage_name[i], 0);
		json_kv_str(&b, "state", state_name[p->stage[i].state], 1);
		json_kv_str(&b, "begin_time", begin, 1);
		json_kv_str(&b, "end_time", end, 1);
		json_kv_u64(&b, "estimate", p->stage[i].estimate, 1);
		json_kv_u64(&b, "data", p->stage[i].data, 1);
		json_raw(&b, "}");
	}
	json_raw(&b, "]}\n");
	char tmp[PATH_MAX];
	FILE *f = path_fmt(tmp, sizeof(tmp), "%s.tmp", p->path) ? NULL : fopen(tmp, "we");
	if (f) {
		bool ok = fwrite(b.p, 1, b.len, f) == b.len;
		if (fclose(f) == 0 && ok)
			rename(tmp, p->path);
		else
			unlink(tmp);
	}
	wbuf_release(&b);
}

void clone_progress_stage(struct clone_progress *p, enum clone_stage s, enum clone_stage_state st)
{
	pthread_mutex_lock(&p->lock);
	if (p->sealed) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	time_t now = time(NULL);
	if (st == CSS_IN_PROGRESS)
		p->stage[s].begin = now;
	else
		p->stage[s].end = now;
	p->stage[s].state = st;
	char ts[32];
	iso(now, ts, sizeof(ts));
	printf("%s  %-10s %s\n", ts, stage_name[s], state_name[st]);
	fflush(stdout);
	write_file(p);
	pthread_mutex_unlock(&p->lock);
}

static void fail_locked(struct clone_progress *p, const struct cfs_err *err);

void clone_progress_fail(struct clone_progress *p, const struct cfs_err *err)
{
	pthread_mutex_lock(&p->lock);
	if (!p->sealed)
		fail_locked(p, err);
	pthread_mutex_unlock(&p->lock);
}

void clone_progress_interrupted(struct clone_progress *p, const struct cfs_err *err)
{
	pthread_mutex_lock(&p->lock);
	if (!p->sealed)
		fail_locked(p, err);
	p->sealed = true;
	pthread_mutex_unlock(&p->lock);
}

static void fail_locked(struct clone_progress *p, const struct cfs_err *err)
{
	for (int i = 0; i < CS_COUNT; i++)
		if (p->stage[i].state == CSS_IN_PROGRESS) {
			p->stage[i].state = CSS_FAILED;
			p->stage[i].end = time(NULL);
		}
	p->error_no = err->code;
	snprintf(p->error_message, sizeof(p->error_message), "%s", err->msg);
	write_file(p);
}

int clone_progress_show(int json)
{
	char path[PATH_MAX];
	clone_progress_path(path, sizeof(path));
	char missing[PATH_MAX + 64];
	snprintf(missing, sizeof(missing), "no clone has run on this host (no %s)", path);
	int rc;
	json_t *doc = mountinfo_show_json(path, json, CFS_ER_USAGE, missing, &rc);
	if (!doc)
		return rc;
	clone_progress_print(doc, stdout);
	json_decref(doc);
	return 0;
}

void clone_progress_print(const json_t *doc, FILE *out)
{
	/* One line per stage, as SELECT * FROM performance_schema.clone_progress shows them. */
	fprintf(out, "%-10s %-12s %-20s %-20s\n", "STAGE", "STATE", "BEGIN_TIME", "END_TIME");
	size_t i;
	const json_t *st;
	json_array_foreach(json_object_get(doc, "stages"), i, st) {
		char stage[32], state[32], begin[32], end[32];
		json_get_text(st, NULL, "stage", stage, sizeof(stage));
		json_get_text(st, NULL, "state", state, sizeof(state));
		json_get_text(st, NULL, "begin_time", begin, sizeof(begin));
		json_get_text(st, NULL, "end_time", end, sizeof(end));
		fprintf(out, "%-10s %-12s %-20s %-20s\n", stage, state, begin, end);
	}
	char err[CFS_ERR_MSG_MAX];
	if (*json_get_text(doc, NULL, "error_message", err, sizeof(err)))
		fprintf(out, "error: %s\n", err);
}
