/*
 * cmd_check.c -- `adfunnel check FILE...`: load pipelines exactly as serve
 * would (plugins, data, models) and report the first error as file:line,
 * without opening a socket.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "engine/generation.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"

#define MAX_DIRS 16
#define MAX_FILES 64

static void
check_usage(FILE *out)
{
    fprintf(out,
            "usage: adfunnel check [--plugins DIR]... [--data DIR] FILE...\n"
            "\n"
            "Validates pipeline files: Lua syntax and sandbox limits, stage\n"
            "names and parameters, plugin names and kinds, plugin creation\n"
            "(model files, parameters).  Exit status 0 when all are valid.\n"
            "\n"
            "  --plugins DIR  plugin directory (repeatable; default: the\n"
            "                 plugins/ directory next to the executable)\n"
            "  --data DIR     world data directory (default: data/world)\n");
}

static void
print_summary(const af_generation *g)
{
    for (uint32_t i = 0; i < af_generation_surface_count(g); i++) {
        const struct af_pipeline *p =
            af_generation_surface(g, af_generation_surface_name(g, i));
        printf("ok: %s: surface \"%s\" (%s), %u slots, %u arm(s)\n",
               af_pipeline_file(p), p->surface, p->version, p->slots, p->n_arms);
        for (int s = 0; s < AF_N_STAGES; s++) {
            const struct af_stage *st = p->arm[0].stage[s];
            if (st)
                printf("    %-10s %s\n", st->name, st->label);
        }
    }
}

int
af_cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"plugins", required_argument, NULL, 'p'},
        {"data", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *dirs[MAX_DIRS + 1] = {0};
    int n_dirs = 0;
    const char *data = "data/world";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:d:h", opts, NULL)) != -1) {
        if (c == 'p' && n_dirs < MAX_DIRS)
            dirs[n_dirs++] = optarg;
        else if (c == 'd')
            data = optarg;
        else if (c == 'h') {
            check_usage(stdout);
            return 0;
        } else {
            check_usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        check_usage(stderr);
        return 2;
    }
    char defdir[4096];
    if (n_dirs == 0)
        dirs[n_dirs++] = af_cli_default_plugin_dir(defdir, sizeof defdir);
    int status = 0;
    for (int i = optind; i < argc; i++) {
        const char *files[2] = {argv[i], NULL};
        struct af_gen_config cfg = {.plugin_dirs = dirs, .pipelines = files,
                                    .data_dir = data, .seed = 1};
        char err[2048];
        af_generation *g = af_generation_build(&cfg, err, sizeof err);
        if (!g) {
            fprintf(stderr, "error: %s\n", err);
            status = 1;
            continue;
        }
        print_summary(g);
        af_generation_unref(g);
    }
    return status;
}
