/*
 * frequency_cap.c -- filter "frequency_cap": at most `max` impressions of an
 * ad (or of any ad of a campaign) per user per time window, in the Google Ad
 * Manager form { max, units, time_unit }:
 *
 *   caps = { { max = 3,  units = 1, time_unit = "day",  per = "ad" },
 *            { max = 10, units = 6, time_unit = "hour", per = "campaign" } }
 *
 * A candidate is dropped when, for any cap, the user's impressions of it
 * (per = "ad": user x ad; per = "campaign": user x campaign) over the cap's
 * window, read from the online state, are already >= max.  Several ads of
 * one campaign can win in one response, so a per-campaign cap with room for
 * r more impressions keeps only the campaign's r best candidates (retrieval
 * score, then catalog row).  Showing the response then makes at most max
 * impressions in the window.
 *
 * Windows are the state's, which are exact to the hour (core/state/state.h):
 *   time_unit = "hour", units 1..24   the current hour and the units - 1
 *                                     before it, rounded UP to the nearest
 *                                     window the state keeps (1, 6 or 24
 *                                     hours): a 3-hour cap counts 6 hours,
 *                                     so it is never exceeded, only stricter
 *   time_unit = "day", units = 1      the calendar day (UTC)
 *   time_unit = "lifetime" (or "all") every impression ever
 * Other units (minutes, weeks, months, several days) are refused.
 *
 * A request without a user id (0) is not capped: there is no one to count.
 * When the state cannot be read the filter fails closed (drops every row,
 * on_error = "closed", the default) or open (on_error = "open").
 *
 * Reads are batched: one state read per distinct (per, window) among the
 * caps, of all candidates at once.  The instance is read-only after create.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <adfunnel/adfunnel.h>
#include <adfunnel/af_params.h>

#define MAX_CAPS 16
#define PREFIX "caps."

struct cap {
    double max;
    int entity; /* AF_ENT_USER_AD or AF_ENT_USER_CAMPAIGN */
    int window;
};

struct fcap {
    const struct af_host_api *host;
    af_plugin_ctx *pc;
    uint32_t n_caps;
    struct cap cap[MAX_CAPS];
    int fail_open;
    af_counter *capped;
};

/* --- ## Life cycle --- */

static int
cap_error(char *err, size_t errlen, uint32_t k, const char *what)
{
    snprintf(err, errlen,
             "caps[%u]: %s (a cap is { max = N, units = N, time_unit = "
             "\"hour\" | \"day\" | \"lifetime\", per = \"ad\" | "
             "\"campaign\" })",
             k, what);
    return AF_EINVAL;
}

/* The state window a cap of `units` x `unit` counts over. */
static int
window_of(const char *unit, int64_t units, int *window, char *what,
          size_t len)
{
    if (strcmp(unit, "hour") == 0 || strcmp(unit, "hours") == 0) {
        if (units < 1 || units > 24) {
            snprintf(what, len, "hours are supported up to 24, got %lld",
                     (long long)units);
            return -1;
        }
        *window = units <= 1 ? AF_WIN_1H : units <= 6 ? AF_WIN_6H : AF_WIN_24H;
        return 0;
    }
    if (strcmp(unit, "day") == 0 || strcmp(unit, "days") == 0) {
        if (units != 1) {
            snprintf(what, len, "time_unit \"day\" takes units = 1 (the "
                                "calendar day), got %lld", (long long)units);
            return -1;
        }
        *window = AF_WIN_DAY;
        return 0;
    }
    if (strcmp(unit, "lifetime") == 0 || strcmp(unit, "all") == 0) {
        *window = AF_WIN_ALL;
        return 0;
    }
    snprintf(what, len, "time_unit must be \"hour\", \"day\" or \"lifetime\", "
                        "got \"%s\"", unit);
    return -1;
}

