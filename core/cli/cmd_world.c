/*
 * cmd_world.c -- `adfunnel world gen|traffic|fit-lr|simulate`: the simulated
 * ad world (core/world/world.h, docs/world.md; simulate: cmd_simulate.c).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "cli/cli_util.h"
#include "cli/cmd_simulate.h"
#include "cli/commands.h"
#include "world/world.h"

#define MAX_PLUGIN_DIRS 16

static int
parse_u64_arg(const char *opt, const char *s, uint64_t lo, uint64_t hi,
              uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = (*s >= '0' && *s <= '9') ? strtoull(s, &end, 10) : 0;
    if (*s < '0' || *s > '9' || errno || *end || v < lo || v > hi) {
        fprintf(stderr, "adfunnel world: %s: '%s' is not an integer in "
                "%llu..%llu\n", opt, s, (unsigned long long)lo,
                (unsigned long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int
parse_num_arg(const char *opt, const char *s, double lo, double hi,
              double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || errno || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "adfunnel world: %s: '%s' is not a number in "
                "%g..%g\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* gen                                                                       */
/* ------------------------------------------------------------------------ */

static void
gen_usage(FILE *out)
{
    fprintf(out,
            "usage: adfunnel world gen [--out DIR] [--seed S] [--ads N] "
            "[--users N]\n"
            "\n"
            "Writes a simulated ad world, deterministically from the seed:\n"
            "DIR/ads.tsv, DIR/users.tsv, DIR/truth.tsv (hidden ground truth)\n"
            "and DIR/world.json (parameters and click model).\n"
            "\n"
            "  --out DIR    output directory (default: data/world)\n"
            "  --seed S     seed, 0 .. 2^63-1 (default: 1)\n"
            "  --ads N      number of ads (default: 100000)\n"
            "  --users N    number of users (default: 100000)\n");
}

static int
cmd_gen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, 's'},
        {"ads", required_argument, NULL, 'a'},
        {"users", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *out = "data/world";
    uint64_t seed = 1, ads = 100000, users = 100000;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:a:u:h", opts, NULL)) != -1) {
        int bad = 0;
        if (c == 'o')
            out = optarg;
        else if (c == 's')
            bad = parse_u64_arg("--seed", optarg, 0, INT64_MAX, &seed);
        else if (c == 'a')
            bad = parse_u64_arg("--ads", optarg, 1, 50000000, &ads);
        else if (c == 'u')
            bad = parse_u64_arg("--users", optarg, 1, 50000000, &users);
        else if (c == 'h') {
            gen_usage(stdout);
            return 0;
        } else
            bad = 1;
        if (bad) {
            gen_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "adfunnel world gen: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    struct af_world_gen_params p = {
        .seed = seed, .n_ads = (uint32_t)ads, .n_users = (uint32_t)users};
    char err[512];
    if (af_world_generate(out, &p, err, sizeof err) != AF_OK) {
        fprintf(stderr, "adfunnel world gen: %s\n", err);
        return 1;
    }
    printf("wrote %s: %llu ads, %llu users (seed %llu)\n", out,
           (unsigned long long)ads, (unsigned long long)users,
           (unsigned long long)seed);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* traffic                                                                   */
/* ------------------------------------------------------------------------ */

static void
traffic_usage(FILE *out)
{
    fprintf(out,
            "usage: adfunnel world traffic --url http://HOST:PORT [--data DIR]\n"
            "         [--requests N] [--concurrency C] [--surface NAME]\n"
            "         [--seed S] [--explicit FRAC] [--proto]\n"
            "\n"
            "Sends POST /v1/rank requests for random users of the world over\n"
            "C keep-alive connections (one request in flight each) and\n"
            "reports QPS, latency percentiles and errors by status.  Exit\n"
            "status 1 when any request did not get a 200.\n"
            "\n"
            "  --url URL          server address (required)\n"
            "  --data DIR         world directory (default: data/world)\n"
            "  --requests N       requests to send (default: 10000)\n"
            "  --concurrency C    connections (default: 8)\n"
            "  --surface NAME     surface to rank (default: home_feed)\n"
            "  --seed S           user draws (default: 1)\n"
            "  --explicit FRAC    share of requests that also send geo,\n"
            "                     device, interests and time (default: 0.1)\n"
            "  --proto            send application/x-protobuf, not JSON\n");
}

static int
cmd_traffic(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'U'},
        {"data", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},
        {"concurrency", required_argument, NULL, 'c'},
        {"surface", required_argument, NULL, 'S'},
        {"seed", required_argument, NULL, 's'},
        {"explicit", required_argument, NULL, 'e'},
        {"proto", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct af_traffic_opts o = {
        .data_dir = "data/world", .surface = "home_feed", .requests = 10000,
        .concurrency = 8, .seed = 1, .explicit_frac = 0.1};
    uint64_t conc = o.concurrency;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "U:d:n:c:S:s:e:ph", opts, NULL)) !=
           -1) {
        int bad = 0;
        switch (c) {
        case 'U': o.url = optarg; break;
        case 'd': o.data_dir = optarg; break;
        case 'n':
            bad = parse_u64_arg("--requests", optarg, 1, 100000000,
                                &o.requests);
            break;
        case 'c':
            bad = parse_u64_arg("--concurrency", optarg, 1, 4096, &conc);
            break;
        case 'S': o.surface = optarg; break;
        case 's': bad = parse_u64_arg("--seed", optarg, 0, UINT64_MAX, &o.seed);
            break;
        case 'e':
            bad = parse_num_arg("--explicit", optarg, 0, 1, &o.explicit_frac);
            break;
        case 'p': o.proto = 1; break;
        case 'h': traffic_usage(stdout); return 0;
        default: bad = 1;
        }
        if (bad) {
            traffic_usage(stderr);
            return 2;
        }
    }
    if (!o.url || optind < argc) {
        fprintf(stderr, "adfunnel world traffic: %s\n",
                o.url ? "unexpected argument" : "--url is required");
        traffic_usage(stderr);
        return 2;
    }
    o.concurrency = (uint32_t)conc;
    char err[512];
    int rc = af_world_traffic(&o, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "adfunnel world traffic: %s\n", err);
        return 1;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* fit-lr                                                                    */
