/*
 * gsp.c -- auction "gsp": generalized second-price auction with quality,
 * per-surface and per-advertiser reserves, a squashing exponent on pCTR and a
 * negative-feedback penalty.
 *
 * Score (auc_rank.h):
 *
 *     score_i = bid_i * e_i - neg_penalty * pneg_i
 *     e_i     = pctr^s * q (CPC),  pctr^s * pcvr * q (CPA),  q / 1000 (CPM)
 *
 * Squashing (Lahaie & Pennock, "Revenue analysis of a family of ranking
 * rules", EC 2007): s = 1 ranks by expected value per impression, s = 0 by
 * bid alone (times quality); values in between trade efficiency for revenue.
 *
 * Rows under their reserve or with a negative score do not take part.  The
 * rest are ranked by score and the best fill the slots.  The winner of slot j
 * pays, per billable event, the least bid that would still have kept it at or
 * above the next candidate (j+1, shown or not; a score of 0 when there is
 * none), at least its reserve and at most its bid:
 *
 *     price_j = min(bid_j, max(reserve_j, (score_{j+1} + pen_j) / e_j))
 *
 * Prices are in the bid's own unit (per click, per thousand impressions, per
 * conversion), as af_slot.price documents.  Without the new parameters
 * (squash = 1, neg_penalty = 0, no per-advertiser reserves) this is the
 * foundation rule: the last winner pays the reserve.
 *
 * Diversity (max_per_advertiser, no_adjacent_advertiser): slots are filled
 * top down by the best-ranked bidder the rules allow, and each winner pays
 * the threshold against the bidder that would have taken its slot without
 * it (auc_alloc.h); without the rules that is the formula above.
 *
 * The instance is read-only after create().  Without diversity rules the
 * request path keeps the best (slots + 1) candidates in a small array from
 * the request arena: O(n * slots), no sort, no malloc; with them it sorts
 * the bidders in the arena (auc_gsp in auc_alloc.h).
 */
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include "auc_alloc.h"
#include "auc_params.h"
#include "auc_rank.h"

struct gsp {
    const struct af_host_api *host;
    struct auc_params p;
};

static const char *const gsp_keys[] = {
    "reserve", AUC_ADV_PREFIX, "quality", "squash", "neg_penalty",
    "max_per_advertiser", "no_adjacent_advertiser", NULL,
};

/* --- ## Life cycle --- */

static int
gsp_create(const struct af_create_args *args, void **inst, char *err,
           size_t errlen)
{
    const struct af_host_api *h = args->host;
    struct gsp *g = malloc(sizeof *g);
    if (g == NULL)
        return AF_ENOMEM;
    int rc = auc_check_keys(h, args->config, gsp_keys, err, errlen);
    if (rc == AF_OK)
        rc = auc_params_read(h, args->config, 1, &g->p, err, errlen);
    if (rc != AF_OK) {
        free(g);
        return rc;
    }
    g->host = h;
    *inst = g;
    return AF_OK;
}

static void
gsp_destroy(void *inst)
{
    struct gsp *g = inst;
    auc_params_free(&g->p);
    free(g);
}

/* --- ## Request path --- */

static int
gsp_auction(void *inst, const struct af_request *req, struct af_batch *b,
            struct af_slots *slots)
{
    const struct gsp *g = inst;
    return auc_gsp(g->host, &g->p, req, b, slots);
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
    .version = "1.2.0",
    .description = "generalized second-price auction with quality, reserves, "
                   "squashing and a negative-feedback penalty",
    .create = gsp_create,
    .destroy = gsp_destroy,
    .ops = &gsp_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &gsp_plugin;
}
