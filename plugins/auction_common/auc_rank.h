/*
 * auc_rank.h -- the auction score and the ranking shared by gsp, vcg and
 * first_price.
 *
 * For batch row i (catalog row r):
 *
 *     e_i     = efficiency, the score per unit of bid:
 *                 CPC  pctr^s * q
 *                 CPA  pctr^s * pcvr * q
 *                 CPM  q / 1000          (the bid is per thousand impressions)
 *     pen_i   = neg_penalty * pneg       (0, and pneg not read, when
 *                                         neg_penalty = 0)
 *     score_i = bid_i * e_i - pen_i
 *
 * with q = catalog quality (1 when quality = false) and s = squash (1 for
 * vcg).  A negative or NaN efficiency counts as 0, a NaN pneg as 0 and a pneg
 * above 1 as 1.
 *
 * A row takes part when bid_i >= reserve_i (its advertiser's reserve, else
 * the surface's) and score_i >= 0: an ad whose expected harm outweighs its
 * value is not shown, and a NaN bid or score never takes part.  Every row
 * gets b->score, taking part or not.
 *
 * Order: higher score first, ties by lower catalog row, then lower batch row,
 * so that the result does not depend on retrieval order.  Only the best `cap`
 * rows are kept, in an array from the request arena: O(n * cap), no sort, no
 * malloc.
 */
#ifndef AUC_RANK_H
#define AUC_RANK_H

#include <math.h>
#include "auc_params.h"

/* A candidate that takes part in the auction. */
struct auc_bidder {
    double score;   /* bid * eff - pen                              */
    double eff;     /* score per unit of bid, >= 0                  */
    double pen;     /* neg_penalty * pneg, >= 0                     */
    double bid;     /* per billable event                           */
    double reserve; /* least price per billable event of this ad    */
    uint32_t i;     /* batch row                                    */
    uint32_t row;   /* catalog row                                  */
};

/* pctr^s; s = 1 is the identity exactly, so that without squashing scores
 * are bit-for-bit the unsquashed ones. */
static inline double
auc_squashed(double pctr, double s)
{
    return s == 1.0 ? pctr : pow(pctr, s);
}

/* Efficiency of batch row i (see the table above). */
static inline double
auc_efficiency(const struct auc_params *p, const struct af_catalog *cat,
               const struct af_batch *b, uint32_t i)
{
    uint32_t row = b->ad[i];
    double q = p->use_quality ? cat->quality[row] : 1.0;
    double e;
    switch (cat->bid_type[row]) {
    case AF_BID_CPM: e = q / 1000.0; break;
    case AF_BID_CPA:
        e = auc_squashed(b->pctr[i], p->squash) * b->pcvr[i] * q;
        break;
    default: e = auc_squashed(b->pctr[i], p->squash) * q; break;
    }
    return e > 0 ? e : 0; /* negative or NaN model output: worth nothing */
}

/* Penalty of batch row i. */
static inline double
auc_penalty(const struct auc_params *p, const struct af_batch *b, uint32_t i)
{
    if (p->neg_penalty == 0)
        return 0; /* pneg may be unset when no model predicts it */
    double pneg = b->pneg[i];
    if (!(pneg > 0))
        return 0;
    return p->neg_penalty * (pneg < 1 ? pneg : 1.0);
}

/* Score batch row i into *c and b->score[i]; 1 when it takes part. */
static inline int
auc_score_row(const struct auc_params *p, const struct af_catalog *cat,
              struct af_batch *b, uint32_t i, struct auc_bidder *c)
{
    c->i = i;
    c->row = b->ad[i];
    c->bid = b->bid[i];
    c->eff = auc_efficiency(p, cat, b, i);
    c->pen = auc_penalty(p, b, i);
    c->reserve = p->n_adv ? auc_reserve_of(p, cat->advertiser_id[c->row])
                          : p->reserve;
    c->score = c->bid * c->eff - c->pen;
    b->score[i] = (float)c->score;
    return c->bid >= c->reserve && c->score >= 0;
}

/* Does a rank before b? */
static inline int
auc_ranks_before(const struct auc_bidder *a, const struct auc_bidder *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->row != b->row)
        return a->row < b->row;
    return a->i < b->i;
}

/* Insert c into top[0..*n), sorted best first and holding at most cap. */
static inline void
auc_keep_best(struct auc_bidder *top, uint32_t *n, uint32_t cap,
              const struct auc_bidder *c)
{
    uint32_t pos = *n;
    while (pos > 0 && auc_ranks_before(c, &top[pos - 1]))
        pos--;
    if (pos >= cap)
        return;
    uint32_t last = *n < cap ? *n : cap - 1;
    for (uint32_t k = last; k > pos; k--)
        top[k] = top[k - 1];
    top[pos] = *c;
    if (*n < cap)
        (*n)++;
}

/*
 * Score every row of b and keep the best `cap` (>= 1) that take part, best
 * first, in *top (owned by request); *n_ranked of them.  AF_OK or AF_ENOMEM.
 */
static inline int
auc_rank(const struct af_host_api *h, const struct auc_params *p,
         const struct af_request *req, struct af_batch *b, uint32_t cap,
         struct auc_bidder **top, uint32_t *n_ranked)
{
    const struct af_catalog *cat = req->catalog;
    *top = h->arena_alloc(req->arena, cap * sizeof **top);
    if (*top == NULL)
        return AF_ENOMEM;
    *n_ranked = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        struct auc_bidder c;
        if (auc_score_row(p, cat, b, i, &c))
            auc_keep_best(*top, n_ranked, cap, &c);
    }
    return AF_OK;
}

/*
 * The least price per billable event at which bidder c still scores at
 * least t: invert score = bid * eff - pen for the bid, (t + pen) / eff; then
 * at least c's reserve and at most its bid.  A bidder with eff = 0 cannot
 * change its score by bidding, so it pays its reserve.
 */
static inline double
auc_threshold_price(const struct auc_bidder *c, double t)
{
    double price = c->reserve;
    if (c->eff > 0) {
        double need = (t + c->pen) / c->eff;
        if (need > price)
            price = need;
    }
    return price < c->bid ? price : c->bid;
}

/* Score of top[k], or 0 when there is none: with no one below, a bidder
 * keeps its slot as long as it takes part at all, i.e. scores >= 0. */
static inline double
auc_score_at(const struct auc_bidder *top, uint32_t n_ranked, uint32_t k)
{
    return k < n_ranked ? top[k].score : 0.0;
}

#endif
