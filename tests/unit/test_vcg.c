/*
 * test_vcg.c -- the "vcg" auction plugin on hand-computed cases.
 *
 * Rule under test (plugins/auction_vcg/README.md).  alpha_k is the position
 * factor of slot k (position_ctr, or 1 / (1 + 0.35 k)); m the number of
 * slots in the auction, alpha_m = 0; s_k the score of the k-th ranked bidder
 * (0 when there is none):
 *
 *   score_i = bid_i * e_i - pen_i     (as gsp, no squashing)
 *   without reserve and penalty:
 *     price_j = sum_{k=j+1..m} (alpha_{k-1} - alpha_k) * s_k / (alpha_j * e_j)
 *   in general (VCG with reserve):
 *     g_k     = max(reserve_j, (s_{k+1} + pen_j) / e_j)
 *     price_j = sum_{k=j..m-1} (alpha_k - alpha_{k+1}) / alpha_j * g_k
 *   then clamped to [reserve_j, bid_j].
 *
 * Position factors, bids and pCTRs are binary fractions where possible, so
 * the expected prices below are exact.
 */
#include "auction_fixture.h"

#define EPS 1e-6

static const af_loaded *vcg_plugin;

static int
group_setup(void **state)
{
    vcg_plugin = load_shipped("auction_vcg.so");
    return 0;
}

static int
group_teardown(void **state)
{
    af_loader_close((af_loaded *)vcg_plugin);
    return 0;
}

/* Set position_ctr.1 .. position_ctr.n in cfg (a Lua list, flattened). */
static af_config *
with_positions(af_config *cfg, uint32_t n, const double *alpha)
{
    for (uint32_t k = 0; k < n; k++) {
        char key[32];
        snprintf(key, sizeof key, "position_ctr.%u", k + 1);
        assert_int_equal(af_config_set_num(cfg, key, alpha[k]), 0);
    }
    return cfg;
}

static const double alpha3[] = {1.0, 0.75, 0.5};
static const double alpha2[] = {1.0, 0.5};

/* The four CPC bidders of the first cases: scores 1, 0.5, 0.25, 0.125. */
static void
four_bidders(struct auction *a)
{
    bidder(a, 0, 4.0f, 0.25f, 1.0f); /* 1.0   */
    bidder(a, 1, 2.0f, 0.25f, 1.0f); /* 0.5   */
    bidder(a, 2, 1.0f, 0.25f, 1.0f); /* 0.25  */
    bidder(a, 3, 0.5f, 0.25f, 1.0f); /* 0.125 */
}

/* --- cases --- */

static void
test_three_slots_externality(void **state)
{
    /* alpha = 1, 0.75, 0.5; 3 slots; e = 0.25 for all.
     * slot 0: (0.25 * 0.5 + 0.25 * 0.25 + 0.5 * 0.125) / (1 * 0.25)
     *       = (0.125 + 0.0625 + 0.0625) / 0.25 = 1.0      (gsp: 2)
     * slot 1: (0.25 * 0.25 + 0.5 * 0.125) / (0.75 * 0.25)
     *       = 0.125 / 0.1875 = 2/3                       (gsp: 1)
     * slot 2: 0.5 * 0.125 / (0.5 * 0.25) = 0.5           (gsp: 0.5)
     * Row 3, the first loser, is not shown but enters every price. */
    struct auction *a = auction_open(
        vcg_plugin, with_positions(af_config_new(), 3, alpha3), 3);
    four_bidders(a);
    run(a);
    assert_int_equal(a->slots.n, 3);
    expect_slot(a, 0, 0, 1.0);
    expect_slot(a, 1, 1, 2.0 / 3.0);
    expect_slot(a, 2, 2, 0.5);
    assert_float_equal(a->b.score[3], 0.125, EPS);
    auction_free(a);
}

static void
test_reserve_binds(void **state)
{
    /* Same, reserve 0.75: row 3 (bid 0.5) is out, so s_3 = 0.
     * slot 0: weights 0.25, 0.25, 0.5 on g = max(0.75, 0.5/0.25 = 2) = 2,
     *         max(0.75, 0.25/0.25 = 1) = 1, max(0.75, 0) = 0.75
     *         -> 0.5 + 0.25 + 0.375 = 1.125
     * slot 1: weights 0.25/0.75 = 1/3, 0.5/0.75 = 2/3 on g = 1, 0.75
     *         -> 1/3 + 1/2 = 5/6
     * slot 2: weight 1 on max(0.75, 0) -> 0.75, the reserve. */
    af_config *cfg = with_positions(cfg_nums("reserve", 0.75, NULL), 3, alpha3);
    struct auction *a = auction_open(vcg_plugin, cfg, 3);
    four_bidders(a);
    run(a);
    assert_int_equal(a->slots.n, 3);
    expect_slot(a, 0, 0, 1.125);
    expect_slot(a, 1, 1, 5.0 / 6.0);
    expect_slot(a, 2, 2, 0.75);
    auction_free(a);
}

