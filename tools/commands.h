/* commands.h: the clonefs subcommands; tools/clonefs_main.c dispatches argv[1] to one of these.
 * Each returns the process exit status (0 ok, 1 error after printing one ERROR line on stderr,
 * 2 usage) and prints its own output. */
#ifndef CLONEFS_COMMANDS_H
#define CLONEFS_COMMANDS_H

int cmd_materialize(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_clone(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_store(int argc, char **argv);

#endif
