/*
 * state_fixture.h -- plugins that read the online state, for the tests of
 * the filters and exploration plugins of issue 4 (test_pacing.c,
 * test_freqcap.c, test_policy.c, test_exploration.c).
 *
 * A plugin instance is created as the server does (af_instance_create) but
 * with an embedded state (core/state/state.h) behind host->state_read, and
 * events are recorded into that state directly.  A failing backend stands
 * in for an unreachable one.  Header-only: include it once per test binary.
 */
#ifndef AF_TEST_STATE_FIXTURE_H
#define AF_TEST_STATE_FIXTURE_H

#include "state/state.h"
#include "auction_fixture.h" /* cfg_nums, cfg_str; the harness */

/* Monday 2026-01-05 00:00:00 UTC. */
#define SF_DAY0 INT64_C(1767571200)
#define SF_HOUR 3600

/* Create plugin p with cfg (freed here) over catalog cat and state st. */
static inline void
sf_instance(const af_loaded *p, af_config *cfg, const struct af_catalog *cat,
            af_state *st, struct af_instance *out)
{
    struct af_instance_opts opts = {.label = "test", .data_dir = "",
                                    .catalog = cat, .state = st};
    char err[1024] = "";
    int rc = af_instance_create(p, cfg, &opts, out, err, sizeof err);
    af_config_free(cfg);
    if (rc != AF_OK)
        fail_msg("create %s failed (%d): %s", p->desc->name, rc, err);
}

/* Creating p with cfg (freed here) fails with AF_EINVAL and `msg`. */
static inline void
sf_create_error(const af_loaded *p, af_config *cfg, const char *msg)
{
    struct test_catalog cat;
    tc_init(&cat, 4);
    af_state *st = af_state_embedded_new(16);
    struct af_instance_opts opts = {.label = "test", .data_dir = "",
                                    .catalog = &cat.view, .state = st};
    struct af_instance in;
    char err[1024] = "";
    int rc = af_instance_create(p, cfg, &opts, &in, err, sizeof err);
    af_config_free(cfg);
    af_state_free(st);
    if (rc == AF_OK)
        af_instance_destroy(&in);
    if (rc != AF_EINVAL || !strstr(err, msg))
        fail_msg("got rc %d \"%s\", want AF_EINVAL \"%s\"", rc, err, msg);
}

/* Record one event of `type` for catalog row `row` and `user` at t. */
static inline void
sf_record(af_state *st, const struct af_catalog *cat, int type, uint64_t user,
          uint32_t row, double value, int64_t t)
{
    struct af_state_event ev = {
        .type = type, .user_id = user, .ad_id = cat->ad_id[row],
        .campaign_id = cat->campaign_id[row],
        .advertiser_id = cat->advertiser_id[row], .value = value, .time_s = t};
    assert_int_equal(af_state_record(st, &ev), AF_OK);
}

/* A backend whose every operation fails with AF_EIO. */
static int
sf_fail_record(af_state *s, const struct af_state_event *ev)
{
    (void)s;
    (void)ev;
    return AF_EIO;
}

static int
sf_fail_read(af_state *s, int entity, int event, int window, int64_t now_s,
             const uint64_t *keys, uint32_t n, double *out)
{
    (void)s, (void)entity, (void)event, (void)window, (void)now_s;
    (void)keys, (void)n, (void)out;
    return AF_EIO;
}

static void
sf_fail_free(af_state *s)
{
    (void)s;
}

static const struct af_state_ops sf_failing_ops = {
    .record = sf_fail_record, .read = sf_fail_read, .free = sf_fail_free};

/* A state that is always unreachable (static: nothing to free). */
static inline af_state *
sf_failing_state(void)
{
    static struct af_state failing = {.ops = &sf_failing_ops};
    return &failing;
}

/* Run a filter instance on b. */
static inline int
sf_filter(const struct af_instance *in, struct test_request *tr,
          struct af_batch *b)
{
    const struct af_filter_ops *ops = in->ops;
    return ops->filter(in->inst, &tr->req, b);
}

/* Rows of b not marked to drop, as a bit mask over batch rows. */
static inline uint32_t
sf_kept(const struct af_batch *b)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < b->n && i < 32; i++)
        if (!b->drop[i])
            m |= 1u << i;
    return m;
}

static inline void
sf_clear_drops(struct af_batch *b)
{
    for (uint32_t i = 0; i < b->n; i++)
        b->drop[i] = 0;
}

#endif
