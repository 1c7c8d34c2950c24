/*
 * simulate.c -- the world simulator's run (docs/simulation.md).
 *
 * Each pipeline gets its own generation over the simulation's data
 * directory and its own embedded online state, so pipelines never see each
 * other's feedback, and runs on its own thread.  Request i of every
 * pipeline is the same user at the same virtual time (sim_setup.c), and the
 * click on position j of request i is decided by the same uniform number
 * u(seed, i, j) < p(user, ad, j): two pipelines that show the same ad in the
 * same place get the same click (common random numbers), so differences
 * between them are the policies', not the dice's.
 *
 * Per request:
 *   1. the comparator's optimum for this user at this time, given the run's
 *      history (sim_truth.c);
 *   2. af_engine_rank with the virtual time and a request id that depends
 *      only on i, so the request's own random numbers replay;
 *   3. for each ad shown at position j: its true p, the click draw, and the
 *      feedback recorded into the run's state: an impression, a click, and
 *      spend -- the price at the impression for CPM (price / 1000), at the
 *      click for CPC; CPA ads never convert in this world;
 *   4. bookkeeping: regret (optimum minus the value shown), CTR, revenue,
 *      spend per campaign and day, new-ad learning, diversity of the
 *      response, the impression log for the cap check.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adfunnel/af_errno.h"
#include "engine/engine.h"
#include "engine/generation.h"
#include "mem/arena.h"
#include "store/catalog.h"
#include "world/sim_int.h"

#define ARENA_BLOCK (1u << 20)

void
af_sim_defaults(struct af_sim_opts *o)
{
    memset(o, 0, sizeof *o);
    o->requests = 100000;
    o->seed = 1;
    o->start_s = AF_SIM_DEFAULT_START;
    o->span_s = 86400;
    o->budget_scale = 1.0;
    o->est_strength = 20.0;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The uniform number deciding the click at position pos of request i. */
