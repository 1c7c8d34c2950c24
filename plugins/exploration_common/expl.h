/*
 * expl.h -- what the exploration plugins (epsilon_greedy, ucb, thompson)
 * share: the exploration budget, Beta posteriors of CTR from the online
 * state with a prior backed off advertiser -> campaign -> ad, random
 * variates, and the Monte-Carlo propensity of a sampled order.
 *
 * Header-only with static functions (like plugins/auction_common/), so that
 * each plugin keeps every private symbol static; the plugins add this folder
 * and auction_common to their include path.
 *
 * ## Posteriors (ucb, thompson)
 *
 * An ad's CTR has a Beta posterior from its impressions n and clicks c
 * (online state, all time):
 *
 *     Beta(s * m + c,  s * (1 - m) + n - c)
 *
 * where s = prior_strength (pseudo-impressions) and m is the prior mean,
 * chosen by `prior`:
 *
 *   "advertiser"  m_adv  = (C_adv  + s * m0)    / (N_adv  + s)
 *                 m_camp = (C_camp + s * m_adv) / (N_camp + s)
 *                 m = m_camp
 *   "campaign"    m = (C_camp + s * m0) / (N_camp + s)
 *   "global"      m = m0
 *   "model"       m = the candidate's pCTR from the pipeline's model
 *
 * Each level leaves out the level below it, so that an ad's own evidence is
 * not counted twice: N_camp, C_camp are the campaign's counts minus the ad's,
 * N_adv, C_adv the advertiser's minus the campaign's.  A new ad therefore
 * starts from its campaign's other ads, a new campaign from its advertiser's
 * other campaigns, a new advertiser from m0 = prior_mean (default: the mean
 * prior_ctr of the catalog's CPC ads).  Counts are clamped so that
 * 0 <= c <= n.
 *
 * ## Budget
 *
 * `budget` in [0, 1] is the probability that a request explores; the
 * others are served the plugin's greedy order.  The share of explored
 * requests, and so of explored slots, is at most the budget in expectation.
 */
#ifndef EXPL_H
#define EXPL_H

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <adfunnel/adfunnel.h>
#include <adfunnel/af_params.h>

#include "auc_alloc.h"
#include "auc_params.h"
#include "auc_rank.h"

enum expl_prior { EXPL_ADVERTISER, EXPL_CAMPAIGN, EXPL_GLOBAL, EXPL_MODEL };

/* The auction's parameters, which every exploration plugin takes too. */
#define EXPL_AUCTION_KEYS                                                      \
    "reserve", AUC_ADV_PREFIX, "quality", "squash", "neg_penalty",             \
        "max_per_advertiser", "no_adjacent_advertiser"

struct expl_params {
    double budget;
    int prior;      /* enum expl_prior                                      */
    double strength; /* s                                                   */
    double mean0;    /* m0                                                  */
};

/* The mean prior_ctr of the catalog's CPC ads (0.02 when there are none). */
static inline double
expl_catalog_mean(const struct af_catalog *cat)
{
    double sum = 0;
    uint32_t n = 0;
    for (uint32_t r = 0; cat && r < cat->n_ads; r++)
        if (cat->bid_type[r] == AF_BID_CPC && cat->prior_ctr[r] > 0 &&
            cat->prior_ctr[r] < 1) {
            sum += cat->prior_ctr[r];
            n++;
        }
    return n ? sum / n : 0.02;
}

/* budget (default def). */
static inline int
expl_read_budget(const struct af_host_api *h, const af_config *c, double def,
                 double *budget, char *err, size_t errlen)
{
    return af_param_num(h, c, "budget", def, 0.0, 1.0, budget, err, errlen);
}

