/*
 * basic.c -- feature extractor "basic": hashed user, context, ad and
 * user x ad-category fields, plus three dense ad features.
 *
 * Fields, in order (the index is the field number fed to af_hash_field, so
 * it never depends on what other extractors appended before this one):
 *
 *   request side (once per request, into b->req_fid)
 *     0 user_id  1 geo  2 age_band  3 device  4 gender  5 hour
 *     6 day_of_week  7 position
 *   candidate side (one column each, into b->fid)
 *     8 ad_id  9 advertiser_id  10 campaign_id  11 category
 *     12 category x age_band  13 category x geo  14 category x device
 *     15 category x gender  16 category x interested
 *        (interested = bit <category> of the user's interests)
 *   dense (per candidate, into b->dense)
 *     log_bid = log1p(bid), quality, prior_ctr
 *
 * Unknown (-1) user and context values hash like any other value: "unknown"
 * is a category of its own.  A cross packs the category in the high 32 bits
 * and the other value in the low 32 bits before hashing.
 *
 * The instance has no state: create() only checks there are no parameters.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include "hash.h"

enum {
    N_REQ_FIELDS = 8,
    N_AD_FIELDS = 9,
    N_DENSE = 3,
    FIRST_AD_FIELD = N_REQ_FIELDS, /* hash index of ad_id */
};

/* The feature spec; the host derives the model fingerprint from it, so any
 * change to the fields, their order or their hashing must change it too. */
static const char basic_schema_text[] =
    "basic/1:req=user_id,geo,age_band,device,gender,hour,day_of_week,"
    "position;ad=ad_id,advertiser_id,campaign_id,category,"
    "category_x_age_band,category_x_geo,category_x_device,"
    "category_x_gender,category_x_interested;"
    "dense=log_bid,quality,prior_ctr";

/* A signed field as a hash input: -1 (unknown) becomes 0xffffffff. */
static uint64_t
value_of(int32_t v)
{
    return (uint32_t)v;
}

/* category x other, as one hash input. */
static uint64_t
cross(uint32_t category, int32_t other)
{
    return ((uint64_t)category << 32) | (uint32_t)other;
}

/* --- ## Life cycle --- */

struct basic {
    const struct af_catalog *catalog; /* the one log_bid was built from */
    float *log_bid;                   /* log1p(max(bid, 0)) per row       */
};

static float
log_bid(float bid)
{
    return log1pf(bid > 0 ? bid : 0);
}

static int
basic_create(const struct af_create_args *args, void **inst, char *err,
             size_t errlen)
{
    const struct af_host_api *h = args->host;
    uint32_t n = h->config_count(args->config);
    if (n > 0) {
        snprintf(err, errlen, "takes no parameters, got \"%s\"",
                 h->config_key(args->config, 0));
        return AF_EINVAL;
    }
    /* log1p(bid) per catalog row, computed once: it was the most
     * expensive part of extraction. */
    struct basic *bs = calloc(1, sizeof *bs);
    if (bs == NULL)
        return AF_ENOMEM;
    const struct af_catalog *cat = args->catalog;
    if (cat != NULL) {
        bs->log_bid = malloc(((size_t)cat->n_ads + 1) * sizeof(float));
        if (bs->log_bid == NULL) {
            free(bs);
            return AF_ENOMEM;
        }
        for (uint32_t i = 0; i < cat->n_ads; i++)
            bs->log_bid[i] = log_bid(cat->bid[i]);
        bs->catalog = cat;
    }
    *inst = bs;
    return AF_OK;
}

static void
basic_destroy(void *inst)
{
    struct basic *bs = inst;
    free(bs->log_bid);
    free(bs);
}

/* --- ## Request path --- */

static void
extract_request(const struct af_request *req, uint32_t *fid)
{
    const struct af_user *u = &req->user;
    const struct af_context *c = &req->context;
    const uint64_t v[N_REQ_FIELDS] = {
        u->id,           value_of(u->geo),  value_of(u->age_band),
        value_of(u->device), value_of(u->gender), value_of(c->hour),
        value_of(c->day_of_week), value_of(c->position),
    };
    for (uint32_t f = 0; f < N_REQ_FIELDS; f++)
        fid[f] = af_hash_field(f, v[f]);
}

/* Candidate fields of batch row i into columns col[0..N_AD_FIELDS-1]. */
static void
extract_ad(const struct af_catalog *cat, uint32_t row,
           const struct af_user *u, uint32_t *const *col, uint32_t i)
{
    uint32_t category = cat->category[row];
    uint32_t interested =
        category < 64 ? (uint32_t)((u->interests >> category) & 1u) : 0;
    const uint64_t v[N_AD_FIELDS] = {
        cat->ad_id[row],
        cat->advertiser_id[row],
        cat->campaign_id[row],
        category,
        cross(category, u->age_band),
        cross(category, u->geo),
        cross(category, u->device),
        cross(category, u->gender),
        cross(category, (int32_t)interested),
    };
    for (uint32_t f = 0; f < N_AD_FIELDS; f++)
        col[f][i] = af_hash_field(FIRST_AD_FIELD + f, v[f]);
}

static int
basic_extract(void *inst, const struct af_request *req, struct af_batch *b)
{
    const struct basic *bs = inst;
    const struct af_catalog *cat = req->catalog;
    const float *pre = cat == bs->catalog ? bs->log_bid : NULL;
    if (b->n_req_fields + N_REQ_FIELDS > AF_MAX_FIELDS ||
        b->n_fields + N_AD_FIELDS > AF_MAX_FIELDS ||
        b->n_dense + N_DENSE > AF_MAX_DENSE)
        return AF_ELIMIT; /* earlier extractors used up the batch's room */

    uint32_t *col[N_AD_FIELDS];
    for (uint32_t f = 0; f < N_AD_FIELDS; f++)
        col[f] = af_batch_field(b, b->n_fields + f);
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t row = b->ad[i];
        if (row >= cat->n_ads)
            return AF_EINVAL; /* nothing is committed until the end */
        extract_ad(cat, row, &req->user, col, i);
        float *d = b->dense + (size_t)i * AF_MAX_DENSE + b->n_dense;
        d[0] = pre ? pre[row] : log_bid(cat->bid[row]);
        d[1] = cat->quality[row];
        d[2] = cat->prior_ctr[row];
    }
    extract_request(req, b->req_fid + b->n_req_fields);
    b->n_req_fields += N_REQ_FIELDS;
    b->n_fields += N_AD_FIELDS;
    b->n_dense += N_DENSE;
    return AF_OK;
}

static const char *
basic_schema(void *inst)
{
    return basic_schema_text;
}

/* --- ## Descriptor --- */

static const struct af_feature_ops basic_ops = {
    .struct_size = sizeof basic_ops,
    .extract = basic_extract,
    .schema = basic_schema,
};

static const struct af_plugin basic_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_FEATURE,
    .name = "basic",
    .version = "1.0.0",
    .description = "hashed user, context, ad and user x category fields; "
                   "log bid, quality and prior CTR",
    .create = basic_create,
    .destroy = basic_destroy,
    .ops = &basic_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &basic_plugin;
}
