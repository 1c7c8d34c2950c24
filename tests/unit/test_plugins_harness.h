/*
 * test_plugins_harness.h -- running shipped plugins the way the server does,
 * for the plugin unit tests (test_gsp.c, test_plugins_basic.c).
 *
 * A plugin is opened with af_loader_open from $AF_PLUGIN_DIR and
 * instantiated with af_instance_create, so the tests exercise the real
 * loader checks and host-services table.  A small hand-written catalog
 * (struct test_catalog) and a request backed by a real arena stand in for a
 * generation.  Header-only: each test binary includes it once.
 */
#ifndef AF_TEST_PLUGINS_HARNESS_H
#define AF_TEST_PLUGINS_HARNESS_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"
#include "engine/batch.h"
#include "engine/host.h"
#include "engine/rank_types.h"
#include "loader/loader.h"
#include "mem/arena.h"

#define TC_MAX 32

/* A catalog of up to TC_MAX ads, every column an array of its own. */
struct test_catalog {
    uint64_t ad_id[TC_MAX];
    uint32_t advertiser_id[TC_MAX];
    uint32_t campaign_id[TC_MAX];
    uint16_t category[TC_MAX];
    uint8_t bid_type[TC_MAX];
    float bid[TC_MAX];
    float quality[TC_MAX];
    float prior_ctr[TC_MAX];
    float daily_budget[TC_MAX];
    uint32_t geo_mask[TC_MAX];
    uint8_t age_mask[TC_MAX];
    uint8_t device_mask[TC_MAX];
    uint64_t interest_mask[TC_MAX];
    struct af_catalog view;
};

/* n ads: ad_id 1000+i, advertiser 100+i, campaign 200+i, category i % 4,
 * CPC bid 1, quality 1, prior CTR 0.01, no targeting. */
static inline void
tc_init(struct test_catalog *t, uint32_t n)
{
    assert_true(n <= TC_MAX);
    memset(t, 0, sizeof *t);
    for (uint32_t i = 0; i < n; i++) {
        t->ad_id[i] = 1000 + i;
        t->advertiser_id[i] = 100 + i;
        t->campaign_id[i] = 200 + i;
        t->category[i] = (uint16_t)(i % 4);
        t->bid_type[i] = AF_BID_CPC;
        t->bid[i] = 1.0f;
        t->quality[i] = 1.0f;
        t->prior_ctr[i] = 0.01f;
        t->daily_budget[i] = 100.0f;
    }
    struct af_catalog *v = &t->view;
    v->struct_size = sizeof *v;
    v->n_ads = n;
    v->ad_id = t->ad_id;
    v->advertiser_id = t->advertiser_id;
    v->campaign_id = t->campaign_id;
    v->category = t->category;
    v->bid_type = t->bid_type;
    v->bid = t->bid;
    v->quality = t->quality;
    v->prior_ctr = t->prior_ctr;
    v->daily_budget = t->daily_budget;
    v->geo_mask = t->geo_mask;
    v->age_mask = t->age_mask;
    v->device_mask = t->device_mask;
    v->interest_mask = t->interest_mask;
    v->n_categories = 32;
    v->n_geos = 16;
    v->n_age_bands = 6;
    v->n_devices = 3;
}

/* A request with an arena, a seeded generator and an unknown user. */
struct test_request {
    af_arena *arena;
    af_rng rng;
    struct af_request req;
};

static inline void
treq_init(struct test_request *t, const struct af_catalog *cat)
{
    memset(t, 0, sizeof *t);
    t->arena = af_arena_create(1 << 16, 0);
    assert_non_null(t->arena);
    af_rng_seed(&t->rng, 42);
    struct af_request *r = &t->req;
    r->struct_size = sizeof *r;
    r->request_id = "test";
    r->surface = "test";
    r->arm = "control";
    r->user.id = 7;
    r->user.geo = r->user.age_band = r->user.device = r->user.gender = -1;
    r->context.hour = r->context.day_of_week = -1;
    r->context.position = 0;
    r->arena = t->arena;
    r->rng = &t->rng;
    r->catalog = cat;
}

static inline void
treq_free(struct test_request *t)
{
    af_arena_destroy(t->arena);
}

/* Path of a file in the directory named by env var `env`. */
static inline const char *
test_path(const char *env, const char *file, char *buf, size_t buflen)
{
    const char *dir = getenv(env);
    if (dir == NULL || dir[0] == '\0')
        fail_msg("environment variable %s is not set (see tests/CMakeLists.txt)",
                 env);
    snprintf(buf, buflen, "%s/%s", dir, file);
    return buf;
}

/* Open $AF_PLUGIN_DIR/<file> or fail the test. */
static inline af_loaded *
load_shipped(const char *file)
{
    char path[4096], err[1024];
    af_loaded *p = NULL;
    test_path("AF_PLUGIN_DIR", file, path, sizeof path);
    if (af_loader_open(path, &p, err, sizeof err) != AF_OK)
        fail_msg("cannot load %s: %s", path, err);
    return p;
}

/* af_instance_create with a test label and data dir "" (paths as given). */
static inline int
make_instance(const af_loaded *p, const af_config *cfg,
              const struct af_catalog *cat, uint64_t fingerprint,
              struct af_instance *out, char *err, size_t errlen)
{
    struct af_instance_opts opts = {
        .label = "test",
        .data_dir = "",
        .catalog = cat,
        .feature_fingerprint = fingerprint,
    };
    return af_instance_create(p, cfg, &opts, out, err, errlen);
}

/* make_instance that must succeed. */
static inline void
must_instance(const af_loaded *p, const af_config *cfg,
              const struct af_catalog *cat, struct af_instance *out)
{
    char err[1024] = "";
    int rc = make_instance(p, cfg, cat, 0, out, err, sizeof err);
    if (rc != AF_OK)
        fail_msg("create %s failed (%d): %s", p->desc->name, rc, err);
}

/* A batch of capacity cap in the request's arena. */
static inline void
batch_new(struct test_request *t, struct af_batch *b, uint32_t cap)
{
    assert_int_equal(af_batch_init(b, t->arena, cap), AF_OK);
}

/* Append catalog row `row` with its catalog bid. */
static inline void
batch_add(struct af_batch *b, const struct af_catalog *cat, uint32_t row)
{
    assert_true(b->n < b->cap);
    b->ad[b->n] = row;
    b->bid[b->n] = cat->bid[row];
    b->drop[b->n] = 0;
    b->n++;
}

#endif
