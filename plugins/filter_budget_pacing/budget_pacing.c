/*
 * budget_pacing.c -- filter "budget_pacing": each campaign's spend follows a
 * target curve through the (UTC) day, by probabilistic throttling.
 *
 * For campaign c with daily budget B (catalog daily_budget) and spend S so
 * far today (online state: campaign x spend x day), at the request's time t:
 *
 *   target   T(t) = B * F(t), F = share of the day's target elapsed:
 *              curve = "even"     F(t) = seconds since 00:00 / 86400
 *              curve = "traffic"  F(t) = cumulative share of the 24 hourly
 *                                 weights `traffic`, linear within an hour
 *   error    e = (S - T(t)) / B          > 0: ahead of the curve
 *   pass     p = clamp(1 - e / tolerance, 0, 1)
 *
 * a proportional controller with gain 1 / tolerance: a campaign on or behind
 * its curve takes part in every auction, one `tolerance` of its budget ahead
 * takes part in none, and in between the share of auctions it enters falls
 * linearly.  Throttling keeps it near the rate of the curve: when it enters
 * a share p of auctions its spend rate is p times its demand, and p settles
 * where that equals the curve's rate, with spend ahead of the curve by
 * (1 - p) * tolerance * B at most.  The controller needs nothing but the
 * state, so every replica computes the same p on the request path.
 *
 * One uniform draw per campaign per request (req->rng) decides for all of
 * its candidates, so a campaign enters an auction with probability p however
 * many ads it has in it.
 *
 * Hard stop.  A campaign with S >= B never passes.  Before that, when its
 * remaining budget B - S is less than the most its candidates in this
 * request could be charged together (per click, their bids; CPM: bid/1000
 * per impression; CPA: the bid), only its best candidate (retrieval score,
 * then catalog row) is kept, so one request can charge it at most one price
 * beyond what it has left: spend never exceeds B + one price.  (Requests in
 * flight at once, or events reported late, each add one price: the state
 * only knows the spend it has been told.)
 *
 * A campaign with budget 0 is not paced (the catalog gave it no budget).
 *
 * The instance is read-only after create; the request path uses a small
 * open-addressing table in the request arena to group candidates by
 * campaign.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <adfunnel/adfunnel.h>
#include <adfunnel/af_params.h>

#define HOURS 24
#define NO_GROUP UINT32_MAX

struct pacing {
    const struct af_host_api *host;
    af_plugin_ctx *pc;
    double tolerance;
    double cum[HOURS + 1]; /* cum[h] = share of the day before hour h */
    int fail_open;
    af_counter *throttled, *exhausted, *guarded;
};

/* A campaign among the request's candidates. */
struct group {
    uint32_t campaign;
    uint32_t best;     /* batch row of its best candidate               */
    double max_charge; /* what its candidates could be charged together */
    double budget;
};

/* --- ## Life cycle --- */

static const char *const pacing_keys[] = {"curve", "traffic", "tolerance",
                                          "on_error", NULL};

static int
key_known(const char *key)
{
    if (strncmp(key, "traffic.", 8) == 0)
        return 1;
    for (const char *const *k = pacing_keys; *k; k++)
        if (strcmp(key, *k) == 0)
            return 1;
    return 0;
}

/* Read the 24 hourly weights traffic.1 .. traffic.24 into p->cum. */
static int
read_traffic(const struct af_host_api *h, const af_config *c,
             struct pacing *p, char *err, size_t errlen)
{
    double w[HOURS], sum = 0;
    uint32_t n = 0, count = h->config_count(c);
    for (uint32_t i = 0; i < count; i++)
        n += strncmp(h->config_key(c, i), "traffic.", 8) == 0;
    if (n != HOURS || h->config_has(c, "traffic")) {
        snprintf(err, errlen,
                 "curve = \"traffic\" needs traffic = a list of 24 hourly "
                 "weights >= 0 (UTC hours 0..23), got %u values", n);
        return AF_EINVAL;
    }
    for (int k = 0; k < HOURS; k++) {
        char key[32];
        snprintf(key, sizeof key, "traffic.%d", k + 1);
        int rc = af_param_num(h, c, key, NAN, 0.0, 1e12, &w[k], err, errlen);
        if (rc != AF_OK)
            return rc;
        if (isnan(w[k])) {
            snprintf(err, errlen, "traffic must be a list of 24 numbers: "
                                  "%s is missing", key);
            return AF_EINVAL;
        }
        sum += w[k];
    }
    if (!(sum > 0)) {
        snprintf(err, errlen, "traffic weights must not all be 0");
        return AF_EINVAL;
    }
    p->cum[0] = 0;
    for (int k = 0; k < HOURS; k++)
        p->cum[k + 1] = p->cum[k] + w[k] / sum;
    p->cum[HOURS] = 1.0;
    return AF_OK;
}

