/* clone_check.h: the seed's prerequisites (DESIGN §6) as checks of the donor's facts against the
 * recipient, in MySQL's order, each with MySQL's error when it fails. Used by clonefs check (all
 * of them, as a table) and clonefs clone (the first failure, before any byte is written). */
#ifndef CLONEFS_CLONE_CHECK_H
#define CLONEFS_CLONE_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "tools/mountinfo.h"
#include "tools/recipient.h"
#include "transport/errors.h"

enum { CHECK_MAX = 64, CHECK_VALUE_MAX = 96, CLONE_MIN_PACKET = 2097152 };

enum check_state { CHECK_PASS, CHECK_FAIL, CHECK_SKIP };

struct check_row {
	char what[64];                 /* the seed's prerequisite */
	char donor[CHECK_VALUE_MAX], recipient[CHECK_VALUE_MAX];
	enum check_state state;
	struct cfs_err err;            /* CHECK_FAIL: MySQL's error; CHECK_SKIP: why in err.msg */
};

struct check_list {
	size_t n;
	struct check_row row[CHECK_MAX];
};

/* Where the data will go: target (CLONE_DIR, or the datadir being replaced). */
struct check_target {
	const char *target;
	bool replace;                  /* no DATA DIRECTORY: the recipient's own datadir is replaced */
};

void clone_checks_run(const struct mountinfo *donor, const struct recipient *r, const struct check_target *t,
		      struct check_list *out);
/* The first failure, or NULL. */
const struct check_row *clone_checks_first_failure(const struct check_list *l);
/* The version rule (docs/compatibility.md): 0, or -1 with 3864. */
int clone_version_rule(const char *donor_version, const char *donor_flavor, const char *recipient_version,
		       struct cfs_err *err);

#endif
