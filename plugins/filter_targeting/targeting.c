/*
 * targeting.c -- filter "targeting": drop candidates whose targeting
 * (geo, age band, device, interests) excludes the request's user.
 *
 * The rule lives in targeting.h; this file only wires it into the filter
 * kind.  Instance state is four flags set in create() and read-only after.
 */
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include <adfunnel/af_params.h>
#include "targeting.h"

/* One catalog row's targeting, packed: the request path reads one
 * 16-byte record per candidate instead of four scattered catalog columns. */
struct packed_row {
    uint64_t interest_mask;
    uint32_t geo_mask;
    uint8_t age_mask;
    uint8_t device_mask;
};

struct targeting {
    struct targeting_checks checks;
    const struct af_catalog *catalog; /* the one `packed` was built from */
    struct packed_row *packed;        /* catalog->n_ads rows             */
};

/* --- ## Life cycle --- */

static int
targeting_create(const struct af_create_args *args, void **inst, char *err,
                 size_t errlen)
{
    const struct af_host_api *h = args->host;
    const af_config *c = args->config;
    struct targeting_checks k;
    int rc;
    if ((rc = af_param_bool(h, c, "check_geo", 1, &k.geo, err, errlen)) ||
        (rc = af_param_bool(h, c, "check_age", 1, &k.age, err, errlen)) ||
        (rc = af_param_bool(h, c, "check_device", 1, &k.device, err, errlen)) ||
        (rc = af_param_bool(h, c, "check_interests", 1, &k.interests, err,
                         errlen)))
        return rc;
    const struct af_catalog *cat = args->catalog;
    struct targeting *t = calloc(1, sizeof *t);
    if (t == NULL)
        return AF_ENOMEM;
    t->checks = k;
    if (cat != NULL) {
        /* Masks of unchecked dimensions are stored as 0 ("everyone"). */
        t->packed = malloc(((size_t)cat->n_ads + 1) * sizeof *t->packed);
        if (t->packed == NULL) {
            free(t);
            return AF_ENOMEM;
        }
        for (uint32_t i = 0; i < cat->n_ads; i++) {
            struct packed_row *p = &t->packed[i];
            p->interest_mask = k.interests ? cat->interest_mask[i] : 0;
            p->geo_mask = k.geo ? cat->geo_mask[i] : 0;
            p->age_mask = k.age ? cat->age_mask[i] : 0;
            p->device_mask = k.device ? cat->device_mask[i] : 0;
        }
        t->catalog = cat;
    }
    *inst = t;
    return AF_OK;
}

static void
targeting_destroy(void *inst)
{
    struct targeting *t = inst;
    free(t->packed);
    free(t);
}

/* --- ## Request path --- */

static int
targeting_filter(void *inst, const struct af_request *req, struct af_batch *b)
{
    const struct targeting *t = inst;
    const struct af_catalog *cat = req->catalog;
    const struct af_user *u = &req->user;
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t row = b->ad[i];
        /* A row outside the catalog cannot be served: drop it. */
        if (row >= cat->n_ads) {
            b->drop[i] = 1;
            continue;
        }
        int ok;
        if (cat == t->catalog) {
            const struct packed_row *p = &t->packed[row];
            ok = targeting_masks_match(p->geo_mask, p->age_mask, p->device_mask,
                                       p->interest_mask, u);
        } else {
            ok = targeting_matches(cat, row, u, &t->checks);
        }
        if (!ok)
            b->drop[i] = 1;
    }
    return AF_OK;
}

/* --- ## Descriptor --- */

static const struct af_filter_ops targeting_ops = {
    .struct_size = sizeof targeting_ops,
    .filter = targeting_filter,
};

static const struct af_plugin targeting_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_FILTER,
    .name = "targeting",
    .version = "1.0.0",
    .description = "drops ads whose geo, age, device or interest targeting "
                   "excludes the user",
    .create = targeting_create,
    .destroy = targeting_destroy,
    .ops = &targeting_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &targeting_plugin;
}
