/*
 * af_params.h -- reading a plugin's parameters with validation.
 *
 * The host's config_num/config_int/config_bool return the default both when a
 * key is absent and when its value has the wrong type, which would let
 * `reserve = "0.1x"` silently become 0.  These helpers tell the two apart and
 * write a message naming the parameter, its allowed range and the value
 * found, e.g. "k must be an integer in 1..100000, got -3".  Call them from
 * create() only.
 *
 * Header-only and public-ABI-only: part of the SDK, installed with the other
 * headers.
 */
#ifndef ADFUNNEL_AF_PARAMS_H
#define ADFUNNEL_AF_PARAMS_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "adfunnel.h"

/* Number `key` in [lo, hi] (def when absent) into *out.  AF_OK or AF_EINVAL. */
static inline int
af_param_num(const struct af_host_api *h, const af_config *c, const char *key,
          double def, double lo, double hi, double *out, char *err,
          size_t errlen)
{
    if (!h->config_has(c, key)) {
        *out = def;
        return AF_OK;
    }
    double v = h->config_num(c, key, NAN);
    if (isnan(v) || v < lo || v > hi) {
        snprintf(err, errlen, "%s must be a number in [%g, %g], got %s", key,
                 lo, hi, h->config_str(c, key, "?"));
        return AF_EINVAL;
    }
    *out = v;
    return AF_OK;
}

/* Integer `key` in lo..hi (def when absent) into *out.  AF_OK or AF_EINVAL. */
static inline int
af_param_int(const struct af_host_api *h, const af_config *c, const char *key,
          int64_t def, int64_t lo, int64_t hi, int64_t *out, char *err,
          size_t errlen)
{
    if (!h->config_has(c, key)) {
        *out = def;
        return AF_OK;
    }
    double v = h->config_num(c, key, NAN);
    if (isnan(v) || v != floor(v) || v < (double)lo || v > (double)hi) {
        snprintf(err, errlen,
                 "%s must be an integer in %" PRId64 "..%" PRId64 ", got %s",
                 key, lo, hi, h->config_str(c, key, "?"));
        return AF_EINVAL;
    }
    *out = (int64_t)v;
    return AF_OK;
}

/* Boolean `key` (def when absent): true/false, yes/no or 1/0. */
static inline int
af_param_bool(const struct af_host_api *h, const af_config *c, const char *key,
           int def, int *out, char *err, size_t errlen)
{
    if (!h->config_has(c, key)) {
        *out = def;
        return AF_OK;
    }
    const char *s = h->config_str(c, key, "");
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1")) {
        *out = 1;
        return AF_OK;
    }
    if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0")) {
        *out = 0;
        return AF_OK;
    }
    snprintf(err, errlen, "%s must be true or false, got %s", key, s);
    return AF_EINVAL;
}

#endif
