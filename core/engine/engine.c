/*
 * engine.c -- one request through the funnel.
 *
 * The request path allocates only from the request arena and takes no lock.
 * Each stage runs under the earlier of its own deadline and the request's;
 * a stage that fails or overruns degrades the response instead of failing
 * it: retrieval, filters and features keep what they produced, model stages
 * are discarded (the order falls back to the previous stage's scores),
 * calibration and exploration are skipped.  A response always comes back.
 */
#include "engine/engine.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/batch.h"
#include "engine/host.h"
#include "pipeline/hooks.h"
#include "pipeline/stage.h"
#include "store/catalog.h"
#include "util/fnv.h"

struct run {
    const struct af_pipeline *p;
    const struct af_arm *arm;
    const struct af_catalog *cat;
    struct af_request req;
    struct af_batch b;
    af_arena *arena;
    struct af_rank_resp *resp;
    int have_features; /* features stage succeeded: models may run      */
};

/* --- ## Request set-up --- */

/* Request ids must be unique per process; a relaxed atomic counter mixed
 * with the clock is enough and is the one shared variable of the engine. */
static _Atomic uint64_t request_seq;

static void
make_request_id(char out[AF_REQUEST_ID_MAX], uint64_t seed)
{
    uint64_t n = atomic_fetch_add_explicit(&request_seq, 1, memory_order_relaxed);
    uint64_t h = af_fnv1a(AF_FNV_OFFSET, &seed, sizeof seed);
    uint64_t t = af_clock_ns();
    h = af_fnv1a(h, &t, sizeof t);
    snprintf(out, AF_REQUEST_ID_MAX, "%016llx-%llx", (unsigned long long)h,
             (unsigned long long)n);
}

/* Profile from the user store, overridden by what the request says. */
static void
resolve_user(const af_generation *gen, const struct af_rank_req *in,
             struct af_user *u)
{
    const struct af_user_store *us = af_generation_users(gen);
    struct af_user stored;
    int known = us && af_users_get(us, in->user.id, &stored) == 0;
    if (known) {
        *u = stored;
    } else {
        memset(u, 0, sizeof *u);
        u->id = in->user.id;
        u->geo = u->age_band = u->device = u->gender = -1;
    }
    const struct af_user *q = &in->user;
    if (in->user_has & AF_USER_HAS_GEO)
        u->geo = q->geo;
    if (in->user_has & AF_USER_HAS_AGE)
        u->age_band = q->age_band;
    if (in->user_has & AF_USER_HAS_DEVICE)
        u->device = q->device;
    if (in->user_has & AF_USER_HAS_GENDER)
        u->gender = q->gender;
    if (in->user_has & AF_USER_HAS_INTERESTS)
        u->interests = q->interests;
    if (in->user_has & AF_USER_HAS_HISTORY) {
        u->n_history = q->n_history > AF_MAX_HISTORY ? AF_MAX_HISTORY : q->n_history;
        memcpy(u->history, q->history, u->n_history * sizeof u->history[0]);
    }
}

/* --- ## Stage bookkeeping --- */

struct stage_clock {
    struct af_stage_info *info;
    uint64_t t0;
    uint64_t deadline;
};

static struct af_stage_info *
stage_begin(struct run *r, const struct af_stage *st, struct stage_clock *sc)
{
    struct af_stage_info *si = &r->resp->stages[r->resp->n_stages++];
    memset(si, 0, sizeof *si);
    si->stage = st->name;
    si->plugin = st->label;
    si->candidates_in = r->b.n;
    sc->info = si;
    sc->t0 = af_clock_ns();
    sc->deadline = r->req.deadline_ns;
    if (st->deadline_ns && sc->t0 + st->deadline_ns < sc->deadline)
        sc->deadline = sc->t0 + st->deadline_ns;
    r->req.stage_deadline_ns = sc->deadline;
    return si;
}

/* Close the stage; returns 1 when it overran its deadline. */
static int
stage_end(struct run *r, struct stage_clock *sc)
{
    uint64_t t1 = af_clock_ns();
    sc->info->micros = (uint32_t)((t1 - sc->t0) / 1000);
    sc->info->candidates_out = r->b.n;
    if (t1 > sc->deadline) {
        sc->info->timed_out = 1;
        r->resp->degraded = 1;
        return 1;
    }
    return 0;
}

static void
stage_error(struct run *r, struct stage_clock *sc, const char *plugin, int rc)
{
    if (!sc->info->error)
        sc->info->error = af_arena_sprintf(r->arena, "%s: %s", plugin,
                                           af_strerror(rc));
    r->resp->degraded = 1;
}

