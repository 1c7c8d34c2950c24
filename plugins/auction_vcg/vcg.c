/*
 * vcg.c -- auction "vcg": Vickrey-Clarke-Groves prices over the slot set,
 * with position effects and reserves.
 *
 * Model.  Slot k (0-based) has a position factor alpha_k, non-increasing:
 * an ad in slot k gets alpha_k times the billable events it would get in the
 * top slot, so bidder i's value of slot k is alpha_k * score_i, with the same
 * score as gsp without squashing (auc_rank.h):
 *
 *     score_i = bid_i * e_i - pen_i,   e_i = pctr*q | pctr*pcvr*q | q/1000
 *
 * alpha comes from `position_ctr` (a Lua list); by default alpha_k =
 * 1 / (1 + 0.35 k), the world's examination curve.  The slot set is the
 * surface's slots, or the first #position_ctr of them when the list is
 * shorter: slots past the list's end are not filled.  Let m be the number of
 * slots in the auction and alpha_m = 0.
 *
 * Allocation: rank by score (rows under their reserve or scoring < 0 do not
 * take part, as in gsp); the best m fill the slots in order.  Ranking by
 * score is the efficient allocation because alpha does not increase.
 *
 * Price.  Write s_k for the score of the k-th ranked bidder (0 when there is
 * none; s_m is the first bidder without a slot).  Without reserve and penalty
 * the VCG payment of the winner of slot j, per impression, is the externality
 * it imposes on the others -- each bidder below moves up one slot:
 *
 *     P_j = sum_{k=j+1..m} (alpha_{k-1} - alpha_k) * s_k
 *
 * (the k = m term is alpha_{m-1} * s_m, the first loser entering the last
 * slot), and since slot j yields alpha_j * e_j billable events per impression
 * the price per billable event is
 *
 *     price_j = P_j / (alpha_j * e_j).
 *
 * With reserves and the penalty we charge the truthful ("VCG with reserve")
 * price, the one Myerson's payment rule gives for this allocation: bidder j
 * gets slot k or better exactly when its bid is at least
 *
 *     g_k = max(reserve_j, (s_{k+1} + pen_j) / e_j)     (the gsp threshold)
 *
 * so it pays
 *
 *     price_j = sum_{k=j..m-1} (alpha_k - alpha_{k+1}) / alpha_j * g_k.
 *
 * The weights are >= 0 and sum to 1, so the price is an average of
 * thresholds that each lie in [reserve_j, bid_j]: it never exceeds the bid
 * and never falls under the reserve; when every bidder below j is under the
 * reserve (s_{k+1} + pen_j <= reserve_j * e_j for all k) it equals the
 * reserve.  With reserve 0 and no penalty it is P_j / (alpha_j e_j) above.
 * The k = j term is the gsp price; the others are at most it, hence at equal
 * bids and the same slot set the VCG price of every slot is <= its gsp price
 * (Edelman, Ostrovsky & Schwarz 2007; Aggarwal, Goel & Motwani 2006).  The
 * result is clamped to [reserve_j, bid_j] once more against rounding.
 *
 * Diversity (max_per_advertiser, no_adjacent_advertiser): the slots are
 * filled top down by the best-ranked bidder the rules allow, and g_k above
 * becomes the threshold of the constrained allocation: the least score with
 * which j would still get slot k or better, computed from the allocation of
 * everyone but j (auc_alloc.h).  Without rules it is the formula above.
 */
#include <stdio.h>
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include "auc_alloc.h"
#include "auc_params.h"
#include "auc_rank.h"

/* Longest position_ctr list: the host's slot limit (AF_MAX_SLOTS in
 * core/engine/rank_types.h, which is not part of the plugin ABI). */
#define VCG_MAX_POSITIONS 64
/* Default position curve 1 / (1 + EXAM_ALPHA * k): the world's examination
 * curve (AF_CLICK_EXAM_ALPHA in core/world/click.h). */
#define VCG_EXAM_ALPHA 0.35
#define VCG_LIST_PREFIX "position_ctr."

struct vcg {
    const struct af_host_api *host;
    struct auc_params p;
    uint32_t n_alpha; /* 0: default curve, any number of slots             */
    double alpha[VCG_MAX_POSITIONS]; /* position_ctr.1 .. n_alpha          */
};

