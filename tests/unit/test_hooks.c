/*
 * test_hooks.c -- request-time Lua hooks: what they do, their sandbox and
 * budget at request time, and that worker threads each get a state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>

#include "engine/engine.h"
#include "world_fixture.h"

static struct fixture fx;

static int
setup(void **state)
{
    (void)state;
    return fx_world(&fx, 400, 100);
}

static int
teardown(void **state)
{
    (void)state;
    fx_cleanup(&fx);
    return 0;
}

/* A generous deadline: these tests are about hooks, not load. */
#define HEAD                                                                   \
    "surface \"s\" {\n"                                                        \
    "  deadline_ms = 60000,\n"                                                 \
    "  retrieve = { { \"popular\", k = 300 } },\n"                             \
    "  auction = { \"gsp\", slots = 10 },\n"

static af_generation *
build(const char *tail, char *err, size_t n)
{
    char path[512], text[4096];
    snprintf(text, sizeof text, "%s%s", HEAD, tail);
    fx_file(&fx, "h.lua", text, path, sizeof path);
    return fx_generation(&fx, path, 0, err, n);
}

static void
rank(af_generation *g, af_arena *a, uint64_t user, struct af_rank_resp *r)
{
    struct af_rank_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.surface, sizeof req.surface, "s");
    req.user.id = user;
    req.context.hour = req.context.day_of_week = -1;
    char err[256];
    assert_int_equal(af_engine_rank(g, &req, a, r, err, sizeof err), 0);
}

static const struct af_stage_info *
stage(const struct af_rank_resp *r, const char *name)
{
    for (uint32_t i = 0; i < r->n_stages; i++)
        if (!strcmp(r->stages[i].stage, name))
            return &r->stages[i];
    return NULL;
}

static uint64_t
user_at(af_generation *g, uint32_t i)
{
    struct af_user u;
    assert_int_equal(af_users_at(af_generation_users(g), i, &u), 0);
    return u.id;
}

static void
filter_hook_drops_ads(void **state)
{
    (void)state;
    char err[1024];
    /* Keep only even ad ids. */
    af_generation *g = build("  hooks = { filter = function(ad, user, ctx)\n"
                             "    return ad.id % 2 == 0 end },\n}\n",
                             err, sizeof err);
    if (!g)
        fail_msg("%s", err);
    af_arena *a = af_arena_create(1 << 16, 0);
    for (uint32_t u = 0; u < 20; u++) {
        struct af_rank_resp r;
        af_arena_reset(a);
        rank(g, a, user_at(g, u), &r);
        assert_false(r.degraded);
        const struct af_stage_info *si = stage(&r, "hook.filter");
        assert_non_null(si);
        assert_true(si->candidates_out <= si->candidates_in);
        for (uint32_t i = 0; i < r.n_ads; i++)
            assert_int_equal(r.ads[i].ad_id % 2, 0);
    }
    af_arena_destroy(a);
    af_generation_unref(g);
}

static void
adjust_hook_scales_pctr(void **state)
{
    (void)state;
    char err[1024];
    af_generation *g = build("  hooks = { adjust = function(ad, user, ctx)\n"
                             "    if ctx.surface == 's' and user.id >= 0 then\n"
                             "      return 0.5 end return 1 end },\n}\n",
                             err, sizeof err);
    af_generation *base = NULL;
    assert_non_null(g);
    char path[512];
    fx_file(&fx, "b.lua", HEAD "}\n", path, sizeof path);
    base = fx_generation(&fx, path, 0, err, sizeof err);
    assert_non_null(base);
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_rank_resp r1, r2;
    rank(g, a, user_at(g, 0), &r1);
    rank(base, a, user_at(g, 0), &r2);
    assert_true(r1.n_ads > 0);
    const struct af_stage_info *si = stage(&r1, "hook.adjust");
    assert_non_null(si);
    if (si->error)
        fail_msg("%s", si->error);
    /* Each ad shown by both has half the pCTR with the hook (CPM ads do not
     * depend on pCTR, so the two orders may differ). */
    uint32_t matched = 0;
    for (uint32_t i = 0; i < r1.n_ads; i++)
        for (uint32_t j = 0; j < r2.n_ads; j++)
            if (r1.ads[i].ad_id == r2.ads[j].ad_id) {
                matched++;
                if (!(fabsf(r1.ads[i].pctr - r2.ads[j].pctr * 0.5f) < 1e-7f))
                    fail_msg("ad %llu: %g vs half of %g",
                             (unsigned long long)r1.ads[i].ad_id,
                             r1.ads[i].pctr, r2.ads[j].pctr);
            }
    assert_true(matched > 0);
    af_arena_destroy(a);
    af_generation_unref(g);
    af_generation_unref(base);
}