/* The request deadline passed before an optional stage: skip it. */
static int
skip_if_late(struct run *r, const struct af_stage *st)
{
    if (af_clock_ns() < r->req.deadline_ns)
        return 0;
    struct stage_clock sc;
    stage_begin(r, st, &sc);
    sc.info->timed_out = 1;
    sc.info->error = "skipped: request deadline passed";
    sc.info->candidates_out = r->b.n;
    r->resp->degraded = 1;
    return 1;
}

/* --- ## Stages --- */

/* Remove duplicates (same catalog row), keeping the first retriever's. */
static void
dedup(struct run *r)
{
    struct af_batch *b = &r->b;
    uint32_t size = 16;
    while (size < 2 * b->n)
        size <<= 1;
    uint32_t *slot = af_arena_alloc(r->arena, size * sizeof *slot);
    if (!slot)
        return;
    memset(slot, 0xff, size * sizeof *slot);
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t h = (uint32_t)(b->ad[i] * 2654435761u) & (size - 1);
        while (slot[h] != UINT32_MAX && slot[h] != b->ad[i])
            h = (h + 1) & (size - 1);
        if (slot[h] == b->ad[i])
            b->drop[i] = 1;
        slot[h] = b->ad[i];
    }
    af_batch_compact(b);
}

static void
init_new_rows(struct run *r, uint32_t from, uint16_t source)
{
    struct af_batch *b = &r->b;
    for (uint32_t i = from; i < b->n; i++) {
        b->source[i] = source;
        b->prerank[i] = 0;
        b->pctr[i] = r->cat->prior_ctr[b->ad[i]];
        b->pcvr[i] = 0;
        b->pneg[i] = 0;
        b->score[i] = 0;
        b->drop[i] = 0;
    }
}

static void
run_retrieve(struct run *r, const struct af_stage *st)
{
    struct stage_clock sc;
    stage_begin(r, st, &sc);
    struct af_batch *b = &r->b;
    for (uint32_t i = 0; i < st->n; i++) {
        const struct af_stage_plugin *sp = &st->p[i];
        const struct af_retriever_ops *ops = sp->in.ops;
        uint32_t before = b->n;
        uint32_t k = sp->k;
        if (b->n + k > b->cap)
            k = b->cap - b->n;
        int rc = ops->retrieve(sp->in.inst, &r->req, b, k);
        if (b->n > before + k || b->n < before) /* a plugin broke the contract */
            b->n = before, rc = AF_EPLUGIN;
        for (uint32_t j = before; j < b->n; j++)
            if (b->ad[j] >= r->cat->n_ads)
                b->n = before, rc = AF_EPLUGIN;
        if (rc != 0)
            stage_error(r, &sc, sp->in.plugin->desc->name, rc);
        init_new_rows(r, before, (uint16_t)i);
        if (af_clock_ns() > sc.deadline)
            break; /* keep what we have; stage_end marks the overrun */
    }
    if (st->n > 1)
        dedup(r);
    if (st->keep && b->n > st->keep)
        af_batch_keep_top(b, b->retrieval_score, st->keep, r->arena);
    stage_end(r, &sc);
}

static void
run_filters(struct run *r, const struct af_stage *st)
{
    struct stage_clock sc;
    stage_begin(r, st, &sc);
    for (uint32_t i = 0; i < st->n && r->b.n; i++) {
        const struct af_stage_plugin *sp = &st->p[i];
        const struct af_filter_ops *ops = sp->in.ops;
        int rc = ops->filter(sp->in.inst, &r->req, &r->b);
        if (rc != 0) {
            /* A failed filter may have marked rows half-way: eligibility is
             * not known, so those marks stand (fail closed). */
            stage_error(r, &sc, sp->in.plugin->desc->name, rc);
        }
        af_batch_compact(&r->b);
    }
    if (st->keep && r->b.n > st->keep)
        af_batch_keep_top(&r->b, r->b.retrieval_score, st->keep, r->arena);
    stage_end(r, &sc);
}