static const char *const vcg_keys[] = {
    "reserve", AUC_ADV_PREFIX, "quality", "neg_penalty", VCG_LIST_PREFIX,
    "max_per_advertiser", "no_adjacent_advertiser", NULL,
};

/* --- ## Life cycle --- */

/* Position of "position_ctr.<k>" in 1..VCG_MAX_POSITIONS, or 0. */
static uint32_t
list_index(const char *key)
{
    const char *s = key + strlen(VCG_LIST_PREFIX);
    char *end;
    if (*s < '1' || *s > '9')
        return 0;
    unsigned long k = strtoul(s, &end, 10);
    return *end == '\0' && k <= VCG_MAX_POSITIONS ? (uint32_t)k : 0;
}

static int
list_error(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen,
             "position_ctr must be a list of 1..%d position factors in "
             "(0, 1], not increasing, as in position_ctr = {1.0, 0.7, 0.5}: %s",
             VCG_MAX_POSITIONS, what);
    return AF_EINVAL;
}

/* Read position_ctr.1 .. position_ctr.n into v->alpha. */
static int
read_positions(const struct af_host_api *h, const af_config *c, struct vcg *v,
               char *err, size_t errlen)
{
    char what[160];
    uint32_t n = h->config_count(c), count = 0;
    v->n_alpha = 0;
    if (h->config_has(c, "position_ctr")) {
        snprintf(what, sizeof what, "got %s",
                 h->config_str(c, "position_ctr", "?"));
        return list_error(err, errlen, what);
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *key = h->config_key(c, i);
        if (strncmp(key, VCG_LIST_PREFIX, strlen(VCG_LIST_PREFIX)) != 0)
            continue;
        if (list_index(key) == 0) {
            snprintf(what, sizeof what, "bad key %s", key);
            return list_error(err, errlen, what);
        }
        count++;
    }
    if (count > VCG_MAX_POSITIONS) /* only if the host repeated a key */
        return list_error(err, errlen, "too many entries");
    for (uint32_t k = 1; k <= count; k++) {
        char key[64];
        double a;
        snprintf(key, sizeof key, VCG_LIST_PREFIX "%u", k);
        if (!h->config_has(c, key)) {
            snprintf(what, sizeof what, "%u entries but no %s", count, key);
            return list_error(err, errlen, what);
        }
        int rc = af_param_num(h, c, key, 0.0, 0.0, 1.0, &a, err, errlen);
        if (rc == AF_OK && a == 0) {
            snprintf(what, sizeof what, "%s is 0", key);
            rc = list_error(err, errlen, what);
        }
        if (rc == AF_OK && k > 1 && a > v->alpha[k - 2]) {
            snprintf(what, sizeof what, "%s = %g > position_ctr.%u = %g", key,
                     a, k - 1, v->alpha[k - 2]);
            rc = list_error(err, errlen, what);
        }
        if (rc != AF_OK)
            return rc;
        v->alpha[k - 1] = a;
    }
    v->n_alpha = count;
    return AF_OK;
}

static int
vcg_create(const struct af_create_args *args, void **inst, char *err,
           size_t errlen)
{
    const struct af_host_api *h = args->host;
    struct vcg *v = malloc(sizeof *v);
    if (v == NULL)
        return AF_ENOMEM;
    int rc = auc_check_keys(h, args->config, vcg_keys, err, errlen);
    if (rc == AF_OK)
        rc = read_positions(h, args->config, v, err, errlen);
    if (rc == AF_OK)
        rc = auc_params_read(h, args->config, 0, &v->p, err, errlen);
    if (rc != AF_OK) {
        free(v);
        return rc;
    }
    v->host = h;
    *inst = v;
    return AF_OK;
}

static void
vcg_destroy(void *inst)
{
    struct vcg *v = inst;
    auc_params_free(&v->p);
    free(v);
}

/* --- ## Request path --- */

/* alpha_k of a slot in the auction (k < m); alpha_m is 0 by definition. */
static double
alpha_at(const struct vcg *v, uint32_t k)
{
    if (v->n_alpha > 0)
        return v->alpha[k];
    return 1.0 / (1.0 + VCG_EXAM_ALPHA * k);
}