static void
test_quality_and_pctr_divide_the_price(void **state)
{
    /* alpha = 1, 0.5; 2 slots; quality on.
     *   row 0: bid 1, pctr 0.5,   q 1:   e 0.5,    score 0.5
     *   row 1: bid 2, pctr 0.25,  q 0.5: e 0.125,  score 0.25
     *   row 2: bid 1, pctr 0.125, q 1:   e 0.125,  score 0.125
     * slot 0: (0.5 * 0.25 + 0.5 * 0.125) / (1 * 0.5 * 1)  = 0.375 (gsp 0.5)
     * slot 1: 0.5 * 0.125 / (0.5 * 0.25 * 0.5)          = 1.0   (gsp 1.0) */
    struct auction *a = auction_open(
        vcg_plugin, with_positions(af_config_new(), 2, alpha2), 2);
    bidder(a, 0, 1.0f, 0.5f, 1.0f);
    bidder(a, 1, 2.0f, 0.25f, 0.5f);
    bidder(a, 2, 1.0f, 0.125f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 0.375);
    expect_slot(a, 1, 1, 1.0);
    auction_free(a);
}

static void
test_quality_changes_order(void **state)
{
    /* alpha = 1, 0.5.  With quality: row 1 (1 * 0.25 * 1 = 0.25) beats
     * row 0 (2 * 0.25 * 0.25 = 0.125); row 1 pays 0.5 * 0.125 / 0.25 =
     * 0.25 and row 0, last, pays 0.  quality = false: row 0 (0.5) beats
     * row 1 (0.25) and pays 0.5 * 0.25 / 0.25 = 0.5. */
    struct auction *a = auction_open(
        vcg_plugin, with_positions(af_config_new(), 2, alpha2), 5);
    bidder(a, 0, 2.0f, 0.25f, 0.25f);
    bidder(a, 1, 1.0f, 0.25f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 1, 0.25);
    expect_slot(a, 1, 0, 0.0);
    auction_free(a);

    af_config *cfg = with_positions(af_config_new(), 2, alpha2);
    af_config_set_bool(cfg, "quality", 0);
    a = auction_open(vcg_plugin, cfg, 5);
    bidder(a, 0, 2.0f, 0.25f, 0.25f);
    bidder(a, 1, 1.0f, 0.25f, 1.0f);
    run(a);
    expect_slot(a, 0, 0, 0.5);
    expect_slot(a, 1, 1, 0.0);
    auction_free(a);
}

static void
test_short_list_limits_the_slots(void **state)
{
    /* The surface offers 5 slots but position_ctr lists 2: only 2 are
     * filled, and row 2 is the first loser (same prices as above). */
    struct auction *a = auction_open(
        vcg_plugin, with_positions(af_config_new(), 2, alpha2), 5);
    bidder(a, 0, 1.0f, 0.5f, 1.0f);
    bidder(a, 1, 2.0f, 0.25f, 0.5f);
    bidder(a, 2, 1.0f, 0.125f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 0.375);
    expect_slot(a, 1, 1, 1.0);
    auction_free(a);
}

static void
test_default_position_curve(void **state)
{
    /* No position_ctr: alpha_k = 1 / (1 + 0.35 k) = 1, 1/1.35, 1/1.7.
     * Scores 1, 0.5, 0.25, 0.125 (e = 0.25), 3 slots. */
    double a0 = 1.0, a1 = 1.0 / 1.35, a2 = 1.0 / 1.7;
    double p0 = ((a0 - a1) * 0.5 + (a1 - a2) * 0.25 + a2 * 0.125) / (a0 * 0.25);
    double p1 = ((a1 - a2) * 0.25 + a2 * 0.125) / (a1 * 0.25);
    double p2 = (a2 * 0.125) / (a2 * 0.25);
    struct auction *a = auction_open(vcg_plugin, af_config_new(), 3);
    four_bidders(a);
    run(a);
    assert_int_equal(a->slots.n, 3);
    expect_slot(a, 0, 0, p0); /* = 0.96514... */
    expect_slot(a, 1, 1, p1); /* = 0.60294... */
    expect_slot(a, 2, 2, p2); /* = 0.5       */
    assert_true(p0 > 0.9651 && p0 < 0.9652 && p1 > 0.6029 && p1 < 0.6030);
    auction_free(a);
}

