/*
 * test_engine.c -- requests through real pipelines over a generated world:
 * the normal path, and every fallback (stage deadline, request deadline,
 * failing model, retriever breaking its contract).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <sys/stat.h>

#include "engine/engine.h"
#include "model/modelfile.h"
#include "pipeline/pipeline.h"
#include "../../plugins/model_lr/lr_format.h"
#include "world_fixture.h"

static struct fixture fx;

/* Head of every test pipeline (retrieval, filter, features). */
#define HEAD                                                                   \
    "surface \"s\" {\n"                                                        \
    "  retrieve = { { \"popular\", k = 200 } },\n"                             \
    "  filter = { \"targeting\", keep = 100 },\n"                              \
    "  features = { \"basic\" },\n"

/* An LR model over the basic features: bias only, so p = sigmoid(-3). */
static void
write_lr_model(void)
{
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/f.lua", fx.dir);
    fx_write(path, HEAD "  auction = \"gsp\" }\n");
    af_generation *g = fx_generation(&fx, path, 1, err, sizeof err);
    if (!g)
        fail_msg("%s", err);
    uint64_t fp = af_pipeline_fingerprint(af_generation_surface(g, "s"));
    af_generation_unref(g);

    enum { NB = 1024, ND = 3 };
    static char payload[sizeof(struct af_lr_payload_header) + 4 * (NB + ND)];
    struct af_lr_payload_header h = {.n_buckets = NB, .n_dense = ND, .bias = -3.0f};
    memset(payload, 0, sizeof payload);
    memcpy(payload, &h, sizeof h);
    snprintf(path, sizeof path, "%s/models", fx.dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/models/test.afm", fx.dir);
    struct af_modelfile_meta m = {.kind = "lr", .version = "lr-test-1",
                                  .fingerprint = fp};
    assert_int_equal(af_modelfile_write(path, &m, payload, sizeof payload, err,
                                        sizeof err), 0);
}

static int
setup(void **state)
{
    (void)state;
    if (fx_world(&fx, 300, 100) != 0)
        return -1;
    write_lr_model();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    fx_cleanup(&fx);
    return 0;
}

static af_generation *
build(const char *tail)
{
    char path[512], err[2048], text[4096];
    snprintf(text, sizeof text, "%s%s", HEAD, tail);
    fx_file(&fx, "p.lua", text, path, sizeof path);
    af_generation *g = fx_generation(&fx, path, 0, err, sizeof err);
    if (!g)
        fail_msg("%s", err);
    return g;
}

static void
rank(af_generation *g, af_arena *a, uint64_t user, struct af_rank_resp *resp)
{
    struct af_rank_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.surface, sizeof req.surface, "s");
    req.user.id = user;
    req.context.hour = req.context.day_of_week = -1;
    char err[512];
    assert_int_equal(af_engine_rank(g, &req, a, resp, err, sizeof err), 0);
}

static const struct af_stage_info *
stage(const struct af_rank_resp *r, const char *name)
{
    for (uint32_t i = 0; i < r->n_stages; i++)
        if (!strcmp(r->stages[i].stage, name))
            return &r->stages[i];
    fail_msg("no stage %s in response", name);
    return NULL;
}

/* First user id of the fixture's user store. */
static uint64_t
some_user(af_generation *g, uint32_t i)
{
    struct af_user u;
    assert_int_equal(af_users_at(af_generation_users(g), i, &u), 0);
    return u.id;
}

static void
normal_path(void **state)
{
    (void)state;
    af_generation *g = build(
        "  deadline_ms = 60000,\n" /* about results, not load */
        "  rank = { \"lr\", model = \"models/test.afm\", keep = 20 },\n"
        "  calibrate = \"identity\",\n"
        "  auction = { \"gsp\", reserve = 0.01, slots = 4 },\n"
        "  explore = \"greedy\" }\n");
    af_arena *a = af_arena_create(1 << 16, 0);
    uint32_t served = 0;
    for (uint32_t u = 0; u < 50; u++) {
        struct af_rank_resp r;
        af_arena_reset(a);
        rank(g, a, some_user(g, u), &r);
        assert_false(r.degraded);
        assert_true(r.n_ads <= 4);
        served += r.n_ads;
        assert_int_equal(r.n_stages, 7);
        assert_int_equal(r.n_models, 1);
        assert_string_equal(r.models[0].version, "lr-test-1");
        assert_true(stage(&r, "filter")->candidates_out <= 100);
        assert_true(stage(&r, "rank")->candidates_out <= 20);
        for (uint32_t i = 0; i < r.n_ads; i++) {
            assert_int_equal(r.ads[i].slot, i + 1);
            assert_true(r.ads[i].price >= 0.01f - 1e-6f);
            assert_true(r.ads[i].price <= r.ads[i].bid + 1e-6f);
            assert_true(fabsf(r.ads[i].pctr - 0.047426f) < 1e-4f); /* sigmoid(-3) */
            if (i)
                assert_true(r.ads[i].score <= r.ads[i - 1].score);
        }
    }
    assert_true(served > 0);
    af_arena_destroy(a);
    af_generation_unref(g);
}

