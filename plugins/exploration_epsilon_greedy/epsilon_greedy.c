/*
 * epsilon_greedy.c -- exploration "epsilon_greedy": with probability
 * `budget` (epsilon) a request has one of its slots, chosen uniformly, given
 * to a uniformly chosen eligible candidate that did not win.
 *
 *   explore = { "epsilon_greedy", budget = 0.05, reserve = 0.05 }
 *
 * Eligible for slot j: a candidate that takes part in the auction (bid at
 * least its reserve, score >= 0 on the model's pCTR -- this plugin's copy of
 * the auction parameters: reserve, reserve_by_advertiser, quality, squash,
 * neg_penalty), is not already shown, and is allowed at slot j by the
 * diversity rules given the other slots (max_per_advertiser,
 * no_adjacent_advertiser: the advertisers of slots j-1 and j+1).
 *
 * Propensities are exact.  With n filled slots and V_k the eligible
 * candidates of slot k:
 *   an explored ad in slot j     P = budget / n / |V_j|
 *   the auction's ad in slot k   P = 1 - budget / n * [V_k not empty]
 * (a slot nobody eligible could take is never explored).  Only the explored
 * slot is marked `explored`.
 *
 * The explored ad pays its reserve (at most its bid): it did not win the
 * slot, so it is not charged a competitor's price.  The other slots keep the
 * auction's prices.  The instance is read-only after create.
 */
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include "expl.h"

struct egreedy {
    const struct af_host_api *host;
    struct auc_params ap;
    double budget;
    af_counter *explored_requests, *requests;
};

static const char *const egreedy_keys[] = {EXPL_AUCTION_KEYS, "budget", NULL};

/* --- ## Life cycle --- */

static int
egreedy_create(const struct af_create_args *args, void **inst, char *err,
               size_t errlen)
{
    const struct af_host_api *h = args->host;
    const af_config *c = args->config;
    struct egreedy *e = calloc(1, sizeof *e);
    if (e == NULL)
        return AF_ENOMEM;
    int rc = auc_check_keys(h, c, egreedy_keys, err, errlen);
    if (rc == AF_OK)
        rc = expl_read_budget(h, c, 0.05, &e->budget, err, errlen);
    if (rc == AF_OK)
        rc = auc_params_read(h, c, 1, &e->ap, err, errlen);
    if (rc != AF_OK) {
        free(e);
        return rc;
    }
    e->host = h;
    e->requests = h->counter(args->pc, "requests", "requests seen");
    e->explored_requests = h->counter(args->pc, "explored_requests",
                                      "requests with an explored slot");
    *inst = e;
    return AF_OK;
}

static void
egreedy_destroy(void *inst)
{
    struct egreedy *e = inst;
    auc_params_free(&e->ap);
    free(e);
}

/* --- ## Request path --- */

/* May batch row i take slot j, given the other slots? */
static int
allowed_at(const struct auc_params *p, const struct af_catalog *cat,
           const struct af_batch *b, const struct af_slots *s, uint32_t j,
           uint32_t i)
{
    uint32_t adv = cat->advertiser_id[b->ad[i]];
    if (p->no_adjacent &&
        ((j > 0 && cat->advertiser_id[b->ad[s->slot[j - 1].row]] == adv) ||
         (j + 1 < s->n && cat->advertiser_id[b->ad[s->slot[j + 1].row]] == adv)))
        return 0;
    if (p->max_per_advertiser > 0) {
        uint32_t same = 0;
        for (uint32_t k = 0; k < s->n; k++)
            same += k != j && cat->advertiser_id[b->ad[s->slot[k].row]] == adv;
        if (same >= p->max_per_advertiser)
            return 0;
    }
    return 1;
}

/* Eligible rows for slot j into v (when non-NULL); returns how many, or
 * stops at the first when v is NULL (returns 0 or 1). */
static uint32_t
eligible(const struct egreedy *e, const struct af_request *req,
         const struct af_batch *b, const uint8_t *ok, const struct af_slots *s,
         uint32_t j, uint32_t *v)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->n; i++)
        if (ok[i] && allowed_at(&e->ap, req->catalog, b, s, j, i)) {
            if (!v)
                return 1;
            v[n++] = i;
        }
    return n;
}

static int
egreedy_explore(void *inst, const struct af_request *req, struct af_batch *b,
                struct af_slots *slots)
{
    const struct egreedy *e = inst;
    const struct af_host_api *h = e->host;
    uint32_t n = slots->n;
    h->counter_add(e->requests, 1);
    if (n == 0)
        return AF_OK;
    /* ok[i]: takes part and is not shown. */
    uint8_t *ok = h->arena_alloc(req->arena, b->n + 1);
    float *score = h->arena_alloc(req->arena, (b->n + 1) * sizeof *score);
    uint32_t *v = h->arena_alloc(req->arena, (b->n + 1) * sizeof *v);
    if (!ok || !score || !v)
        return AF_ENOMEM;
    struct af_batch view = expl_view(b, b->pctr, score);
    struct auc_bidder *bid = h->arena_alloc(req->arena,
                                            (b->n + 1) * sizeof *bid);
    if (!bid)
        return AF_ENOMEM;
    for (uint32_t i = 0; i < b->n; i++)
        ok[i] = (uint8_t)auc_score_row(&e->ap, req->catalog, &view, i, &bid[i]);
    for (uint32_t k = 0; k < n; k++)
        ok[slots->slot[k].row] = 0;

    double beta = e->budget;
    for (uint32_t k = 0; k < n; k++) {
        double any = eligible(e, req, b, ok, slots, k, NULL) ? 1 : 0;
        slots->slot[k].propensity = (float)(1 - beta / n * any);
        slots->slot[k].explored = 0;
    }
    if (!(beta >= 1 || (beta > 0 && h->rng_uniform(req->rng) < beta)))
        return AF_OK;
    uint32_t j = (uint32_t)(h->rng_uniform(req->rng) * n);
    j = j < n ? j : n - 1;
    uint32_t nv = eligible(e, req, b, ok, slots, j, v);
    if (nv == 0)
        return AF_OK;
    uint32_t pick = (uint32_t)(h->rng_uniform(req->rng) * nv);
    uint32_t i = v[pick < nv ? pick : nv - 1];
    struct af_slot *s = &slots->slot[j];
    s->row = i;
    s->score = (float)bid[i].score;
    s->price = (float)(bid[i].reserve < bid[i].bid ? bid[i].reserve
                                                   : bid[i].bid);
    s->propensity = (float)(beta / n / nv);
    s->explored = 1;
    h->counter_add(e->explored_requests, 1);
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_exploration_ops egreedy_ops = {
    .struct_size = sizeof egreedy_ops,
    .explore = egreedy_explore,
};

static const struct af_plugin egreedy_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_EXPLORATION,
    .name = "epsilon_greedy",
    .version = "1.0.0",
    .description = "with probability epsilon, one slot goes to a uniformly "
                   "chosen eligible non-winner; exact propensities",
    .create = egreedy_create,
    .destroy = egreedy_destroy,
    .ops = &egreedy_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &egreedy_plugin;
}
