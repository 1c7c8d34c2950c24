/*
 * fresh.c -- retriever "fresh": the ads that started running recently, so
 * that new ads reach the ranking stages at all.
 *
 *   retrieve = { { "popular", k = 1000 },
 *                { "fresh", k = 50, file = "availability.tsv", hours = 24,
 *                  boost = 10 } }
 *
 * An ad is fresh at time t when its available_from (from `file`, the
 * availability TSV of plugins/filter_availability/avail_file.h) lies in
 * (t - hours * 3600, t].  A request gets up to k fresh ads that target the
 * user, newest first.  Retrievers that rank by a prior (popular) never
 * return a new ad whose prior is average, which is every new ad: its own
 * history does not exist yet.
 *
 * retrieval_score = boost x the ad's prior value per impression (as popular
 * computes it: prior_ctr x bid for CPC, bid / 1000 for CPM, prior_ctr x
 * 0.05 x bid for CPA), so that `keep` after retrieval and filters, which
 * truncates by retrieval score, keeps fresh ads when boost is large enough.
 *
 * create() sorts the listed ads by available_from; a request finds the
 * window by binary search and scans it: no allocation, read-only instance.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <adfunnel/adfunnel.h>
#include <adfunnel/af_params.h>

#include "../filter_availability/avail_file.h"
#include "../filter_targeting/targeting.h"

#define CPA_CVR 0.05

struct timed_row {
    int64_t from;
    uint32_t row;
};

struct fresh {
    const struct af_catalog *catalog;
    struct timed_row *rows; /* listed ads, by available_from then row */
    uint32_t n;
    uint32_t k;
    int64_t window_s;
    double boost;
};

/* --- ## Life cycle --- */

static int
timed_cmp(const void *a, const void *b)
{
    const struct timed_row *x = a, *y = b;
    if (x->from != y->from)
        return (x->from > y->from) - (x->from < y->from);
    return (x->row > y->row) - (x->row < y->row);
}

static int
read_rows(struct fresh *f, const struct af_create_args *args,
          const char *file, char *err, size_t errlen)
{
    const struct af_catalog *cat = args->catalog;
    int64_t *from = malloc((cat->n_ads + 1) * sizeof *from);
    int64_t *until = malloc((cat->n_ads + 1) * sizeof *until);
    f->rows = malloc((cat->n_ads + 1) * sizeof *f->rows);
    if (!from || !until || !f->rows) {
        free(from);
        free(until);
        return AF_ENOMEM;
    }
    for (uint32_t r = 0; r < cat->n_ads; r++)
        from[r] = INT64_MIN;
    char path[PATH_MAX];
    args->host->data_path(args->pc, file, path, sizeof path);
    int rc = avail_file_read(cat, path, from, until, err, errlen);
    f->n = 0;
    for (uint32_t r = 0; rc == AF_OK && r < cat->n_ads; r++)
        if (from[r] != INT64_MIN)
            f->rows[f->n++] = (struct timed_row){from[r], r};
    qsort(f->rows, f->n, sizeof *f->rows, timed_cmp);
    free(from);
    free(until);
    return rc;
}

static int
fresh_create(const struct af_create_args *args, void **inst, char *err,
             size_t errlen)
{
    const struct af_host_api *h = args->host;
    const af_config *c = args->config;
    uint32_t n = h->config_count(c);
    for (uint32_t i = 0; i < n; i++) {
        const char *key = h->config_key(c, i);
        if (strcmp(key, "file") && strcmp(key, "hours") && strcmp(key, "k") &&
            strcmp(key, "boost")) {
            snprintf(err, errlen, "unknown parameter \"%s\" (takes k, file, "
                                  "hours, boost)", key);
            return AF_EINVAL;
        }
    }
    const char *file = h->config_str(c, "file", NULL);
    if (!file || !*file) {
        snprintf(err, errlen, "file is required: the availability TSV "
                              "(ad_id, available_from)");
        return AF_EINVAL;
    }
    int64_t k;
    double hours, boost;
    int rc;
    if ((rc = af_param_int(h, c, "k", 100, 1, 1000000, &k, err, errlen)) ||
        (rc = af_param_num(h, c, "hours", 24, 1.0 / 3600, 24 * 365, &hours,
                           err, errlen)) ||
        (rc = af_param_num(h, c, "boost", 1, 0, 1e9, &boost, err, errlen)))
        return rc;
    if (!args->catalog) {
        snprintf(err, errlen, "no catalog");
        return AF_EINVAL;
    }
    struct fresh *f = calloc(1, sizeof *f);
    if (!f)
        return AF_ENOMEM;
    if ((rc = read_rows(f, args, file, err, errlen)) != AF_OK) {
        free(f->rows);
        free(f);
        return rc;
    }
    f->catalog = args->catalog;
    f->k = (uint32_t)k;
    f->window_s = (int64_t)(hours * 3600);
    f->boost = boost;
    *inst = f;
    return AF_OK;
}

static void
fresh_destroy(void *inst)
{
    struct fresh *f = inst;
    free(f->rows);
    free(f);
}

/* --- ## Request path --- */

/* First index with from > t. */
static uint32_t
upper_bound(const struct fresh *f, int64_t t)
{
    uint32_t lo = 0, hi = f->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (f->rows[mid].from <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static float
prior_value(const struct af_catalog *cat, uint32_t r)
{
    switch (cat->bid_type[r]) {
    case AF_BID_CPM: return cat->bid[r] / 1000.0f;
    case AF_BID_CPA: return (float)(cat->prior_ctr[r] * CPA_CVR * cat->bid[r]);
    default: return cat->prior_ctr[r] * cat->bid[r];
    }
}

static int
fresh_retrieve(void *inst, const struct af_request *req, struct af_batch *b,
               uint32_t k)
{
    const struct fresh *f = inst;
    const struct af_catalog *cat = f->catalog;
    static const struct targeting_checks all = {1, 1, 1, 1};
    uint32_t want = k < f->k ? k : f->k, got = 0;
    int64_t t = req->time_s;
    for (uint32_t i = upper_bound(f, t); i > 0 && got < want; i--) {
        const struct timed_row *r = &f->rows[i - 1];
        if (r->from <= t - f->window_s)
            break; /* older than the window: so is everything before */
        if (!targeting_matches(cat, r->row, &req->user, &all))
            continue;
        uint32_t j = b->n + got++;
        b->ad[j] = r->row;
        b->bid[j] = cat->bid[r->row];
        b->retrieval_score[j] = (float)(f->boost * prior_value(cat, r->row));
    }
    b->n += got;
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_retriever_ops fresh_ops = {
    .struct_size = sizeof fresh_ops,
    .retrieve = fresh_retrieve,
};

static const struct af_plugin fresh_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_RETRIEVER,
    .name = "fresh",
    .version = "1.0.0",
    .description = "ads that started running within the last hours, newest "
                   "first",
    .create = fresh_create,
    .destroy = fresh_destroy,
    .ops = &fresh_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &fresh_plugin;
}
