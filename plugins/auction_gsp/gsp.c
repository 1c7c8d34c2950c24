/*
 * gsp.c -- auction "gsp": generalized second-price auction with quality and
 * a reserve price.
 *
 * Each candidate's auction score is its bid times its "efficiency", the
 * expected number of billable events per impression, weighted by quality:
 *
 *     bid type   efficiency e           score = bid * e
 *     CPC        pctr * q               bid * pctr * q   (the main case)
 *     CPM        q / 1000               bid / 1000 * q   (bid is per mille)
 *     CPA        pctr * pcvr * q        0 until a pipeline has a CVR model
 *
 * with q = catalog quality (or 1 when quality = false).  Candidates whose bid
 * is below the reserve do not take part.  The rest are ranked by score
 * (ties: lower catalog row first) and the best fill the slots.  The winner of
 * slot j pays, per billable event, the least bid that would still have kept
 * it above the next candidate:
 *
 *     price_j = min(bid_j, max(reserve, score_{j+1} / e_j))
 *
 * and the last winner, with no candidate after it, pays the reserve.  Prices
 * are in the bid's own unit (per click, per thousand impressions, per
 * conversion), as af_slot.price documents.
 *
 * The instance is two parameters, read-only after create().  The ranking
 * keeps only the best (slots + 1) candidates in a small array from the
 * request arena: O(n * slots) with no sort and no malloc.
 */
#include <math.h>
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include <adfunnel/af_params.h>

struct gsp {
    const struct af_host_api *host;
    double reserve;  /* least price per billable event, >= 0 */
    int use_quality; /* 0: every ad has quality 1           */
};

/* A candidate in the ranking. */
struct bidder {
    double score;
    double eff; /* score per unit of bid */
    uint32_t i; /* batch row             */
    uint32_t row; /* catalog row         */
};

/* --- ## Life cycle --- */

static int
gsp_create(const struct af_create_args *args, void **inst, char *err,
           size_t errlen)
{
    const struct af_host_api *h = args->host;
    double reserve;
    int use_quality, rc;
    if ((rc = af_param_num(h, args->config, "reserve", 0.0, 0.0, 1e9, &reserve,
                        err, errlen)) ||
        (rc = af_param_bool(h, args->config, "quality", 1, &use_quality, err,
                         errlen)))
        return rc;
    struct gsp *g = malloc(sizeof *g);
    if (g == NULL)
        return AF_ENOMEM;
    g->host = h;
    g->reserve = reserve;
    g->use_quality = use_quality;
    *inst = g;
    return AF_OK;
}

static void
gsp_destroy(void *inst)
{
    free(inst);
}

/* --- ## Request path --- */

/* Billable events per impression, times quality (see the table above). */
static double
efficiency(const struct gsp *g, const struct af_catalog *cat,
           const struct af_batch *b, uint32_t i)
{
    uint32_t row = b->ad[i];
    double q = g->use_quality ? cat->quality[row] : 1.0;
    double e;
    switch (cat->bid_type[row]) {
    case AF_BID_CPM: e = q / 1000.0; break;
    case AF_BID_CPA: e = (double)b->pctr[i] * b->pcvr[i] * q; break;
    default: e = (double)b->pctr[i] * q; break;
    }
    return e > 0 ? e : 0; /* negative or NaN model output: worth nothing */
}

/* Does a rank before b?  Higher score first, then lower catalog row. */
static int
ranks_before(const struct bidder *a, const struct bidder *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->row != b->row)
        return a->row < b->row;
    return a->i < b->i;
}

/* Insert c into top[0..*n), sorted best first and holding at most cap. */
static void
keep_best(struct bidder *top, uint32_t *n, uint32_t cap,
          const struct bidder *c)
{
    uint32_t pos = *n;
    while (pos > 0 && ranks_before(c, &top[pos - 1]))
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

/* Price of the winner top[j]; top[j + 1] is the next candidate, if any. */
static double
price_of(const struct gsp *g, const struct bidder *top, uint32_t n_ranked,
         uint32_t j, double bid)
{
    double price = g->reserve;
    if (j + 1 < n_ranked && top[j].eff > 0) {
        double second = top[j + 1].score / top[j].eff;
        if (second > price)
            price = second;
    }
    return price < bid ? price : bid;
}

static int
gsp_auction(void *inst, const struct af_request *req, struct af_batch *b,
            struct af_slots *slots)
{
    const struct gsp *g = inst;
    const struct af_catalog *cat = req->catalog;
    uint32_t cap = slots->max + 1; /* the winners and the one after them */
    struct bidder *top = g->host->arena_alloc(req->arena, cap * sizeof *top);
    if (top == NULL)
        return AF_ENOMEM;

    uint32_t n_ranked = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        struct bidder c = {.i = i, .row = b->ad[i]};
        c.eff = efficiency(g, cat, b, i);
        c.score = (double)b->bid[i] * c.eff;
        b->score[i] = (float)c.score;
        if (!(b->bid[i] >= g->reserve)) /* under the reserve, or NaN */
            continue;
        keep_best(top, &n_ranked, cap, &c);
    }

    slots->n = n_ranked < slots->max ? n_ranked : slots->max;
    for (uint32_t j = 0; j < slots->n; j++) {
        struct af_slot *s = &slots->slot[j];
        s->row = top[j].i;
        s->score = (float)top[j].score;
        s->price = (float)price_of(g, top, n_ranked, j, b->bid[top[j].i]);
        s->propensity = 1.0f;
        s->explored = 0;
    }
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_auction_ops gsp_ops = {
    .struct_size = sizeof gsp_ops,
    .auction = gsp_auction,
};

static const struct af_plugin gsp_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_AUCTION,
    .name = "gsp",
    .version = "1.0.0",
    .description = "generalized second-price auction with quality and reserve",
    .create = gsp_create,
    .destroy = gsp_destroy,
    .ops = &gsp_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &gsp_plugin;
}