/* budget, prior, prior_strength, prior_mean. */
static inline int
expl_read_params(const struct af_host_api *h, const af_config *c,
                 const struct af_catalog *cat, struct expl_params *p,
                 char *err, size_t errlen)
{
    int rc;
    if ((rc = expl_read_budget(h, c, 1.0, &p->budget, err, errlen)) ||
        (rc = af_param_num(h, c, "prior_strength", 100.0, 1e-3, 1e9,
                           &p->strength, err, errlen)))
        return rc;
    double m0 = expl_catalog_mean(cat);
    if ((rc = af_param_num(h, c, "prior_mean", m0, 1e-9, 1.0 - 1e-9,
                           &p->mean0, err, errlen)))
        return rc;
    const char *prior = h->config_str(c, "prior", "advertiser");
    static const char *const names[] = {"advertiser", "campaign", "global",
                                        "model"};
    for (int k = 0; k < 4; k++)
        if (strcmp(prior, names[k]) == 0) {
            p->prior = k;
            return AF_OK;
        }
    snprintf(err, errlen, "prior must be \"advertiser\", \"campaign\", "
                          "\"global\" or \"model\", got %s", prior);
    return AF_EINVAL;
}

/* --- ## Posteriors --- */

/* Per-candidate Beta parameters, owned by request. */
struct expl_post {
    double *a, *b; /* Beta(a, b)                  */
    double *n;     /* the ad's impressions         */
};

/* Read the counts of `ent` for the rows of b into imp and clk. */
static inline int
expl_counts(const struct af_host_api *h, af_plugin_ctx *pc,
            const struct af_request *req, const struct af_batch *b, int ent,
            uint64_t *keys, double *imp, double *clk)
{
    const struct af_catalog *cat = req->catalog;
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t r = b->ad[i];
        keys[i] = ent == AF_ENT_AD         ? cat->ad_id[r]
                  : ent == AF_ENT_CAMPAIGN ? cat->campaign_id[r]
                                           : cat->advertiser_id[r];
    }
    int rc = h->state_read(pc, req, ent, AF_EV_IMPRESSION, AF_WIN_ALL, keys,
                           b->n, imp);
    if (rc == AF_OK)
        rc = h->state_read(pc, req, ent, AF_EV_CLICK, AF_WIN_ALL, keys, b->n,
                           clk);
    return rc;
}

static inline double
expl_clamp01(double x)
{
    return x < 1e-9 ? 1e-9 : x > 1 - 1e-9 ? 1 - 1e-9 : x;
}

/* Posterior of every row of b (see the top of this file).  AF_OK,
 * AF_ENOMEM, or the state's error. */
