/*
 * auc_alloc.h -- advertiser diversity: the constrained slot allocation and
 * the prices on it, shared by gsp, vcg, first_price and the exploration
 * plugins that re-rank (ucb, thompson) or replace slots (epsilon_greedy).
 *
 * Rules (auc_params.h):
 *   max_per_advertiser = N   at most N ads of one advertiser per response
 *   no_adjacent_advertiser   no two adjacent slots of one advertiser
 *
 * Allocation.  Bidders are ranked by score as without the rules
 * (auc_rank.h).  Slot by slot, from the top, the slot goes to the best-ranked
 * bidder not yet placed that the rules allow there, given the slots above
 * it.  When no one may take a slot, filling stops (a response is a list of
 * consecutive slots).  Without rules this is exactly "the best m in order".
 *
 * Prices on the constrained allocation.  Write o(j) for the allocation of
 * every bidder but j.  Up to the slot j gets, the allocation with j equals
 * o(j): j is placed nowhere earlier, so nothing else changes.  Hence j gets
 * the first slot i where the rules allow it after o(j)'s slots 0..i-1 and
 * its score beats s(o(j)_i), the score of the bidder o(j) puts in slot i
 * (0 when o(j) leaves slot i empty).  The least score that still gets j
 * slot k or better is therefore
 *
 *     t_k = min { s(o(j)_i) : i <= k, the rules allow j at slot i after o(j) }
 *
 * (a slot past the first one o(j) leaves empty is never reachable).  The
 * allocation is monotone in j's score, so these thresholds are what truthful
 * pricing charges:
 *   gsp          price_j = min(bid, max(reserve, (t_k + pen) / e)) with k
 *                the slot j holds -- t_k is then the score of the bidder that
 *                would have taken j's slot, its "runner-up"; without rules
 *                that is the next ranked bidder, the usual gsp price;
 *   vcg          the Myerson sum over the slots k >= j's slot of
 *                (alpha_k - alpha_{k+1}) / alpha_slot * g(t_k), as without
 *                rules but with these thresholds;
 *   first_price  the bid, as always.
 *
 * Cost: the rules need a ranking deeper than m + 1.  gsp ranks the best
 * 8m + 8 bidders (quickselect, then a sort of those, in the request arena)
 * and falls back to ranking everyone when an allocation runs out of them;
 * vcg and first_price rank everyone (O(n log n)).  Then m + 1 allocations of
 * O(m * n) each.  Without rules the plugins keep their O(n * m) path.
 */
#ifndef AUC_ALLOC_H
#define AUC_ALLOC_H

#include <math.h>
#include <stdlib.h>
#include "auc_params.h"
#include "auc_rank.h"

#define AUC_NONE UINT32_MAX

/* Are any diversity rules set? */
static inline int
auc_diversity_on(const struct auc_params *p)
{
    return p->max_per_advertiser > 0 || p->no_adjacent;
}

static inline int
auc_bidder_cmp(const void *a, const void *b)
{
    const struct auc_bidder *x = a, *y = b;
    if (auc_ranks_before(x, y))
        return -1;
    return auc_ranks_before(y, x) ? 1 : 0;
}

/* Sort bidders best first (the order of auc_rank.h). */
static inline void
auc_sort(struct auc_bidder *top, uint32_t n)
{
    qsort(top, n, sizeof *top, auc_bidder_cmp);
}

/* Move the best k of top[0..n) (k < n) to the front, in no order:
 * quickselect with the ranking order, O(n) on average. */
