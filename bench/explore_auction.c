/*
 * explore_auction.c -- microbenchmark (not a test): the gsp auction followed
 * by the thompson exploration plugin on 500 candidates, one request at a
 * time on one core, as the engine runs the auction and explore stages.
 *
 *   bench/explore_auction.sh            (builds and runs it)
 *   explore_auction PLUGIN_DIR [requests [propensity_samples]]
 *
 * The catalog has 2,000 CPC ads of 400 advertisers and 800 campaigns; the
 * embedded online state holds impressions and clicks for every ad (as after
 * a day of traffic), so every posterior read finds its keys.  Each request
 * draws 500 candidates with random bids and pCTRs, resets the request
 * arena, re-seeds the request generator, runs gsp then thompson, and is
 * timed alone: wall clock (CLOCK_MONOTONIC; p50 / p90 / p99 / max) and the
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID; p50 / p99), which a busy
 * machine's preemptions do not inflate.  Four configurations:
 *
 *   budget 1     every request samples (the worst case)
 *   budget 0.05  5% of requests sample
 * each without and with the diversity rules (max 2 per advertiser, no two
 * adjacent), 5 slots, 16 Monte-Carlo resamples for the propensity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "engine/batch.h"
#include "engine/host.h"
#include "loader/loader.h"
#include "mem/arena.h"
#include "state/state.h"
#include "util/strbuf.h"

#define N_ADS 2000
#define N_CAND 500
#define SLOTS 5
#define DAY0 INT64_C(1767571200)

struct cat {
    uint64_t ad_id[N_ADS];
    uint32_t adv[N_ADS], camp[N_ADS];
    uint16_t category[N_ADS];
    uint8_t bid_type[N_ADS];
    float bid[N_ADS], quality[N_ADS], prior[N_ADS], budget[N_ADS];
    uint32_t geo[N_ADS];
    uint8_t age[N_ADS], dev[N_ADS];
    uint64_t interest[N_ADS];
    struct af_catalog view;
};

static uint64_t
next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
unif(uint64_t *x)
{
    return (double)(next(x) >> 11) * 0x1.0p-53;
}

static void
make_catalog(struct cat *c, af_state *st)
{
    uint64_t x = 7;
    memset(c, 0, sizeof *c);
    for (uint32_t i = 0; i < N_ADS; i++) {
        c->ad_id[i] = 1 + i;
        c->camp[i] = 1 + i % 800;
        c->adv[i] = 1 + (i % 800) % 400;
        c->bid_type[i] = AF_BID_CPC;
        c->bid[i] = (float)(0.5 + unif(&x));
        c->quality[i] = 1;
        c->prior[i] = (float)(0.01 + 0.04 * unif(&x));
        c->budget[i] = 300;
        /* a day of feedback: 0..5000 impressions at the ad's CTR */
        uint32_t n = (uint32_t)(5000 * unif(&x));
        uint32_t clicks = (uint32_t)(n * c->prior[i]);
        struct af_state_event ev = {.user_id = 1, .ad_id = c->ad_id[i],
                                    .campaign_id = c->camp[i],
                                    .advertiser_id = c->adv[i],
                                    .time_s = DAY0};
        ev.type = AF_EV_IMPRESSION;
        ev.value = n;
        af_state_record(st, &ev);
        ev.type = AF_EV_CLICK;
        ev.value = clicks;
        af_state_record(st, &ev);
    }
    struct af_catalog *v = &c->view;
    v->struct_size = sizeof *v;
    v->n_ads = N_ADS;
    v->ad_id = c->ad_id;
    v->advertiser_id = c->adv;
    v->campaign_id = c->camp;
    v->category = c->category;
    v->bid_type = c->bid_type;
    v->bid = c->bid;
    v->quality = c->quality;
    v->prior_ctr = c->prior;
    v->daily_budget = c->budget;
    v->geo_mask = c->geo;
    v->age_mask = c->age;
    v->device_mask = c->dev;
    v->interest_mask = c->interest;
    v->n_categories = 32;
    v->n_geos = 16;
    v->n_age_bands = 6;
    v->n_devices = 3;
}

static af_loaded *
load(const char *dir, const char *file)
{
    char path[4096], err[1024];
    af_loaded *p = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (af_loader_open(path, &p, err, sizeof err) != AF_OK) {
        fprintf(stderr, "explore_auction: %s\n", err);
        exit(1);
    }
    return p;
}

static void
instance(const af_loaded *p, af_config *cfg, const struct af_catalog *cat,
         af_state *st, struct af_instance *out)
{
    struct af_instance_opts o = {.label = "bench", .data_dir = "",
                                 .catalog = cat, .state = st};
    char err[1024];
    if (af_instance_create(p, cfg, &o, out, err, sizeof err) != AF_OK) {
        fprintf(stderr, "explore_auction: %s\n", err);
        exit(1);
    }
    af_config_free(cfg);
}

static int resamples = 16; /* propensity_samples of thompson */

