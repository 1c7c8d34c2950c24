/*
 * simulate.h -- `adfunnel world simulate`: run requests through one or more
 * pipelines in-process, draw clicks from the world's ground truth, feed the
 * impressions, clicks and spend back into each pipeline's own online state,
 * and report the pipelines side by side (docs/simulation.md).
 *
 * Internals are split by concern:
 *   simulate.c    options, the run (one thread per pipeline), the loop
 *   sim_setup.c   the simulation's data directory: new ads and their
 *                 arrival times, the catalog the pipelines serve
 *   sim_truth.c   the ground-truth optimal allocation (regret)
 *   sim_check.c   independent checks of frequency caps and diversity
 *   sim_report.c  the JSON report and the SVG plots
 * and share sim_int.h.
 */
#ifndef AF_CORE_SIMULATE_H
#define AF_CORE_SIMULATE_H

#include <stddef.h>
#include <stdint.h>

#define AF_SIM_MAX_PIPELINES 8

/* Monday 2026-01-05 00:00:00 UTC: the default start of simulated time. */
#define AF_SIM_DEFAULT_START INT64_C(1767571200)

struct af_sim_opts {
    const char *data_dir;                /* the world (world gen, fit-lr)  */
    const char *pipelines[AF_SIM_MAX_PIPELINES]; /* one surface each        */
    uint32_t n_pipelines;
    const char *const *plugin_dirs;      /* NULL-terminated                */
    uint64_t requests;                   /* per pipeline                   */
    uint64_t seed;
    uint32_t new_ads_per_hour;           /* ads arriving during the run    */
    int64_t start_s;                     /* simulated time of request 0    */
    int64_t span_s;                      /* simulated seconds (--day-seconds) */
    int even_traffic;                    /* 0: the diurnal traffic shape   */
    double budget_scale;                 /* daily budgets multiplied by it */
    const char *demand_pipeline;         /* surface whose spend is taken as
                                            each campaign's demand, or NULL */
    const char *work_dir;                /* the simulation's data directory;
                                            NULL: a temporary one, removed */
    const char *out;                     /* JSON report, or NULL           */
    const char *svg_dir;                 /* SVG plots, or NULL             */
    double est_strength;                 /* prior strength of the new-ad
                                            CTR estimate                   */
    int quiet;                           /* no progress lines on stderr    */
};

/* Fill o with the defaults (everything but data_dir and pipelines). */
void af_sim_defaults(struct af_sim_opts *o);

/*
 * Run the simulation and print a summary to stdout; write the report and
 * plots when asked.  0, or a negative AF_E* with the reason in err.  The
 * same options and world always give the same report (wall-clock timings
 * aside).
 */
int af_world_simulate(const struct af_sim_opts *o, char *err, size_t errlen);

/* The 24 hourly weights (UTC hours 0..23) of simulated traffic: the shape
 * requests follow through the day, and the shape the sim pipelines give the
 * budget_pacing filter's "traffic" curve. */
extern const double af_sim_traffic_shape[24];

#endif
