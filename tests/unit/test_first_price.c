/*
 * test_first_price.c -- the "first_price" auction plugin on hand-computed
 * cases.  Rule under test: the gsp score and participation rule
 *
 *   score_i = bid_i * e_i - neg_penalty * pneg_i,
 *   e_i = pctr^s * q (CPC), pctr^s * pcvr * q (CPA), q / 1000 (CPM);
 *   rows with bid < reserve_i or score < 0 do not take part;
 *
 * ranked by score (ties: lower catalog row), and every winner pays its bid.
 */
#include "auction_fixture.h"

#define EPS 1e-6

static const af_loaded *fp_plugin;

static int
group_setup(void **state)
{
    fp_plugin = load_shipped("auction_first_price.so");
    return 0;
}

static int
group_teardown(void **state)
{
    af_loader_close((af_loaded *)fp_plugin);
    return 0;
}

/* --- cases --- */

static void
test_pays_the_bid(void **state)
{
    /* row 0: 2 * 0.25 = 0.5; row 1: 1 * 0.375 = 0.375; row 2: 4 * 0.0625 =
     * 0.25.  2 slots: rows 0 and 1, paying 2 and 1. */
    struct auction *a = auction_open(fp_plugin, af_config_new(), 2);
    bidder(a, 0, 2.0f, 0.25f, 1.0f);
    bidder(a, 1, 1.0f, 0.375f, 1.0f);
    bidder(a, 2, 4.0f, 0.0625f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 2.0);
    expect_slot(a, 1, 1, 1.0);
    assert_float_equal(a->b.score[2], 0.25, EPS);
    auction_free(a);
}

static void
test_reserve(void **state)
{
    /* reserve 0.5: row 2 (bid 0.4375, score 0.4375) is left out although it
     * outscores row 1 (1.5 * 0.25 = 0.375). */
    struct auction *a =
        auction_open(fp_plugin, cfg_nums("reserve", 0.5, NULL), 5);
    bidder(a, 0, 2.0f, 0.5f, 1.0f);
    bidder(a, 1, 1.5f, 0.25f, 1.0f);
    bidder(a, 2, 0.4375f, 1.0f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 2.0);
    expect_slot(a, 1, 1, 1.5);
    auction_free(a);

    /* A single bidder pays its bid, not the reserve; a bid equal to the
     * reserve takes part. */
    a = auction_open(fp_plugin, cfg_nums("reserve", 0.375, NULL), 5);
    bidder(a, 0, 0.375f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 1);
    expect_slot(a, 0, 0, 0.375);
    auction_free(a);

    /* All under the reserve: no slot. */
    a = auction_open(fp_plugin, cfg_nums("reserve", 5.0, NULL), 5);
    bidder(a, 0, 1.0f, 0.5f, 1.0f);
    bidder(a, 1, 2.0f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 0);
    auction_free(a);
}

static void
test_per_advertiser_reserve(void **state)
{
    /* Advertiser 101 (row 1) has reserve 2: its bid 1.5 is out.
     * Advertiser 102 (row 2) has 0.1 under the surface's 0.5: bid 0.25 in. */
    af_config *cfg = cfg_nums("reserve", 0.5, "reserve_by_advertiser.101", 2.0,
                              "reserve_by_advertiser.102", 0.1, NULL);
    struct auction *a = auction_open(fp_plugin, cfg, 5);
    bidder(a, 0, 1.0f, 0.5f, 1.0f);  /* 0.5   */
    bidder(a, 1, 1.5f, 0.5f, 1.0f);  /* 0.75, out */
    bidder(a, 2, 0.25f, 0.5f, 1.0f); /* 0.125 */
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 1.0);
    expect_slot(a, 1, 2, 0.25);
    auction_free(a);
}

static void
test_quality_changes_order(void **state)
{
    /* With quality: row 1 (1 * 0.25 * 1 = 0.25) beats row 0 (2 * 0.25 *
     * 0.25 = 0.125).  Without: row 0 (0.5) beats row 1 (0.25). */
    struct auction *a = auction_open(fp_plugin, af_config_new(), 5);
    bidder(a, 0, 2.0f, 0.25f, 0.25f);
    bidder(a, 1, 1.0f, 0.25f, 1.0f);
    run(a);
    expect_slot(a, 0, 1, 1.0);
    expect_slot(a, 1, 0, 2.0);
    auction_free(a);

    af_config *cfg = af_config_new();
    af_config_set_bool(cfg, "quality", 0);
    a = auction_open(fp_plugin, cfg, 5);
    bidder(a, 0, 2.0f, 0.25f, 0.25f);
    bidder(a, 1, 1.0f, 0.25f, 1.0f);
    run(a);
    expect_slot(a, 0, 0, 2.0);
    expect_slot(a, 1, 1, 1.0);
    auction_free(a);
}

