/*
 * thompson.c -- exploration "thompson": Thompson sampling over Beta
 * posteriors of each ad's CTR, with the prior backed off advertiser ->
 * campaign -> ad so that a new ad starts from its campaign's and
 * advertiser's rate (plugins/exploration_common/expl.h).
 *
 *   explore = { "thompson", budget = 0.1, prior = "advertiser",
 *               prior_strength = 100, reserve = 0.05 }
 *
 * Every request:
 *   1. posteriors Beta(a_i, b_i) of every candidate from the online state;
 *   2. the greedy order G: the gsp rule (auction_common, with this plugin's
 *      own copy of the auction parameters -- reserve, quality, squash,
 *      neg_penalty, diversity) on the posterior means a_i / (a_i + b_i)
 *      instead of the model's pCTR;
 *   3. with probability `budget` the request explores: one draw
 *      theta_i ~ Beta(a_i, b_i) per candidate, and the gsp rule on theta
 *      gives the served order X (ranked by bid x theta x quality, each
 *      winner priced at its gsp threshold in that order);
 *      otherwise X = G.  Only the contenders are drawn: candidates whose
 *      score at posterior mean + 4 sd is below the m-th best score at mean
 *      - 4 sd could not win (expl.h), and of the rest at most
 *      `max_contenders` (default 64), those with the best upper bound; the
 *      others keep their mean.
 * So the posteriors, which the feedback keeps updating, set the order of
 * every request, and exploration spends at most `budget` of them.
 *
 * Response: slot j is `explored` when X differs from G there.  Its
 * propensity is the probability that this policy shows that ad in that
 * slot:
 *
 *     P = (1 - budget) * [G_j = ad] + budget * Ps(ad at j)
 *
 * where Ps, the probability under sampling, is estimated by Monte Carlo:
 * `propensity_samples` fresh draws (default 8) of the contenders, plus
 * the request's own draw when it explored:  Ps = (hits + own) / (R + own).  The
 * estimate's resolution is 1 / (R + 1); the budget term is exact.
 *
 * Prices are the gsp rule on the served order, whatever the pipeline's
 * auction plugin: an explored ad pays the threshold of its sampled position.
 * The instance is read-only after create.
 */
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include "expl.h"

struct thompson {
    const struct af_host_api *host;
    af_plugin_ctx *pc;
    struct auc_params ap;
    struct expl_params ep;
    uint32_t resamples;
    uint32_t max_contenders;
    af_counter *explored_requests, *explored_slots, *requests, *contenders;
};

static const char *const thompson_keys[] = {
    EXPL_AUCTION_KEYS, "budget", "prior", "prior_strength", "prior_mean",
    "propensity_samples", "max_contenders", NULL,
};

/* --- ## Life cycle --- */

static int
thompson_create(const struct af_create_args *args, void **inst, char *err,
                size_t errlen)
{
    const struct af_host_api *h = args->host;
    const af_config *c = args->config;
    if (!AF_HOST_HAS(h, state_read)) {
        snprintf(err, errlen, "the host offers no online state (state_read)");
        return AF_EINVAL;
    }
    struct thompson *t = calloc(1, sizeof *t);
    if (t == NULL)
        return AF_ENOMEM;
    int64_t r = 8, cap = 64;
    int rc = auc_check_keys(h, c, thompson_keys, err, errlen);
    if (rc == AF_OK)
        rc = expl_read_params(h, c, args->catalog, &t->ep, err, errlen);
    if (rc == AF_OK)
        rc = af_param_int(h, c, "propensity_samples", 8, 1, 1024, &r, err,
                          errlen);
    if (rc == AF_OK)
        rc = af_param_int(h, c, "max_contenders", 64, 1, 100000, &cap, err,
                          errlen);
    if (rc == AF_OK)
        rc = auc_params_read(h, c, 1, &t->ap, err, errlen);
    if (rc != AF_OK) {
        free(t);
        return rc;
    }
    t->resamples = (uint32_t)r;
    t->max_contenders = (uint32_t)cap;
    t->host = h;
    t->pc = args->pc;
    t->requests = h->counter(args->pc, "requests", "requests seen");
    t->explored_requests = h->counter(args->pc, "explored_requests",
                                      "requests that sampled their order");
    t->contenders = h->counter(args->pc, "contenders",
                               "candidates drawn per request, summed "
                               "(divide by requests)");
    t->explored_slots = h->counter(args->pc, "explored_slots",
                                   "slots whose ad differs from the greedy "
                                   "order's");
    *inst = t;
    return AF_OK;
}

