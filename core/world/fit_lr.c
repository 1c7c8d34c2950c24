/*
 * fit_lr.c -- `adfunnel world fit-lr`: fit the "lr" model on logged
 * impressions simulated from the world's ground truth.
 *
 * 1. Simulate a log.  Page views of random users; each shows 5 ads in
 *    shuffled positions 0..4.  An ad comes, with probability POOL_SHARE, from
 *    the `pool` most popular ads (expected value per impression, as the
 *    popular retriever orders them) that target the user, else from the
 *    whole catalog among ads that target the user (so the model also sees
 *    what other retrievers may bring).  Click ~ Bernoulli(true p(user, ad, position)).
 * 2. Features come from the pipeline's own features stage
 *    (af_pipeline_run_features on a generation built with features_only),
 *    with context.position = the impression's position: exactly the code
 *    serving runs, so training and serving cannot disagree.
 * 3. Logistic regression with Adagrad on hashed ids (fid % n_buckets) and
 *    the dense features; every tenth page view is held out.
 * 4. The model file: kind "lr", the pipeline's feature fingerprint, payload
 *    as in plugins/model_lr/lr_format.h.
 */
#include "world/world.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../../plugins/model_lr/lr_format.h"
#include "adfunnel/af_errno.h"
#include "engine/batch.h"
#include "engine/generation.h"
#include "engine/host.h"
#include "mem/arena.h"
#include "model/modelfile.h"
#include "pipeline/pipeline.h"
#include "world/wfile.h"
#include "world/wrand.h"

#define SLOTS_PER_PAGE 5
#define POOL_SHARE 0.7
#define HOLDOUT_EVERY 10 /* page views */
#define RANDOM_TRIES 64
#define ADAGRAD_EPS 1e-6

/* The simulated log, one row per impression; features already reduced to
 * bucket indices. */
struct log {
    uint64_t n, cap;
    uint32_t nf;     /* hashed ids per impression (request + candidate)    */
    uint32_t nd;     /* dense features per impression                      */
    uint32_t *fid;   /* n * nf                                             */
    float *dense;    /* n * nd                                             */
    uint8_t *y;      /* clicked                                            */
    uint8_t *hold;   /* held out                                           */
    float *ptrue;    /* the true click probability                        */
};

struct lr_weights {
    uint32_t nb, nd;
    float *w, *g2;   /* nb each                                            */
    float wd[AF_MAX_DENSE], gd[AF_MAX_DENSE];
    float bias, gb;
};