static void
runaway_hook_degrades_not_hangs(void **state)
{
    (void)state;
    char err[1024];
    af_generation *g = build("  hooks = { filter = function(ad)\n"
                             "    while true do end end },\n}\n",
                             err, sizeof err);
    assert_non_null(g);
    af_arena *a = af_arena_create(1 << 16, 0);
    for (int round = 0; round < 3; round++) { /* the state stays usable */
        struct af_rank_resp r;
        af_arena_reset(a);
        rank(g, a, user_at(g, 1), &r);
        assert_true(r.degraded);
        const struct af_stage_info *si = stage(&r, "hook.filter");
        assert_non_null(si->error);
        assert_non_null(strstr(si->error, "instruction limit"));
        assert_true(r.n_ads > 0); /* rows not judged pass */
    }
    af_arena_destroy(a);
    af_generation_unref(g);
}

static void
hooks_are_sandboxed_at_request_time(void **state)
{
    (void)state;
    char err[1024];
    af_generation *g = build("  hooks = { filter = function(ad)\n"
                             "    return io.open('/etc/passwd') ~= nil end },\n}\n",
                             err, sizeof err);
    assert_non_null(g);
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_rank_resp r;
    rank(g, a, user_at(g, 2), &r);
    assert_true(r.degraded);
    assert_non_null(strstr(stage(&r, "hook.filter")->error, "io"));
    af_arena_destroy(a);
    af_generation_unref(g);
}

static void
bad_hook_declarations_are_refused(void **state)
{
    (void)state;
    char err[1024];
    assert_null(build("  hooks = { filtre = function() end },\n}\n", err, sizeof err));
    assert_non_null(strstr(err, "unknown hook \"filtre\""));
    assert_non_null(strstr(err, "h.lua:5:"));
    assert_null(build("  hooks = { adjust = 3 },\n}\n", err, sizeof err));
    assert_non_null(strstr(err, "adjust must be a function"));
}

struct worker_arg {
    af_generation *g;
    int ok;
};

static void *
worker(void *p)
{
    struct worker_arg *w = p;
    af_arena *a = af_arena_create(1 << 16, 0);
    w->ok = 1;
    for (uint32_t i = 0; i < 200; i++) {
        struct af_rank_resp r;
        af_arena_reset(a);
        struct af_rank_req req;
        memset(&req, 0, sizeof req);
        snprintf(req.surface, sizeof req.surface, "s");
        struct af_user u;
        af_users_at(af_generation_users(w->g), i % 50, &u);
        req.user.id = u.id;
        char err[256];
        if (af_engine_rank(w->g, &req, a, &r, err, sizeof err) != 0)
            w->ok = 0;
        /* Only the hook's own failure counts: a loaded machine may push the
         * request past its deadline, which degrades it for other reasons. */
        const struct af_stage_info *si = stage(&r, "hook.filter");
        if (!si || si->error)
            w->ok = 0;
        for (uint32_t k = 0; k < r.n_ads; k++)
            if (r.ads[k].ad_id % 3 == 0)
                w->ok = 0;
    }
    af_arena_destroy(a);
    return NULL;
}

static void
concurrent_workers_get_their_own_state(void **state)
{
    (void)state;
    char err[1024];
    af_generation *g = build("  hooks = { filter = function(ad)\n"
                             "    return ad.id % 3 ~= 0 end },\n}\n",
                             err, sizeof err);
    assert_non_null(g);
    pthread_t t[4];
    struct worker_arg w[4];
    for (int i = 0; i < 4; i++) {
        w[i].g = g;
        pthread_create(&t[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(w[i].ok);
    }
    af_generation_unref(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filter_hook_drops_ads),
        cmocka_unit_test(adjust_hook_scales_pctr),
        cmocka_unit_test(runaway_hook_degrades_not_hangs),
        cmocka_unit_test(hooks_are_sandboxed_at_request_time),
        cmocka_unit_test(bad_hook_declarations_are_refused),
        cmocka_unit_test(concurrent_workers_get_their_own_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
