/* rmtree.h: remove a directory tree (rm -rf without following symlinks). */
#ifndef CLONEFS_RMTREE_H
#define CLONEFS_RMTREE_H

/* 0 when path is gone (or never was), -1 with errno otherwise. */
int rm_tree(const char *path);

#endif
