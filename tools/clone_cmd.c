/* clone_cmd.c: clonefs check and clone (the seed's statement). Not built yet: issue 7. Each says so
 * in MySQL's error form rather than pretending to work. */
#include <stdio.h>

#include "tools/commands.h"
#include "transport/errors.h"

static int not_yet(const char *what)
{
	struct cfs_err err;
	cfs_err_set(&err, CFS_ER_USAGE, "clonefs %s is not implemented yet; use mount.clonefs + clonefs materialize",
		    what);
	cfs_err_print(&err, stderr);
	return 1;
}

int cmd_check(int argc, char **argv)
{
	(void)argc; (void)argv;
	return not_yet("check");
}

int cmd_clone(int argc, char **argv)
{
	(void)argc; (void)argv;
	return not_yet("clone");
}