/* Read caps.<k>.{max,units,time_unit,per}. */
static int
read_cap(const struct af_host_api *h, const af_config *c, uint32_t k,
         struct cap *cap, char *err, size_t errlen)
{
    char key[64], what[160];
    int64_t max, units;
    int rc;
    snprintf(key, sizeof key, PREFIX "%u.max", k);
    if (!h->config_has(c, key))
        return cap_error(err, errlen, k, "max is missing");
    if ((rc = af_param_int(h, c, key, 0, 0, 1000000000, &max, err, errlen)))
        return rc;
    snprintf(key, sizeof key, PREFIX "%u.units", k);
    if ((rc = af_param_int(h, c, key, 1, 1, 1000000, &units, err, errlen)))
        return rc;
    snprintf(key, sizeof key, PREFIX "%u.time_unit", k);
    const char *unit = h->config_str(c, key, NULL);
    if (!unit)
        return cap_error(err, errlen, k, "time_unit is missing");
    if (window_of(unit, units, &cap->window, what, sizeof what) != 0)
        return cap_error(err, errlen, k, what);
    snprintf(key, sizeof key, PREFIX "%u.per", k);
    const char *per = h->config_str(c, key, "ad");
    if (strcmp(per, "ad") == 0)
        cap->entity = AF_ENT_USER_AD;
    else if (strcmp(per, "campaign") == 0)
        cap->entity = AF_ENT_USER_CAMPAIGN;
    else {
        snprintf(what, sizeof what, "per must be \"ad\" or \"campaign\", got "
                                    "\"%s\"", per);
        return cap_error(err, errlen, k, what);
    }
    cap->max = (double)max;
    return AF_OK;
}

/* Every key must be caps.<k>.<field> with k in 1..n or on_error. */
static int
check_keys(const struct af_host_api *h, const af_config *c, uint32_t *n_caps,
           char *err, size_t errlen)
{
    uint32_t n = h->config_count(c), top = 0;
    static const char *const fields[] = {"max", "units", "time_unit", "per",
                                         NULL};
    for (uint32_t i = 0; i < n; i++) {
        const char *key = h->config_key(c, i);
        if (strcmp(key, "on_error") == 0)
            continue;
        char *end = (char *)key;
        unsigned long k = strncmp(key, PREFIX, strlen(PREFIX)) == 0
                              ? strtoul(key + strlen(PREFIX), &end, 10)
                              : 0;
        int ok = k >= 1 && k <= MAX_CAPS && *end == '.';
        for (const char *const *f = fields; ok && *f; f++)
            if (strcmp(end + 1, *f) == 0)
                ok = 2;
        if (ok != 2) {
            snprintf(err, errlen,
                     "unknown parameter \"%s\" (takes caps = a list of at "
                     "most %d { max, units, time_unit, per } tables, "
                     "on_error)",
                     key, MAX_CAPS);
            return AF_EINVAL;
        }
        if (k > top)
            top = (uint32_t)k;
    }
    if (top == 0) {
        snprintf(err, errlen, "caps is missing: give a list such as caps = "
                              "{ { max = 3, units = 1, time_unit = \"day\" } }");
        return AF_EINVAL;
    }
    *n_caps = top;
    return AF_OK;
}

static int
fcap_create(const struct af_create_args *args, void **inst, char *err,
            size_t errlen)
{
    const struct af_host_api *h = args->host;
    const af_config *c = args->config;
    if (!AF_HOST_HAS(h, state_read)) {
        snprintf(err, errlen, "the host offers no online state (state_read)");
        return AF_EINVAL;
    }
    struct fcap *f = calloc(1, sizeof *f);
    if (f == NULL)
        return AF_ENOMEM;
    int rc = check_keys(h, c, &f->n_caps, err, errlen);
    for (uint32_t k = 0; rc == AF_OK && k < f->n_caps; k++)
        rc = read_cap(h, c, k + 1, &f->cap[k], err, errlen);
    const char *on_error = h->config_str(c, "on_error", "closed");
    if (rc == AF_OK && strcmp(on_error, "open") && strcmp(on_error, "closed")) {
        snprintf(err, errlen, "on_error must be \"open\" or \"closed\", got %s",
                 on_error);
        rc = AF_EINVAL;
    }
    if (rc != AF_OK) {
        free(f);
        return rc;
    }
    f->fail_open = strcmp(on_error, "open") == 0;
    f->host = h;
    f->pc = args->pc;
    f->capped = h->counter(args->pc, "capped",
                           "candidates dropped by a frequency cap");
    *inst = f;
    return AF_OK;
}

static void
fcap_destroy(void *inst)
{
    free(inst);
}

/* --- ## Request path --- */

/* The lowest max among caps k.. with the same entity and window as cap k,
 * or -1 when an earlier cap already covered this pair. */
static double
pair_limit(const struct fcap *f, uint32_t k)
{
    for (uint32_t j = 0; j < k; j++)
        if (f->cap[j].entity == f->cap[k].entity &&
            f->cap[j].window == f->cap[k].window)
            return -1;
    double lim = f->cap[k].max;
    for (uint32_t j = k + 1; j < f->n_caps; j++)
        if (f->cap[j].entity == f->cap[k].entity &&
            f->cap[j].window == f->cap[k].window && f->cap[j].max < lim)
            lim = f->cap[j].max;
    return lim;
}

