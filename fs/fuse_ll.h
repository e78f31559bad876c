/* fuse_ll.h: the FUSE low-level operations of a clonefs mount. */
#ifndef CLONEFS_FUSE_LL_H
#define CLONEFS_FUSE_LL_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops clonefs_ll_ops;
/* A thin clone (-o rw,upper=DIR): writable, over fs/overlay.c (fuse_thin.c). */
extern const struct fuse_lowlevel_ops clonefs_thin_ops;

#endif
