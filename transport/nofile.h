/* nofile.h: the open-files limit every clonefs process raises at start (issue 20). */
#ifndef CLONEFS_NOFILE_H
#define CLONEFS_NOFILE_H

/* Raise the soft RLIMIT_NOFILE to the hard one, as mariadbd does: a datadir of many tables needs a
 * file per table (mariabackup, the cache's data files, materialize), and 1024 is a common soft
 * default. Returns the soft limit in force afterwards (at most 2^20; 1024 if unknown). */
long cfs_nofile_raise(void);

#endif
