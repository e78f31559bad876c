/* clone_progress.h: clonefs clone's progress in the shape of performance_schema.clone_progress and
 * clone_status: stages with state and times, source, destination, error, binlog position; kept as a
 * JSON file beside the clone lock for `clonefs status --clone` and printed live as lines. */
#ifndef CLONEFS_CLONE_PROGRESS_H
#define CLONEFS_CLONE_PROGRESS_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "fs/json.h"
#include "transport/errors.h"

/* MySQL's stages, with SNAPSHOT (the donor's snapshot and every check) ahead of them. */
enum clone_stage { CS_SNAPSHOT, CS_DROP_DATA, CS_FILE_COPY, CS_FILE_SYNC, CS_RESTART, CS_RECOVERY, CS_COUNT };
enum clone_stage_state { CSS_NOT_STARTED, CSS_IN_PROGRESS, CSS_COMPLETED, CSS_FAILED };

struct clone_progress {
	pthread_mutex_t lock;          /* the interrupt thread fails it while the clone runs: init it */
	char path[PATH_MAX];           /* the JSON file; "" writes nothing */
	char source[300], destination[PATH_MAX];
	struct {
		enum clone_stage_state state;
		time_t begin, end;
		uint64_t estimate, data;
	} stage[CS_COUNT];
	int error_no;
	char error_message[CFS_ERR_MSG_MAX];
	char binlog_file[128], binlog_pos[32], gtid[512];
	bool sealed;                   /* interrupted: the record is final, later updates are dropped */
};

/* The progress file's path: beside the clone lock (CLONEFS_LOCK_DIR, /run, or /tmp per user). */
void clone_progress_path(char *out, size_t n);
/* Record a stage's new state, print its line, rewrite the file (each takes p->lock; a caller
 * setting the other fields holds it). */
void clone_progress_stage(struct clone_progress *p, enum clone_stage s, enum clone_stage_state st);
/* Record the error of a failed clone (the stage in progress becomes Failed). */
void clone_progress_fail(struct clone_progress *p, const struct cfs_err *err);
/* The clone was interrupted: record err as the failure and keep it, whatever the clone's own
 * threads report while they are being stopped. */
void clone_progress_interrupted(struct clone_progress *p, const struct cfs_err *err);
/* clonefs status --clone [--json]: print the last clone's progress. */
int clone_progress_show(int json);
/* The progress document as clonefs status --clone prints it: one line per stage, then the error. */
void clone_progress_print(const json_t *doc, FILE *out);

#endif
