/*
 * main.c -- the adfunnel command: serve, check, world.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_version.h"
#include "cli/commands.h"
#include "util/log.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "adfunnel %s -- ads ranking engine\n"
            "\n"
            "usage: adfunnel <command> [options]\n"
            "\n"
            "commands:\n"
            "  serve          serve the pipelines over HTTP\n"
            "  check FILE...  validate pipeline files without serving\n"
            "  world gen|traffic|fit-lr   the simulated ad world\n"
            "  ctl COMMAND    the admin API client (hot swap, versions)\n"
            "  train|eval|calibrate   fit, evaluate and calibrate models\n"
            "  version        print version and ABI\n"
            "\n"
            "Run 'adfunnel <command> --help' for a command's options.\n"
            "Environment: AF_LOG=debug|info|warn|error sets the log level.\n",
            AF_VERSION_STRING);
}

static void
set_log_level(void)
{
    const char *lv = getenv("AF_LOG");
    if (!lv)
        return;
    if (!strcmp(lv, "debug"))
        af_log_set_level(AF_LOG_LEVEL_DEBUG);
    else if (!strcmp(lv, "warn"))
        af_log_set_level(AF_LOG_LEVEL_WARN);
    else if (!strcmp(lv, "error"))
        af_log_set_level(AF_LOG_LEVEL_ERROR);
}

int
main(int argc, char **argv)
{
    set_log_level();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve"))
        return af_cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "check"))
        return af_cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "ctl")) return af_cmd_ctl(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return af_cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return af_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "calibrate")) return af_cmd_calibrate(argc - 1, argv + 1);
    if (!strcmp(cmd, "world"))
        return af_cmd_world(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("adfunnel %s (plugin ABI %d.%d, signature %s)\n",
               AF_VERSION_STRING, AF_ABI_MAJOR, AF_ABI_MINOR, AF_BUILD_SIGNATURE);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "adfunnel: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return 2;
}