static void
run_features(struct run *r, const struct af_stage *st)
{
    struct stage_clock sc;
    stage_begin(r, st, &sc);
    struct af_batch *b = &r->b;
    b->n_fields = b->n_dense = b->n_req_fields = b->n_req_dense = 0;
    r->have_features = 1;
    for (uint32_t i = 0; i < st->n; i++) {
        const struct af_stage_plugin *sp = &st->p[i];
        const struct af_feature_ops *ops = sp->in.ops;
        int rc = ops->extract(sp->in.inst, &r->req, b);
        if (rc != 0 || b->n_fields > AF_MAX_FIELDS || b->n_dense > AF_MAX_DENSE ||
            b->n_req_fields > AF_MAX_FIELDS || b->n_req_dense > AF_MAX_DENSE) {
            stage_error(r, &sc, sp->in.plugin->desc->name, rc ? rc : AF_ELIMIT);
            r->have_features = 0;
            break;
        }
    }
    stage_end(r, &sc);
}

/* Expected value used to keep rows after a model stage. */
static void
value_key(struct af_batch *b, const float *p, float *key)
{
    for (uint32_t i = 0; i < b->n; i++)
        key[i] = b->bid[i] * p[i];
}

/* prerank or rank: score into scratch, adopt only if in time and ok. */
static void
run_model(struct run *r, const struct af_stage *st)
{
    if (skip_if_late(r, st))
        return;
    struct stage_clock sc;
    stage_begin(r, st, &sc);
    struct af_batch *b = &r->b;
    const struct af_stage_plugin *sp = &st->p[0];
    if (!r->have_features) {
        sc.info->error = "skipped: no features";
        r->resp->degraded = 1;
        stage_end(r, &sc);
        return;
    }
    uint32_t n = b->n;
    float *pctr = af_arena_alloc(r->arena, (n + 1) * sizeof(float));
    float *pcvr = af_arena_alloc(r->arena, (n + 1) * sizeof(float));
    float *pneg = af_arena_alloc(r->arena, (n + 1) * sizeof(float));
    if (!pctr || !pcvr || !pneg) {
        stage_error(r, &sc, sp->in.plugin->desc->name, AF_ENOMEM);
        stage_end(r, &sc);
        return;
    }
    memcpy(pcvr, b->pcvr, n * sizeof(float));
    memcpy(pneg, b->pneg, n * sizeof(float));
    struct af_score_out out = {pctr, pcvr, pneg};
    const struct af_model_ops *ops = sp->in.ops;
    int rc = n ? ops->score(sp->in.inst, &r->req, b, &out) : 0;
    uint64_t t1 = af_clock_ns();
    if (rc != 0)
        stage_error(r, &sc, sp->in.plugin->desc->name, rc);
    int late = t1 > sc.deadline;
    if (rc == 0 && (!late || st->on_timeout == AF_TIMEOUT_KEEP)) {
        if (st->id == AF_STAGE_PRERANK)
            memcpy(b->prerank, pctr, n * sizeof(float));
        memcpy(b->pctr, pctr, n * sizeof(float));
        memcpy(b->pcvr, pcvr, n * sizeof(float));
        memcpy(b->pneg, pneg, n * sizeof(float));
    }
    if (st->keep && b->n > st->keep) {
        value_key(b, b->pctr, b->score);
        af_batch_keep_top(b, b->score, st->keep, r->arena);
    }
    stage_end(r, &sc);
}

static void
run_calibrate(struct run *r, const struct af_stage *st)
{
    if (skip_if_late(r, st))
        return;
    struct stage_clock sc;
    stage_begin(r, st, &sc);
    struct af_batch *b = &r->b;
    float *p = af_arena_alloc(r->arena, (b->n + 1) * sizeof(float));
    int ok = p != NULL;
    if (p)
        memcpy(p, b->pctr, b->n * sizeof(float));
    for (uint32_t i = 0; ok && i < st->n; i++) {
        const struct af_stage_plugin *sp = &st->p[i];
        const struct af_calibrator_ops *ops = sp->in.ops;
        int rc = ops->calibrate(sp->in.inst, &r->req, p, b->n);
        if (rc != 0) {
            stage_error(r, &sc, sp->in.plugin->desc->name, rc);
            ok = 0;
        }
    }
    uint64_t t1 = af_clock_ns();
    if (ok && (t1 <= sc.deadline || st->on_timeout == AF_TIMEOUT_KEEP))
        memcpy(b->pctr, p, b->n * sizeof(float));
    stage_end(r, &sc);
}

static int
valid_slots(const struct af_slots *s, uint32_t n_rows)
{
    if (s->n > s->max)
        return 0;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->slot[i].row >= n_rows)
            return 0;
    return 1;
}

