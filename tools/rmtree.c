/* rmtree.c: rm -rf for the tools' own scratch and partial directories (never follows symlinks). */
#include "tools/rmtree.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

int rm_tree(const char *path)
{
	return nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) && errno != ENOENT ? -1 : 0;
}