static af_config *
params(double budget, int diversity)
{
    af_config *c = af_config_new();
    if (budget >= 0)
        af_config_set_num(c, "propensity_samples", resamples);
    af_config_set_num(c, "reserve", 0.05);
    if (diversity) {
        af_config_set_num(c, "max_per_advertiser", 2);
        af_config_set_bool(c, "no_adjacent_advertiser", 1);
    }
    if (budget >= 0)
        af_config_set_num(c, "budget", budget);
    return c;
}

static int
dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
now_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
run(const char *name, const af_loaded *gsp, const af_loaded *th,
    const struct cat *c, af_state *st, double budget, int diversity,
    uint32_t requests)
{
    struct af_instance auc, ex;
    instance(gsp, params(-1, diversity), &c->view, st, &auc);
    instance(th, params(budget, diversity), &c->view, st, &ex);
    af_arena *arena = af_arena_create(1 << 20, 0);
    af_rng rng;
    struct af_request req = {.struct_size = sizeof req, .request_id = "b",
                             .surface = "bench", .arm = "control",
                             .arena = arena, .rng = &rng,
                             .catalog = &c->view, .time_s = DAY0 + 3600};
    struct af_slot slot[SLOTS + 1];
    double *lat = malloc(requests * sizeof *lat);
    double *cpu = malloc(requests * sizeof *cpu);
    uint64_t x = 99, explored = 0;
    for (uint32_t k = 0; k < requests; k++) {
        af_arena_reset(arena);
        struct af_batch b;
        af_batch_init(&b, arena, N_CAND);
        for (uint32_t i = 0; i < N_CAND; i++) {
            uint32_t row = (uint32_t)(next(&x) % N_ADS);
            b.ad[i] = row;
            b.bid[i] = c->bid[row];
            b.pctr[i] = (float)(c->prior[row] * (0.5 + unif(&x)));
            b.pcvr[i] = b.pneg[i] = 0;
            b.drop[i] = 0;
        }
        b.n = N_CAND;
        af_rng_seed(&rng, k);
        struct af_slots slots = {.max = SLOTS, .n = 0, .slot = slot};
        double t0 = now_us(CLOCK_MONOTONIC);
        double c0 = now_us(CLOCK_THREAD_CPUTIME_ID);
        const struct af_auction_ops *a = auc.ops;
        const struct af_exploration_ops *e = ex.ops;
        a->auction(auc.inst, &req, &b, &slots);
        e->explore(ex.inst, &req, &b, &slots);
        lat[k] = now_us(CLOCK_MONOTONIC) - t0;
        cpu[k] = now_us(CLOCK_THREAD_CPUTIME_ID) - c0;
        for (uint32_t j = 0; j < slots.n; j++)
            explored += slots.slot[j].explored;
    }
    qsort(lat, requests, sizeof *lat, dcmp);
    qsort(cpu, requests, sizeof *cpu, dcmp);
    printf("%-24s wall p50 %6.1f p90 %6.1f p99 %6.1f max %7.1f us | "
           "cpu p50 %6.1f p99 %6.1f us | explored slots %.3f\n",
           name, lat[requests / 2], lat[requests * 9 / 10],
           lat[requests * 99 / 100], lat[requests - 1], cpu[requests / 2],
           cpu[requests * 99 / 100],
           (double)explored / ((double)requests * SLOTS));
    free(lat);
    free(cpu);
    af_buf m;
    af_buf_init(&m);
    af_instance_metrics(&ex, &m);
    const char *line = strstr(m.data ? m.data : "", "contenders_total");
    if (line)
        printf("%24s thompson metric: %.*s\n", "", (int)strcspn(line, "\n"),
               line);
    af_buf_free(&m);
    af_arena_destroy(arena);
    af_instance_destroy(&ex);
    af_instance_destroy(&auc);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: explore_auction PLUGIN_DIR [requests "
                        "[propensity_samples]]\n");
        return 2;
    }
    uint32_t requests = argc > 2 ? (uint32_t)atoi(argv[2]) : 20000;
    if (requests < 100)
        requests = 100;
    if (argc > 3)
        resamples = atoi(argv[3]);
    af_state *st = af_state_embedded_new(1 << 16);
    struct cat *c = malloc(sizeof *c);
    make_catalog(c, st);
    af_loaded *gsp = load(argv[1], "auction_gsp.so");
    af_loaded *th = load(argv[1], "exploration_thompson.so");
    printf("gsp + thompson, %d candidates, %d slots, %u requests, "
           "%d propensity samples, one core\n",
           N_CAND, SLOTS, requests, resamples);
    run("budget 1", gsp, th, c, st, 1.0, 0, requests);
    run("budget 1, diversity", gsp, th, c, st, 1.0, 1, requests);
    run("budget 0.05", gsp, th, c, st, 0.05, 0, requests);
    run("budget 0.05, diversity", gsp, th, c, st, 0.05, 1, requests);
    af_loader_close(th);
    af_loader_close(gsp);
    free(c);
    af_state_free(st);
    return 0;
}