static double
click_draw(uint64_t seed, uint64_t i, uint32_t pos)
{
    uint64_t z = seed ^ (i * 0x9e3779b97f4a7c15ULL) ^
                 ((uint64_t)(pos + 1) * 0xd1342543de82ef95ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* --- ## The comparator's eligibility --- */

static int
eligible(const struct sim_run *run, uint32_t user, uint32_t row, int64_t t)
{
    const struct sim_world *sw = run->sw;
    if (sw->avail_from[row] > t)
        return 0;
    uint32_t c = sw->camp_of_row[row];
    if (run->info.paced && sw->camp_budget[c] > 0 &&
        run->spend_today[c] >= sw->camp_budget[c])
        return 0;
    for (uint32_t k = 0; k < run->info.n_caps; k++) {
        const struct sim_cap *cap = &run->info.caps[k];
        uint64_t key = af_state_key2(
            run->cur_user_id, cap->per_campaign ? sw->cat->campaign_id[row]
                                                : sw->cat->ad_id[row]);
        double v = 0;
        af_state_read(run->state,
                      cap->per_campaign ? AF_ENT_USER_CAMPAIGN : AF_ENT_USER_AD,
                      AF_EV_IMPRESSION, cap->window, t, &key, 1, &v);
        if (v >= cap->max)
            return 0;
    }
    (void)user;
    return 1;
}

/* --- ## Bookkeeping --- */

static int
run_alloc(struct sim_run *run)
{
    const struct sim_world *sw = run->sw;
    uint32_t nc = sw->n_campaigns;
    run->spend_today = calloc(nc + 1, sizeof *run->spend_today);
    run->spend_total = calloc(nc + 1, sizeof *run->spend_total);
    run->max_price = calloc(nc + 1, sizeof *run->max_price);
    run->day_spend =
        calloc((size_t)SIM_MAX_DAYS * nc + 1, sizeof *run->day_spend);
    run->samples = calloc((size_t)sw->n_samples * nc + 1, sizeof *run->samples);
    run->new_ads = calloc(sw->n_new + 1, sizeof *run->new_ads);
    if (!run->spend_today || !run->spend_total || !run->max_price ||
        !run->day_spend || !run->samples || !run->new_ads)
        return AF_ENOMEM;
    for (uint32_t k = 0; k < sw->n_new; k++) {
        run->new_ads[k].first_imp_s = -1;
        run->new_ads[k].reached_s = -1;
    }
    run->today = sw->start_s / 86400;
    return AF_OK;
}

static void
run_release(struct sim_run *run)
{
    free(run->spend_today);
    free(run->spend_total);
    free(run->max_price);
    free(run->day_spend);
    free(run->samples);
    free(run->new_ads);
    free(run->imp);
    run->spend_today = run->spend_total = run->max_price = NULL;
    run->day_spend = NULL;
    run->samples = NULL;
    run->new_ads = NULL;
    run->imp = NULL;
}

/* Day index of the run for unix day `day`. */
static int64_t
day_index(const struct sim_world *sw, int64_t day)
{
    return day - sw->start_s / 86400;
}

/* Take spend samples up to time t, then start a new day if t is in one. */
static void
advance_clock(struct sim_run *run, int64_t t)
{
    const struct sim_world *sw = run->sw;
    uint32_t nc = sw->n_campaigns;
    while (run->next_sample < sw->n_samples &&
           sw->start_s + (int64_t)run->next_sample * SIM_SAMPLE_S <= t) {
        int64_t st = sw->start_s + (int64_t)run->next_sample * SIM_SAMPLE_S;
        float *row = run->samples + (size_t)run->next_sample * nc;
        int same_day = st / 86400 == run->today;
        for (uint32_t c = 0; c < nc; c++)
            row[c] = same_day ? (float)run->spend_today[c] : 0.0f;
        run->next_sample++;
    }
    int64_t day = t / 86400;
    if (day != run->today) {
        int64_t d = day_index(sw, run->today);
        if (d >= 0 && d < SIM_MAX_DAYS)
            memcpy(run->day_spend + (size_t)d * nc, run->spend_today,
                   nc * sizeof *run->spend_today);
        memset(run->spend_today, 0, nc * sizeof *run->spend_today);
        run->today = day;
    }
}

static void
finish_clock(struct sim_run *run)
{
    const struct sim_world *sw = run->sw;
    uint32_t nc = sw->n_campaigns;
    advance_clock(run, sw->start_s + sw->span_s - 1);
    int64_t d = day_index(sw, run->today);
    if (d >= 0 && d < SIM_MAX_DAYS)
        memcpy(run->day_spend + (size_t)d * nc, run->spend_today,
               nc * sizeof *run->spend_today);
    /* The last sample point is the end of the span. */
    if (run->next_sample < sw->n_samples) {
        float *row = run->samples + (size_t)run->next_sample * nc;
        for (uint32_t c = 0; c < nc; c++)
            row[c] = (float)run->spend_today[c];
        run->next_sample++;
    }
}

/* A new ad's impression: its estimate against its true CTR so far. */
static void
track_new_ad(struct sim_run *run, uint32_t row, double p, int click, int64_t t)
{
    const struct sim_world *sw = run->sw;
    struct sim_new_ad *a = &run->new_ads[sw->new_index[row]];
    a->n++;
    a->c += (uint64_t)click;
    a->p_sum += p;
    if (a->first_imp_s < 0)
        a->first_imp_s = t;
    double s = sw->est_strength, m = sw->sim_prior[row];
    double est = ((double)a->c + s * m) / ((double)a->n + s);
    double truth = a->p_sum / (double)a->n;
    if (fabs(est - truth) > 0.2 * truth) {
        a->last_out = a->n;
        a->reached_s = -1;
    } else if (a->reached_s < 0) {
        a->reached_s = t;
    }
}

static void
record(struct sim_run *run, int type, uint64_t user, uint32_t row, double value,
       int64_t t)
{
    const struct af_catalog *c = run->sw->cat;
    struct af_state_event ev = {.type = type,
                                .user_id = user,
                                .ad_id = c->ad_id[row],
                                .campaign_id = c->campaign_id[row],
                                .advertiser_id = c->advertiser_id[row],
                                .value = value,
                                .time_s = t};
    af_state_record(run->state, &ev);
}

static void
charge(struct sim_run *run, uint64_t user, uint32_t row, double amount,
       double price, int64_t t)
{
    if (!(amount > 0))
        return;
    uint32_t c = run->sw->camp_of_row[row];
    record(run, AF_EV_SPEND, user, row, amount, t);
    run->spend_today[c] += amount;
    run->spend_total[c] += amount;
    run->revenue += amount;
    if (price > run->max_price[c])
        run->max_price[c] = price;
}

/* Feedback and bookkeeping of one response. */
static int
serve(struct sim_run *run, uint64_t i, uint32_t u, uint64_t user_id, int64_t t,
      const struct af_rank_resp *resp, double *value)
{
    const struct sim_world *sw = run->sw;
    const af_catalog_store *store = af_world_catalog(sw->w);
    uint32_t rows[AF_MAX_SLOTS];
    *value = 0;
    for (uint32_t k = 0; k < resp->n_ads && k < AF_MAX_SLOTS; k++) {
        const struct af_rank_ad *ad = &resp->ads[k];
        int64_t r = af_catalog_find(store, ad->ad_id);
        if (r < 0) {
            snprintf(run->err, sizeof run->err,
                     "served ad %llu is not in the world",
                     (unsigned long long)ad->ad_id);
            return AF_EINVAL;
        }
        uint32_t row = (uint32_t)r, pos = ad->slot - 1;
        rows[k] = row;
        double p = af_world_p_click(sw->w, u, row, pos);
        int click = click_draw(sw->seed, i, pos) < p;
        *value += sim_value(sw, u, row, pos);
        record(run, AF_EV_IMPRESSION, user_id, row, 1, t);
        if (click)
            record(run, AF_EV_CLICK, user_id, row, 1, t);
        if (ad->bid_type == AF_BID_CPM)
            charge(run, user_id, row, ad->price / 1000.0, ad->price / 1000.0,
                   t);
        else if (ad->bid_type == AF_BID_CPC && click)
            charge(run, user_id, row, ad->price, ad->price, t);
        run->impressions++;
        run->clicks += (uint64_t)click;
        run->expected_clicks += p;
        run->explored_slots += ad->explored != 0;
        if (sw->is_new[row]) {
            run->new_impressions++;
            track_new_ad(run, row, p, click, t);
        }
        if (sim_log_impression(run, u, row, t) != AF_OK)
            return AF_ENOMEM;
    }
    for (uint32_t k = 0; k < resp->n_ads; k++)
        if (resp->ads[k].explored) {
            run->explored_requests++;
            break;
        }
    run->served_requests += resp->n_ads > 0;
    run->diversity_violations += sim_check_diversity(run, rows, resp->n_ads);
    return AF_OK;
}

/* --- ## One pipeline --- */

static int
run_setup(struct sim_run *run)
{
    const struct sim_world *sw = run->sw;
    const struct af_sim_opts *o = run->opts;
    /* Room for a new user x ad pair at every impression of a 5-slot
     * surface; a fuller state says so in the log and the cap check would
     * count what it missed. */
    uint64_t keys = o->requests * 5;
    keys = keys < (1u << 16)   ? (1u << 16)
           : keys > (1u << 26) ? (1u << 26)
                               : keys;
    run->state = af_state_embedded_new((uint32_t)keys);
    if (!run->state) {
        snprintf(run->err, sizeof run->err, "cannot reserve the online state");
        return AF_ENOMEM;
    }
    const char *files[2] = {run->file, NULL};
    struct af_gen_config cfg = {.plugin_dirs = o->plugin_dirs,
                                .pipelines = files,
                                .data_dir = sw->dir,
                                .seed = o->seed,
                                .state = run->state};
    char err[1024];
    run->gen = af_generation_build(&cfg, err, sizeof err);
    if (!run->gen) {
        snprintf(run->err, sizeof run->err, "%.300s: %.700s", run->file, err);
        return AF_EINVAL;
    }
    int rc = sim_pipeline_info(run->gen, &run->info, err, sizeof err);
    if (rc != AF_OK) {
        snprintf(run->err, sizeof run->err, "%.300s: %.700s", run->file, err);
        return rc;
    }
    if (run_alloc(run) != AF_OK) {
        snprintf(run->err, sizeof run->err, "out of memory");
        return AF_ENOMEM;
    }
    return AF_OK;
}

/* Fill the checkpoints that request count `done` reaches: checkpoint k
 * (0-based) is taken after ceil((k + 1) * n / SIM_CHECKPOINTS) requests. */
static void
checkpoint(struct sim_run *run, uint64_t done, double regret)
{
    uint64_t n = run->sw->n_req;
    uint64_t from = (done - 1) * SIM_CHECKPOINTS / n;
    uint64_t to = done * SIM_CHECKPOINTS / n;
    for (uint64_t k = from; k < to && k < SIM_CHECKPOINTS; k++) {
        run->regret_at[k] = regret;
        run->ctr_at[k] =
            run->impressions ? (double)run->clicks / run->impressions : 0;
        run->new_share_at[k] =
            run->impressions ? (double)run->new_impressions / run->impressions
                             : 0;
    }
}

static int
run_loop(struct sim_run *run)
{
    const struct sim_world *sw = run->sw;
    const struct af_sim_opts *o = run->opts;
    const af_user_store *users = af_world_users(sw->w);
    af_arena *arena = af_arena_create(ARENA_BLOCK, 0);
    if (!arena)
        return AF_ENOMEM;
    double regret = 0, t0 = now_s();
    uint64_t report_every = sw->n_req / 10 ? sw->n_req / 10 : 1;
    int rc = AF_OK;
    for (uint64_t i = 0; i < sw->n_req && rc == AF_OK; i++) {
        uint32_t u = sw->req_user[i];
        int64_t t = sw->req_time[i];
        advance_clock(run, t);
        struct af_rank_req rq;
        memset(&rq, 0, sizeof rq);
        af_users_at(users, u, &rq.user);
        run->cur_user_id = rq.user.id;
        snprintf(rq.surface, sizeof rq.surface, "%s", run->info.surface);
        snprintf(rq.request_id, sizeof rq.request_id, "sim-%llu",
                 (unsigned long long)i);
        rq.user_has = 0; /* the profile comes from the user store */
        rq.context.hour = (int32_t)((t / 3600) % 24);
        rq.context.day_of_week = (int32_t)((t / 86400 + 3) % 7); /* Mon = 0 */
        rq.context.position = 0;
        rq.time_s = t;
        int scanned;
        double best = sim_truth_best(sw->truth, run, u, t, run->info.slots,
                                     eligible, &scanned);
        run->comparator_scans += (uint64_t)scanned;
        af_arena_reset(arena);
        struct af_rank_resp resp;
        char err[512];
        rc = af_engine_rank(run->gen, &rq, arena, &resp, err, sizeof err);
        if (rc != AF_OK) {
            snprintf(run->err, sizeof run->err, "request %llu: %.900s",
                     (unsigned long long)i, err);
            break;
        }
        run->requests++;
        run->degraded += resp.degraded != 0;
        double value;
        rc = serve(run, i, u, rq.user.id, t, &resp, &value);
        run->value += value;
        run->opt_value += best;
        regret += best - value;
        checkpoint(run, i + 1, regret);
        if (!o->quiet && (i + 1) % report_every == 0)
            fprintf(stderr, "simulate %s: %llu / %llu requests, %.0f req/s\n",
                    run->info.surface, (unsigned long long)(i + 1),
                    (unsigned long long)sw->n_req, (i + 1) / (now_s() - t0));
    }
    af_arena_destroy(arena);
    finish_clock(run);
    run->wall_s = now_s() - t0;
    return rc;
}

/* Campaign-days whose spend passed budget + the campaign's highest price. */
static void
count_overruns(struct sim_run *run)
{
    const struct sim_world *sw = run->sw;
    int64_t days =
        (sw->start_s + sw->span_s - 1) / 86400 - sw->start_s / 86400 + 1;
    if (days > SIM_MAX_DAYS)
        days = SIM_MAX_DAYS;
    for (int64_t d = 0; d < days; d++)
        for (uint32_t c = 0; c < sw->n_campaigns; c++) {
            double b = sw->camp_budget[c];
            if (b > 0 && run->day_spend[(size_t)d * sw->n_campaigns + c] >
                             b + run->max_price[c] + 1e-6)
                run->budget_overruns++;
        }
}

static void *
run_thread(void *arg)
{
    struct sim_run *run = arg;
    run->rc = run_loop(run);
    if (run->rc == AF_OK) {
        sim_check_caps(run);
        count_overruns(run);
    }
    return NULL;
}

/* --- ## Entry --- */

static int
check_opts(const struct af_sim_opts *o, char *err, size_t errlen)
{
    if (!o->data_dir || o->n_pipelines == 0 ||
        o->n_pipelines > AF_SIM_MAX_PIPELINES) {
        snprintf(err, errlen, "give a world (--data) and 1..%d pipelines",
                 AF_SIM_MAX_PIPELINES);
        return AF_EINVAL;
    }
    if (o->requests == 0 || o->span_s < 1 ||
        o->span_s > (int64_t)SIM_MAX_DAYS * 86400) {
        snprintf(err, errlen,
                 "need requests >= 1 and a span of 1 s .. %d days",
                 SIM_MAX_DAYS);
        return AF_EINVAL;
    }
    if (!(o->budget_scale > 0) || !(o->est_strength > 0)) {
        snprintf(err, errlen, "budget scale and estimate strength must be > 0");
        return AF_EINVAL;
    }
    return AF_OK;
}

int
af_world_simulate(const struct af_sim_opts *o, char *err, size_t errlen)
{
    int rc = check_opts(o, err, errlen);
    if (rc != AF_OK)
        return rc;
    struct sim_world sw;
    if ((rc = sim_world_open(&sw, o, err, errlen)) != AF_OK) {
        sim_world_close(&sw);
        return rc;
    }
    struct sim_run runs[AF_SIM_MAX_PIPELINES];
    memset(runs, 0, sizeof runs);
    uint32_t n = o->n_pipelines, built = 0;
    for (; built < n; built++) {
        struct sim_run *r = &runs[built];
        r->sw = &sw;
        r->opts = o;
        r->file = o->pipelines[built];
        if ((rc = run_setup(r)) != AF_OK) {
            snprintf(err, errlen, "%s", r->err);
            built++;
            break;
        }
    }
    pthread_t th[AF_SIM_MAX_PIPELINES];
    uint32_t started = 0;
    if (rc == AF_OK) {
        for (; started < n; started++)
            if (pthread_create(&th[started], NULL, run_thread,
                               &runs[started])) {
                snprintf(err, errlen, "cannot start a thread: %s",
                         strerror(errno));
                rc = AF_ENOMEM;
                break;
            }
        for (uint32_t i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        for (uint32_t i = 0; i < started && rc == AF_OK; i++)
            if (runs[i].rc != AF_OK) {
                snprintf(err, errlen, "%.300s: %.700s", runs[i].file,
                         runs[i].err);
                rc = runs[i].rc;
            }
    }
    if (rc == AF_OK)
        rc = sim_report(&sw, runs, n, o, err, errlen);
    for (uint32_t i = 0; i < built; i++) {
        if (runs[i].gen)
            af_generation_unref(runs[i].gen);
        af_state_free(runs[i].state);
        run_release(&runs[i]);
    }
    sim_world_close(&sw);
    return rc;
}
