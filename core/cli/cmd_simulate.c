/*
 * cmd_simulate.c -- `adfunnel world simulate`: pipelines side by side in the
 * simulated world with ground-truth feedback (core/world/simulate.h,
 * docs/simulation.md).
 */
#include "cli/cmd_simulate.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "cli/cli_util.h"
#include "world/simulate.h"

#define MAX_PLUGIN_DIRS 16

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: adfunnel world simulate --pipeline FILE [--pipeline FILE]...\n"
            "         [--data DIR] [--requests N] [--seed S]\n"
            "         [--new-ads-per-hour K] [--day-seconds S] [--start UNIX]\n"
            "         [--traffic diurnal|even] [--budget-scale X]\n"
            "         [--demand-pipeline SURFACE] [--est-strength S]\n"
            "         [--out REPORT.json] [--svg-dir DIR] [--work DIR]\n"
            "         [--plugins DIR]... [--quiet]\n"
            "\n"
            "Runs N requests of the world's users through each pipeline in\n"
            "this process (one thread and one online state per pipeline), shows\n"
            "the ads, draws clicks from the ground truth, records impressions,\n"
            "clicks and spend into that pipeline's state, and reports CTR,\n"
            "revenue, regret against the ground-truth optimum, pacing, new-ad\n"
            "learning and cap / diversity violations side by side.\n"
            "Deterministic for a seed.\n"
            "\n"
            "  --pipeline FILE       a pipeline with one surface (repeatable, 1..%d)\n"
            "  --data DIR            world directory (default: data/world)\n"
            "  --requests N          requests per pipeline (default: 100000)\n"
            "  --seed S              users, times, clicks, new ads (default: 1)\n"
            "  --new-ads-per-hour K  ads arriving each simulated hour (default: 0)\n"
            "  --day-seconds S       simulated seconds the requests span\n"
            "                        (default: 86400, one day; at most 7 days)\n"
            "  --start UNIX          simulated time of the first request\n"
            "                        (default: %lld, a Monday 00:00 UTC)\n"
            "  --traffic SHAPE       diurnal (default) or even through the day\n"
            "  --budget-scale X      multiply every daily budget (default: 1)\n"
            "  --demand-pipeline S   the surface (run without pacing) whose spend\n"
            "                        tells which campaigns' demand exceeds budget\n"
            "  --est-strength S      prior strength of the new-ad CTR estimate\n"
            "                        (default: 20 impressions)\n"
            "  --out FILE            JSON report\n"
            "  --svg-dir DIR         regret.svg, ctr.svg, new_ads.svg,\n"
            "                        spend_<surface>.svg\n"
            "  --work DIR            keep the simulation's data directory here\n"
            "                        (default: a temporary one, removed)\n"
            "  --plugins DIR         plugin directory (repeatable; default: the\n"
            "                        plugins/ directory next to the executable)\n"
            "  --quiet               no progress lines\n",
            AF_SIM_MAX_PIPELINES, (long long)AF_SIM_DEFAULT_START);
}

static int
parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi,
          uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = (*s >= '0' && *s <= '9') ? strtoull(s, &end, 10) : 0;
    if (*s < '0' || *s > '9' || errno || *end || v < lo || v > hi) {
        fprintf(stderr, "adfunnel world simulate: %s: '%s' is not an integer "
                "in %llu..%llu\n", opt, s, (unsigned long long)lo,
                (unsigned long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int
parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || errno || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "adfunnel world simulate: %s: '%s' is not a number in "
                "%g..%g\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* One option; 0, or -1 after a message. */
static int
apply(int c, struct af_sim_opts *o, const char **dirs, int *n_dirs)
{
    uint64_t v;
    switch (c) {
    case 'P':
        if (o->n_pipelines == AF_SIM_MAX_PIPELINES) {
            fprintf(stderr, "adfunnel world simulate: at most %d --pipeline\n",
                    AF_SIM_MAX_PIPELINES);
            return -1;
        }
        o->pipelines[o->n_pipelines++] = optarg;
        return 0;
    case 'd': o->data_dir = optarg; return 0;
    case 'n':
        return parse_u64("--requests", optarg, 1, 100000000, &o->requests);
    case 's': return parse_u64("--seed", optarg, 0, UINT64_MAX, &o->seed);
    case 'k':
        if (parse_u64("--new-ads-per-hour", optarg, 0, 100000, &v))
            return -1;
        o->new_ads_per_hour = (uint32_t)v;
        return 0;
    case 'D':
        if (parse_u64("--day-seconds", optarg, 1, 7 * 86400, &v))
            return -1;
        o->span_s = (int64_t)v;
        return 0;
    case 'S':
        if (parse_u64("--start", optarg, 0, INT64_MAX / 2, &v))
            return -1;
        o->start_s = (int64_t)v;
        return 0;
    case 't':
        if (strcmp(optarg, "diurnal") && strcmp(optarg, "even")) {
            fprintf(stderr, "adfunnel world simulate: --traffic: '%s' is not "
                    "diurnal or even\n", optarg);
            return -1;
        }
        o->even_traffic = !strcmp(optarg, "even");
        return 0;
    case 'b':
        return parse_num("--budget-scale", optarg, 1e-6, 1e6, &o->budget_scale);
    case 'm': o->demand_pipeline = optarg; return 0;
    case 'e':
        return parse_num("--est-strength", optarg, 1e-3, 1e9, &o->est_strength);
    case 'o': o->out = optarg; return 0;
    case 'g': o->svg_dir = optarg; return 0;
    case 'w': o->work_dir = optarg; return 0;
    case 'p':
        if (*n_dirs == MAX_PLUGIN_DIRS) {
            fprintf(stderr, "adfunnel world simulate: at most %d --plugins\n",
                    MAX_PLUGIN_DIRS);
            return -1;
        }
        dirs[(*n_dirs)++] = optarg;
        return 0;
    case 'q': o->quiet = 1; return 0;
    default: return -1;
    }
}

int
af_cmd_world_simulate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"pipeline", required_argument, NULL, 'P'},
        {"data", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"new-ads-per-hour", required_argument, NULL, 'k'},
        {"day-seconds", required_argument, NULL, 'D'},
        {"start", required_argument, NULL, 'S'},
        {"traffic", required_argument, NULL, 't'},
        {"budget-scale", required_argument, NULL, 'b'},
        {"demand-pipeline", required_argument, NULL, 'm'},
        {"est-strength", required_argument, NULL, 'e'},
        {"out", required_argument, NULL, 'o'},
        {"svg-dir", required_argument, NULL, 'g'},
        {"work", required_argument, NULL, 'w'},
        {"plugins", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct af_sim_opts o;
    af_sim_defaults(&o);
    o.data_dir = "data/world";
    const char *dirs[MAX_PLUGIN_DIRS + 1] = {0};
    int n_dirs = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "P:d:n:s:k:D:S:t:b:m:e:o:g:w:p:qh",
                            opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (apply(c, &o, dirs, &n_dirs) != 0) {
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || o.n_pipelines == 0) {
        fprintf(stderr, "adfunnel world simulate: %s\n",
                optind < argc ? "unexpected argument"
                              : "give at least one --pipeline");
        usage(stderr);
        return 2;
    }
    char defdir[4096], err[2048];
    if (n_dirs == 0)
        dirs[n_dirs++] = af_cli_default_plugin_dir(defdir, sizeof defdir);
    o.plugin_dirs = dirs;
    if (af_world_simulate(&o, err, sizeof err) != AF_OK) {
        fprintf(stderr, "adfunnel world simulate: %s\n", err);
        return 1;
    }
    return 0;
}