/* Row order for the campaign allowance: campaign, then best retrieval
 * score, then catalog row. */
struct by_campaign {
    uint32_t campaign;
    float score;
    uint32_t ad;
    uint32_t i;
};

static int
by_campaign_cmp(const void *a, const void *b)
{
    const struct by_campaign *x = a, *y = b;
    if (x->campaign != y->campaign)
        return (x->campaign > y->campaign) - (x->campaign < y->campaign);
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->ad > y->ad) - (x->ad < y->ad);
}

/*
 * A per-campaign cap with `count` impressions already and `lim` allowed
 * leaves room for lim - count more; several ads of the campaign may win in
 * one response, so only the best lim - count of its candidates (retrieval
 * score, then catalog row) stay.  count[i] holds each row's campaign count.
 */
static int
campaign_allowance(const struct fcap *f, const struct af_request *req,
                   struct af_batch *b, const double *count, double lim,
                   uint64_t *capped)
{
    struct by_campaign *o = f->host->arena_alloc(req->arena,
                                                 b->n * sizeof *o);
    if (!o)
        return AF_ENOMEM;
    for (uint32_t i = 0; i < b->n; i++)
        o[i] = (struct by_campaign){req->catalog->campaign_id[b->ad[i]],
                                    b->retrieval_score[i], b->ad[i], i};
    qsort(o, b->n, sizeof *o, by_campaign_cmp);
    double kept = 0;
    for (uint32_t k = 0; k < b->n; k++) {
        if (k == 0 || o[k].campaign != o[k - 1].campaign)
            kept = 0;
        uint32_t i = o[k].i;
        if (b->drop[i])
            continue;
        if (count[i] + kept >= lim) {
            b->drop[i] = 1;
            (*capped)++;
        } else {
            kept++;
        }
    }
    return AF_OK;
}

static int
fcap_filter(void *inst, const struct af_request *req, struct af_batch *b)
{
    const struct fcap *f = inst;
    const struct af_host_api *h = f->host;
    const struct af_catalog *cat = req->catalog;
    uint64_t user = req->user.id;
    if (b->n == 0 || user == 0)
        return AF_OK;
    uint64_t *keys = h->arena_alloc(req->arena, b->n * sizeof *keys);
    double *count = h->arena_alloc(req->arena, b->n * sizeof *count);
    if (!keys || !count)
        return AF_ENOMEM;
    int keyed = -1;
    uint64_t capped = 0;
    for (uint32_t k = 0; k < f->n_caps; k++) {
        double lim = pair_limit(f, k);
        if (lim < 0)
            continue;
        int ent = f->cap[k].entity;
        if (keyed != ent) {
            for (uint32_t i = 0; i < b->n; i++) {
                uint32_t row = b->ad[i];
                keys[i] = af_state_key2(user, ent == AF_ENT_USER_AD
                                                  ? cat->ad_id[row]
                                                  : cat->campaign_id[row]);
            }
            keyed = ent;
        }
        int rc = h->state_read(f->pc, req, ent, AF_EV_IMPRESSION,
                               f->cap[k].window, keys, b->n, count);
        if (rc != AF_OK) {
            if (!f->fail_open)
                for (uint32_t i = 0; i < b->n; i++)
                    b->drop[i] = 1;
            return rc;
        }
        if (ent == AF_ENT_USER_CAMPAIGN) {
            rc = campaign_allowance(f, req, b, count, lim, &capped);
            if (rc != AF_OK)
                return rc;
            continue;
        }
        for (uint32_t i = 0; i < b->n; i++)
            if (count[i] >= lim && !b->drop[i]) {
                b->drop[i] = 1;
                capped++;
            }
    }
    h->counter_add(f->capped, capped);
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_filter_ops fcap_ops = {
    .struct_size = sizeof fcap_ops,
    .filter = fcap_filter,
};

static const struct af_plugin fcap_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_FILTER,
    .name = "frequency_cap",
    .version = "1.0.0",
    .description = "at most N impressions per user x ad or user x campaign "
                   "per window ({max, units, time_unit})",
    .create = fcap_create,
    .destroy = fcap_destroy,
    .ops = &fcap_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &fcap_plugin;
}
