/* slave_info.h: clonefs_slave_info, what a clone runs to become a replica (of the donor's primary
 * or of the donor), and the notes a clone's data directory needs (undo directory), from the facts. */
#ifndef CLONEFS_SLAVE_INFO_H
#define CLONEFS_SLAVE_INFO_H

#include "tools/mountinfo.h"
#include "transport/buf.h"

/* The text of clonefs_slave_info: SQL (comments with --) a DBA runs on the started clone. */
void slave_info_text(const struct mountinfo *mi, struct wbuf *b);
/* clonefs_info.json's "replication" object's members (after a ','): positions for both uses. */
void slave_info_json(const struct mountinfo *mi, struct wbuf *b);

/* When the donor kept InnoDB files outside its datadir (fact innodb_outside): the clone has them in
 * its data directory, and the settings it must start with, in one line; "" otherwise. */
void slave_info_innodb_note(const struct mountinfo *mi, char *out, size_t n);

#endif
