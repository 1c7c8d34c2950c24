/*
 * auc_params.h -- the parameters shared by the auction plugins (gsp, vcg,
 * first_price): reserves, quality, squashing and the negative-feedback
 * penalty, read and validated once in create().
 *
 *   reserve                     least price per billable event (bid's unit)
 *   reserve_by_advertiser.<id>  the same for one advertiser; replaces
 *                               `reserve` for that advertiser's ads
 *   quality                     weight the score by catalog quality
 *   squash                      exponent s on pCTR in the score (gsp, first_price)
 *   neg_penalty                 weight of pNeg subtracted from the score
 *   max_per_advertiser          at most this many ads of one advertiser per
 *                               response (0: no limit)
 *   no_adjacent_advertiser      no two adjacent slots of one advertiser
 *   (the two diversity rules and how prices follow them: auc_alloc.h)
 *
 * Header-only with static functions so that each plugin keeps every private
 * symbol static (plugins/auction_common/ has no CMakeLists.txt: it is not a
 * plugin, the auction plugins add it to their include path).
 */
#ifndef AUC_PARAMS_H
#define AUC_PARAMS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <adfunnel/adfunnel.h>
#include <adfunnel/af_params.h>

#define AUC_MAX_PRICE 1e9 /* upper bound of any reserve, per billable event */
#define AUC_MAX_SQUASH 4.0
#define AUC_MAX_PER_ADVERTISER 64 /* the host's slot limit, AF_MAX_SLOTS */
#define AUC_ADV_PREFIX "reserve_by_advertiser."

/* One advertiser's reserve. */
struct auc_adv_reserve {
    uint32_t advertiser;
    double reserve;
};

/* The shared parameters of one auction instance; read-only after create. */
struct auc_params {
    double reserve;     /* surface reserve, >= 0                          */
    int use_quality;    /* 0: every ad has quality 1                      */
    double squash;      /* pCTR exponent; 1 = no squashing                */
    double neg_penalty; /* weight of pNeg; 0 = pNeg not read              */
    uint32_t max_per_advertiser; /* 0: no limit                            */
    int no_adjacent;    /* no two adjacent slots of one advertiser        */
    uint32_t n_adv;
    struct auc_adv_reserve *adv; /* sorted by advertiser; owned (malloc)  */
};

/* Does `key` match one of `names`?  A name ending in '.' stands for a table
 * parameter: it matches any key with that prefix (the flattened entries) and
 * the bare name, which the policy then rejects with a message on how to
 * write the table. */
static inline int
auc_key_known(const char *key, const char *const *names)
{
    for (; *names; names++) {
        size_t n = strlen(*names);
        if ((*names)[n - 1] != '.') {
            if (strcmp(key, *names) == 0)
                return 1;
        } else if (strncmp(key, *names, n - 1) == 0 &&
                   (key[n - 1] == '.' || key[n - 1] == '\0')) {
            return 1;
        }
    }
    return 0;
}

/* Refuse any parameter not in `names` (NULL-terminated), so that a typo such
 * as `reserv = 0.1` is an error instead of a silently ignored key.  The
 * message lists what the policy takes. */
static inline int
auc_check_keys(const struct af_host_api *h, const af_config *c,
               const char *const *names, char *err, size_t errlen)
{
    uint32_t n = h->config_count(c);
    for (uint32_t i = 0; i < n; i++) {
        const char *key = h->config_key(c, i);
        if (auc_key_known(key, names))
            continue;
        size_t len = (size_t)snprintf(err, errlen,
                                      "unknown parameter \"%s\" (takes ", key);
        for (const char *const *p = names; *p && len < errlen; p++) {
            size_t l = strlen(*p);
            len += (size_t)snprintf(err + len, errlen - len, "%s%s%s",
                                    p == names ? "" : ", ", *p,
                                    (*p)[l - 1] == '.' ? "<key>" : "");
        }
        if (len < errlen)
            snprintf(err + len, errlen - len, ")");
        return AF_EINVAL;
    }
    return AF_OK;
}

static inline int
auc_adv_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct auc_adv_reserve *)a)->advertiser;
    uint32_t y = ((const struct auc_adv_reserve *)b)->advertiser;
    return (x > y) - (x < y);
}

/* Parse the advertiser id after "reserve_by_advertiser.": decimal digits
 * only, within uint32. */
static inline int
auc_parse_advertiser(const char *key, uint32_t *out, char *err, size_t errlen)
{
    const char *s = key + strlen(AUC_ADV_PREFIX);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 ||
        v > UINT32_MAX) {
        snprintf(err, errlen,
                 "%s: the key of reserve_by_advertiser must be an advertiser "
                 "id in 0..%u, as in reserve_by_advertiser = { [7] = 0.2 }",
                 key, (unsigned)UINT32_MAX);
        return AF_EINVAL;
    }
    *out = (uint32_t)v;
    return AF_OK;
}