static void
test_equal_alphas_is_uniform_price(void **state)
{
    /* alpha = 1, 1, 1: moving up is worth nothing, so every winner pays
     * what the first loser (score 0.125) is worth to it:
     * 0.125 / 0.25 = 0.5 per click (a uniform-price auction). */
    static const double flat[] = {1.0, 1.0, 1.0};
    struct auction *a = auction_open(
        vcg_plugin, with_positions(af_config_new(), 3, flat), 3);
    four_bidders(a);
    run(a);
    expect_slot(a, 0, 0, 0.5);
    expect_slot(a, 1, 1, 0.5);
    expect_slot(a, 2, 2, 0.5);
    auction_free(a);
}

static void
test_cpc_cpa_cpm(void **state)
{
    /* alpha = 1, 0.5; 2 slots.
     *   row 0: CPM bid 1000 per mille: e = 0.001,     score 1.0
     *   row 1: CPA bid 8, pctr 0.25, pcvr 0.25: e = 0.0625, score 0.5
     *   row 2: CPC bid 1, pctr 0.25: e = 0.25,        score 0.25
     * slot 0: (0.5 * 0.5 + 0.5 * 0.25) / (1 * 0.001) = 375 per mille
     * slot 1: 0.5 * 0.25 / (0.5 * 0.0625)          = 4 per conversion */
    struct auction *a = auction_open(
        vcg_plugin, with_positions(af_config_new(), 2, alpha2), 2);
    bidder_full(a, 0, AF_BID_CPM, 1000.0f, 0.5f, 0.0f, 0.0f, 1.0f);
    bidder_full(a, 1, AF_BID_CPA, 8.0f, 0.25f, 0.25f, 0.0f, 1.0f);
    bidder_full(a, 2, AF_BID_CPC, 1.0f, 0.25f, 0.0f, 0.0f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 375.0);
    expect_slot(a, 1, 1, 4.0);
    auction_free(a);
}

static void
test_neg_penalty(void **state)
{
    /* alpha = 1, 0.5; neg_penalty 2.
     *   row 0: bid 2, pctr 0.5,  pneg 0.125: 0.75 (pen 0.25)
     *   row 1: bid 1, pctr 0.5,  pneg 0:     0.5
     *   row 2: bid 4, pctr 0.25, pneg 0.375: 0.25 (pen 0.75), first loser
     * slot 0: g_0 = (0.5 + 0.25) / 0.5 = 1.5, g_1 = (0.25 + 0.25) / 0.5 = 1
     *         -> 0.5 * 1.5 + 0.5 * 1 = 1.25
     *         (= externality 0.5*0.5 + 0.5*0.25 = 0.375, plus alpha_0 * pen
     *          = 0.25, over alpha_0 * e_0 = 0.5)
     * slot 1: g_1 = (0.25 + 0) / 0.5 = 0.5, weight 1 -> 0.5 */
    af_config *cfg =
        with_positions(cfg_nums("neg_penalty", 2.0, NULL), 2, alpha2);
    struct auction *a = auction_open(vcg_plugin, cfg, 2);
    bidder_full(a, 0, AF_BID_CPC, 2.0f, 0.5f, 0.0f, 0.125f, 1.0f);
    bidder_full(a, 1, AF_BID_CPC, 1.0f, 0.5f, 0.0f, 0.0f, 1.0f);
    bidder_full(a, 2, AF_BID_CPC, 4.0f, 0.25f, 0.0f, 0.375f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 1.25);
    expect_slot(a, 1, 1, 0.5);
    auction_free(a);
}

static void
test_per_advertiser_reserve(void **state)
{
    /* alpha = 1, 0.5; reserve 0; advertiser 100 (row 0) has reserve 1.5.
     * Scores 1.0, 0.5, 0.25 (e = 0.25 each, bids 4, 2, 1).
     * slot 0: weights 0.5, 0.5 on g_0 = max(1.5, 0.5/0.25 = 2) = 2 and
     *         g_1 = max(1.5, 0.25/0.25 = 1) = 1.5 -> 1.75
     * slot 1: g_1 = max(0, 1) = 1 -> 1 */
    af_config *cfg = with_positions(
        cfg_nums("reserve_by_advertiser.100", 1.5, NULL), 2, alpha2);
    struct auction *a = auction_open(vcg_plugin, cfg, 2);
    bidder(a, 0, 4.0f, 0.25f, 1.0f);
    bidder(a, 1, 2.0f, 0.25f, 1.0f);
    bidder(a, 2, 1.0f, 0.25f, 1.0f);
    run(a);
    expect_slot(a, 0, 0, 1.75);
    expect_slot(a, 1, 1, 1.0);
    auction_free(a);
}

