/* users.c -- the user store: users.tsv into columns plus an id -> index map.
 * Histories of all users live in one pool; user i owns
 * hist[hist_off[i] .. hist_off[i] + hist_len[i]). */
#include "store/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adfunnel/af_errno.h"
#include "store/idmap.h"
#include "store/tsv.h"
#include "world/world.h"

enum {
    U_ID, U_GEO, U_AGE, U_DEVICE, U_GENDER, U_INTERESTS, U_HISTORY, U_NCOLS
};

static const char *const users_schema[U_NCOLS] = {
    "user_id", "geo", "age_band", "device", "gender", "interests", "history",
};

struct af_user_store {
    uint32_t n;
    uint64_t *id;
    int8_t *geo;
    int8_t *age_band;
    int8_t *device;
    int8_t *gender;
    uint64_t *interests;
    uint32_t *hist_off;
    uint8_t *hist_len;
    uint64_t *hist;     /* pool of every history                            */
    size_t hist_n, hist_cap;
    struct af_idmap index;
};

static int
alloc_columns(af_user_store *u, uint32_t n)
{
    u->id = malloc(n * sizeof *u->id);
    u->geo = malloc(n);
    u->age_band = malloc(n);
    u->device = malloc(n);
    u->gender = malloc(n);
    u->interests = malloc(n * sizeof *u->interests);
    u->hist_off = malloc(n * sizeof *u->hist_off);
    u->hist_len = malloc(n);
    if (!u->id || !u->geo || !u->age_band || !u->device || !u->gender ||
        !u->interests || !u->hist_off || !u->hist_len)
        return AF_ENOMEM;
    return af_idmap_init(&u->index, n);
}

static int
hist_push(af_user_store *u, uint64_t id)
{
    if (u->hist_n == u->hist_cap) {
        size_t cap = u->hist_cap ? u->hist_cap * 2 : 4096;
        uint64_t *h = realloc(u->hist, cap * sizeof *h);
        if (!h)
            return AF_ENOMEM;
        u->hist = h;
        u->hist_cap = cap;
    }
    u->hist[u->hist_n++] = id;
    return AF_OK;
}

/* "12,7,3" (or "") into the pool for user i. */
static int
parse_history(af_user_store *u, const struct af_tsv *t, uint32_t i, char *err,
              size_t errlen)
{
    const char *s = af_tsv_str(t, U_HISTORY);
    u->hist_off[i] = (uint32_t)u->hist_n;
    u->hist_len[i] = 0;
    if (u->hist_n > UINT32_MAX - AF_MAX_HISTORY)
        return af_tsv_fail(t, err, errlen, "history: too many in total");
    while (*s != '\0') {
        char num[24];
        size_t k = strcspn(s, ",");
        uint64_t id;
        if (k == 0 || k >= sizeof num)
            return af_tsv_fail(t, err, errlen,
                               "history: bad ad id list (expected ids "
                               "separated by commas)");
        memcpy(num, s, k);
        num[k] = '\0';
        if (af_parse_u64(num, &id) != 0)
            return af_tsv_fail(t, err, errlen,
                               "history: '%s' is not an ad id", num);
        if (u->hist_len[i] == AF_MAX_HISTORY)
            return af_tsv_fail(t, err, errlen,
                               "history: more than %d ad ids", AF_MAX_HISTORY);
        if (hist_push(u, id) != AF_OK)
            return AF_ENOMEM;
        u->hist_len[i]++;
        s += k;
        if (*s == ',' && *++s == '\0')
            return af_tsv_fail(t, err, errlen, "history: trailing comma");
    }
    return AF_OK;
}

static int
parse_user(af_user_store *u, const struct af_tsv *t, uint32_t i, char *err,
           size_t errlen)
{
    int64_t geo, age, dev, gender;
    int rc;
    if ((rc = af_tsv_u64(t, U_ID, &u->id[i], err, errlen)) ||
        (rc = af_tsv_int(t, U_GEO, 0, AF_WORLD_GEOS - 1, &geo, err, errlen)) ||
        (rc = af_tsv_int(t, U_AGE, 0, AF_WORLD_AGE_BANDS - 1, &age, err,
                         errlen)) ||
        (rc = af_tsv_int(t, U_DEVICE, 0, AF_WORLD_DEVICES - 1, &dev, err,
                         errlen)) ||
        (rc = af_tsv_int(t, U_GENDER, 0, AF_WORLD_GENDERS - 1, &gender, err,
                         errlen)) ||
        (rc = af_tsv_mask(t, U_INTERESTS, AF_WORLD_INTERESTS, &u->interests[i],
                          err, errlen)) ||
        (rc = parse_history(u, t, i, err, errlen)))
        return rc;
    u->geo[i] = (int8_t)geo;
    u->age_band[i] = (int8_t)age;
    u->device[i] = (int8_t)dev;
    u->gender[i] = (int8_t)gender;
    if (af_idmap_put(&u->index, u->id[i], i) == AF_EEXIST)
        return af_tsv_fail(t, err, errlen, "user_id: duplicate id %llu",
                           (unsigned long long)u->id[i]);
    return AF_OK;
}

af_user_store *
af_users_load(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/users.tsv", dir) >=
        sizeof path) {
        snprintf(err, errlen, "%s: directory name too long", dir);
        return NULL;
    }
    struct af_tsv t;
    if (af_tsv_open(&t, path, users_schema, U_NCOLS, err, errlen) != AF_OK)
        return NULL;
    af_user_store *u = calloc(1, sizeof *u);
    int rc = u ? alloc_columns(u, af_tsv_max_rows(&t)) : AF_ENOMEM;
    uint32_t n = 0;
    while (rc == AF_OK && (rc = af_tsv_next(&t, err, errlen)) == 1) {
        rc = parse_user(u, &t, n, err, errlen);
        n++;
    }
    if (rc == AF_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    else if (rc == AF_OK && n == 0) {
        snprintf(err, errlen, "%s:1: no users after the header", path);
        rc = AF_EINVAL;
    }
    af_tsv_close(&t);
    if (rc != AF_OK) {
        af_users_free(u);
        return NULL;
    }
    u->n = n;
    return u;
}

void
af_users_free(af_user_store *u)
{
    if (!u)
        return;
    free(u->id);
    free(u->geo);
    free(u->age_band);
    free(u->device);
    free(u->gender);
    free(u->interests);
    free(u->hist_off);
    free(u->hist_len);
    free(u->hist);
    af_idmap_free(&u->index);
    free(u);
}

uint32_t
af_users_count(const af_user_store *u)
{
    return u->n;
}

int
af_users_at(const af_user_store *u, uint32_t i, struct af_user *out)
{
    if (i >= u->n)
        return AF_ENOENT;
    out->id = u->id[i];
    out->geo = u->geo[i];
    out->age_band = u->age_band[i];
    out->device = u->device[i];
    out->gender = u->gender[i];
    out->interests = u->interests[i];
    out->n_history = u->hist_len[i];
    if (u->hist_len[i] > 0)
        memcpy(out->history, u->hist + u->hist_off[i],
               u->hist_len[i] * sizeof *u->hist);
    return AF_OK;
}

int64_t
af_users_find(const af_user_store *u, uint64_t id)
{
    return af_idmap_get(&u->index, id);
}

int
af_users_get(const af_user_store *u, uint64_t id, struct af_user *out)
{
    int64_t i = af_idmap_get(&u->index, id);
    return i < 0 ? AF_ENOENT : af_users_at(u, (uint32_t)i, out);
}