static void
test_ties(void **state)
{
    /* Catalog rows 1 and 0 tie at 0.25 (bids 1 and 0.5); catalog row 0
     * (batch row 1) goes first. */
    struct auction *a = auction_open(fp_plugin, af_config_new(), 5);
    bidder(a, 1, 1.0f, 0.25f, 1.0f);
    bidder(a, 0, 0.5f, 0.5f, 1.0f);
    run(a);
    expect_slot(a, 0, 1, 0.5);
    expect_slot(a, 1, 0, 1.0);
    auction_free(a);
}

static void
test_cpc_cpa_cpm(void **state)
{
    /* row 0 CPM 400 per mille: 0.4; row 1 CPA 10 (pctr 0.25, pcvr 0.125):
     * 0.3125; row 2 CPC 1 (pctr 0.25): 0.25.  Each pays its bid in its own
     * unit: 400 per mille, 10 per conversion, 1 per click. */
    struct auction *a = auction_open(fp_plugin, af_config_new(), 5);
    bidder_full(a, 2, AF_BID_CPC, 1.0f, 0.25f, 0.0f, 0.0f, 1.0f);
    bidder_full(a, 1, AF_BID_CPA, 10.0f, 0.25f, 0.125f, 0.0f, 1.0f);
    bidder_full(a, 0, AF_BID_CPM, 400.0f, 0.5f, 0.0f, 0.0f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 3);
    expect_slot(a, 0, 2, 400.0);
    expect_slot(a, 1, 1, 10.0);
    expect_slot(a, 2, 0, 1.0);
    auction_free(a);
}

static void
test_squash_and_penalty(void **state)
{
    /* squash 0.5: row 0 (1 * sqrt(0.25) = 0.5) beats row 1 (0.5 *
     * sqrt(0.5625) = 0.375); unsquashed row 1 (0.28125) would win. */
    struct auction *a =
        auction_open(fp_plugin, cfg_nums("squash", 0.5, NULL), 5);
    bidder(a, 0, 1.0f, 0.25f, 1.0f);
    bidder(a, 1, 0.5f, 0.5625f, 1.0f);
    run(a);
    expect_slot(a, 0, 0, 1.0);
    expect_slot(a, 1, 1, 0.5);
    auction_free(a);

    /* neg_penalty 2: row 0 = 2 * 0.5 - 2 * 0.125 = 0.75, row 1 = 4 * 0.25
     * - 2 * 0.375 = 0.25, row 2 = 0.25 - 2 * 0.5 < 0: left out. */
    a = auction_open(fp_plugin, cfg_nums("neg_penalty", 2.0, NULL), 5);
    bidder_full(a, 0, AF_BID_CPC, 2.0f, 0.5f, 0.0f, 0.125f, 1.0f);
    bidder_full(a, 1, AF_BID_CPC, 4.0f, 0.25f, 0.0f, 0.375f, 1.0f);
    bidder_full(a, 2, AF_BID_CPC, 1.0f, 0.25f, 0.0f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 2.0);
    expect_slot(a, 1, 1, 4.0);
    auction_free(a);
}

static void
test_empty_and_zero_slots(void **state)
{
    struct auction *a = auction_open(fp_plugin, af_config_new(), 3);
    run(a);
    assert_int_equal(a->slots.n, 0);
    auction_free(a);

    a = auction_open(fp_plugin, af_config_new(), 0);
    bidder(a, 0, 1.0f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 0);
    assert_float_equal(a->b.score[0], 0.5, EPS);
    auction_free(a);
}

static void
test_bad_parameters(void **state)
{
    expect_create_error(fp_plugin, cfg_str("reserve", "cheap"),
                        "reserve must be a number in [0, 1e+09], got cheap");
    expect_create_error(fp_plugin, cfg_nums("position_ctr.1", 1.0, NULL),
                        "unknown parameter \"position_ctr.1\"");
    expect_create_error(fp_plugin, cfg_nums("squash", 9.0, NULL),
                        "squash must be a number in [0, 4], got 9");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pays_the_bid),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_per_advertiser_reserve),
        cmocka_unit_test(test_quality_changes_order),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_cpc_cpa_cpm),
        cmocka_unit_test(test_squash_and_penalty),
        cmocka_unit_test(test_empty_and_zero_slots),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
