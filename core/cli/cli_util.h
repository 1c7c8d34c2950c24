/* cli_util.h -- small helpers shared by the subcommands. */
#ifndef AF_CLI_UTIL_H
#define AF_CLI_UTIL_H

#include <stddef.h>

/* <directory of the running executable>/plugins, where the build puts the
 * shipped plugins.  Returns buf. */
const char *af_cli_default_plugin_dir(char *buf, size_t n);

#endif