static int
read_params(const struct af_host_api *h, const af_config *c, struct pacing *p,
            char *err, size_t errlen)
{
    uint32_t count = h->config_count(c);
    for (uint32_t i = 0; i < count; i++)
        if (!key_known(h->config_key(c, i))) {
            snprintf(err, errlen, "unknown parameter \"%s\" (takes curve, "
                                  "traffic, tolerance, on_error)",
                     h->config_key(c, i));
            return AF_EINVAL;
        }
    int rc = af_param_num(h, c, "tolerance", 0.02, 1e-4, 1.0, &p->tolerance,
                          err, errlen);
    if (rc != AF_OK)
        return rc;
    const char *on_error = h->config_str(c, "on_error", "closed");
    if (strcmp(on_error, "open") && strcmp(on_error, "closed")) {
        snprintf(err, errlen, "on_error must be \"open\" or \"closed\", got %s",
                 on_error);
        return AF_EINVAL;
    }
    p->fail_open = strcmp(on_error, "open") == 0;
    const char *curve = h->config_str(c, "curve", "even");
    if (strcmp(curve, "traffic") == 0)
        return read_traffic(h, c, p, err, errlen);
    if (strcmp(curve, "even") != 0) {
        snprintf(err, errlen, "curve must be \"even\" or \"traffic\", got %s",
                 curve);
        return AF_EINVAL;
    }
    for (uint32_t i = 0; i < count; i++)
        if (strncmp(h->config_key(c, i), "traffic", 7) == 0) {
            snprintf(err, errlen, "traffic is only used with curve = "
                                  "\"traffic\"");
            return AF_EINVAL;
        }
    for (int k = 0; k <= HOURS; k++)
        p->cum[k] = (double)k / HOURS;
    return AF_OK;
}

static int
pacing_create(const struct af_create_args *args, void **inst, char *err,
              size_t errlen)
{
    const struct af_host_api *h = args->host;
    if (!AF_HOST_HAS(h, state_read)) {
        snprintf(err, errlen, "the host offers no online state (state_read)");
        return AF_EINVAL;
    }
    struct pacing *p = calloc(1, sizeof *p);
    if (p == NULL)
        return AF_ENOMEM;
    int rc = read_params(h, args->config, p, err, errlen);
    if (rc != AF_OK) {
        free(p);
        return rc;
    }
    p->host = h;
    p->pc = args->pc;
    p->throttled = h->counter(args->pc, "throttled",
                              "candidates dropped by pacing throttling");
    p->exhausted = h->counter(args->pc, "exhausted",
                              "candidates dropped: campaign budget spent");
    p->guarded = h->counter(args->pc, "guarded",
                            "candidates dropped: one per campaign near its "
                            "budget");
    *inst = p;
    return AF_OK;
}

static void
pacing_destroy(void *inst)
{
    free(inst);
}

/* --- ## Request path --- */

/* Share of the day's target elapsed at unix time t. */
static double
curve_at(const struct pacing *p, int64_t t)
{
    int64_t s = t % 86400;
    if (s < 0)
        s += 86400;
    int h = (int)(s / 3600);
    double frac = (double)(s % 3600) / 3600.0;
    return p->cum[h] + (p->cum[h + 1] - p->cum[h]) * frac;
}

/* The pass probability of a campaign that spent `spent` of `budget`. */
static double
pass_probability(const struct pacing *p, double budget, double spent,
                 double f)
{
    if (spent >= budget)
        return 0.0;
    double e = (spent - budget * f) / budget;
    double q = 1.0 - e / p->tolerance;
    return q < 0 ? 0 : q > 1 ? 1 : q;
}

/* Most that batch row i could be charged for one event. */
static double
max_charge(const struct af_catalog *cat, const struct af_batch *b, uint32_t i)
{
    double bid = b->bid[i] > 0 ? b->bid[i] : 0;
    return cat->bid_type[b->ad[i]] == AF_BID_CPM ? bid / 1000.0 : bid;
}

static int
better(const struct af_catalog *cat, const struct af_batch *b, uint32_t i,
       uint32_t j)
{
    if (b->retrieval_score[i] != b->retrieval_score[j])
        return b->retrieval_score[i] > b->retrieval_score[j];
    return b->ad[i] < b->ad[j];
}

