/* world.c -- loading a world directory and evaluating its ground truth. */
#include "world/world.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adfunnel/af_errno.h"
#include "store/tsv.h"
#include "world/click.h"

struct af_world {
    af_catalog_store *catalog;
    af_user_store *users;
    struct af_click_model m;
    uint64_t seed;
    float *ad_int, *ad_lat; /* by catalog row                              */
    float *u_prop, *u_lat;  /* by user index                               */
    uint64_t *u_interests;  /* copies of the stored profile fields the     */
    int8_t *u_age;          /* model reads, so p needs no profile copy     */
    uint8_t *seen_ad, *seen_user; /* truth lines read (load time only)     */
};

static int
json_num(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return 0;
}

static int
read_affinity(json_t *cm, struct af_click_model *m)
{
    json_t *aff = json_object_get(cm, "affinity");
    if (!json_is_array(aff) || json_array_size(aff) != AF_WORLD_AGE_BANDS)
        return -1;
    for (size_t a = 0; a < AF_WORLD_AGE_BANDS; a++) {
        json_t *row = json_array_get(aff, a);
        if (!json_is_array(row) || json_array_size(row) != AF_WORLD_CATEGORIES)
            return -1;
        for (size_t c = 0; c < AF_WORLD_CATEGORIES; c++) {
            json_t *v = json_array_get(row, c);
            if (!json_is_number(v))
                return -1;
            m->aff[a][c] = (float)json_number_value(v);
        }
    }
    return 0;
}

static int
read_model(af_world *w, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/world.json", dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
        return AF_EINVAL;
    }
    json_t *cm = json_object_get(j, "click_model");
    json_t *exam = json_object_get(cm, "exam");
    json_t *seed = json_object_get(j, "seed");
    int bad = !json_is_object(cm) || json_num(cm, "b0", &w->m.b0) ||
              json_num(cm, "w_int", &w->m.w_int) ||
              json_num(cm, "w_q", &w->m.w_q) ||
              json_num(cm, "w_aff", &w->m.w_aff) ||
              json_num(exam, "alpha", &w->m.exam_alpha) ||
              w->m.exam_alpha < 0 || read_affinity(cm, &w->m) ||
              !json_is_integer(seed) || json_integer_value(seed) < 0;
    if (!bad)
        w->seed = (uint64_t)json_integer_value(seed);
    json_decref(j);
    if (bad) {
        snprintf(err, errlen,
                 "%s: missing or malformed seed or click_model (b0, w_int, "
                 "w_q, w_aff, exam.alpha, affinity[6][32])",
                 path);
        return AF_EINVAL;
    }
    return AF_OK;
}

enum { T_KIND, T_ID, T_BIAS, T_LAT0, T_NCOLS = T_LAT0 + AF_WORLD_LATENT };

static const char *const truth_schema[T_NCOLS] = {
    "kind", "id", "bias", "lat0", "lat1", "lat2",
    "lat3", "lat4", "lat5", "lat6", "lat7",
};

/* One truth line into the ad or user arrays. */
static int
read_truth_line(af_world *w, const struct af_tsv *t, char *err, size_t errlen)
{
    const char *kind = af_tsv_str(t, T_KIND);
    int is_ad = strcmp(kind, "ad") == 0;
    if (!is_ad && strcmp(kind, "user") != 0)
        return af_tsv_fail(t, err, errlen, "kind: '%s' is not ad or user",
                           kind);
    uint64_t id;
    int rc = af_tsv_u64(t, T_ID, &id, err, errlen);
    if (rc != AF_OK)
        return rc;
    int64_t i = is_ad ? af_catalog_find(w->catalog, id)
                      : af_users_find(w->users, id);
    if (i < 0)
        return af_tsv_fail(t, err, errlen, "%s %llu is not in %s", kind,
                           (unsigned long long)id,
                           is_ad ? "ads.tsv" : "users.tsv");
    uint8_t *seen = is_ad ? &w->seen_ad[i] : &w->seen_user[i];
    if (*seen)
        return af_tsv_fail(t, err, errlen, "duplicate truth for %s %llu",
                           kind, (unsigned long long)id);
    *seen = 1;
    double v;
    float *bias = is_ad ? &w->ad_int[i] : &w->u_prop[i];
    float *lat = (is_ad ? w->ad_lat : w->u_lat) + i * AF_WORLD_LATENT;
    if ((rc = af_tsv_num(t, T_BIAS, -50, 0, 50, &v, err, errlen)) != AF_OK)
        return rc;
    *bias = (float)v;
    for (uint32_t k = 0; k < AF_WORLD_LATENT; k++) {
        if ((rc = af_tsv_num(t, T_LAT0 + k, -50, 0, 50, &v, err, errlen)))
            return rc;
        lat[k] = (float)v;
    }
    return AF_OK;
}

