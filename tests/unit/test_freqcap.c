/*
 * test_freqcap.c -- the frequency_cap filter
 * (plugins/filter_frequency_cap/frequency_cap.c): GAM-style caps per user x
 * ad and user x campaign over hour, day and lifetime windows, exact to the
 * hour as the state keeps them; an n-hour cap counts the smallest state
 * window >= n hours; user 0 is not capped; fail closed or open; bad caps
 * refused with clear messages.
 */
#include "state_fixture.h"

static const af_loaded *fcap;

static int
group_setup(void **state)
{
    fcap = load_shipped("filter_frequency_cap.so");
    return 0;
}

static int
group_teardown(void **state)
{
    af_loader_close((af_loaded *)fcap);
    return 0;
}

/* A cap list as config: caps(c, k, max, units, unit, per). */
static void
cap(af_config *c, int k, double max, double units, const char *unit,
    const char *per)
{
    char key[64];
    snprintf(key, sizeof key, "caps.%d.max", k);
    af_config_set_num(c, key, max);
    snprintf(key, sizeof key, "caps.%d.units", k);
    af_config_set_num(c, key, units);
    snprintf(key, sizeof key, "caps.%d.time_unit", k);
    af_config_set_str(c, key, unit);
    if (per) {
        snprintf(key, sizeof key, "caps.%d.per", k);
        af_config_set_str(c, key, per);
    }
}

/* Rows 0, 1: campaign 200; rows 2, 3: campaigns 202, 203.  User 7. */
struct ffx {
    struct test_catalog cat;
    struct test_request tr;
    struct af_batch b;
    af_state *st;
    struct af_instance in;
};

static struct ffx *
ffx_new(af_config *cfg, af_state *st)
{
    struct ffx *f = calloc(1, sizeof *f);
    tc_init(&f->cat, 4);
    f->cat.campaign_id[1] = 200;
    treq_init(&f->tr, &f->cat.view);
    batch_new(&f->tr, &f->b, 8);
    for (uint32_t r = 0; r < 4; r++) {
        batch_add(&f->b, &f->cat.view, r);
        f->b.retrieval_score[r] = 0;
    }
    f->st = st ? st : af_state_embedded_new(1024);
    sf_instance(fcap, cfg, &f->cat.view, f->st, &f->in);
    return f;
}

static void
ffx_free(struct ffx *f, int own)
{
    af_instance_destroy(&f->in);
    if (own)
        af_state_free(f->st);
    treq_free(&f->tr);
    free(f);
}

/* Kept rows (bit mask) for user `user` at time t. */
static uint32_t
kept_at(struct ffx *f, uint64_t user, int64_t t)
{
    f->tr.req.user.id = user;
    f->tr.req.time_s = t;
    sf_clear_drops(&f->b);
    assert_int_equal(sf_filter(&f->in, &f->tr, &f->b), AF_OK);
    return sf_kept(&f->b);
}

static void
imp(struct ffx *f, uint64_t user, uint32_t row, int64_t t)
{
    sf_record(f->st, &f->cat.view, AF_EV_IMPRESSION, user, row, 1, t);
}

static void
test_per_ad_day(void **unused)
{
    af_config *c = af_config_new();
    cap(c, 1, 3, 1, "day", "ad");
    struct ffx *f = ffx_new(c, NULL);
    int64_t t = SF_DAY0 + 9 * SF_HOUR;
    for (int k = 0; k < 2; k++)
        imp(f, 7, 0, t);
    assert_int_equal(kept_at(f, 7, t), 0xf); /* 2 < 3 */
    imp(f, 7, 0, t);
    assert_int_equal(kept_at(f, 7, t), 0xe); /* 3: row 0 capped */
    /* Only for user 7 and only ad 1000: row 1 (same campaign) is fine. */
    assert_int_equal(kept_at(f, 8, t), 0xf);
    /* The calendar day: still capped at 23:59:59, free at 00:00. */
    assert_int_equal(kept_at(f, 7, SF_DAY0 + 24 * SF_HOUR - 1), 0xe);
    assert_int_equal(kept_at(f, 7, SF_DAY0 + 24 * SF_HOUR), 0xf);
    /* User 0 (no id) is never capped. */
    for (int k = 0; k < 5; k++)
        imp(f, 0, 0, t);
    assert_int_equal(kept_at(f, 0, t), 0xf);
    ffx_free(f, 1);
}

static void
test_per_campaign_hours(void **unused)
{
    af_config *c = af_config_new();
    cap(c, 1, 3, 1, "day", "ad");
    cap(c, 2, 4, 6, "hour", "campaign");
    struct ffx *f = ffx_new(c, NULL);
    int64_t t = SF_DAY0 + 10 * SF_HOUR + 100;
    imp(f, 7, 0, t - 5 * SF_HOUR); /* 05:01: hour 5, inside 10's 6h */
    imp(f, 7, 1, t - 2 * SF_HOUR);
    imp(f, 7, 1, t);
    /* campaign 200: 3 < 4, but rows 0 and 1 both of it: one more only, the
     * better by retrieval score (equal: the lower catalog row, row 0). */
    assert_int_equal(kept_at(f, 7, t), 0xd);
    imp(f, 8, 1, t);
    assert_int_equal(kept_at(f, 8, t), 0xf); /* user 8: 1 of 4 */
    imp(f, 7, 0, t);
    assert_int_equal(kept_at(f, 7, t), 0xc); /* 4: rows 0, 1 capped */
    /* At 11:00 hour 5 leaves the 6h window: 3 of 4, room for one more,
     * and campaign 200 has two candidates: only the better one stays (row
     * 1 once its retrieval score is higher). */
    assert_int_equal(kept_at(f, 7, SF_DAY0 + 11 * SF_HOUR), 0xd);
    f->b.retrieval_score[1] = 5;
    assert_int_equal(kept_at(f, 7, SF_DAY0 + 11 * SF_HOUR), 0xe);
    /* At 16:00 the 6h window starts at 11:00: room for both again. */
    assert_int_equal(kept_at(f, 7, SF_DAY0 + 16 * SF_HOUR), 0xf);
    ffx_free(f, 1);
}