/* Group the batch's rows by campaign: row_group[i] = index into *groups. */
static int
group_rows(const struct pacing *p, const struct af_request *req,
           const struct af_batch *b, struct group **groups, uint32_t *n_groups,
           uint32_t *row_group)
{
    const struct af_catalog *cat = req->catalog;
    uint32_t size = 16;
    while (size < 2 * b->n)
        size <<= 1;
    uint32_t *table = p->host->arena_alloc(req->arena, size * sizeof *table);
    struct group *g = p->host->arena_alloc(req->arena,
                                           (b->n + 1) * sizeof *g);
    if (!table || !g)
        return AF_ENOMEM;
    memset(table, 0xff, size * sizeof *table);
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t camp = cat->campaign_id[b->ad[i]];
        uint32_t h = (camp * 2654435761u) & (size - 1);
        while (table[h] != NO_GROUP && g[table[h]].campaign != camp)
            h = (h + 1) & (size - 1);
        if (table[h] == NO_GROUP) {
            table[h] = n;
            g[n] = (struct group){.campaign = camp, .best = i,
                                  .budget = cat->daily_budget[b->ad[i]]};
            n++;
        }
        struct group *gr = &g[table[h]];
        gr->max_charge += max_charge(cat, b, i);
        if (better(cat, b, i, gr->best))
            gr->best = i;
        row_group[i] = table[h];
    }
    *groups = g;
    *n_groups = n;
    return AF_OK;
}

static int
pacing_filter(void *inst, const struct af_request *req, struct af_batch *b)
{
    const struct pacing *p = inst;
    const struct af_host_api *h = p->host;
    if (b->n == 0)
        return AF_OK;
    uint32_t *row_group = h->arena_alloc(req->arena, b->n * sizeof *row_group);
    struct group *g;
    uint32_t n;
    if (!row_group)
        return AF_ENOMEM;
    int rc = group_rows(p, req, b, &g, &n, row_group);
    if (rc != AF_OK)
        return rc;
    uint64_t *keys = h->arena_alloc(req->arena, n * sizeof *keys);
    double *spent = h->arena_alloc(req->arena, n * sizeof *spent);
    uint8_t *pass = h->arena_alloc(req->arena, n);
    uint8_t *guard = h->arena_alloc(req->arena, n);
    if (!keys || !spent || !pass || !guard)
        return AF_ENOMEM;
    for (uint32_t k = 0; k < n; k++)
        keys[k] = g[k].campaign;
    rc = h->state_read(p->pc, req, AF_ENT_CAMPAIGN, AF_EV_SPEND, AF_WIN_DAY,
                       keys, n, spent);
    if (rc != AF_OK) {
        if (!p->fail_open)
            for (uint32_t i = 0; i < b->n; i++)
                b->drop[i] = 1;
        return rc;
    }
    double f = curve_at(p, req->time_s);
    uint64_t n_throttled = 0, n_exhausted = 0, n_guarded = 0;
    for (uint32_t k = 0; k < n; k++) {
        pass[k] = 1;
        guard[k] = 0;
        if (!(g[k].budget > 0))
            continue; /* no budget: not paced */
        double q = pass_probability(p, g[k].budget, spent[k], f);
        if (q <= 0)
            pass[k] = 0;
        else if (q < 1)
            pass[k] = h->rng_uniform(req->rng) < q;
        guard[k] = g[k].budget - spent[k] < g[k].max_charge;
    }
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t k = row_group[i];
        if (!pass[k]) {
            b->drop[i] = 1;
            if (spent[k] >= g[k].budget)
                n_exhausted++;
            else
                n_throttled++;
        } else if (guard[k] && g[k].best != i) {
            b->drop[i] = 1;
            n_guarded++;
        }
    }
    h->counter_add(p->throttled, n_throttled);
    h->counter_add(p->exhausted, n_exhausted);
    h->counter_add(p->guarded, n_guarded);
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_filter_ops pacing_ops = {
    .struct_size = sizeof pacing_ops,
    .filter = pacing_filter,
};

static const struct af_plugin pacing_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_FILTER,
    .name = "budget_pacing",
    .version = "1.0.0",
    .description = "paces campaign spend along a daily target curve by "
                   "probabilistic throttling; never past the budget",
    .create = pacing_create,
    .destroy = pacing_destroy,
    .ops = &pacing_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &pacing_plugin;
}