/* ------------------------------------------------------------------------ */

static void
fit_usage(FILE *out)
{
    fprintf(out,
            "usage: adfunnel world fit-lr [--data DIR] [--pipeline FILE]\n"
            "         [--surface NAME] [--impressions N] [--epochs E]\n"
            "         [--seed S] [--out FILE] [--plugins DIR]... [--buckets N]\n"
            "         [--lr RATE] [--l2 L] [--pool N]\n"
            "\n"
            "Simulates logged impressions from the world's true click model,\n"
            "computes their features with the pipeline's features stage and\n"
            "fits logistic regression (Adagrad), holding out 10%% to report\n"
            "logloss and AUC next to the AUC of the true probabilities.\n"
            "\n"
            "  --data DIR         world directory (default: data/world)\n"
            "  --pipeline FILE    pipeline whose features to use\n"
            "                     (default: pipelines/home_feed.lua)\n"
            "  --surface NAME     surface in FILE (default: its only one)\n"
            "  --impressions N    simulated impressions (default: 300000)\n"
            "  --epochs E         passes over the data (default: 4)\n"
            "  --seed S           simulation seed (default: the world's)\n"
            "  --out FILE         model file (default: DIR/models/lr.afm)\n"
            "  --plugins DIR      plugin directory (repeatable; default: the\n"
            "                     plugins/ directory next to the executable)\n"
            "  --buckets N        hashed-feature buckets (default: 1048576)\n"
            "  --lr RATE          Adagrad step size (default: 0.02)\n"
            "  --l2 L             L2 penalty per update (default: 1e-6)\n"
            "  --pool N           popular eligible ads an impression is drawn\n"
            "                     from (default: 500, as home_feed keeps)\n");
}