static inline int
expl_posterior(const struct af_host_api *h, af_plugin_ctx *pc,
               const struct expl_params *p, const struct af_request *req,
               const struct af_batch *b, struct expl_post *out)
{
    uint32_t n = b->n;
    size_t sz = (n + 1) * sizeof(double);
    uint64_t *keys = h->arena_alloc(req->arena, (n + 1) * sizeof *keys);
    double *m = h->arena_alloc(req->arena, sz);
    double *ci = h->arena_alloc(req->arena, sz), *cc = h->arena_alloc(req->arena, sz);
    double *ai = h->arena_alloc(req->arena, sz), *ac = h->arena_alloc(req->arena, sz);
    out->a = h->arena_alloc(req->arena, sz);
    out->b = h->arena_alloc(req->arena, sz);
    out->n = h->arena_alloc(req->arena, sz);
    if (!keys || !m || !ci || !cc || !ai || !ac || !out->a || !out->b ||
        !out->n)
        return AF_ENOMEM;
    double s = p->strength;
    int rc;
    /* The ad's own counts. */
    if ((rc = expl_counts(h, pc, req, b, AF_ENT_AD, keys, out->n, out->a)))
        return rc;
    for (uint32_t i = 0; i < n; i++)
        m[i] = p->prior == EXPL_MODEL ? expl_clamp01(b->pctr[i]) : p->mean0;
    if (p->prior == EXPL_ADVERTISER || p->prior == EXPL_CAMPAIGN) {
        if ((rc = expl_counts(h, pc, req, b, AF_ENT_CAMPAIGN, keys, ci, cc)))
            return rc;
        if (p->prior == EXPL_ADVERTISER) {
            if ((rc = expl_counts(h, pc, req, b, AF_ENT_ADVERTISER, keys, ai,
                                  ac)))
                return rc;
            for (uint32_t i = 0; i < n; i++) {
                double N = ai[i] - ci[i], C = ac[i] - cc[i];
                N = N > 0 ? N : 0;
                C = C < 0 ? 0 : C > N ? N : C;
                m[i] = expl_clamp01((C + s * m[i]) / (N + s));
            }
        }
        for (uint32_t i = 0; i < n; i++) {
            double N = ci[i] - out->n[i], C = cc[i] - out->a[i];
            N = N > 0 ? N : 0;
            C = C < 0 ? 0 : C > N ? N : C;
            m[i] = expl_clamp01((C + s * m[i]) / (N + s));
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        double N = out->n[i] > 0 ? out->n[i] : 0;
        double C = out->a[i] < 0 ? 0 : out->a[i] > N ? N : out->a[i];
        out->n[i] = N;
        out->a[i] = s * m[i] + C;
        out->b[i] = s * (1 - m[i]) + (N - C);
    }
    return AF_OK;
}

/* --- ## Random variates (req->rng through the host) --- */

/* A request's generator, with the spare normal of the polar method kept
 * (each pair of uniforms gives two normals). */
struct expl_rand {
    const struct af_host_api *h;
    af_rng *r;
    double spare;
    int has_spare;
};

static inline struct expl_rand
expl_rand_of(const struct af_host_api *h, af_rng *r)
{
    struct expl_rand x = {h, r, 0, 0};
    return x;
}

/* Standard normal: Marsaglia's polar method. */
static inline double
expl_normal(struct expl_rand *x)
{
    if (x->has_spare) {
        x->has_spare = 0;
        return x->spare;
    }
    double u, v, q;
    do {
        u = 2 * x->h->rng_uniform(x->r) - 1;
        v = 2 * x->h->rng_uniform(x->r) - 1;
        q = u * u + v * v;
    } while (q >= 1 || q == 0);
    double f = sqrt(-2 * log(q) / q);
    x->spare = v * f;
    x->has_spare = 1;
    return u * f;
}

/* Gamma(k, 1): Marsaglia & Tsang (2000), with the squeeze that skips the
 * logarithm almost always; k < 1 through Gamma(k + 1) * U^(1/k). */
static inline double
expl_gamma(struct expl_rand *x, double k)
{
    double boost = 1.0;
    if (k < 1) {
        boost = pow(x->h->rng_uniform(x->r), 1.0 / k);
        k += 1;
    }
    double d = k - 1.0 / 3.0, c = 1.0 / sqrt(9 * d);
    for (;;) {
        double z, v;
        do {
            z = expl_normal(x);
            v = 1 + c * z;
        } while (v <= 0);
        v = v * v * v;
        double u = x->h->rng_uniform(x->r);
        if (u < 1 - 0.0331 * z * z * z * z ||
            log(u) < 0.5 * z * z + d * (1 - v + log(v)))
            return boost * d * v;
    }
}

/* Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
static inline double
expl_beta(struct expl_rand *x, double a, double b)
{
    double g = expl_gamma(x, a), y = expl_gamma(x, b);
    double s = g + y;
    return s > 0 ? g / s : a / (a + b);
}

/* --- ## Re-ranking --- */

/* A shallow copy of b whose pctr column is `pctr` and whose score column is
 * scratch: the auction code then ranks by the plugin's estimates without
 * touching the batch the host keeps. */
static inline struct af_batch
expl_view(const struct af_batch *b, float *pctr, float *score)
{
    struct af_batch v = *b;
    v.pctr = pctr;
    v.score = score;
    return v;
}

/* A slot array of `max` entries in the request arena. */
static inline int
expl_slots_new(const struct af_host_api *h, const struct af_request *req,
               uint32_t max, struct af_slots *s)
{
    s->max = max;
    s->n = 0;
    s->slot = h->arena_alloc(req->arena, (max + 1) * sizeof *s->slot);
    return s->slot ? AF_OK : AF_ENOMEM;
}

/* Row served in slot j of s, or UINT32_MAX. */
static inline uint32_t
expl_row_at(const struct af_slots *s, uint32_t j)
{
    return j < s->n ? s->slot[j].row : UINT32_MAX;
}

/* --- ## Contenders and the Monte-Carlo propensity --- */

#define EXPL_Z 4.0 /* bounds: posterior mean +- 4 standard deviations */

/* Bidder score of row i with pctr p (NAN when it would not take part). */
static inline double
expl_score_at(const struct auc_params *ap, const struct af_request *req,
              struct af_batch *view, uint32_t i, float p)
{
    struct auc_bidder c;
    view->pctr[i] = p;
    return auc_score_row(ap, req->catalog, view, i, &c) ? c.score : NAN;
}

/* Reorder keep[0..k) so that its first `cap` entries are those with the
 * largest v[keep[.]] (ties: lower index), by quickselect; returns cap. */
static inline uint32_t
expl_best_by(const double *v, uint32_t *keep, uint32_t k, uint32_t cap)
{
    uint32_t lo = 0, hi = k - 1;
    while (lo < hi) {
        uint32_t pv = keep[lo + (hi - lo) / 2], i = lo, j = hi;
        while (i <= j) {
            while (v[keep[i]] > v[pv] || (v[keep[i]] == v[pv] && keep[i] < pv))
                i++;
            while (v[pv] > v[keep[j]] || (v[pv] == v[keep[j]] && pv < keep[j]))
                j--;
            if (i <= j) {
                uint32_t t = keep[i];
                keep[i] = keep[j];
                keep[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (cap <= j)
            hi = j;
        else if (cap >= i)
            lo = i;
        else
            break;
    }
    return cap;
}

/* Keep the m largest values seen in top[0..*n), sorted descending. */
static inline void
expl_keep_top(double *top, uint32_t *n, uint32_t m, double v)
{
    uint32_t i = *n < m ? (*n)++ : m;
    if (i == m) {
        if (v <= top[m - 1])
            return;
        i = m - 1;
    }
    while (i > 0 && top[i - 1] < v) {
        top[i] = top[i - 1];
        i--;
    }
    top[i] = v;
}

/*
 * The rows that can reach one of m slots while every pctr stays within
 * posterior mean +- EXPL_Z sd: a row whose upper-bound score is below L,
 * the m-th best lower-bound score (each advertiser counted once, with its
 * best, when diversity rules are set: m distinct advertisers always fill m
 * slots), never gets a slot.  Rows outside the bounds (a tail probability
 * of roughly 1e-4 or less per row) are treated as never winning: their
 * draws are not taken.  When more than `cap` rows contend, the `cap` with
 * the best upper bound are kept (the others are the least likely to win).
 * Writes their indices to keep[], returns how many; O(n * m) with an arena
 * table for the per-advertiser best.
 */
static inline uint32_t
expl_contenders(const struct auc_params *ap, const struct af_request *req,
                const struct af_host_api *h, struct af_batch *view,
                const struct expl_post *post, uint32_t m, uint32_t cap,
                uint32_t *keep)
{
    uint32_t n = view->n;
    double *hi = h->arena_alloc(req->arena, (n + 1) * sizeof *hi);
    double *top = h->arena_alloc(req->arena, (m + 1) * sizeof *top);
    int div = auc_diversity_on(ap);
    uint32_t size = 16;
    while (div && size < 2 * n)
        size <<= 1;
    uint32_t *adv = div ? h->arena_alloc(req->arena, size * sizeof *adv) : NULL;
    double *best = div ? h->arena_alloc(req->arena, size * sizeof *best) : NULL;
    if (!hi || !top || (div && (!adv || !best))) {
        for (uint32_t i = 0; i < n; i++)
            keep[i] = i;
        return n; /* no room to prune: everyone contends */
    }
    if (div)
        for (uint32_t q = 0; q < size; q++)
            best[q] = NAN;
    uint32_t nt = 0;
    for (uint32_t i = 0; i < n; i++) {
        double a = post->a[i], b = post->b[i], t = a + b;
        double mean = a / t, sd = sqrt(a * b / (t * t * (t + 1)));
        double up = mean + EXPL_Z * sd, dn = mean - EXPL_Z * sd;
        hi[i] = expl_score_at(ap, req, view, i, (float)(up > 1 ? 1 : up));
        double lo = expl_score_at(ap, req, view, i, (float)(dn < 0 ? 0 : dn));
        if (isnan(lo))
            continue;
        if (!div) {
            expl_keep_top(top, &nt, m, lo);
            continue;
        }
        uint32_t id = req->catalog->advertiser_id[view->ad[i]];
        uint32_t q = (id * 2654435761u) & (size - 1);
        while (!isnan(best[q]) && adv[q] != id)
            q = (q + 1) & (size - 1);
        if (isnan(best[q]) || lo > best[q]) {
            adv[q] = id;
            best[q] = lo;
        }
    }
    if (div)
        for (uint32_t q = 0; q < size; q++)
            if (!isnan(best[q]))
                expl_keep_top(top, &nt, m, best[q]);
    double L = m > 0 && nt >= m ? top[m - 1] : -INFINITY;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!isnan(hi[i]) && hi[i] >= L)
            keep[k++] = i;
    if (k > cap)
        k = expl_best_by(hi, keep, k, cap);
    return k;
}

/*
 * Estimate, for each served slot j, the probability that the sampled policy
 * (one Beta draw per contender, then the gsp allocation) puts
 * served->slot[j].row in slot j: `resamples` fresh draws of the contenders
 * keep[0..k), plus the request's own draw when it explored (`own` = 1).
 * Rows that are not contenders keep the pctr they have in view->pctr.
 * Writes ps[j].
 */
static inline int
expl_mc_propensity(const struct af_host_api *h, const struct auc_params *ap,
                   const struct af_request *req, struct af_batch *view,
                   const struct expl_post *post, const uint32_t *keep,
                   uint32_t k, uint32_t m, const struct af_slots *served,
                   uint32_t resamples, int own, struct expl_rand *rnd,
                   double *ps)
{
    struct auc_bidder *top = h->arena_alloc(req->arena, (k + 1) * sizeof *top);
    uint8_t *used = h->arena_alloc(req->arena, k + 1);
    uint32_t *win = h->arena_alloc(req->arena, (m + 1) * sizeof *win);
    uint32_t *hits = h->arena_calloc(req->arena, m + 1, sizeof *hits);
    if (!top || !used || !win || !hits)
        return AF_ENOMEM;
    int div = auc_diversity_on(ap);
    for (uint32_t r = 0; r < resamples; r++) {
        uint32_t nt = 0;
        for (uint32_t q = 0; q < k; q++) {
            uint32_t i = keep[q];
            view->pctr[i] = (float)expl_beta(rnd, post->a[i], post->b[i]);
            struct auc_bidder c;
            if (!auc_score_row(ap, req->catalog, view, i, &c))
                continue;
            if (div)
                top[nt++] = c;
            else
                auc_keep_best(top, &nt, m, &c);
        }
        uint32_t filled;
        if (div) {
            /* The best 8m + 8 decide unless the allocation runs out. */
            uint32_t want = 8 * m + 8, nr = nt;
            if (want < nt) {
                auc_select(top, nt, want);
                nr = want;
            }
            auc_sort(top, nr);
            filled = auc_allocate(ap, req->catalog, top, nr, m, AUC_NONE,
                                  used, win);
            if (filled < m && nr < nt) {
                auc_sort(top, nt);
                filled = auc_allocate(ap, req->catalog, top, nt, m, AUC_NONE,
                                      used, win);
            }
        } else {
            filled = nt < m ? nt : m;
            for (uint32_t j = 0; j < filled; j++)
                win[j] = j;
        }
        for (uint32_t j = 0; j < served->n && j < filled; j++)
            hits[j] += top[win[j]].i == served->slot[j].row;
    }
    for (uint32_t j = 0; j < served->n; j++)
        ps[j] = resamples + own ? (double)(hits[j] + own) / (resamples + own)
                                : 0.0;
    return AF_OK;
}

#endif