static void
run_auction(struct run *r, const struct af_stage *st, struct af_slots *slots)
{
    struct stage_clock sc;
    stage_begin(r, st, &sc);
    const struct af_stage_plugin *sp = &st->p[0];
    const struct af_auction_ops *ops = sp->in.ops;
    int rc = ops->auction(sp->in.inst, &r->req, &r->b, slots);
    if (rc == 0 && !valid_slots(slots, r->b.n))
        rc = AF_EPLUGIN;
    if (rc != 0) {
        /* No trustworthy prices: show nothing rather than misprice. */
        stage_error(r, &sc, sp->in.plugin->desc->name, rc);
        slots->n = 0;
    }
    stage_end(r, &sc);
    sc.info->candidates_out = slots->n;
}

static void
run_explore(struct run *r, const struct af_stage *st, struct af_slots *slots)
{
    if (skip_if_late(r, st))
        return;
    struct stage_clock sc;
    stage_begin(r, st, &sc);
    const struct af_stage_plugin *sp = &st->p[0];
    struct af_slots trial = *slots;
    trial.slot = af_arena_alloc(r->arena, (slots->max + 1) * sizeof *trial.slot);
    int rc = AF_ENOMEM;
    if (trial.slot) {
        memcpy(trial.slot, slots->slot, slots->n * sizeof *trial.slot);
        const struct af_exploration_ops *ops = sp->in.ops;
        rc = ops->explore(sp->in.inst, &r->req, &r->b, &trial);
        if (rc == 0 && !valid_slots(&trial, r->b.n))
            rc = AF_EPLUGIN;
    }
    if (rc == 0)
        *slots = trial;
    else
        stage_error(r, &sc, sp->in.plugin->desc->name, rc);
    stage_end(r, &sc);
    sc.info->candidates_out = slots->n;
}

/* A request-time Lua hook (pipeline `hooks`), reported like a stage. */
static void
run_hook(struct run *r, int hook)
{
    if (!af_hooks_has(r->p->hooks, hook))
        return;
    struct af_stage_info *si = &r->resp->stages[r->resp->n_stages++];
    memset(si, 0, sizeof *si);
    si->stage = hook == AF_HOOK_FILTER ? "hook.filter" : "hook.adjust";
    si->plugin = "lua";
    si->candidates_in = r->b.n;
    uint64_t t0 = af_clock_ns();
    const char *msg = NULL;
    if (af_hooks_run(r->p->hooks, hook, &r->req, &r->b, &msg) != 0) {
        si->error = msg;
        r->resp->degraded = 1;
    }
    /* Rows a failed filter hook already judged stay judged (as with filter
     * plugins); the rest pass. */
    if (hook == AF_HOOK_FILTER)
        af_batch_compact(&r->b);
    si->micros = (uint32_t)((af_clock_ns() - t0) / 1000);
    si->candidates_out = r->b.n;
}

/* --- ## Response --- */

static void
fill_models(struct run *r)
{
    struct af_rank_resp *resp = r->resp;
    resp->models = af_arena_calloc(r->arena, 2, sizeof *resp->models);
    if (!resp->models)
        return;
    static const int model_stages[] = {AF_STAGE_PRERANK, AF_STAGE_RANK};
    for (int i = 0; i < 2; i++) {
        const struct af_stage *st = r->arm->stage[model_stages[i]];
        if (!st)
            continue;
        const struct af_model_ops *ops = st->p[0].in.ops;
        struct af_model_info *m = &resp->models[resp->n_models++];
        m->stage = st->name;
        m->plugin = st->p[0].in.plugin->desc->name;
        m->version = ops->model_version ? ops->model_version(st->p[0].in.inst)
                                        : NULL;
        if (!m->version)
            m->version = st->p[0].in.plugin->desc->version;
    }
}

static void
fill_ads(struct run *r, const struct af_slots *slots)
{
    struct af_rank_resp *resp = r->resp;
    const struct af_batch *b = &r->b;
    resp->ads = af_arena_calloc(r->arena, slots->n + 1, sizeof *resp->ads);
    if (!resp->ads)
        return;
    for (uint32_t i = 0; i < slots->n; i++) {
        const struct af_slot *s = &slots->slot[i];
        uint32_t row = s->row, ad = b->ad[row];
        struct af_rank_ad *a = &resp->ads[resp->n_ads++];
        a->slot = i + 1;
        a->ad_id = r->cat->ad_id[ad];
        a->advertiser_id = r->cat->advertiser_id[ad];
        a->campaign_id = r->cat->campaign_id[ad];
        a->pctr = b->pctr[row];
        a->pcvr = b->pcvr[row];
        a->bid = b->bid[row];
        a->price = s->price;
        a->score = s->score;
        a->propensity = s->propensity;
        a->explored = s->explored;
        a->bid_type = r->cat->bid_type[ad];
    }
}

