/*
 * sim_int.h -- what the parts of the world simulator share (see
 * simulate.h for the split).  Not part of any public API.
 */
#ifndef AF_CORE_SIM_INT_H
#define AF_CORE_SIM_INT_H

#include <limits.h>
#include <stdint.h>

#include "engine/generation.h"
#include "state/state.h"
#include "world/simulate.h"
#include "world/world.h"

#define SIM_SAMPLE_S 900    /* spend curves: one point per 15 minutes  */
#define SIM_CHECKPOINTS 200 /* regret and CTR curves                   */
#define SIM_MAX_CAPS 16
#define SIM_MAX_DAYS 7

/* A frequency cap as the frequency_cap filter of a pipeline declares it. */
struct sim_cap {
    double max;
    int per_campaign; /* 0: per user x ad                                */
    int window;       /* enum af_window, as the filter rounds it         */
};

/* What the simulator reads from a pipeline's compiled stages. */
struct sim_pipeline_info {
    char surface[64];
    uint32_t slots;
    uint32_t n_caps;
    struct sim_cap caps[SIM_MAX_CAPS];
    uint32_t max_per_advertiser; /* the auction's; 0: no limit            */
    int no_adjacent;
    int paced;             /* has a budget_pacing filter            */
    double curve_cum[25];  /* its target curve: share by hour h     */
    char explore[32];      /* the exploration plugin, "" if none    */
    double explore_budget; /* its `budget`, -1 when it has none     */
};

/* Shared by every pipeline's run; read-only while they run (except the
 * truth lists, which are filled on first use, thread-safely). */
struct sim_world {
    af_world *w;
    const struct af_catalog *cat; /* the world's catalog; its rows are the
                                     rows of the catalog the pipelines serve */
    uint32_t n_users;
    /* New ads. */
    int64_t *avail_from; /* per row: INT64_MIN for ads there from the start */
    uint8_t *is_new;     /* per row */
    uint32_t *new_rows;  /* the new ads, by arrival */
    uint32_t n_new;
    int32_t *new_index; /* per row: index into new_rows, or -1 */
    float *sim_prior;   /* per row: prior_ctr in the served catalog */
    /* Campaigns. */
    uint32_t n_campaigns;
    uint32_t *camp_of_row; /* per row: dense campaign index */
    uint32_t *camp_id;     /* per dense index */
    double *camp_budget;   /* per dense index, after --budget-scale */
    uint8_t *camp_has_new; /* per dense index: has an ad arriving late */
    /* Requests: the same users at the same times for every pipeline. */
    uint64_t n_req;
    uint32_t *req_user;
    int64_t *req_time;
    int64_t start_s, span_s;
    uint32_t n_samples; /* spend samples: span / SIM_SAMPLE_S + 1 */
    uint64_t seed;
    double est_strength;
    char dir[PATH_MAX]; /* the simulation's data directory */
    int own_dir;        /* remove it at the end */
    struct sim_truth *truth;
};

/* One new ad in one pipeline's run. */
struct sim_new_ad {
    uint64_t n, c;       /* impressions, clicks                         */
    double p_sum;        /* true expected clicks of its impressions     */
    uint64_t last_out;   /* impressions when the estimate was last
                               outside +-20% of the truth (0: never)      */
    int64_t first_imp_s; /* -1: never shown                             */
    int64_t reached_s;   /* time of the impression after which the
                               estimate stayed within +-20%                */
};

/* One impression, for the frequency-cap check at the end. */
struct sim_imp {
    uint32_t user; /* user index                                  */
    uint32_t key;  /* catalog row or dense campaign index (the
                               check rewrites it per cap)                  */
    uint32_t row;  /* catalog row                                 */
    int64_t t;
};