static void
steady_state_uses_no_new_memory(void **state)
{
    (void)state;
    af_generation *g = build(
        "  rank = { \"lr\", model = \"models/test.afm\", keep = 20 },\n"
        "  auction = \"gsp\" }\n");
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_rank_resp r;
    for (uint32_t u = 0; u < 20; u++) {
        af_arena_reset(a);
        rank(g, a, some_user(g, u % 10), &r);
    }
    size_t cap = af_arena_capacity(a);
    for (uint32_t u = 0; u < 200; u++) {
        af_arena_reset(a);
        rank(g, a, some_user(g, u % 10), &r);
    }
    assert_int_equal(af_arena_capacity(a), cap);
    af_arena_destroy(a);
    af_generation_unref(g);
}

static void
slow_rank_falls_back(void **state)
{
    (void)state;
    af_generation *g = build(
        "  rank = { \"slow\", sleep_ms = 20, deadline_ms = 2, p = 0.5 },\n"
        "  auction = { \"gsp\", slots = 3 } }\n");
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_rank_resp r;
    rank(g, a, some_user(g, 0), &r);
    assert_true(r.degraded);
    assert_true(stage(&r, "rank")->timed_out);
    assert_true(r.n_ads > 0);
    /* The slow model's 0.5 was discarded: prior CTRs were used instead. */
    for (uint32_t i = 0; i < r.n_ads; i++)
        assert_true(r.ads[i].pctr != 0.5f);
    af_arena_destroy(a);
    af_generation_unref(g);
}

static void
late_request_skips_optional_stages(void **state)
{
    (void)state;
    af_generation *g = build(
        "  deadline_ms = 5,\n"
        "  prerank = { \"slow\", sleep_ms = 15, p = 0.2, on_timeout = \"keep\" },\n"
        "  rank = { \"lr\", model = \"models/test.afm\" },\n"
        "  calibrate = \"identity\",\n"
        "  auction = \"gsp\" }\n");
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_rank_resp r;
    rank(g, a, some_user(g, 1), &r);
    assert_true(r.degraded);
    assert_non_null(strstr(stage(&r, "rank")->error, "deadline"));
    assert_non_null(strstr(stage(&r, "calibrate")->error, "deadline"));
    /* prerank overran but kept its scores (on_timeout = "keep"). */
    for (uint32_t i = 0; i < r.n_ads; i++)
        assert_true(r.ads[i].pctr == 0.2f);
    assert_true(r.n_ads > 0);
    af_arena_destroy(a);
    af_generation_unref(g);
}

static void
failing_model_is_discarded(void **state)
{
    (void)state;
    af_generation *g = build("  deadline_ms = 60000,\n  rank = \"failing\",\n"
                             "  auction = \"gsp\" }\n");
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_rank_resp r;
    rank(g, a, some_user(g, 2), &r);
    assert_true(r.degraded);
    assert_non_null(strstr(stage(&r, "rank")->error, "failing"));
    for (uint32_t i = 0; i < r.n_ads; i++)
        assert_true(r.ads[i].pctr < 1.0f);
    af_arena_destroy(a);
    af_generation_unref(g);
}

static void
retrievers_merge_and_contract_is_enforced(void **state)
{
    (void)state;
    char path[512], err[2048];
    fx_file(&fx, "m.lua",
            "surface \"s\" {\n  deadline_ms = 60000,\n"
            "  retrieve = { { \"first_rows\", k = 50 }, { \"popular\", k = 300 } },\n"
            "  auction = \"gsp\" }\n",
            path, sizeof path);
    af_generation *g = fx_generation(&fx, path, 0, err, sizeof err);
    assert_non_null(g);
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_rank_resp r;
    rank(g, a, some_user(g, 3), &r);
    const struct af_stage_info *si = stage(&r, "retrieve");
    assert_true(si->candidates_out <= 300); /* 300 ads in the catalog */
    assert_true(si->candidates_out >= 50);
    assert_false(r.degraded);
    af_generation_unref(g);

    fx_file(&fx, "o.lua",
            "surface \"s\" {\n"
            "  retrieve = { { \"first_rows\", k = 10, overflow = true },\n"
            "               { \"popular\", k = 100 } },\n"
            "  auction = \"gsp\" }\n",
            path, sizeof path);
    g = fx_generation(&fx, path, 0, err, sizeof err);
    assert_non_null(g);
    af_arena_reset(a);
    rank(g, a, some_user(g, 3), &r);
    assert_true(r.degraded);
    assert_non_null(strstr(stage(&r, "retrieve")->error, "first_rows"));
    /* The offending rows were dropped; the second retriever still served. */
    assert_true(stage(&r, "retrieve")->candidates_out <= 100);
    assert_true(r.n_ads > 0);
    af_arena_destroy(a);
    af_generation_unref(g);
}

static void
unknown_surface(void **state)
{
    (void)state;
    af_generation *g = build("  auction = \"gsp\" }\n");
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_rank_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.surface, sizeof req.surface, "nope");
    struct af_rank_resp r;
    char err[512];
    assert_int_equal(af_engine_rank(g, &req, a, &r, err, sizeof err), AF_ENOENT);
    assert_non_null(strstr(err, "\"nope\""));
    assert_non_null(strstr(err, "served: s"));
    af_arena_destroy(a);
    af_generation_unref(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normal_path),
        cmocka_unit_test(steady_state_uses_no_new_memory),
        cmocka_unit_test(slow_rank_falls_back),
        cmocka_unit_test(late_request_skips_optional_stages),
        cmocka_unit_test(failing_model_is_discarded),
        cmocka_unit_test(retrievers_merge_and_contract_is_enforced),
        cmocka_unit_test(unknown_surface),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