static void
test_single_bidder_and_all_under_reserve(void **state)
{
    /* One bidder: no one to displace, it pays the reserve. */
    af_config *cfg = with_positions(cfg_nums("reserve", 0.3, NULL), 2, alpha2);
    struct auction *a = auction_open(vcg_plugin, cfg, 2);
    bidder(a, 0, 2.0f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 1);
    expect_slot(a, 0, 0, 0.3);
    auction_free(a);

    /* Every bid under the reserve: nothing is shown, everything scored. */
    a = auction_open(vcg_plugin, cfg_nums("reserve", 5.0, NULL), 3);
    bidder(a, 0, 1.0f, 0.5f, 1.0f);
    bidder(a, 1, 2.0f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 0);
    assert_float_equal(a->b.score[1], 1.0, EPS);
    auction_free(a);
}

static void
test_ties(void **state)
{
    /* alpha = 1, 0.5.  Catalog row 0 (bid 2, pctr 0.25) and row 1 (bid 1,
     * pctr 0.5) tie at 0.5; row 0 goes first although it is second in the
     * batch.  Slot 0: weights 0.5, 0.5 on g_0 = 0.5 / 0.25 = 2 (its bid)
     * and g_1 = 0 / 0.25 = 0 -> 1.  Slot 1: g_1 = 0 -> 0. */
    struct auction *a = auction_open(
        vcg_plugin, with_positions(af_config_new(), 2, alpha2), 2);
    bidder(a, 1, 1.0f, 0.5f, 1.0f);
    bidder(a, 0, 2.0f, 0.25f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 1, 1.0);
    expect_slot(a, 1, 0, 0.0);
    auction_free(a);
}

static void
test_empty_and_zero_slots(void **state)
{
    struct auction *a = auction_open(vcg_plugin, af_config_new(), 3);
    run(a);
    assert_int_equal(a->slots.n, 0);
    auction_free(a);

    a = auction_open(vcg_plugin, af_config_new(), 0);
    bidder(a, 0, 1.0f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 0);
    assert_float_equal(a->b.score[0], 0.5, EPS);
    auction_free(a);
}

static void
test_bad_parameters(void **state)
{
    static const double rising[] = {0.5, 0.7};
    static const double zero[] = {1.0, 0.0};
    expect_create_error(vcg_plugin,
                        with_positions(af_config_new(), 2, rising),
                        "not increasing, as in position_ctr = {1.0, 0.7, "
                        "0.5}: position_ctr.2 = 0.7 > position_ctr.1 = 0.5");
    expect_create_error(vcg_plugin, with_positions(af_config_new(), 2, zero),
                        "position_ctr.2 is 0");
    expect_create_error(vcg_plugin, cfg_nums("position_ctr.1", 1.5, NULL),
                        "position_ctr.1 must be a number in [0, 1], got 1.5");
    expect_create_error(vcg_plugin,
                        cfg_nums("position_ctr.1", 1.0, "position_ctr.3", 0.5,
                                 NULL),
                        "2 entries but no position_ctr.2");
    expect_create_error(vcg_plugin, cfg_nums("position_ctr.0", 1.0, NULL),
                        "bad key position_ctr.0");
    expect_create_error(vcg_plugin, cfg_nums("position_ctr.65", 1.0, NULL),
                        "bad key position_ctr.65");
    expect_create_error(vcg_plugin, cfg_nums("position_ctr", 0.7, NULL),
                        "position_ctr must be a list of 1..64 position "
                        "factors in (0, 1]");
    expect_create_error(vcg_plugin, cfg_nums("squash", 0.5, NULL),
                        "unknown parameter \"squash\" (takes reserve, "
                        "reserve_by_advertiser.<key>, quality, neg_penalty, "
                        "position_ctr.<key>, max_per_advertiser, "
                        "no_adjacent_advertiser)");
    expect_create_error(vcg_plugin, cfg_nums("reserve", -1.0, NULL),
                        "reserve must be a number in [0, 1e+09], got -1");
    expect_create_error(vcg_plugin, cfg_str("quality", "maybe"),
                        "quality must be true or false, got maybe");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_slots_externality),
        cmocka_unit_test(test_reserve_binds),
        cmocka_unit_test(test_quality_and_pctr_divide_the_price),
        cmocka_unit_test(test_quality_changes_order),
        cmocka_unit_test(test_short_list_limits_the_slots),
        cmocka_unit_test(test_default_position_curve),
        cmocka_unit_test(test_equal_alphas_is_uniform_price),
        cmocka_unit_test(test_cpc_cpa_cpm),
        cmocka_unit_test(test_neg_penalty),
        cmocka_unit_test(test_per_advertiser_reserve),
        cmocka_unit_test(test_single_bidder_and_all_under_reserve),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_empty_and_zero_slots),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