struct fit {
    const struct af_fit_opts *o;
    af_world *world;
    af_generation *gen;
    const struct af_pipeline *pipe;
    const struct af_catalog *cat; /* the generation's (plugins use it)     */
    af_arena *arena;
    uint32_t *order;              /* catalog rows by popularity            */
    uint32_t n_req_fields, n_fields, n_dense;
    struct log log;
    struct lr_weights m;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                     */
/* ------------------------------------------------------------------------ */

/* Expected value of an impression before any model, as the popular
 * retriever computes it (plugins/retriever_popular, default cpa_cvr): CPC
 * prior_ctr x bid, CPM bid / 1000, CPA prior_ctr x POPULAR_CPA_CVR x bid. */
#define POPULAR_CPA_CVR 0.05

static float
popularity(const struct af_catalog *c, uint32_t i)
{
    switch (c->bid_type[i]) {
    case AF_BID_CPM: return (float)(c->bid[i] / 1000.0);
    case AF_BID_CPA:
        return (float)((double)c->prior_ctr[i] * POPULAR_CPA_CVR * c->bid[i]);
    default: return (float)((double)c->prior_ctr[i] * c->bid[i]);
    }
}

/* Popularity descending, then row ascending (the retriever's order). */
static int
cmp_popularity(const void *pa, const void *pb, void *ctx)
{
    const struct af_catalog *c = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    float sa = popularity(c, a), sb = popularity(c, b);
    if (sa != sb)
        return sa > sb ? -1 : 1;
    return (a > b) - (a < b);
}

static int
popularity_order(struct fit *f)
{
    uint32_t n = f->cat->n_ads;
    f->order = malloc(n * sizeof *f->order);
    if (!f->order)
        return AF_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        f->order[i] = i;
    qsort_r(f->order, n, sizeof *f->order, cmp_popularity, (void *)f->cat);
    return AF_OK;
}

static int
open_pipeline(struct fit *f, char *err, size_t errlen)
{
    const char *pipelines[2] = {f->o->pipeline, NULL};
    struct af_gen_config cfg = {
        .plugin_dirs = f->o->plugin_dirs,
        .pipelines = pipelines,
        .data_dir = f->o->data_dir,
        .seed = f->o->seed,
        .features_only = 1,
    };
    if (!(f->gen = af_generation_build(&cfg, err, errlen)))
        return AF_EINVAL;
    const char *surface = f->o->surface;
    if (!surface) {
        if (af_generation_surface_count(f->gen) != 1) {
            snprintf(err, errlen, "%s declares %u surfaces: choose one with "
                     "--surface", f->o->pipeline,
                     af_generation_surface_count(f->gen));
            return AF_EINVAL;
        }
        surface = af_generation_surface_name(f->gen, 0);
    }
    if (!(f->pipe = af_generation_surface(f->gen, surface))) {
        snprintf(err, errlen, "%s: no surface \"%s\"", f->o->pipeline,
                 surface);
        return AF_EINVAL;
    }
    f->cat = af_catalog_view(af_generation_catalog(f->gen));
    if (f->cat->n_ads != af_catalog_view(af_world_catalog(f->world))->n_ads) {
        snprintf(err, errlen, "%s changed while loading", f->o->data_dir);
        return AF_EINVAL;
    }
    return AF_OK;
}

/* ------------------------------------------------------------------------ */
/* Simulating the log                                                        */
/* ------------------------------------------------------------------------ */

static int
log_alloc(struct log *l, uint64_t n, uint32_t nf, uint32_t nd)
{
    l->cap = n;
    l->nf = nf;
    l->nd = nd;
    l->fid = malloc(n * nf * sizeof *l->fid);
    l->dense = malloc(n * (nd ? nd : 1) * sizeof *l->dense);
    l->y = malloc(n);
    l->hold = malloc(n);
    l->ptrue = malloc(n * sizeof *l->ptrue);
    return (l->fid && l->dense && l->y && l->hold && l->ptrue) ? AF_OK
                                                               : AF_ENOMEM;
}

/* Run the features stage on one impression and append it to the log. */
static int
log_impression(struct fit *f, struct af_request *req, uint32_t row,
               uint32_t pos, double p, int clicked, int hold, char *err,
               size_t errlen)
{
    struct af_batch b;
    af_arena_reset(f->arena);
    if (af_batch_init(&b, f->arena, 1) != AF_OK)
        return AF_ENOMEM;
    b.n = 1;
    b.ad[0] = row;
    b.source[0] = 0;
    b.bid[0] = f->cat->bid[row];
    b.retrieval_score[0] = popularity(f->cat, row);
    req->context.position = (int32_t)pos;
    int rc = af_pipeline_run_features(f->pipe, req, &b);
    if (rc != AF_OK) {
        snprintf(err, errlen, "features stage failed: %s", af_strerror(rc));
        return rc;
    }
    if (f->log.cap == 0) {
        f->n_req_fields = b.n_req_fields;
        f->n_fields = b.n_fields;
        f->n_dense = b.n_dense;
        if (b.n_req_fields + b.n_fields == 0) {
            snprintf(err, errlen, "%s: the features stage produced no "
                     "hashed fields", f->o->pipeline);
            return AF_EINVAL;
        }
        if (log_alloc(&f->log, f->o->impressions, b.n_req_fields + b.n_fields,
                      b.n_dense) != AF_OK)
            return AF_ENOMEM;
    } else if (b.n_req_fields != f->n_req_fields ||
               b.n_fields != f->n_fields || b.n_dense != f->n_dense) {
        snprintf(err, errlen, "the features stage appended a varying number "
                 "of fields");
        return AF_EINVAL;
    }
    struct log *l = &f->log;
    uint32_t *out = l->fid + l->n * l->nf, nb = f->o->n_buckets;
    for (uint32_t k = 0; k < b.n_req_fields; k++)
        *out++ = b.req_fid[k] % nb;
    for (uint32_t k = 0; k < b.n_fields; k++)
        *out++ = af_batch_field(&b, k)[0] % nb;
    for (uint32_t j = 0; j < b.n_dense; j++)
        l->dense[l->n * l->nd + j] = b.dense[j];
    l->y[l->n] = (uint8_t)clicked;
    l->hold[l->n] = (uint8_t)hold;
    l->ptrue[l->n] = (float)p;
    l->n++;
    return AF_OK;
}

/* The first `cap` ads in popularity order that target u. */
static uint32_t
eligible_pool(const struct fit *f, const struct af_user *u, uint32_t *pool,
              uint32_t cap)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->cat->n_ads && n < cap; i++)
        if (af_world_targets(f->cat, f->order[i], u))
            pool[n++] = f->order[i];
    return n;
}