/* --- ## Entry --- */

static int
setup(struct run *r, const af_generation *gen, const struct af_rank_req *in,
      struct af_rank_resp *resp)
{
    af_arena *a = r->arena;
    struct af_request *q = &r->req;
    memset(q, 0, sizeof *q);
    q->struct_size = sizeof *q;
    q->start_ns = af_clock_ns();
    q->deadline_ns = q->start_ns + r->p->deadline_ns;
    char id[AF_REQUEST_ID_MAX];
    if (in->request_id[0])
        snprintf(id, sizeof id, "%s", in->request_id);
    else
        make_request_id(id, af_generation_seed(gen));
    q->request_id = af_arena_strdup(a, id);
    q->surface = r->p->surface;
    resolve_user(gen, in, &q->user);
    q->context = in->context;
    r->arm = af_pipeline_arm(r->p, q->user.id);
    q->arm = r->arm->name;
    q->arena = a;
    q->rng = af_arena_alloc(a, sizeof *q->rng);
    q->catalog = r->cat;
    q->time_s = in->time_s ? in->time_s : (int64_t)time(NULL);
    if (!q->request_id || !q->rng)
        return AF_ENOMEM;
    uint64_t seed = af_fnv1a(af_generation_seed(gen), id, strlen(id));
    af_rng_seed(q->rng, seed);

    memset(resp, 0, sizeof *resp);
    resp->request_id = q->request_id;
    resp->surface = r->p->surface;
    resp->pipeline_version = r->p->version;
    resp->arm = r->arm->name;
    resp->stages = af_arena_calloc(a, AF_N_STAGES + AF_N_HOOKS,
                                   sizeof *resp->stages);
    if (!resp->stages)
        return AF_ENOMEM;
    return af_batch_init(&r->b, a, r->p->max_candidates);
}

static void
unknown_surface(const af_generation *gen, const char *name, char *err,
                size_t errlen)
{
    size_t n = (size_t)snprintf(err, errlen, "unknown surface \"%s\" (served: ", name);
    uint32_t count = af_generation_surface_count(gen);
    for (uint32_t i = 0; i < count && n < errlen; i++)
        n += (size_t)snprintf(err + n, errlen - n, "%s%s", i ? ", " : "",
                              af_generation_surface_name(gen, i));
    if (n < errlen)
        snprintf(err + n, errlen - n, ")");
}

int
af_engine_rank(const af_generation *gen, const struct af_rank_req *in,
               af_arena *arena, struct af_rank_resp *resp, char *err,
               size_t errlen)
{
    struct run r = {0};
    r.p = af_generation_surface(gen, in->surface);
    if (!r.p) {
        unknown_surface(gen, in->surface, err, errlen);
        return AF_ENOENT;
    }
    r.cat = af_catalog_view(af_generation_catalog(gen));
    r.arena = arena;
    r.resp = resp;
    if (setup(&r, gen, in, resp) != 0) {
        snprintf(err, errlen, "request arena limit reached");
        return AF_ENOMEM;
    }
    const struct af_stage *const *st = r.arm->stage;
    run_retrieve(&r, st[AF_STAGE_RETRIEVE]);
    if (st[AF_STAGE_FILTER])
        run_filters(&r, st[AF_STAGE_FILTER]);
    run_hook(&r, AF_HOOK_FILTER);
    if (st[AF_STAGE_FEATURES])
        run_features(&r, st[AF_STAGE_FEATURES]);
    if (st[AF_STAGE_PRERANK])
        run_model(&r, st[AF_STAGE_PRERANK]);
    if (st[AF_STAGE_RANK])
        run_model(&r, st[AF_STAGE_RANK]);
    if (st[AF_STAGE_CALIBRATE])
        run_calibrate(&r, st[AF_STAGE_CALIBRATE]);
    run_hook(&r, AF_HOOK_ADJUST);

    struct af_slots slots = {.max = r.p->slots};
    slots.slot = af_arena_calloc(arena, slots.max, sizeof *slots.slot);
    if (!slots.slot) {
        snprintf(err, errlen, "request arena limit reached");
        return AF_ENOMEM;
    }
    run_auction(&r, st[AF_STAGE_AUCTION], &slots);
    if (st[AF_STAGE_EXPLORE] && slots.n)
        run_explore(&r, st[AF_STAGE_EXPLORE], &slots);
    fill_ads(&r, &slots);
    fill_models(&r);
    return AF_OK;
}