/* A 3-hour cap counts the 6-hour window: never exceeded, only stricter. */
static void
test_hours_round_up(void **unused)
{
    af_config *c = af_config_new();
    cap(c, 1, 1, 3, "hour", "ad");
    struct ffx *f = ffx_new(c, NULL);
    int64_t t = SF_DAY0 + 12 * SF_HOUR;
    imp(f, 7, 2, t - 4 * SF_HOUR); /* 4 hours ago: outside 3h, inside 6h */
    assert_int_equal(kept_at(f, 7, t), 0xb);
    assert_int_equal(kept_at(f, 7, t + 2 * SF_HOUR), 0xf); /* 6h later */
    ffx_free(f, 1);

    c = af_config_new();
    cap(c, 1, 2, 1, "hour", "ad");
    f = ffx_new(c, NULL);
    imp(f, 7, 3, t + 1);
    imp(f, 7, 3, t + 3599);
    assert_int_equal(kept_at(f, 7, t + 3599), 0x7);
    assert_int_equal(kept_at(f, 7, t + 3600), 0xf); /* next hour */
    ffx_free(f, 1);

    c = af_config_new();
    cap(c, 1, 1, 24, "hours", "ad");
    f = ffx_new(c, NULL);
    imp(f, 7, 3, t);
    assert_int_equal(kept_at(f, 7, t + 23 * SF_HOUR), 0x7);
    assert_int_equal(kept_at(f, 7, t + 24 * SF_HOUR), 0xf);
    ffx_free(f, 1);
}

static void
test_lifetime_and_min(void **unused)
{
    af_config *c = af_config_new();
    cap(c, 1, 5, 1, "lifetime", "ad");
    cap(c, 2, 2, 1, "all", "ad"); /* same window: the lower max wins */
    struct ffx *f = ffx_new(c, NULL);
    imp(f, 7, 2, SF_DAY0 - 40 * 86400);
    assert_int_equal(kept_at(f, 7, SF_DAY0), 0xf);
    imp(f, 7, 2, SF_DAY0 - 86400);
    assert_int_equal(kept_at(f, 7, SF_DAY0), 0xb);
    ffx_free(f, 1);

    c = af_config_new();
    cap(c, 1, 0, 1, "day", NULL); /* max 0: never shown; per defaults ad */
    f = ffx_new(c, NULL);
    assert_int_equal(kept_at(f, 7, SF_DAY0), 0);
    ffx_free(f, 1);
}

static void
test_state_down(void **unused)
{
    af_config *c = af_config_new();
    cap(c, 1, 3, 1, "day", "ad");
    struct ffx *f = ffx_new(c, sf_failing_state());
    f->tr.req.user.id = 7;
    f->tr.req.time_s = SF_DAY0;
    assert_int_equal(sf_filter(&f->in, &f->tr, &f->b), AF_EIO);
    assert_int_equal(sf_kept(&f->b), 0);
    ffx_free(f, 0);
    c = af_config_new();
    cap(c, 1, 3, 1, "day", "ad");
    af_config_set_str(c, "on_error", "open");
    f = ffx_new(c, sf_failing_state());
    f->tr.req.user.id = 7;
    f->tr.req.time_s = SF_DAY0;
    assert_int_equal(sf_filter(&f->in, &f->tr, &f->b), AF_EIO);
    assert_int_equal(sf_kept(&f->b), 0xf);
    ffx_free(f, 0);
}

static void
test_bad_caps(void **unused)
{
    af_config *c = af_config_new();
    cap(c, 1, 3, 25, "hour", "ad");
    sf_create_error(fcap, c, "caps[1]: hours are supported up to 24, got 25");
    c = af_config_new();
    cap(c, 1, 3, 1, "week", "ad");
    sf_create_error(fcap, c, "time_unit must be \"hour\", \"day\" or "
                             "\"lifetime\", got \"week\"");
    c = af_config_new();
    cap(c, 1, 3, 2, "day", "ad");
    sf_create_error(fcap, c, "time_unit \"day\" takes units = 1");
    c = af_config_new();
    cap(c, 1, 3, 1, "day", "advertiser");
    sf_create_error(fcap, c, "per must be \"ad\" or \"campaign\"");
    c = af_config_new();
    cap(c, 2, 3, 1, "day", "ad");
    sf_create_error(fcap, c, "caps[1]: max is missing");
    sf_create_error(fcap, af_config_new(), "caps is missing");
    sf_create_error(fcap, cfg_nums("max", 3.0, NULL),
                    "unknown parameter \"max\"");
    c = af_config_new();
    cap(c, 1, -1, 1, "day", "ad");
    sf_create_error(fcap, c, "caps.1.max must be an integer in 0..1000000000");
    c = af_config_new();
    af_config_set_num(c, "caps.1.max", 3);
    sf_create_error(fcap, c, "caps[1]: time_unit is missing");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_ad_day),
        cmocka_unit_test(test_per_campaign_hours),
        cmocka_unit_test(test_hours_round_up),
        cmocka_unit_test(test_lifetime_and_min),
        cmocka_unit_test(test_state_down),
        cmocka_unit_test(test_bad_caps),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
