/* version.h: the one version string of clonefsd, mount.clonefs and clonefs (--version). */
#ifndef CLONEFS_VERSION_H
#define CLONEFS_VERSION_H

#define CLONEFS_VERSION "0.1.0"

#endif
