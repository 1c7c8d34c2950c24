/*
 * availability.c -- filter "availability": ads run only inside their flight
 * dates.
 *
 *   filter = { { "availability", file = "availability.tsv" } }
 *
 * `file` (relative paths resolve against the data directory) is a TSV of
 * ad_id, available_from and optionally available_until (unix seconds; the
 * format is in avail_file.h, shared with the `fresh` retriever).
 *
 * Ads the file does not list are always available.  The catalog is immutable
 * within a generation, so this is how ads "arrive" during a run: the world
 * simulator writes the arrival time of each new ad here (docs/simulation.md),
 * and a request at time t (req->time_s, virtual in simulations) sees an ad
 * only when available_from <= t < available_until.
 *
 * The file is read once in create(); the request path is one array lookup
 * per candidate.  Every malformed line is refused with file:line: reason.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <adfunnel/adfunnel.h>

#include "avail_file.h"

struct availability {
    int64_t *from;  /* per catalog row */
    int64_t *until; /* per catalog row */
    uint32_t n_ads;
};

/* --- ## Life cycle --- */

static int
avail_create(const struct af_create_args *args, void **inst, char *err,
             size_t errlen)
{
    const struct af_host_api *h = args->host;
    const af_config *c = args->config;
    const struct af_catalog *cat = args->catalog;
    uint32_t n = h->config_count(c);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(h->config_key(c, i), "file") != 0) {
            snprintf(err, errlen, "unknown parameter \"%s\" (takes file)",
                     h->config_key(c, i));
            return AF_EINVAL;
        }
    const char *file = h->config_str(c, "file", NULL);
    if (!file || !*file) {
        snprintf(err, errlen, "file is required: a TSV of ad_id, "
                              "available_from [, available_until]");
        return AF_EINVAL;
    }
    if (!cat) {
        snprintf(err, errlen, "no catalog");
        return AF_EINVAL;
    }
    struct availability *a = calloc(1, sizeof *a);
    if (!a)
        return AF_ENOMEM;
    a->n_ads = cat->n_ads;
    a->from = malloc((cat->n_ads + 1) * sizeof *a->from);
    a->until = malloc((cat->n_ads + 1) * sizeof *a->until);
    if (!a->from || !a->until) {
        free(a->from);
        free(a->until);
        free(a);
        return AF_ENOMEM;
    }
    for (uint32_t r = 0; r < cat->n_ads; r++) {
        a->from[r] = INT64_MIN;
        a->until[r] = INT64_MAX;
    }
    char path[PATH_MAX];
    h->data_path(args->pc, file, path, sizeof path);
    int rc = avail_file_read(cat, path, a->from, a->until, err, errlen);
    if (rc != AF_OK) {
        free(a->from);
        free(a->until);
        free(a);
        return rc;
    }
    *inst = a;
    return AF_OK;
}

static void
avail_destroy(void *inst)
{
    struct availability *a = inst;
    free(a->from);
    free(a->until);
    free(a);
}

/* --- ## Request path --- */

static int
avail_filter(void *inst, const struct af_request *req, struct af_batch *b)
{
    const struct availability *a = inst;
    int64_t t = req->time_s;
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t row = b->ad[i];
        if (row >= a->n_ads || t < a->from[row] || t >= a->until[row])
            b->drop[i] = 1;
    }
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_filter_ops avail_ops = {
    .struct_size = sizeof avail_ops,
    .filter = avail_filter,
};

static const struct af_plugin avail_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_FILTER,
    .name = "availability",
    .version = "1.0.0",
    .description = "serves ads only between their available_from and "
                   "available_until times",
    .create = avail_create,
    .destroy = avail_destroy,
    .ops = &avail_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &avail_plugin;
}