static void
thompson_destroy(void *inst)
{
    struct thompson *t = inst;
    auc_params_free(&t->ap);
    free(t);
}

/* --- ## Request path --- */

/* Propensities and explored flags of the served slots X against G. */
static int
mark(const struct thompson *t, const struct af_request *req,
     struct af_batch *view, const struct expl_post *post,
     const uint32_t *keep, uint32_t k, struct expl_rand *rnd,
     const struct af_slots *g, struct af_slots *x, int explored)
{
    const struct af_host_api *h = t->host;
    double beta = t->ep.budget;
    double *ps = h->arena_alloc(req->arena, (x->n + 1) * sizeof *ps);
    if (!ps)
        return AF_ENOMEM;
    if (beta > 0) {
        int rc = expl_mc_propensity(h, &t->ap, req, view, post, keep, k,
                                    x->max, x, t->resamples, explored, rnd,
                                    ps);
        if (rc != AF_OK)
            return rc;
    }
    uint64_t n_explored = 0;
    for (uint32_t j = 0; j < x->n; j++) {
        struct af_slot *s = &x->slot[j];
        int greedy = expl_row_at(g, j) == s->row;
        double p = (1 - beta) * greedy + (beta > 0 ? beta * ps[j] : 0);
        s->propensity = (float)(p > 1 ? 1 : p);
        s->explored = !greedy;
        n_explored += !greedy;
    }
    h->counter_add(t->explored_slots, n_explored);
    return AF_OK;
}

static int
thompson_explore(void *inst, const struct af_request *req, struct af_batch *b,
                 struct af_slots *slots)
{
    const struct thompson *t = inst;
    const struct af_host_api *h = t->host;
    uint32_t n = b->n, m = slots->max;
    struct expl_post post;
    int rc = expl_posterior(h, t->pc, &t->ep, req, b, &post);
    if (rc != AF_OK)
        return rc;
    float *mean = h->arena_alloc(req->arena, (n + 1) * sizeof *mean);
    float *draw = h->arena_alloc(req->arena, (n + 1) * sizeof *draw);
    float *score = h->arena_alloc(req->arena, (n + 1) * sizeof *score);
    uint32_t *keep = h->arena_alloc(req->arena, (n + 1) * sizeof *keep);
    struct af_slots g, x;
    if (!mean || !draw || !score || !keep || expl_slots_new(h, req, m, &g) ||
        expl_slots_new(h, req, m, &x))
        return AF_ENOMEM;
    struct af_batch by_mean = expl_view(b, mean, score);
    struct af_batch by_draw = expl_view(b, draw, score);
    /* Who can reach a slot at all: only their draws matter. */
    uint32_t k = expl_contenders(&t->ap, req, h, &by_draw, &post, m,
                                 t->max_contenders, keep);
    for (uint32_t i = 0; i < n; i++)
        draw[i] = mean[i] = (float)(post.a[i] / (post.a[i] + post.b[i]));
    if ((rc = auc_gsp(h, &t->ap, req, &by_mean, &g)) != AF_OK)
        return rc;

    struct expl_rand rnd = expl_rand_of(h, req->rng);
    double beta = t->ep.budget;
    int explore = beta >= 1 || (beta > 0 && h->rng_uniform(req->rng) < beta);
    if (explore) {
        for (uint32_t q = 0; q < k; q++)
            draw[keep[q]] =
                (float)expl_beta(&rnd, post.a[keep[q]], post.b[keep[q]]);
        if ((rc = auc_gsp(h, &t->ap, req, &by_draw, &x)) != AF_OK)
            return rc;
    } else {
        x.n = g.n;
        memcpy(x.slot, g.slot, g.n * sizeof *g.slot);
    }
    rc = mark(t, req, &by_draw, &post, keep, k, &rnd, &g, &x, explore);
    if (rc != AF_OK)
        return rc;
    slots->n = x.n;
    memcpy(slots->slot, x.slot, x.n * sizeof *x.slot);
    h->counter_add(t->requests, 1);
    h->counter_add(t->contenders, k);
    h->counter_add(t->explored_requests, (uint64_t)explore);
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_exploration_ops thompson_ops = {
    .struct_size = sizeof thompson_ops,
    .explore = thompson_explore,
};

static const struct af_plugin thompson_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_EXPLORATION,
    .name = "thompson",
    .version = "1.0.0",
    .description = "Thompson sampling over Beta CTR posteriors backed off "
                   "advertiser -> campaign -> ad, within a budget",
    .create = thompson_create,
    .destroy = thompson_destroy,
    .ops = &thompson_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &thompson_plugin;
}
