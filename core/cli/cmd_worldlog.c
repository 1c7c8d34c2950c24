/*
 * cmd_worldlog.c -- `adfunnel world log`: write simulated impressions as a
 * TSV for `adfunnel train` (core/learn/worldlog.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "learn/worldlog.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: adfunnel world log [--data DIR] [--out FILE] "
            "[--impressions N] [--seed S] [--pool N]\n"
            "\n"
            "Simulates page views of the world's users (5 ads each, clicks\n"
            "from the hidden ground truth) and writes one line per impression:\n"
            "time, label, p_true and every serving source (user.*, context.*,\n"
            "ad.*) as the spec feature stage formats them.\n"
            "\n"
            "  --data DIR         world directory (default: data/world)\n"
            "  --out FILE         default: DIR/impressions.tsv\n"
            "  --impressions N    default: 500000\n"
            "  --seed S           default: 1\n"
            "  --pool N           popular ads a page draws from (default 200)\n");
}

static int
num(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || errno || *end || v < lo || v > hi) {
        fprintf(stderr, "adfunnel world log: %s: '%s' is not an integer in "
                "%llu..%llu\n", opt, s, (unsigned long long)lo,
                (unsigned long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

int
af_cmd_world_log(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"impressions", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"pool", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct af_worldlog_opts o = {.world_dir = "data/world",
                                 .impressions = 500000, .seed = 1, .pool = 200,
                                 .start_time = 1795000000};
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o.world_dir = optarg; break;
        case 'o': o.out = optarg; break;
        case 'n':
            if (num("--impressions", optarg, 1, 1000000000, &o.impressions))
                return 2;
            break;
        case 's':
            if (num("--seed", optarg, 0, UINT64_MAX, &o.seed))
                return 2;
            break;
        case 'p':
            if (num("--pool", optarg, 1, 1000000, &v))
                return 2;
            o.pool = (uint32_t)v;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    char out[4096];
    if (!o.out) {
        snprintf(out, sizeof out, "%s/impressions.tsv", o.world_dir);
        o.out = out;
    }
    char err[1024];
    if (af_worldlog_write(&o, err, sizeof err) != 0) {
        fprintf(stderr, "adfunnel world log: %s\n", err);
        return 1;
    }
    fprintf(stderr, "adfunnel world log: wrote %llu impressions to %s\n",
            (unsigned long long)o.impressions, o.out);
    return 0;
}