static int
read_truth(af_world *w, const char *dir, char *err, size_t errlen)
{
    uint32_t n_ads = af_catalog_view(w->catalog)->n_ads;
    uint32_t n_users = af_users_count(w->users);
    w->ad_int = malloc(n_ads * sizeof *w->ad_int);
    w->ad_lat = malloc((size_t)n_ads * AF_WORLD_LATENT * sizeof *w->ad_lat);
    w->u_prop = malloc(n_users * sizeof *w->u_prop);
    w->u_lat = malloc((size_t)n_users * AF_WORLD_LATENT * sizeof *w->u_lat);
    w->seen_ad = calloc(n_ads, 1);
    w->seen_user = calloc(n_users, 1);
    w->u_interests = malloc(n_users * sizeof *w->u_interests);
    w->u_age = malloc(n_users);
    if (!w->ad_int || !w->ad_lat || !w->u_prop || !w->u_lat || !w->seen_ad ||
        !w->seen_user || !w->u_interests || !w->u_age) {
        snprintf(err, errlen, "%s: out of memory", dir);
        return AF_ENOMEM;
    }
    for (uint32_t i = 0; i < n_users; i++) {
        struct af_user u;
        af_users_at(w->users, i, &u);
        w->u_interests[i] = u.interests;
        w->u_age[i] = (int8_t)u.age_band;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/truth.tsv", dir);
    struct af_tsv t;
    int rc = af_tsv_open(&t, path, truth_schema, T_NCOLS, err, errlen);
    while (rc == AF_OK && (rc = af_tsv_next(&t, err, errlen)) == 1)
        rc = read_truth_line(w, &t, err, errlen);
    if (rc == AF_OK) {
        uint32_t missing_ad = 0, missing_user = 0;
        while (missing_ad < n_ads && w->seen_ad[missing_ad])
            missing_ad++;
        while (missing_user < n_users && w->seen_user[missing_user])
            missing_user++;
        if (missing_ad < n_ads || missing_user < n_users) {
            snprintf(err, errlen, "%s: no truth line for %s", path,
                     missing_ad < n_ads ? "some ads" : "some users");
            rc = AF_EINVAL;
        }
    }
    af_tsv_close(&t);
    return rc;
}

af_world *
af_world_load(const char *dir, char *err, size_t errlen)
{
    af_world *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "%s: out of memory", dir);
        return NULL;
    }
    if (!(w->catalog = af_catalog_load(dir, err, errlen)) ||
        !(w->users = af_users_load(dir, err, errlen)) ||
        read_model(w, dir, err, errlen) != AF_OK ||
        read_truth(w, dir, err, errlen) != AF_OK) {
        af_world_free(w);
        return NULL;
    }
    free(w->seen_ad);
    free(w->seen_user);
    w->seen_ad = w->seen_user = NULL;
    return w;
}

void
af_world_free(af_world *w)
{
    if (!w)
        return;
    af_catalog_free(w->catalog);
    af_users_free(w->users);
    free(w->ad_int);
    free(w->ad_lat);
    free(w->u_prop);
    free(w->u_lat);
    free(w->seen_ad);
    free(w->seen_user);
    free(w->u_interests);
    free(w->u_age);
    free(w);
}

const af_catalog_store *
af_world_catalog(const af_world *w)
{
    return w->catalog;
}

const af_user_store *
af_world_users(const af_world *w)
{
    return w->users;
}

const struct af_click_model *
af_world_model(const af_world *w)
{
    return &w->m;
}

uint64_t
af_world_seed(const af_world *w)
{
    return w->seed;
}

double
af_world_exam(const af_world *w, uint32_t pos)
{
    return af_click_exam(&w->m, pos);
}

double
af_world_p_click_profile(const af_world *w, const struct af_user *u,
                         int64_t user_index, uint32_t ad_row, uint32_t pos)
{
    const struct af_catalog *c = af_catalog_view(w->catalog);
    int known = user_index >= 0 && user_index < af_users_count(w->users);
    double z = af_click_logit(
        &w->m, u->interests, u->age_band, c->category[ad_row],
        c->quality[ad_row],
        known ? w->u_lat + (size_t)user_index * AF_WORLD_LATENT : NULL,
        w->ad_lat + (size_t)ad_row * AF_WORLD_LATENT, w->ad_int[ad_row],
        known ? w->u_prop[user_index] : 0.0f);
    return af_click_exam(&w->m, pos) * af_sigmoid(z);
}

double
af_world_p_click(const af_world *w, uint32_t user_index, uint32_t ad_row,
                 uint32_t pos)
{
    const struct af_catalog *c = af_catalog_view(w->catalog);
    double z = af_click_logit(
        &w->m, w->u_interests[user_index], w->u_age[user_index],
        c->category[ad_row], c->quality[ad_row],
        w->u_lat + (size_t)user_index * AF_WORLD_LATENT,
        w->ad_lat + (size_t)ad_row * AF_WORLD_LATENT, w->ad_int[ad_row],
        w->u_prop[user_index]);
    return af_click_exam(&w->m, pos) * af_sigmoid(z);
}

int
af_world_targets(const struct af_catalog *c, uint32_t row,
                 const struct af_user *u)
{
    return af_targets_raw(c->geo_mask[row], c->age_mask[row],
                          c->device_mask[row], c->interest_mask[row], u);
}