/* One pipeline's run and its results. */
struct sim_run {
    const struct sim_world *sw;
    const struct af_sim_opts *opts;
    const char *file;
    struct sim_pipeline_info info;
    af_state *state;
    af_generation *gen;
    uint64_t cur_user_id; /* the request's user, for the comparator */
    char err[1024];
    int rc;
    /* Totals. */
    uint64_t requests, served_requests, impressions, clicks, degraded;
    uint64_t new_impressions, explored_slots, explored_requests;
    uint64_t comparator_scans; /* requests whose optimum needed a full scan */
    double expected_clicks, revenue, value, opt_value;
    double wall_s;
    /* Curves, at SIM_CHECKPOINTS evenly spaced request counts. */
    double regret_at[SIM_CHECKPOINTS];
    double ctr_at[SIM_CHECKPOINTS];
    double new_share_at[SIM_CHECKPOINTS];
    /* Spend per campaign: today's (reset at 00:00 UTC), the run's total and
     * samples of today's spend every SIM_SAMPLE_S seconds. */
    double *spend_today;
    double *spend_total;
    double *max_price; /* per campaign: the highest price charged */
    double *day_spend; /* [day * n_campaigns + c], SIM_MAX_DAYS days */
    float *samples;    /* [sample * n_campaigns + c] */
    int64_t today;     /* day number of spend_today */
    uint32_t next_sample;
    /* New ads. */
    struct sim_new_ad *new_ads;
    /* Checks. */
    uint64_t diversity_violations;
    uint64_t cap_violations;
    uint64_t budget_overruns; /* campaign-days above budget + one price */
    struct sim_imp *imp;
    uint64_t n_imp, cap_imp;
};

/* --- sim_setup.c --- */

/* Choose the new ads and their arrival times, load the world, write the
 * simulation's data directory (ads.tsv with the new ads' priors and scaled
 * budgets, availability.tsv, links to the rest) and draw the requests.
 * 0 or a negative AF_E* (err set). */
int sim_world_open(struct sim_world *sw, const struct af_sim_opts *o, char *err,
                   size_t errlen);
void sim_world_close(struct sim_world *sw);

/* Read caps, diversity, pacing curve and exploration budget from the
 * pipeline's compiled stages.  0 or AF_EINVAL (err set). */
int sim_pipeline_info(const af_generation *g, struct sim_pipeline_info *pi,
                      char *err, size_t errlen);

/* Share of the day's target elapsed at unix time t (the pacing curve). */
double sim_curve_at(const struct sim_pipeline_info *pi, int64_t t);

/* --- sim_truth.c --- */

struct sim_truth *sim_truth_new(const struct sim_world *sw);
void sim_truth_free(struct sim_truth *t);

/* Is catalog row r eligible for the comparator in run r at time t? */
typedef int (*sim_eligible_fn)(const struct sim_run *run, uint32_t user,
                               uint32_t row, int64_t t);

/* Value of the best assignment of distinct eligible ads to `slots` slots
 * for user index u at time t; *scanned = 1 when the precomputed lists ran
 * out and every ad was examined. */
double sim_truth_best(struct sim_truth *truth, const struct sim_run *run,
                      uint32_t u, int64_t t, uint32_t slots,
                      sim_eligible_fn eligible, int *scanned);

/* Value per impression of row r shown to user u at 0-based position pos:
 * CPC p * bid, CPM bid / 1000, CPA 0 (the world has no conversions). */
double sim_value(const struct sim_world *sw, uint32_t u, uint32_t row,
                 uint32_t pos);

/* --- sim_check.c --- */

/* Remember an impression for the cap check.  0 or AF_ENOMEM. */
int sim_log_impression(struct sim_run *run, uint32_t user, uint32_t row,
                       int64_t t);
/* Count impressions that broke a cap of the pipeline, from the log alone
 * (an implementation independent of the filter and of the state). */
void sim_check_caps(struct sim_run *run);
/* Count rule violations of one response: rows[] in slot order. */
uint64_t sim_check_diversity(const struct sim_run *run, const uint32_t *rows,
                             uint32_t n);

/* --- sim_report.c --- */

/* Print the summary; write the JSON report and plots when asked. */
int sim_report(const struct sim_world *sw, struct sim_run *runs, uint32_t n,
               const struct af_sim_opts *o, char *err, size_t errlen);

#endif