static int
cmd_fit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"pipeline", required_argument, NULL, 'P'},
        {"surface", required_argument, NULL, 'S'},
        {"impressions", required_argument, NULL, 'n'},
        {"epochs", required_argument, NULL, 'e'},
        {"seed", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {"plugins", required_argument, NULL, 'p'},
        {"buckets", required_argument, NULL, 'b'},
        {"lr", required_argument, NULL, 'r'},
        {"l2", required_argument, NULL, 'l'},
        {"pool", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct af_fit_opts o = {
        .data_dir = "data/world", .pipeline = "pipelines/home_feed.lua",
        .impressions = 300000, .epochs = 4, .n_buckets = 1u << 20,
        .lr = 0.02, .l2 = 1e-6, .pool = 500};
    const char *dirs[MAX_PLUGIN_DIRS + 1] = {0};
    int n_dirs = 0, seed_given = 0;
    uint64_t v = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:P:S:n:e:s:o:p:b:r:l:k:h", opts,
                            NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'd': o.data_dir = optarg; break;
        case 'P': o.pipeline = optarg; break;
        case 'S': o.surface = optarg; break;
        case 'n':
            bad = parse_u64_arg("--impressions", optarg, 10, 100000000,
                                &o.impressions);
            break;
        case 'e':
            bad = parse_u64_arg("--epochs", optarg, 1, 1000, &v);
            o.epochs = (uint32_t)v;
            break;
        case 's':
            bad = parse_u64_arg("--seed", optarg, 0, UINT64_MAX, &o.seed);
            seed_given = 1;
            break;
        case 'o': o.out = optarg; break;
        case 'p':
            if (n_dirs == MAX_PLUGIN_DIRS) {
                fprintf(stderr, "adfunnel world fit-lr: at most %d --plugins\n",
                        MAX_PLUGIN_DIRS);
                return 2;
            }
            dirs[n_dirs++] = optarg;
            break;
        case 'b':
            bad = parse_u64_arg("--buckets", optarg, 1, 1u << 28, &v);
            o.n_buckets = (uint32_t)v;
            break;
        case 'r': bad = parse_num_arg("--lr", optarg, 1e-9, 100, &o.lr); break;
        case 'l': bad = parse_num_arg("--l2", optarg, 0, 100, &o.l2); break;
        case 'k':
            bad = parse_u64_arg("--pool", optarg, 1, 50000000, &v);
            o.pool = (uint32_t)v;
            break;
        case 'h': fit_usage(stdout); return 0;
        default: bad = 1;
        }
        if (bad) {
            fit_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "adfunnel world fit-lr: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    char defdir[4096], out[4096], err[1024];
    if (n_dirs == 0)
        dirs[n_dirs++] = af_cli_default_plugin_dir(defdir, sizeof defdir);
    o.plugin_dirs = dirs;
    if (!o.out) {
        snprintf(out, sizeof out, "%s/models/lr.afm", o.data_dir);
        o.out = out;
    }
    o.use_world_seed = !seed_given;
    if (af_world_fit_lr(&o, err, sizeof err) != AF_OK) {
        fprintf(stderr, "adfunnel world fit-lr: %s\n", err);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */

static void
world_usage(FILE *out)
{
    fprintf(out,
            "usage: adfunnel world <gen|traffic|fit-lr|simulate> [options]\n"
            "\n"
            "  gen      write a simulated ad world (ads, users, ground truth)\n"
            "  traffic  drive a running server with the world's users\n"
            "  fit-lr   fit the lr model on impressions simulated from the world\n"
            "  simulate run pipelines side by side with ground-truth feedback\n"
            "  log      write simulated impressions as training data (TSV)\n"
            "\n"
            "Run 'adfunnel world <command> --help' for its options.\n");
}

int
af_cmd_world(int argc, char **argv)
{
    if (argc < 2) {
        world_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "gen"))
        return cmd_gen(argc - 1, argv + 1);
    if (!strcmp(sub, "traffic"))
        return cmd_traffic(argc - 1, argv + 1);
    if (!strcmp(sub, "fit-lr"))
        return cmd_fit(argc - 1, argv + 1);
    if (!strcmp(sub, "log")) return af_cmd_world_log(argc - 1, argv + 1);
    if (!strcmp(sub, "simulate"))
        return af_cmd_world_simulate(argc - 1, argv + 1);
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        world_usage(stdout);
        return 0;
    }
    fprintf(stderr, "adfunnel world: unknown command '%s'\n\n", sub);
    world_usage(stderr);
    return 2;
}
