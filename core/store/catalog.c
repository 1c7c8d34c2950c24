/* catalog.c -- the ad catalog: ads.tsv into columns plus an id -> row map. */
#include "store/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adfunnel/af_errno.h"
#include "store/idmap.h"
#include "store/tsv.h"
#include "world/world.h"

enum {
    C_AD_ID, C_ADVERTISER, C_CAMPAIGN, C_CATEGORY, C_BID_TYPE, C_BID,
    C_QUALITY, C_PRIOR_CTR, C_BUDGET, C_GEO, C_AGE, C_DEVICE, C_INTEREST,
    C_NCOLS
};

static const char *const ads_schema[C_NCOLS] = {
    "ad_id", "advertiser_id", "campaign_id", "category", "bid_type", "bid",
    "quality", "prior_ctr", "daily_budget", "geo_mask", "age_mask",
    "device_mask", "interest_mask",
};

struct af_catalog_store {
    struct af_catalog view;
    uint64_t *ad_id;
    uint32_t *advertiser_id;
    uint32_t *campaign_id;
    uint16_t *category;
    uint8_t *bid_type;
    float *bid;
    float *quality;
    float *prior_ctr;
    float *daily_budget;
    uint32_t *geo_mask;
    uint8_t *age_mask;
    uint8_t *device_mask;
    uint64_t *interest_mask;
    struct af_idmap index;
};

static int
alloc_columns(af_catalog_store *c, uint32_t n)
{
    c->ad_id = malloc(n * sizeof *c->ad_id);
    c->advertiser_id = malloc(n * sizeof *c->advertiser_id);
    c->campaign_id = malloc(n * sizeof *c->campaign_id);
    c->category = malloc(n * sizeof *c->category);
    c->bid_type = malloc(n * sizeof *c->bid_type);
    c->bid = malloc(n * sizeof *c->bid);
    c->quality = malloc(n * sizeof *c->quality);
    c->prior_ctr = malloc(n * sizeof *c->prior_ctr);
    c->daily_budget = malloc(n * sizeof *c->daily_budget);
    c->geo_mask = malloc(n * sizeof *c->geo_mask);
    c->age_mask = malloc(n * sizeof *c->age_mask);
    c->device_mask = malloc(n * sizeof *c->device_mask);
    c->interest_mask = malloc(n * sizeof *c->interest_mask);
    if (!c->ad_id || !c->advertiser_id || !c->campaign_id || !c->category ||
        !c->bid_type || !c->bid || !c->quality || !c->prior_ctr ||
        !c->daily_budget || !c->geo_mask || !c->age_mask || !c->device_mask ||
        !c->interest_mask)
        return AF_ENOMEM;
    return af_idmap_init(&c->index, n);
}

static int
parse_bid_type(const struct af_tsv *t, uint8_t *out, char *err, size_t errlen)
{
    const char *s = af_tsv_str(t, C_BID_TYPE);
    if (strcmp(s, "cpc") == 0)
        *out = AF_BID_CPC;
    else if (strcmp(s, "cpm") == 0)
        *out = AF_BID_CPM;
    else if (strcmp(s, "cpa") == 0)
        *out = AF_BID_CPA;
    else
        return af_tsv_fail(t, err, errlen,
                           "bid_type: '%s' is not cpc, cpm or cpa", s);
    return AF_OK;
}

