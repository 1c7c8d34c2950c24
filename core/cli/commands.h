/* commands.h -- the subcommands of the adfunnel executable. */
#ifndef AF_CLI_COMMANDS_H
#define AF_CLI_COMMANDS_H

int af_cmd_serve(int argc, char **argv); /* cmd_serve.c */
int af_cmd_check(int argc, char **argv); /* cmd_check.c */
int af_cmd_world(int argc, char **argv); /* cmd_world.c */
int af_cmd_ctl(int argc, char **argv);   /* cmd_ctl.c */
int af_cmd_train(int argc, char **argv);     /* cmd_train.c */
int af_cmd_eval(int argc, char **argv);      /* cmd_train.c */
int af_cmd_calibrate(int argc, char **argv); /* cmd_train.c */
int af_cmd_world_log(int argc, char **argv); /* cmd_worldlog.c */

#endif
