/*
 * first_price.c -- auction "first_price": rank by score, each winner pays
 * its bid.
 *
 * Same score, reserves and participation rule as gsp (auc_rank.h):
 *
 *     score_i = bid_i * e_i - neg_penalty * pneg_i
 *     e_i     = pctr^s * q (CPC),  pctr^s * pcvr * q (CPA),  q / 1000 (CPM)
 *
 * Rows whose bid is under their reserve (the advertiser's, else the
 * surface's) or whose score is negative do not take part; the rest are
 * ranked by score, the best fill the slots and each pays
 *
 *     price_j = bid_j
 *
 * per billable event.  Since the gsp price is at most the bid, at equal bids
 * and the same parameters first-price revenue is >= gsp revenue slot by slot
 * (bidders would shade their bids in a real first-price market; this plugin
 * only prices the bids it is given).
 *
 * Diversity (max_per_advertiser, no_adjacent_advertiser): slots are filled
 * top down by the best-ranked bidder the rules allow (auc_alloc.h); each
 * still pays its bid.
 */
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include "auc_alloc.h"
#include "auc_params.h"
#include "auc_rank.h"

struct first_price {
    const struct af_host_api *host;
    struct auc_params p;
};

static const char *const fp_keys[] = {
    "reserve", AUC_ADV_PREFIX, "quality", "squash", "neg_penalty",
    "max_per_advertiser", "no_adjacent_advertiser", NULL,
};

/* --- ## Life cycle --- */

static int
fp_create(const struct af_create_args *args, void **inst, char *err,
          size_t errlen)
{
    const struct af_host_api *h = args->host;
    struct first_price *f = malloc(sizeof *f);
    if (f == NULL)
        return AF_ENOMEM;
    int rc = auc_check_keys(h, args->config, fp_keys, err, errlen);
    if (rc == AF_OK)
        rc = auc_params_read(h, args->config, 1, &f->p, err, errlen);
    if (rc != AF_OK) {
        free(f);
        return rc;
    }
    f->host = h;
    *inst = f;
    return AF_OK;
}

static void
fp_destroy(void *inst)
{
    struct first_price *f = inst;
    auc_params_free(&f->p);
    free(f);
}

/* --- ## Request path --- */

static int
fp_auction(void *inst, const struct af_request *req, struct af_batch *b,
           struct af_slots *slots)
{
    const struct first_price *f = inst;
    struct auc_bidder *top;
    uint32_t n_ranked, m = slots->max;
    uint32_t *win = NULL;
    uint8_t *used = NULL;
    int rc;
    if (!auc_diversity_on(&f->p)) {
        rc = auc_rank(f->host, &f->p, req, b, m > 0 ? m : 1, &top, &n_ranked);
        if (rc != AF_OK)
            return rc;
        slots->n = n_ranked < m ? n_ranked : m;
    } else {
        rc = auc_rank_all(f->host, &f->p, req, b, &top, &n_ranked);
        if (rc != AF_OK)
            return rc;
        win = f->host->arena_alloc(req->arena, (m + 1) * sizeof *win);
        used = f->host->arena_alloc(req->arena, n_ranked + 1);
        if (win == NULL || used == NULL)
            return AF_ENOMEM;
        slots->n = auc_allocate(&f->p, req->catalog, top, n_ranked, m,
                                AUC_NONE, used, win);
    }
    for (uint32_t j = 0; j < slots->n; j++) {
        const struct auc_bidder *c = &top[win ? win[j] : j];
        struct af_slot *s = &slots->slot[j];
        s->row = c->i;
        s->score = (float)c->score;
        s->price = (float)c->bid;
        s->propensity = 1.0f;
        s->explored = 0;
    }
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_auction_ops fp_ops = {
    .struct_size = sizeof fp_ops,
    .auction = fp_auction,
};

static const struct af_plugin fp_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_AUCTION,
    .name = "first_price",
    .version = "1.1.0",
    .description = "first-price auction: rank by score, pay the bid",
    .create = fp_create,
    .destroy = fp_destroy,
    .ops = &fp_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &fp_plugin;
}