/* Parse the current line into row i. */
static int
parse_ad(af_catalog_store *c, const struct af_tsv *t, uint32_t i, char *err,
         size_t errlen)
{
    int64_t adv, camp, cat;
    double bid, quality, prior, budget;
    uint64_t geo, age, dev, interest;
    int rc;
    if ((rc = af_tsv_u64(t, C_AD_ID, &c->ad_id[i], err, errlen)) ||
        (rc = af_tsv_int(t, C_ADVERTISER, 0, UINT32_MAX, &adv, err, errlen)) ||
        (rc = af_tsv_int(t, C_CAMPAIGN, 0, UINT32_MAX, &camp, err, errlen)) ||
        (rc = af_tsv_int(t, C_CATEGORY, 0, AF_WORLD_CATEGORIES - 1, &cat, err,
                         errlen)) ||
        (rc = parse_bid_type(t, &c->bid_type[i], err, errlen)) ||
        (rc = af_tsv_num(t, C_BID, 0, 1, 1e9, &bid, err, errlen)) ||
        (rc = af_tsv_num(t, C_QUALITY, 0, 1, 1, &quality, err, errlen)) ||
        (rc = af_tsv_num(t, C_PRIOR_CTR, 0, 0, 1, &prior, err, errlen)) ||
        (rc = af_tsv_num(t, C_BUDGET, 0, 0, 1e12, &budget, err, errlen)) ||
        (rc = af_tsv_mask(t, C_GEO, AF_WORLD_GEOS, &geo, err, errlen)) ||
        (rc = af_tsv_mask(t, C_AGE, AF_WORLD_AGE_BANDS, &age, err, errlen)) ||
        (rc = af_tsv_mask(t, C_DEVICE, AF_WORLD_DEVICES, &dev, err, errlen)) ||
        (rc = af_tsv_mask(t, C_INTEREST, AF_WORLD_INTERESTS, &interest, err,
                          errlen)))
        return rc;
    /* Both are stored as float: a positive value below float's range would
     * silently become 0. */
    if ((float)bid <= 0.0f || (float)quality <= 0.0f)
        return af_tsv_fail(t, err, errlen, "%s: %g is too small",
                           (float)bid <= 0.0f ? "bid" : "quality",
                           (float)bid <= 0.0f ? bid : quality);
    c->advertiser_id[i] = (uint32_t)adv;
    c->campaign_id[i] = (uint32_t)camp;
    c->category[i] = (uint16_t)cat;
    c->bid[i] = (float)bid;
    c->quality[i] = (float)quality;
    c->prior_ctr[i] = (float)prior;
    c->daily_budget[i] = (float)budget;
    c->geo_mask[i] = (uint32_t)geo;
    c->age_mask[i] = (uint8_t)age;
    c->device_mask[i] = (uint8_t)dev;
    c->interest_mask[i] = interest;
    if (af_idmap_put(&c->index, c->ad_id[i], i) == AF_EEXIST)
        return af_tsv_fail(t, err, errlen, "ad_id: duplicate id %llu",
                           (unsigned long long)c->ad_id[i]);
    return AF_OK;
}

static void
fill_view(af_catalog_store *c, uint32_t n)
{
    struct af_catalog *v = &c->view;
    v->struct_size = sizeof *v;
    v->n_ads = n;
    v->ad_id = c->ad_id;
    v->advertiser_id = c->advertiser_id;
    v->campaign_id = c->campaign_id;
    v->category = c->category;
    v->bid_type = c->bid_type;
    v->bid = c->bid;
    v->quality = c->quality;
    v->prior_ctr = c->prior_ctr;
    v->daily_budget = c->daily_budget;
    v->geo_mask = c->geo_mask;
    v->age_mask = c->age_mask;
    v->device_mask = c->device_mask;
    v->interest_mask = c->interest_mask;
    v->n_categories = AF_WORLD_CATEGORIES;
    v->n_geos = AF_WORLD_GEOS;
    v->n_age_bands = AF_WORLD_AGE_BANDS;
    v->n_devices = AF_WORLD_DEVICES;
}

af_catalog_store *
af_catalog_load(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/ads.tsv", dir) >= sizeof path) {
        snprintf(err, errlen, "%s: directory name too long", dir);
        return NULL;
    }
    struct af_tsv t;
    if (af_tsv_open(&t, path, ads_schema, C_NCOLS, err, errlen) != AF_OK)
        return NULL;
    af_catalog_store *c = calloc(1, sizeof *c);
    uint32_t cap = af_tsv_max_rows(&t);
    int rc = c ? alloc_columns(c, cap) : AF_ENOMEM;
    uint32_t n = 0;
    while (rc == AF_OK && (rc = af_tsv_next(&t, err, errlen)) == 1) {
        rc = parse_ad(c, &t, n, err, errlen);
        n++;
    }
    if (rc == AF_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    else if (rc == AF_OK && n == 0) {
        snprintf(err, errlen, "%s:1: no ads after the header", path);
        rc = AF_EINVAL;
    }
    af_tsv_close(&t);
    if (rc != AF_OK) {
        af_catalog_free(c);
        return NULL;
    }
    fill_view(c, n);
    return c;
}

void
af_catalog_free(af_catalog_store *c)
{
    if (!c)
        return;
    free(c->ad_id);
    free(c->advertiser_id);
    free(c->campaign_id);
    free(c->category);
    free(c->bid_type);
    free(c->bid);
    free(c->quality);
    free(c->prior_ctr);
    free(c->daily_budget);
    free(c->geo_mask);
    free(c->age_mask);
    free(c->device_mask);
    free(c->interest_mask);
    af_idmap_free(&c->index);
    free(c);
}

const struct af_catalog *
af_catalog_view(const af_catalog_store *c)
{
    return &c->view;
}

int64_t
af_catalog_find(const af_catalog_store *c, uint64_t ad_id)
{
    return af_idmap_get(&c->index, ad_id);
}