/* Price per billable event of the winner top[j] among m slots. */
static double
vcg_price(const struct vcg *v, const struct auc_bidder *top,
          uint32_t n_ranked, uint32_t j, uint32_t m)
{
    const struct auc_bidder *c = &top[j];
    double aj = alpha_at(v, j), price = 0;
    for (uint32_t k = j; k < m; k++) {
        double next = k + 1 < m ? alpha_at(v, k + 1) : 0.0;
        double g = auc_threshold_price(c, auc_score_at(top, n_ranked, k + 1));
        price += (alpha_at(v, k) - next) / aj * g;
    }
    if (price < c->reserve)
        price = c->reserve;
    return price < c->bid ? price : c->bid;
}

/* Price per billable event of bidder c holding slot j among m slots, from
 * its thresholds t[k] (least score for slot k or better, auc_alloc.h). */
static double
vcg_price_constrained(const struct vcg *v, const struct auc_bidder *c,
                      const double *t, uint32_t j, uint32_t m)
{
    double aj = alpha_at(v, j), price = 0;
    for (uint32_t k = j; k < m; k++) {
        double next = k + 1 < m ? alpha_at(v, k + 1) : 0.0;
        price += (alpha_at(v, k) - next) / aj * auc_threshold_price(c, t[k]);
    }
    if (price < c->reserve)
        price = c->reserve;
    return price < c->bid ? price : c->bid;
}

/* The auction under diversity rules: constrained allocation, prices from
 * each winner's thresholds. */
static int
vcg_constrained(const struct vcg *v, const struct af_request *req,
                struct af_batch *b, struct af_slots *slots, uint32_t m)
{
    struct auc_bidder *top;
    uint32_t n;
    struct auc_scratch sc;
    int rc;
    if ((rc = auc_rank_all(v->host, &v->p, req, b, &top, &n)) != AF_OK ||
        (rc = auc_scratch_new(v->host, req, n, m, &sc)) != AF_OK)
        return rc;
    slots->n = auc_allocate(&v->p, req->catalog, top, n, m, AUC_NONE, sc.used,
                            sc.win);
    for (uint32_t j = 0; j < slots->n; j++) {
        const struct auc_bidder *c = &top[sc.win[j]];
        auc_thresholds(&v->p, req->catalog, top, n, m, sc.win[j], sc.used,
                       sc.o, sc.t);
        struct af_slot *s = &slots->slot[j];
        s->row = c->i;
        s->score = (float)c->score;
        s->price = (float)vcg_price_constrained(v, c, sc.t, j, m);
        s->propensity = 1.0f;
        s->explored = 0;
    }
    return AF_OK;
}

static int
vcg_auction(void *inst, const struct af_request *req, struct af_batch *b,
            struct af_slots *slots)
{
    const struct vcg *v = inst;
    uint32_t m = slots->max;
    if (v->n_alpha > 0 && v->n_alpha < m)
        m = v->n_alpha;
    if (auc_diversity_on(&v->p))
        return vcg_constrained(v, req, b, slots, m);
    struct auc_bidder *top;
    uint32_t n_ranked;
    /* The m winners and the first loser, who enters the last slot. */
    int rc = auc_rank(v->host, &v->p, req, b, m + 1, &top, &n_ranked);
    if (rc != AF_OK)
        return rc;

    slots->n = n_ranked < m ? n_ranked : m;
    for (uint32_t j = 0; j < slots->n; j++) {
        struct af_slot *s = &slots->slot[j];
        s->row = top[j].i;
        s->score = (float)top[j].score;
        s->price = (float)vcg_price(v, top, n_ranked, j, m);
        s->propensity = 1.0f;
        s->explored = 0;
    }
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_auction_ops vcg_ops = {
    .struct_size = sizeof vcg_ops,
    .auction = vcg_auction,
};

static const struct af_plugin vcg_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_AUCTION,
    .name = "vcg",
    .version = "1.1.0",
    .description = "VCG prices over the slot set with position effects and "
                   "reserves",
    .create = vcg_create,
    .destroy = vcg_destroy,
    .ops = &vcg_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &vcg_plugin;
}