static inline void
auc_select(struct auc_bidder *top, uint32_t n, uint32_t k)
{
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        struct auc_bidder pivot = top[lo + (hi - lo) / 2];
        uint32_t i = lo, j = hi;
        while (i <= j) {
            while (auc_ranks_before(&top[i], &pivot))
                i++;
            while (auc_ranks_before(&pivot, &top[j]))
                j--;
            if (i <= j) {
                struct auc_bidder t = top[i];
                top[i] = top[j];
                top[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

/*
 * Score every row of b; the bidders that take part go to *top (owned by
 * request), *n_all of them.  The best min(want, n_all) are sorted best
 * first at the front and *n_ranked says how many: the constrained
 * allocation rarely looks deep, so sorting everything is wasted work
 * (auc_gsp re-ranks fully when it does look deep).  AF_OK or AF_ENOMEM.
 */
static inline int
auc_rank_top(const struct af_host_api *h, const struct auc_params *p,
             const struct af_request *req, struct af_batch *b, uint32_t want,
             struct auc_bidder **top, uint32_t *n_ranked, uint32_t *n_all)
{
    *top = h->arena_alloc(req->arena, (b->n + 1) * sizeof **top);
    if (*top == NULL)
        return AF_ENOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->n; i++)
        n += auc_score_row(p, req->catalog, b, i, &(*top)[n]);
    *n_all = n;
    if (want < n) {
        auc_select(*top, n, want);
        n = want;
    }
    auc_sort(*top, n);
    *n_ranked = n;
    return AF_OK;
}

/* All bidders that take part, best first (auc_rank_top without a limit). */
static inline int
auc_rank_all(const struct af_host_api *h, const struct auc_params *p,
             const struct af_request *req, struct af_batch *b,
             struct auc_bidder **top, uint32_t *n_ranked)
{
    uint32_t n_all;
    return auc_rank_top(h, p, req, b, UINT32_MAX, top, n_ranked, &n_all);
}

static inline uint32_t
auc_adv_of(const struct af_catalog *cat, const struct auc_bidder *top,
           uint32_t k)
{
    return cat->advertiser_id[top[k].row];
}

/* May ranked bidder k take slot j, given out[0..j) above it? */
static inline int
auc_allowed(const struct auc_params *p, const struct af_catalog *cat,
            const struct auc_bidder *top, const uint32_t *out, uint32_t j,
            uint32_t k)
{
    uint32_t adv = auc_adv_of(cat, top, k);
    if (p->no_adjacent && j > 0 && auc_adv_of(cat, top, out[j - 1]) == adv)
        return 0;
    if (p->max_per_advertiser > 0) {
        uint32_t same = 0;
        for (uint32_t i = 0; i < j; i++)
            same += auc_adv_of(cat, top, out[i]) == adv;
        if (same >= p->max_per_advertiser)
            return 0;
    }
    return 1;
}

/*
 * The constrained allocation of top[0..n) (best first) to m slots, leaving
 * out bidder `skip` (AUC_NONE: nobody): out[j] = index into top of slot j's
 * bidder.  `used` is n bytes of scratch.  Returns the slots filled.
 */
static inline uint32_t
auc_allocate(const struct auc_params *p, const struct af_catalog *cat,
             const struct auc_bidder *top, uint32_t n, uint32_t m,
             uint32_t skip, uint8_t *used, uint32_t *out)
{
    memset(used, 0, n);
    uint32_t j = 0, first = 0; /* top[0..first) are all placed */
    for (; j < m; j++) {
        uint32_t pick = AUC_NONE;
        for (uint32_t k = first; k < n; k++) {
            if (used[k] || k == skip || !auc_allowed(p, cat, top, out, j, k))
                continue;
            pick = k;
            break;
        }
        if (pick == AUC_NONE)
            break;
        used[pick] = 1;
        out[j] = pick;
        while (first < n && used[first])
            first++;
    }
    return j;
}

/*
 * Thresholds of bidder w (index into top) over m slots: t[k] = the least
 * score that gets w slot k or better (INFINITY when no score does).  `o`
 * (m entries) receives the allocation without w; `used` is n bytes.
 * Returns how many slots that allocation filled.
 */
static inline uint32_t
auc_thresholds(const struct auc_params *p, const struct af_catalog *cat,
               const struct auc_bidder *top, uint32_t n, uint32_t m,
               uint32_t w, uint8_t *used, uint32_t *o, double *t)
{
    uint32_t filled = auc_allocate(p, cat, top, n, m, w, used, o);
    double best = INFINITY;
    for (uint32_t i = 0; i < m; i++) {
        if (i <= filled && auc_allowed(p, cat, top, o, i, w)) {
            double s = i < filled ? top[o[i]].score : 0.0;
            if (s < best)
                best = s;
        }
        t[i] = best;
    }
    return filled;
}

/* Scratch for constrained pricing of m slots over n bidders. */
struct auc_scratch {
    uint8_t *used; /* n */
    uint32_t *win; /* m: the allocation                    */
    uint32_t *o;   /* m: the allocation without one winner */
    double *t;     /* m: thresholds                        */
};

static inline int
auc_scratch_new(const struct af_host_api *h, const struct af_request *req,
                uint32_t n, uint32_t m, struct auc_scratch *s)
{
    s->used = h->arena_alloc(req->arena, n + 1);
    s->win = h->arena_alloc(req->arena, (m + 1) * sizeof *s->win);
    s->o = h->arena_alloc(req->arena, (m + 1) * sizeof *s->o);
    s->t = h->arena_alloc(req->arena, (m + 1) * sizeof *s->t);
    return s->used && s->win && s->o && s->t ? AF_OK : AF_ENOMEM;
}

/*
 * The whole gsp rule -- rank, allocate (with the diversity rules when set),
 * price -- on the rows of b, into slots (m = slots->max).  Used by gsp and
 * by the exploration plugins, which pass a shallow copy of the batch whose
 * pctr column holds their own estimates.  AF_OK or AF_ENOMEM.
 */
static inline int
auc_gsp(const struct af_host_api *h, const struct auc_params *p,
        const struct af_request *req, struct af_batch *b,
        struct af_slots *slots)
{
    struct auc_bidder *top;
    uint32_t n, m = slots->max;
    int rc;
    if (!auc_diversity_on(p)) {
        /* The winners and the one after them, who sets the last price. */
        rc = auc_rank(h, p, req, b, m + 1, &top, &n);
        if (rc != AF_OK)
            return rc;
        slots->n = n < m ? n : m;
        for (uint32_t j = 0; j < slots->n; j++) {
            struct af_slot *s = &slots->slot[j];
            s->row = top[j].i;
            s->score = (float)top[j].score;
            s->price = (float)auc_threshold_price(&top[j],
                                                  auc_score_at(top, n, j + 1));
            s->propensity = 1.0f;
            s->explored = 0;
        }
        return AF_OK;
    }
    /* The best 8m bidders decide the allocation and every threshold unless
     * some allocation runs out of them; then rank everyone. */
    for (uint32_t want = 8 * m + 8;; want = UINT32_MAX) {
        struct auc_scratch sc;
        uint32_t n_all;
        if ((rc = auc_rank_top(h, p, req, b, want, &top, &n, &n_all)) !=
                AF_OK ||
            (rc = auc_scratch_new(h, req, n, m, &sc)) != AF_OK)
            return rc;
        /* Running out of the ranked bidders only matters when there are
         * more: then someone deeper might have filled the slot. */
        int truncated = n < n_all, deep = 0;
        slots->n = auc_allocate(p, req->catalog, top, n, m, AUC_NONE, sc.used,
                                sc.win);
        deep |= truncated && slots->n < m;
        for (uint32_t j = 0; j < slots->n && !deep; j++) {
            const struct auc_bidder *c = &top[sc.win[j]];
            uint32_t filled = auc_thresholds(p, req->catalog, top, n, j + 1,
                                             sc.win[j], sc.used, sc.o, sc.t);
            deep |= truncated && filled <= j;
            struct af_slot *s = &slots->slot[j];
            s->row = c->i;
            s->score = (float)c->score;
            s->price = (float)auc_threshold_price(c, sc.t[j]);
            s->propensity = 1.0f;
            s->explored = 0;
        }
        if (!deep)
            return AF_OK;
    }
}

#endif
