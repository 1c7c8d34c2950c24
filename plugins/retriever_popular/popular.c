/*
 * popular.c -- retriever "popular": the ads with the highest prior value per
 * impression that the user is eligible for.
 *
 * The value is what the ad is expected to pay per impression, in currency,
 * from catalog priors alone -- the unit the gsp auction ranks by:
 *
 *     CPC  prior_ctr * bid
 *     CPM  bid / 1000                   (a CPM bid is per thousand)
 *     CPA  prior_ctr * cpa_cvr * bid    (no per-ad conversion prior exists)
 *
 * Ranking every ad by prior_ctr * bid regardless of bid type would put each
 * CPM ad (bids of ~25 per mille) above every CPC ad (bids of ~1 per click).
 *
 * create() sorts the whole catalog once; a request walks that order and
 * keeps the first k eligible ads, so retrieval costs O(scanned rows) with no
 * sorting and no allocation.  The sorted list is the only instance state and
 * is read-only after create(), which makes the instance safe to share by all
 * worker threads.
 */
#include <math.h>
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include <adfunnel/af_params.h>
#include "../filter_targeting/targeting.h"

/* One catalog row in popularity order.  The targeting masks are copied in
 * so a request scans one contiguous array instead of jumping through five
 * catalog columns per row (those cache misses dominated retrieval). */
struct ranked_row {
    float score; /* prior value per impression */
    uint32_t row;
    uint64_t interest_mask;
    uint32_t geo_mask;
    uint8_t age_mask;
    uint8_t device_mask;
};

struct popular {
    const struct af_catalog *catalog; /* owned by the generation        */
    struct ranked_row *order;         /* catalog->n_ads rows, best first */
    uint32_t k;                       /* most ads returned per request  */
    uint32_t max_scan;                /* most rows examined per request */
};

/* Score descending, then row ascending, so equal scores keep a stable,
 * reproducible order. */
static int
cmp_ranked(const void *pa, const void *pb)
{
    const struct ranked_row *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

/* Prior value per impression of catalog row i (see the table above). */
static float
prior_value(const struct af_catalog *cat, uint32_t i, double cpa_cvr)
{
    double v;
    switch (cat->bid_type[i]) {
    case AF_BID_CPM: v = cat->bid[i] / 1000.0; break;
    case AF_BID_CPA: v = (double)cat->prior_ctr[i] * cpa_cvr * cat->bid[i]; break;
    default: v = (double)cat->prior_ctr[i] * cat->bid[i]; break;
    }
    return isnan(v) ? 0.0f : (float)v; /* NaN would break qsort's order */
}

/* --- ## Life cycle --- */

static int
popular_create(const struct af_create_args *args, void **inst, char *err,
               size_t errlen)
{
    const struct af_host_api *h = args->host;
    const struct af_catalog *cat = args->catalog;
    int64_t k, max_scan;
    double cpa_cvr;
    int rc;
    if ((rc = af_param_int(h, args->config, "k", 1000, 1, 100000, &k, err,
                        errlen)) ||
        (rc = af_param_int(h, args->config, "max_scan", 50000, 1, 100000000,
                        &max_scan, err, errlen)) ||
        (rc = af_param_num(h, args->config, "cpa_cvr", 0.05, 0.0, 1.0, &cpa_cvr,
                        err, errlen)))
        return rc;
    if (cat == NULL) {
        snprintf(err, errlen, "needs the ad catalog, none was given");
        return AF_EINVAL;
    }

    struct popular *p = calloc(1, sizeof *p);
    if (p == NULL)
        return AF_ENOMEM;
    /* +1: a valid pointer even for an empty catalog. */
    p->order = malloc(((size_t)cat->n_ads + 1) * sizeof *p->order);
    if (p->order == NULL) {
        free(p);
        return AF_ENOMEM;
    }
    for (uint32_t i = 0; i < cat->n_ads; i++) {
        struct ranked_row *r = &p->order[i];
        r->score = prior_value(cat, i, cpa_cvr);
        r->row = i;
        r->interest_mask = cat->interest_mask[i];
        r->geo_mask = cat->geo_mask[i];
        r->age_mask = cat->age_mask[i];
        r->device_mask = cat->device_mask[i];
    }
    qsort(p->order, cat->n_ads, sizeof *p->order, cmp_ranked);
    p->catalog = cat;
    p->k = (uint32_t)k;
    p->max_scan = (uint32_t)max_scan;
    *inst = p;
    return AF_OK;
}

static void
popular_destroy(void *inst)
{
    struct popular *p = inst;
    free(p->order);
    free(p);
}

/* --- ## Request path --- */

static int
popular_retrieve(void *inst, const struct af_request *req, struct af_batch *b,
                 uint32_t k)
{
    const struct popular *p = inst;
    const struct af_catalog *cat = p->catalog;
    const struct af_user *u = &req->user;
    uint32_t want = k < p->k ? k : p->k;
    uint32_t scan = cat->n_ads < p->max_scan ? cat->n_ads : p->max_scan;
    uint32_t got = 0;
    for (uint32_t i = 0; i < scan && got < want; i++) {
        const struct ranked_row *r = &p->order[i];
        if (!targeting_masks_match(r->geo_mask, r->age_mask, r->device_mask,
                                   r->interest_mask, u))
            continue;
        uint32_t j = b->n + got++;
        b->ad[j] = r->row;
        b->bid[j] = cat->bid[r->row];
        b->retrieval_score[j] = r->score;
    }
    b->n += got;
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_retriever_ops popular_ops = {
    .struct_size = sizeof popular_ops,
    .retrieve = popular_retrieve,
};

static const struct af_plugin popular_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_RETRIEVER,
    .name = "popular",
    .version = "1.0.0",
    .description = "eligible ads with the highest prior value per "
                   "impression (prior CTR x bid for CPC)",
    .create = popular_create,
    .destroy = popular_destroy,
    .ops = &popular_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &popular_plugin;
}