/* One ad for the page: popular pool or anywhere; -1 when none targets u. */
static int64_t
draw_ad(const struct fit *f, struct af_wrand *r, const struct af_user *u,
        const uint32_t *pool, uint32_t n_pool)
{
    if (n_pool && af_wrand_unit(r) < POOL_SHARE)
        return pool[af_wrand_below(r, n_pool)];
    for (int t = 0; t < RANDOM_TRIES; t++) {
        uint32_t row = af_wrand_below(r, f->cat->n_ads);
        if (af_world_targets(f->cat, row, u))
            return row;
    }
    return n_pool ? (int64_t)pool[af_wrand_below(r, n_pool)] : -1;
}

static void
init_request(struct fit *f, struct af_request *req, af_rng *rng)
{
    memset(req, 0, sizeof *req);
    req->struct_size = sizeof *req;
    req->request_id = "fit-lr";
    req->surface = af_pipeline_surface(f->pipe);
    req->arm = "control";
    req->deadline_ns = UINT64_MAX;
    req->stage_deadline_ns = UINT64_MAX;
    req->arena = f->arena;
    req->rng = rng;
    req->catalog = f->cat;
}

static int
simulate(struct fit *f, char *err, size_t errlen)
{
    struct af_wrand r;
    af_wrand_seed(&r, f->o->seed, 0x6669742d6c72ull);
    const af_user_store *users = af_world_users(f->world);
    uint32_t *pool = malloc((size_t)f->o->pool * sizeof *pool);
    if (!pool)
        return AF_ENOMEM;
    af_rng rng;
    af_rng_seed(&rng, f->o->seed);
    struct af_request req;
    init_request(f, &req, &rng);
    int rc = AF_OK;
    for (uint64_t page = 0; rc == AF_OK && f->log.n < f->o->impressions;
         page++) {
        uint32_t ui = af_wrand_below(&r, af_users_count(users));
        af_users_at(users, ui, &req.user);
        /* Clients send the time of day only sometimes (-1 = not given). */
        int timed = af_wrand_unit(&r) < 0.5;
        req.context.hour = timed ? (int32_t)af_wrand_below(&r, 24) : -1;
        req.context.day_of_week = timed ? (int32_t)af_wrand_below(&r, 7) : -1;
        uint32_t n_pool = eligible_pool(f, &req.user, pool, f->o->pool);
        uint32_t pos[SLOTS_PER_PAGE];
        for (uint32_t k = 0; k < SLOTS_PER_PAGE; k++)
            pos[k] = k;
        for (uint32_t k = SLOTS_PER_PAGE - 1; k > 0; k--) {
            uint32_t j = af_wrand_below(&r, k + 1), t = pos[k];
            pos[k] = pos[j];
            pos[j] = t;
        }
        int64_t shown[SLOTS_PER_PAGE];
        for (uint32_t k = 0; k < SLOTS_PER_PAGE && rc == AF_OK &&
                             f->log.n < f->o->impressions;
             k++) {
            int64_t row = draw_ad(f, &r, &req.user, pool, n_pool);
            for (uint32_t d = 0; d < k && row >= 0; d++)
                if (shown[d] == row)
                    row = -1; /* a page shows an ad once: skip the slot */
            shown[k] = row;
            if (row < 0)
                continue;
            double p = af_world_p_click(f->world, ui, (uint32_t)row, pos[k]);
            int clicked = af_wrand_unit(&r) < p;
            rc = log_impression(f, &req, (uint32_t)row, pos[k], p, clicked,
                                page % HOLDOUT_EVERY == HOLDOUT_EVERY - 1,
                                err, errlen);
        }
        if (rc == AF_OK && page > 1000 && f->log.n == 0) {
            snprintf(err, errlen, "no ad targets any of 1000 random users");
            rc = AF_EINVAL;
        }
    }
    free(pool);
    if (rc == AF_ENOMEM)
        snprintf(err, errlen, "out of memory simulating %llu impressions",
                 (unsigned long long)f->o->impressions);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Training and evaluation                                                   */
/* ------------------------------------------------------------------------ */

static double
predict_logit(const struct lr_weights *m, const struct log *l, uint64_t i)
{
    double z = m->bias;
    const uint32_t *fid = l->fid + i * l->nf;
    for (uint32_t k = 0; k < l->nf; k++)
        z += m->w[fid[k]];
    const float *x = l->dense + i * l->nd;
    for (uint32_t j = 0; j < l->nd; j++)
        z += (double)m->wd[j] * x[j];
    return z;
}

static float
adagrad(float *w, float *g2, double grad, double lr)
{
    *g2 += (float)(grad * grad);
    *w -= (float)(lr * grad / sqrt(*g2 + ADAGRAD_EPS));
    return *w;
}

static void
train_step(struct lr_weights *m, const struct log *l, uint64_t i, double lr,
           double l2)
{
    double p = 1.0 / (1.0 + exp(-predict_logit(m, l, i)));
    double g = p - l->y[i];
    const uint32_t *fid = l->fid + i * l->nf;
    for (uint32_t k = 0; k < l->nf; k++)
        adagrad(&m->w[fid[k]], &m->g2[fid[k]], g + l2 * m->w[fid[k]], lr);
    const float *x = l->dense + i * l->nd;
    for (uint32_t j = 0; j < l->nd; j++)
        adagrad(&m->wd[j], &m->gd[j], g * x[j] + l2 * m->wd[j], lr);
    adagrad(&m->bias, &m->gb, g, lr);
}

struct scored {
    float s;
    uint8_t y;
};

static int
cmp_scored(const void *pa, const void *pb)
{
    float a = ((const struct scored *)pa)->s, b = ((const struct scored *)pb)->s;
    return (a > b) - (a < b);
}

/* Area under the ROC curve by rank sums, ties sharing their mean rank. */
static double
auc(struct scored *v, uint64_t n)
{
    qsort(v, n, sizeof *v, cmp_scored);
    double pos = 0, rank_sum = 0;
    for (uint64_t i = 0; i < n;) {
        uint64_t j = i;
        double npos = 0;
        while (j < n && v[j].s == v[i].s)
            npos += v[j++].y;
        rank_sum += npos * (i + 1 + j) / 2.0; /* mean of ranks i+1 .. j */
        pos += npos;
        i = j;
    }
    double neg = (double)n - pos;
    if (pos == 0 || neg == 0)
        return 0.5;
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}

struct eval {
    double logloss, auc, mean_p, ctr;
    uint64_t n;
};

/* Logloss and AUC over the held-out (hold = 1) or training rows, scored by
 * the model or, with truth, by the true probabilities. */
static int
evaluate(const struct lr_weights *m, const struct log *l, int hold, int truth,
         struct eval *e)
{
    memset(e, 0, sizeof *e);
    struct scored *v = malloc((l->n ? l->n : 1) * sizeof *v);
    if (!v)
        return AF_ENOMEM;
    double ll = 0, sp = 0, clicks = 0;
    uint64_t n = 0;
    for (uint64_t i = 0; i < l->n; i++) {
        if (l->hold[i] != hold)
            continue;
        double p = truth ? l->ptrue[i]
                         : 1.0 / (1.0 + exp(-predict_logit(m, l, i)));
        double pc = p < 1e-7 ? 1e-7 : p > 1 - 1e-7 ? 1 - 1e-7 : p;
        ll -= l->y[i] ? log(pc) : log(1 - pc);
        sp += p;
        clicks += l->y[i];
        v[n].s = (float)p;
        v[n].y = l->y[i];
        n++;
    }
    e->n = n;
    e->logloss = n ? ll / n : 0;
    e->mean_p = n ? sp / n : 0;
    e->ctr = n ? clicks / n : 0;
    e->auc = auc(v, n);
    free(v);
    return AF_OK;
}

static int
train(struct fit *f, struct eval *hold_out, char *err, size_t errlen)
{
    struct lr_weights *m = &f->m;
    struct log *l = &f->log;
    m->nb = f->o->n_buckets;
    m->nd = l->nd;
    m->w = calloc(m->nb, sizeof *m->w);
    m->g2 = calloc(m->nb, sizeof *m->g2);
    uint64_t *idx = malloc(l->n * sizeof *idx), n_train = 0;
    if (!m->w || !m->g2 || !idx) {
        free(idx);
        snprintf(err, errlen, "out of memory for %u buckets", m->nb);
        return AF_ENOMEM;
    }
    for (uint64_t i = 0; i < l->n; i++)
        if (!l->hold[i])
            idx[n_train++] = i;
    struct af_wrand r;
    af_wrand_seed(&r, f->o->seed, 0x73687566666c65ull);
    int rc = AF_OK;
    for (uint32_t e = 1; e <= f->o->epochs && rc == AF_OK; e++) {
        for (uint64_t k = n_train; k > 1; k--) {
            uint64_t j = af_wrand_u64(&r) % k, t = idx[k - 1];
            idx[k - 1] = idx[j];
            idx[j] = t;
        }
        for (uint64_t k = 0; k < n_train; k++)
            train_step(m, l, idx[k], f->o->lr, f->o->l2);
        struct eval tr;
        if ((rc = evaluate(m, l, 0, 0, &tr)) == AF_OK &&
            (rc = evaluate(m, l, 1, 0, hold_out)) == AF_OK)
            printf("epoch %-4u train logloss %.5f auc %.4f | holdout logloss "
                   "%.5f auc %.4f (mean p %.4f, ctr %.4f)\n",
                   e, tr.logloss, tr.auc, hold_out->logloss, hold_out->auc,
                   hold_out->mean_p, hold_out->ctr);
    }
    free(idx);
    if (rc != AF_OK)
        snprintf(err, errlen, "out of memory evaluating");
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

static int
mkdir_parent(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return AF_OK;
    *slash = '\0';
    return af_mkdir_p(dir, err, errlen);
}

static int
write_model(struct fit *f, const struct eval *h, const struct eval *t,
            char *err, size_t errlen)
{
    const struct lr_weights *m = &f->m;
    struct af_lr_payload_header hdr = {
        .n_buckets = m->nb, .n_dense = m->nd, .bias = m->bias, .reserved = 0};
    size_t size = sizeof hdr + 4 * ((size_t)m->nb + m->nd);
    char *payload = malloc(size);
    if (!payload) {
        snprintf(err, errlen, "out of memory");
        return AF_ENOMEM;
    }
    memcpy(payload, &hdr, sizeof hdr);
    memcpy(payload + sizeof hdr, m->w, 4 * (size_t)m->nb);
    memcpy(payload + sizeof hdr + 4 * (size_t)m->nb, m->wd, 4 * (size_t)m->nd);
    char version[64], summary[136];
    snprintf(version, sizeof version, "lr-world-%llu",
             (unsigned long long)f->o->seed);
    snprintf(summary, sizeof summary,
             "world fit: %llu impressions, %u epochs; holdout auc %.4f "
             "logloss %.5f; truth auc %.4f",
             (unsigned long long)f->log.n, f->o->epochs, h->auc, h->logloss,
             t->auc);
    struct af_modelfile_meta meta = {
        .kind = AF_LR_KIND,
        .version = version,
        .fingerprint = af_pipeline_fingerprint(f->pipe),
        .summary = summary,
    };
    int rc = mkdir_parent(f->o->out, err, errlen);
    if (rc == AF_OK)
        rc = af_modelfile_write(f->o->out, &meta, payload, size, err, errlen);
    free(payload);
    if (rc == AF_OK)
        printf("wrote      %s (%s, fingerprint %016llx, %zu bytes payload)\n",
               f->o->out, version, (unsigned long long)meta.fingerprint, size);
    return rc;
}

static void
fit_free(struct fit *f)
{
    free(f->log.fid);
    free(f->log.dense);
    free(f->log.y);
    free(f->log.hold);
    free(f->log.ptrue);
    free(f->m.w);
    free(f->m.g2);
    free(f->order);
    if (f->arena)
        af_arena_destroy(f->arena);
    if (f->gen)
        af_generation_unref(f->gen);
    af_world_free(f->world);
}

static int
check_opts(const struct af_fit_opts *o, char *err, size_t errlen)
{
    if (o->impressions < 10 || o->impressions > 100000000) {
        snprintf(err, errlen, "--impressions must be in 10..100000000");
        return AF_EINVAL;
    }
    if (o->epochs < 1 || o->epochs > 1000 || o->pool < 1 ||
        o->n_buckets < 1 || o->n_buckets > (1u << 28) || !(o->lr > 0) ||
        !(o->l2 >= 0)) {
        snprintf(err, errlen, "need 1 <= epochs <= 1000, pool >= 1, "
                 "1 <= buckets <= 2^28, lr > 0, l2 >= 0");
        return AF_EINVAL;
    }
    return AF_OK;
}

/* Load the world and the pipeline, order the catalog by popularity. */
static int
fit_setup(struct fit *f, struct af_fit_opts *opts, char *err, size_t errlen)
{
    if (!(f->world = af_world_load(opts->data_dir, err, errlen)))
        return AF_EINVAL;
    if (opts->use_world_seed)
        opts->seed = af_world_seed(f->world);
    int rc = open_pipeline(f, err, errlen);
    if (rc != AF_OK)
        return rc;
    f->arena = af_arena_create(1 << 16, 0);
    if (!f->arena || popularity_order(f) != AF_OK) {
        snprintf(err, errlen, "out of memory");
        return AF_ENOMEM;
    }
    return AF_OK;
}

/* Fit on the simulated log, report, write the model. */
static int
fit_and_write(struct fit *f, char *err, size_t errlen)
{
    const struct af_fit_opts *o = f->o;
    struct eval h, truth;
    double t0 = now_s();
    int rc = train(f, &h, err, errlen);
    if (rc != AF_OK)
        return rc;
    evaluate(NULL, &f->log, 1, 1, &truth);
    printf("truth      holdout logloss %.5f auc %.4f (ceiling: the true click "
           "probabilities)\n", truth.logloss, truth.auc);
    printf("trained    %u epochs in %.2f s (adagrad lr %g, l2 %g, %u "
           "buckets)\n", o->epochs, now_s() - t0, o->lr, o->l2,
           o->n_buckets);
    return write_model(f, &h, &truth, err, errlen);
}

int
af_world_fit_lr(const struct af_fit_opts *o, char *err, size_t errlen)
{
    int rc = check_opts(o, err, errlen);
    if (rc != AF_OK)
        return rc;
    struct af_fit_opts opts = *o;
    struct fit f;
    memset(&f, 0, sizeof f);
    f.o = &opts;
    double t0 = now_s();
    rc = fit_setup(&f, &opts, err, errlen);
    double t1 = now_s();
    if (rc == AF_OK)
        rc = simulate(&f, err, errlen);
    if (rc == AF_OK) {
        struct eval all;
        evaluate(NULL, &f.log, 0, 1, &all);
        printf("loaded     %s and %s in %.2f s\n", o->data_dir, o->pipeline,
               t1 - t0);
        printf("simulated  %llu impressions in %.2f s (seed %llu): ctr %.4f, "
               "%llu held out; features: %u request + %u ad fields, %u "
               "dense\n", (unsigned long long)f.log.n, now_s() - t1,
               (unsigned long long)opts.seed, all.ctr,
               (unsigned long long)(f.log.n - all.n), f.n_req_fields,
               f.n_fields, f.n_dense);
        rc = fit_and_write(&f, err, errlen);
    }
    fit_free(&f);
    return rc;
}
