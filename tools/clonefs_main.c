/* clonefs_main.c: the clonefs command: dispatches a subcommand (materialize, status, inspect,
 * check, clone) to its cmd_* function. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tools/commands.h"
#include "transport/nofile.h"
#include "transport/version.h"

static const char usage[] =
	"usage: clonefs COMMAND [ARGS]\n"
	"\n"
	"  materialize MOUNTPOINT CLONE_DIR [--owner=USER] [--no-progress]\n"
	"        copy a mounted snapshot into CLONE_DIR (absolute, must not exist) that\n"
	"        mysqld_safe --datadir=CLONE_DIR starts from\n"
	"  status MOUNTPOINT [--json]      snapshot, donor, hydration progress, binlog position\n"
	"  status --clone [--json]         the stages of the last clonefs clone\n"
	"  inspect FILE [--page=N] [--json]  read an InnoDB tablespace (lazily, through a mount)\n"
	"  check [USER@]HOST[:PORT] [-o ...]  check every clone prerequisite without copying\n"
	"  cache list|prune [--cache-dir=DIR] [--max-size=SIZE] [--older-than=DAYS]\n"
	"        the snapshot caches mounts keep; prune removes those no mount holds\n"
	"  publish [USER@]HOST[:PORT] s3://BUCKET[/PREFIX] -o store_key_file=F[,...]\n"
	"        take a snapshot and write it into an object store (only what it lacks)\n"
	"  store list|gc s3://BUCKET[/PREFIX] -o store_key_file=F [--keep=N]\n"
	"        the snapshots a store holds; gc drops all but the N newest and unused packs\n"
	"  clone \"CLONE INSTANCE FROM 'u'@'h':p IDENTIFIED BY 'pw' [DATA DIRECTORY [=] '/d'] [REQUIRE [NO] SSL]\"\n"
	"\n"
	"Exit status: 0 success, 1 error (one 'ERROR <code> (<sqlstate>): <message>' line on stderr), 2 usage.\n";

int main(int argc, char **argv)
{
	static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
		{ "materialize", cmd_materialize }, { "status", cmd_status }, { "inspect", cmd_inspect },
		{ "check", cmd_check }, { "clone", cmd_clone }, { "cache", cmd_cache },
		{ "publish", cmd_publish }, { "store", cmd_store },
	};
	signal(SIGPIPE, SIG_IGN); /* a closed donor connection is an error to report, not a signal */
	cfs_nofile_raise();       /* materialize and its private mount keep a file per table open */
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("clonefs %s\n", CLONEFS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ERROR 7006 (HY000): unknown command '%s' (see clonefs --help)\n", argv[1]);
	return 2;
}
