/* inspect.c: clonefs inspect FILE: placeholder until the InnoDB reader lands (issue 8); says so. */
#include <stdio.h>

#include "tools/commands.h"
#include "transport/errors.h"

int cmd_inspect(int argc, char **argv)
{
	(void)argc; (void)argv;
	struct cfs_err err;
	cfs_err_set(&err, CFS_ER_USAGE, "clonefs inspect is not implemented yet (issue 8)");
	cfs_err_print(&err, stderr);
	return 1;
}