/* Read every "reserve_by_advertiser.<id>" key into p->adv, sorted. */
static inline int
auc_read_adv_reserves(const struct af_host_api *h, const af_config *c,
                      struct auc_params *p, char *err, size_t errlen)
{
    uint32_t n = h->config_count(c), m = 0;
    if (h->config_has(c, "reserve_by_advertiser")) {
        snprintf(err, errlen,
                 "reserve_by_advertiser must be a table of advertiser id -> "
                 "reserve, as in reserve_by_advertiser = { [7] = 0.2 }, got %s",
                 h->config_str(c, "reserve_by_advertiser", "?"));
        return AF_EINVAL;
    }
    for (uint32_t i = 0; i < n; i++)
        m += strncmp(h->config_key(c, i), AUC_ADV_PREFIX,
                     strlen(AUC_ADV_PREFIX)) == 0;
    p->n_adv = 0;
    p->adv = NULL;
    if (m == 0)
        return AF_OK;
    p->adv = malloc(m * sizeof *p->adv);
    if (p->adv == NULL)
        return AF_ENOMEM;
    int rc = AF_OK;
    for (uint32_t i = 0; i < n && rc == AF_OK; i++) {
        const char *key = h->config_key(c, i);
        if (strncmp(key, AUC_ADV_PREFIX, strlen(AUC_ADV_PREFIX)) != 0)
            continue;
        struct auc_adv_reserve *a = &p->adv[p->n_adv];
        rc = auc_parse_advertiser(key, &a->advertiser, err, errlen);
        if (rc == AF_OK)
            rc = af_param_num(h, c, key, 0.0, 0.0, AUC_MAX_PRICE, &a->reserve,
                              err, errlen);
        p->n_adv += rc == AF_OK;
    }
    if (rc == AF_OK) {
        qsort(p->adv, p->n_adv, sizeof *p->adv, auc_adv_cmp);
        for (uint32_t i = 1; i < p->n_adv && rc == AF_OK; i++)
            if (p->adv[i].advertiser == p->adv[i - 1].advertiser) {
                snprintf(err, errlen,
                         "reserve_by_advertiser names advertiser %u twice",
                         p->adv[i].advertiser);
                rc = AF_EINVAL;
            }
    }
    if (rc != AF_OK) {
        free(p->adv);
        p->adv = NULL;
        p->n_adv = 0;
    }
    return rc;
}

/*
 * Read reserve, reserve_by_advertiser.*, quality, neg_penalty,
 * max_per_advertiser, no_adjacent_advertiser and, when `with_squash`, squash
 * (otherwise p->squash = 1).  On success p->adv is
 * owned by the caller (auc_params_free); on failure nothing is held.
 */
static inline int
auc_params_read(const struct af_host_api *h, const af_config *c,
                int with_squash, struct auc_params *p, char *err,
                size_t errlen)
{
    int rc;
    memset(p, 0, sizeof *p);
    p->squash = 1.0;
    if ((rc = af_param_num(h, c, "reserve", 0.0, 0.0, AUC_MAX_PRICE,
                           &p->reserve, err, errlen)) ||
        (rc = af_param_bool(h, c, "quality", 1, &p->use_quality, err,
                            errlen)) ||
        (rc = af_param_num(h, c, "neg_penalty", 0.0, 0.0, AUC_MAX_PRICE,
                           &p->neg_penalty, err, errlen)))
        return rc;
    if (with_squash &&
        (rc = af_param_num(h, c, "squash", 1.0, 0.0, AUC_MAX_SQUASH,
                           &p->squash, err, errlen)))
        return rc;
    int64_t max_adv;
    if ((rc = af_param_int(h, c, "max_per_advertiser", 0, 0,
                           AUC_MAX_PER_ADVERTISER, &max_adv, err, errlen)) ||
        (rc = af_param_bool(h, c, "no_adjacent_advertiser", 0, &p->no_adjacent,
                            err, errlen)))
        return rc;
    p->max_per_advertiser = (uint32_t)max_adv;
    return auc_read_adv_reserves(h, c, p, err, errlen);
}

static inline void
auc_params_free(struct auc_params *p)
{
    free(p->adv);
    p->adv = NULL;
    p->n_adv = 0;
}

/* The reserve an ad of `advertiser` must meet: its own when listed, else the
 * surface's.  Binary search: no allocation, safe from any thread. */
static inline double
auc_reserve_of(const struct auc_params *p, uint32_t advertiser)
{
    uint32_t lo = 0, hi = p->n_adv;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->adv[mid].advertiser < advertiser)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < p->n_adv && p->adv[lo].advertiser == advertiser)
        return p->adv[lo].reserve;
    return p->reserve;
}

#endif
