/* serving_src.c -- see serving_src.h. */
#include "learn/serving_src.h"

#include <stdio.h>

#include "learn/featspec.h"

static const char *
int_or_missing(int32_t v, char *buf, size_t n)
{
    if (v < 0)
        return NULL;
    snprintf(buf, n, "%d", (int)v);
    return buf;
}

static const char *
interests(uint64_t mask, char *buf, size_t n)
{
    if (mask == 0)
        return NULL;
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < 64 && len < n; k++)
        if (mask >> k & 1)
            len += (size_t)snprintf(buf + len, n - len, "%s%d", len ? "," : "", k);
    return buf;
}

const char *
af_serving_value(int src, const struct af_user *u, const struct af_context *c,
                 const struct af_catalog *cat, uint32_t row, char *buf,
                 size_t n)
{
    switch (src) {
    case AF_SRC_USER_ID:
        snprintf(buf, n, "%llu", (unsigned long long)u->id);
        return buf;
    case AF_SRC_USER_GEO: return int_or_missing(u->geo, buf, n);
    case AF_SRC_USER_AGE_BAND: return int_or_missing(u->age_band, buf, n);
    case AF_SRC_USER_DEVICE: return int_or_missing(u->device, buf, n);
    case AF_SRC_USER_GENDER: return int_or_missing(u->gender, buf, n);
    case AF_SRC_USER_INTERESTS: return interests(u->interests, buf, n);
    case AF_SRC_CTX_HOUR: return int_or_missing(c->hour, buf, n);
    case AF_SRC_CTX_DAY_OF_WEEK: return int_or_missing(c->day_of_week, buf, n);
    case AF_SRC_CTX_POSITION: return int_or_missing(c->position, buf, n);
    default: break;
    }
    if (cat == NULL || row >= cat->n_ads)
        return NULL;
    switch (src) {
    case AF_SRC_AD_ID:
        snprintf(buf, n, "%llu", (unsigned long long)cat->ad_id[row]);
        return buf;
    case AF_SRC_AD_ADVERTISER:
        snprintf(buf, n, "%u", cat->advertiser_id[row]);
        return buf;
    case AF_SRC_AD_CAMPAIGN:
        snprintf(buf, n, "%u", cat->campaign_id[row]);
        return buf;
    case AF_SRC_AD_CATEGORY:
        snprintf(buf, n, "%u", (unsigned)cat->category[row]);
        return buf;
    case AF_SRC_AD_BID:
        snprintf(buf, n, "%.9g", (double)cat->bid[row]);
        return buf;
    case AF_SRC_AD_QUALITY:
        snprintf(buf, n, "%.9g", (double)cat->quality[row]);
        return buf;
    case AF_SRC_AD_PRIOR_CTR:
        snprintf(buf, n, "%.9g", (double)cat->prior_ctr[row]);
        return buf;
    default: return NULL;
    }
}
