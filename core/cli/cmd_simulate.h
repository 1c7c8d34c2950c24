/* cmd_simulate.h -- `adfunnel world simulate` (cmd_simulate.c), dispatched
 * by cmd_world.c. */
#ifndef AF_CLI_CMD_SIMULATE_H
#define AF_CLI_CMD_SIMULATE_H

int af_cmd_world_simulate(int argc, char **argv);

#endif
