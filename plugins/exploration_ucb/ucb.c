/*
 * ucb.c -- exploration "ucb": an upper-confidence bonus on each ad's CTR
 * estimate, within an exploration budget.
 *
 *   explore = { "ucb", alpha = 0.02, budget = 0.2, prior = "advertiser" }
 *
 * Every request:
 *   1. each candidate's CTR estimate is its posterior mean from the online
 *      state, p_i = a_i / (a_i + b_i), with the prior backed off advertiser
 *      -> campaign -> ad (plugins/exploration_common/expl.h);
 *   2. the greedy order G: the gsp rule on p_i (this plugin's copy of the
 *      auction parameters: reserve, quality, squash, neg_penalty, diversity);
 *   3. with probability `budget` the request explores: the served order X is
 *      the gsp rule on the optimistic index
 *
 *          u_i = min(1, p_i + alpha * sqrt(ln N / (n_i + 1)))
 *
 *      with n_i the ad's impressions and N = 1 + the candidates' total
 *      impressions (the rounds played among these arms); otherwise X = G.
 *
 * Both orders are deterministic given the state, so the propensity of the
 * ad in slot j is exact:
 *
 *     P = (1 - budget) * [G_j = ad] + budget * [U_j = ad]
 *
 * where U is the UCB order (1 when both orders agree).  A slot is `explored`
 * when X differs from G there.  Prices are the gsp rule on the served order.
 * The instance is read-only after create.
 */
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include "expl.h"

struct ucb {
    const struct af_host_api *host;
    af_plugin_ctx *pc;
    struct auc_params ap;
    struct expl_params ep;
    double alpha;
    af_counter *explored_requests, *explored_slots, *requests;
};

static const char *const ucb_keys[] = {
    EXPL_AUCTION_KEYS, "budget", "alpha", "prior", "prior_strength",
    "prior_mean", NULL,
};

/* --- ## Life cycle --- */

static int
ucb_create(const struct af_create_args *args, void **inst, char *err,
           size_t errlen)
{
    const struct af_host_api *h = args->host;
    const af_config *c = args->config;
    if (!AF_HOST_HAS(h, state_read)) {
        snprintf(err, errlen, "the host offers no online state (state_read)");
        return AF_EINVAL;
    }
    struct ucb *u = calloc(1, sizeof *u);
    if (u == NULL)
        return AF_ENOMEM;
    int rc = auc_check_keys(h, c, ucb_keys, err, errlen);
    if (rc == AF_OK)
        rc = expl_read_params(h, c, args->catalog, &u->ep, err, errlen);
    if (rc == AF_OK)
        rc = af_param_num(h, c, "alpha", 0.02, 0.0, 100.0, &u->alpha, err,
                          errlen);
    if (rc == AF_OK)
        rc = auc_params_read(h, c, 1, &u->ap, err, errlen);
    if (rc != AF_OK) {
        free(u);
        return rc;
    }
    u->host = h;
    u->pc = args->pc;
    u->requests = h->counter(args->pc, "requests", "requests seen");
    u->explored_requests = h->counter(args->pc, "explored_requests",
                                      "requests served the UCB order");
    u->explored_slots = h->counter(args->pc, "explored_slots",
                                   "slots whose ad differs from the greedy "
                                   "order's");
    *inst = u;
    return AF_OK;
}

static void
ucb_destroy(void *inst)
{
    struct ucb *u = inst;
    auc_params_free(&u->ap);
    free(u);
}

/* --- ## Request path --- */

static int
ucb_explore(void *inst, const struct af_request *req, struct af_batch *b,
            struct af_slots *slots)
{
    const struct ucb *u = inst;
    const struct af_host_api *h = u->host;
    uint32_t n = b->n, m = slots->max;
    struct expl_post post;
    int rc = expl_posterior(h, u->pc, &u->ep, req, b, &post);
    if (rc != AF_OK)
        return rc;
    float *est = h->arena_alloc(req->arena, (n + 1) * sizeof *est);
    float *score = h->arena_alloc(req->arena, (n + 1) * sizeof *score);
    struct af_slots g, x;
    if (!est || !score || expl_slots_new(h, req, m, &g) ||
        expl_slots_new(h, req, m, &x))
        return AF_ENOMEM;
    double total = 1;
    for (uint32_t i = 0; i < n; i++) {
        est[i] = (float)(post.a[i] / (post.a[i] + post.b[i]));
        total += post.n[i];
    }
    struct af_batch view = expl_view(b, est, score);
    if ((rc = auc_gsp(h, &u->ap, req, &view, &g)) != AF_OK)
        return rc;
    /* The UCB order, needed for the propensity even when not served. */
    double log_n = log(total);
    for (uint32_t i = 0; i < n; i++) {
        double bonus = u->alpha * sqrt(log_n / (post.n[i] + 1));
        double v = est[i] + bonus;
        est[i] = (float)(v > 1 ? 1 : v);
    }
    double beta = u->ep.budget;
    int explore = beta >= 1 || (beta > 0 && h->rng_uniform(req->rng) < beta);
    if (beta > 0 && (rc = auc_gsp(h, &u->ap, req, &view, &x)) != AF_OK)
        return rc;
    const struct af_slots *served = explore ? &x : &g;
    uint64_t n_explored = 0;
    for (uint32_t j = 0; j < served->n; j++) {
        struct af_slot *s = &slots->slot[j];
        *s = served->slot[j];
        int in_g = expl_row_at(&g, j) == s->row;
        int in_u = beta > 0 && expl_row_at(&x, j) == s->row;
        double p = (1 - beta) * in_g + beta * in_u;
        s->propensity = (float)(p > 1 ? 1 : p);
        s->explored = !in_g;
        n_explored += !in_g;
    }
    slots->n = served->n;
    h->counter_add(u->requests, 1);
    h->counter_add(u->explored_requests, (uint64_t)explore);
    h->counter_add(u->explored_slots, n_explored);
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_exploration_ops ucb_ops = {
    .struct_size = sizeof ucb_ops,
    .explore = ucb_explore,
};

static const struct af_plugin ucb_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_EXPLORATION,
    .name = "ucb",
    .version = "1.0.0",
    .description = "UCB bonus alpha*sqrt(log N/(n+1)) on posterior CTR "
                   "estimates, within a budget",
    .create = ucb_create,
    .destroy = ucb_destroy,
    .ops = &ucb_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &ucb_plugin;
}
