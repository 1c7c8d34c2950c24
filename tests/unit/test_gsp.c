/*
 * test_gsp.c -- the "gsp" auction plugin on hand-computed cases.
 *
 * The plugin is loaded with af_loader_open and instantiated with
 * af_instance_create, as the server does.  Bids, pCTRs and qualities are
 * chosen as binary fractions so every expected score and price below is
 * exact; the comments show the arithmetic.  Rule under test:
 *
 *   e_i     = pctr^s * q (CPC),  pctr^s * pcvr * q (CPA),  q / 1000 (CPM)
 *   score_i = bid_i * e_i - neg_penalty * pneg_i
 *   rows with bid < reserve_i (the advertiser's, else the surface's) or
 *   score < 0 do not take part
 *   price_j = min(bid_j, max(reserve_j, (score_{j+1} + pen_j) / e_j)),
 *   score_{j+1} = 0 when no one follows (so without a penalty the last
 *   candidate pays its reserve).
 */
#include "auction_fixture.h"

#define EPS 1e-6

static const af_loaded *gsp_plugin;

static int
group_setup(void **state)
{
    gsp_plugin = load_shipped("auction_gsp.so");
    return 0;
}

static int
group_teardown(void **state)
{
    af_loader_close((af_loaded *)gsp_plugin);
    return 0;
}

/* reserve < 0: parameter omitted (default 0).  quality < 0: omitted. */
static struct auction *
auction_new(double reserve, int quality, uint32_t max_slots)
{
    af_config *cfg = af_config_new();
    if (reserve >= 0)
        af_config_set_num(cfg, "reserve", reserve);
    if (quality >= 0)
        af_config_set_bool(cfg, "quality", quality);
    return auction_open(gsp_plugin, cfg, max_slots);
}

/* --- cases --- */

static void
test_two_bidders(void **state)
{
    struct auction *a = auction_new(-1, -1, 5); /* reserve 0, quality on */
    bidder(a, 0, 2.0f, 0.25f, 1.0f);  /* score 2 * 0.25 = 0.5      */
    bidder(a, 1, 1.0f, 0.375f, 1.0f); /* score 1 * 0.375 = 0.375   */
    run(a);
    assert_int_equal(a->slots.n, 2);
    assert_float_equal(a->b.score[0], 0.5, EPS);
    assert_float_equal(a->b.score[1], 0.375, EPS);
    expect_slot(a, 0, 0, 1.5); /* 0.375 / 0.25 = 1.5 <= bid 2  */
    expect_slot(a, 1, 1, 0.0); /* last: pays the reserve, 0    */
    auction_free(a);
}

static void
test_three_bidders(void **state)
{
    struct auction *a = auction_new(0.25, 1, 3);
    bidder(a, 0, 4.0f, 0.125f, 0.5f);  /* 4 * 0.125 * 0.5   = 0.25    */
    bidder(a, 1, 1.0f, 0.5f, 0.375f);  /* 1 * 0.5 * 0.375   = 0.1875  */
    bidder(a, 2, 2.0f, 0.25f, 0.25f);  /* 2 * 0.25 * 0.25   = 0.125   */
    run(a);
    assert_int_equal(a->slots.n, 3);
    expect_slot(a, 0, 0, 3.0);         /* 0.1875 / (0.125 * 0.5) = 3  */
    expect_slot(a, 1, 1, 2.0 / 3.0);   /* 0.125 / (0.5 * 0.375) = 2/3 */
    expect_slot(a, 2, 2, 0.25);        /* last: reserve 0.25 <= 2     */
    auction_free(a);
}

static void
test_fewer_slots_than_bidders(void **state)
{
    /* Same bidders, 2 slots: the third is not shown but still sets the
     * second winner's price. */
    struct auction *a = auction_new(0.25, 1, 2);
    bidder(a, 0, 4.0f, 0.125f, 0.5f);
    bidder(a, 1, 1.0f, 0.5f, 0.375f);
    bidder(a, 2, 2.0f, 0.25f, 0.25f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 3.0);
    expect_slot(a, 1, 1, 2.0 / 3.0);
    assert_float_equal(a->b.score[2], 0.125, EPS); /* scored all rows */
    auction_free(a);
}

static void
test_reserve_binding(void **state)
{
    struct auction *a = auction_new(0.5, 1, 5);
    bidder(a, 0, 2.0f, 0.5f, 1.0f);   /* score 1.0                       */
    bidder(a, 1, 1.0f, 0.125f, 1.0f); /* score 0.125                     */
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 0.5); /* 0.125 / 0.5 = 0.25 < reserve: 0.5   */
    expect_slot(a, 1, 1, 0.5); /* last: reserve                        */
    auction_free(a);
}

static void
test_under_reserve_does_not_price(void **state)
{
    struct auction *a = auction_new(0.5, 1, 5);
    bidder(a, 0, 2.0f, 0.5f, 1.0f);     /* score 1.0                      */
    bidder(a, 1, 1.5f, 0.25f, 1.0f);    /* score 0.375                    */
    bidder(a, 2, 0.4375f, 1.0f, 1.0f);  /* score 0.4375, bid < reserve    */
    run(a);
    assert_int_equal(a->slots.n, 2);
    /* Row 2 would be second by score but may not bid: row 0's price is set
     * by row 1, 0.375 / 0.5 = 0.75 (not 0.4375 / 0.5 = 0.875). */
    expect_slot(a, 0, 0, 0.75);
    expect_slot(a, 1, 1, 0.5);
    assert_float_equal(a->b.score[2], 0.4375, EPS);
    auction_free(a);
}

static void
test_quality_changes_order(void **state)
{
    /* With quality: row 1 (1 * 0.25 * 1 = 0.25) beats row 0
     * (2 * 0.25 * 0.25 = 0.125).  Row 1 pays 0.125 / (0.25 * 1) = 0.5. */
    struct auction *a = auction_new(0, 1, 5);
    bidder(a, 0, 2.0f, 0.25f, 0.25f);
    bidder(a, 1, 1.0f, 0.25f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 1, 0.5);
    expect_slot(a, 1, 0, 0.0);
    auction_free(a);

    /* quality = false: row 0 (2 * 0.25 = 0.5) beats row 1 (0.25) and pays
     * 0.25 / 0.25 = 1.0. */
    a = auction_new(0, 0, 5);
    bidder(a, 0, 2.0f, 0.25f, 0.25f);
    bidder(a, 1, 1.0f, 0.25f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 1.0);
    expect_slot(a, 1, 1, 0.0);
    auction_free(a);
}

static void
test_single_bidder_pays_reserve(void **state)
{
    struct auction *a = auction_new(0.3, 1, 5);
    bidder(a, 0, 2.0f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 1);
    expect_slot(a, 0, 0, 0.3);
    auction_free(a);

    /* A bid equal to the reserve takes part and pays exactly its bid. */
    a = auction_new(0.375, 1, 5);
    bidder(a, 0, 0.375f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 1);
    expect_slot(a, 0, 0, 0.375);
    auction_free(a);
}

static void
test_all_under_reserve(void **state)
{
    struct auction *a = auction_new(5.0, 1, 5);
    bidder(a, 0, 1.0f, 0.5f, 1.0f);
    bidder(a, 1, 2.0f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 0);
    assert_float_equal(a->b.score[0], 0.5, EPS);
    assert_float_equal(a->b.score[1], 1.0, EPS);
    auction_free(a);
}

static void
test_ties_by_catalog_row(void **state)
{
    /* Catalog rows 1 and 0 tie at 1 * 0.25 = 0.25; row 0 wins although it
     * comes second in the batch.  Batch row 0 = catalog row 1. */
    struct auction *a = auction_new(0, 1, 5);
    bidder(a, 1, 1.0f, 0.25f, 1.0f);
    bidder(a, 0, 1.0f, 0.25f, 1.0f);
    bidder(a, 2, 0.5f, 0.25f, 1.0f); /* 0.125 */
    run(a);
    assert_int_equal(a->slots.n, 3);
    expect_slot(a, 0, 1, 1.0); /* catalog row 0: 0.25 / 0.25 = 1 = bid */
    expect_slot(a, 1, 0, 0.5); /* catalog row 1: 0.125 / 0.25 = 0.5    */
    expect_slot(a, 2, 2, 0.0);
    auction_free(a);
}

static void
test_price_reaches_bid_at_tie(void **state)
{
    /* A winner never pays more than its bid: score_j >= score_{j+1} means
     * score_{j+1} / e_j <= bid_j, with equality when the two scores tie. */
    struct auction *a = auction_new(0, 1, 5);
    bidder(a, 0, 1.0f, 0.5f, 1.0f);   /* 0.5   */
    bidder(a, 1, 2.0f, 0.25f, 1.0f);  /* 0.5, tie: row 0 first */
    run(a);
    expect_slot(a, 0, 0, 1.0); /* 0.5 / 0.5 = 1.0 = its bid */
    expect_slot(a, 1, 1, 0.0);
    auction_free(a);
}

static void
test_cpm_bid(void **state)
{
    /* CPM: score = bid / 1000 * q; the price is per thousand impressions.
     * Row 0: 2000 / 1000 = 2.0; row 1 (CPC): 4 * 0.25 = 1.0.
     * Row 0 pays 1.0 / (1 / 1000) = 1000 per mille. */
    struct auction *a = auction_new(0, 1, 5);
    bidder_full(a, 0, AF_BID_CPM, 2000.0f, 0.0f, 0.0f, 0.0f, 1.0f);
    bidder(a, 1, 4.0f, 0.25f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 1000.0);
    expect_slot(a, 1, 1, 0.0);
    auction_free(a);
}

static void
test_empty_batch_and_zero_slots(void **state)
{
    struct auction *a = auction_new(0, 1, 5);
    run(a);
    assert_int_equal(a->slots.n, 0);
    auction_free(a);

    a = auction_new(0, 1, 0);
    bidder(a, 0, 1.0f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 0);
    assert_float_equal(a->b.score[0], 0.5, EPS);
    auction_free(a);
}

static void
test_bad_parameters(void **state)
{
    struct test_catalog cat;
    tc_init(&cat, 1);
    struct {
        const char *key, *value, *msg;
    } bad[] = {
        {"reserve", "-1", "reserve must be a number in [0, 1e+09], got -1"},
        {"reserve", "cheap", "reserve must be a number in [0, 1e+09], got cheap"},
        {"quality", "maybe", "quality must be true or false, got maybe"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        af_config *cfg = af_config_new();
        af_config_set_str(cfg, bad[i].key, bad[i].value);
        struct af_instance in;
        char err[1024] = "";
        assert_int_equal(make_instance(gsp_plugin, cfg, &cat.view, 0, &in, err,
                                       sizeof err),
                         AF_EINVAL);
        if (!strstr(err, bad[i].msg))
            fail_msg("got \"%s\", want \"%s\"", err, bad[i].msg);
        af_config_free(cfg);
    }
}

static void
test_cpc_cpa_cpm_together(void **state)
{
    /* reserve 0.5, in each bid's own unit.
     *   row 0 CPM bid 400 per mille, q 1:  e = 1/1000,   score 0.4
     *   row 1 CPA bid 10, pctr 0.25, pcvr 0.125: e = 0.03125, score 0.3125
     *   row 2 CPC bid 1, pctr 0.25:        e = 0.25,     score 0.25
     * row 0 pays 0.3125 / 0.001   = 312.5 per mille
     * row 1 pays 0.25 / 0.03125   = 8 per conversion
     * row 2 pays the reserve 0.5 per click (no one after it). */
    struct auction *a = auction_new(0.5, 1, 5);
    bidder_full(a, 0, AF_BID_CPM, 400.0f, 0.5f, 0.0f, 0.0f, 1.0f);
    bidder_full(a, 1, AF_BID_CPA, 10.0f, 0.25f, 0.125f, 0.0f, 1.0f);
    bidder_full(a, 2, AF_BID_CPC, 1.0f, 0.25f, 0.0f, 0.0f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 3);
    assert_float_equal(a->b.score[0], 0.4, EPS);
    assert_float_equal(a->b.score[1], 0.3125, EPS);
    expect_slot(a, 0, 0, 312.5);
    expect_slot(a, 1, 1, 8.0);
    expect_slot(a, 2, 2, 0.5);
    auction_free(a);
}

static void
test_cpa_without_pcvr_scores_zero(void **state)
{
    /* A CPA bid with pcvr 0 (no conversion model) scores 0 and comes
     * after every positive score; it still takes part and pays the
     * reserve (0) from the last slot. */
    struct auction *a = auction_new(-1, -1, 5);
    bidder_full(a, 0, AF_BID_CPA, 50.0f, 0.5f, 0.0f, 0.0f, 1.0f);
    bidder(a, 1, 0.5f, 0.25f, 1.0f); /* 0.125 */
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 1, 0.0); /* next score 0: (0 + 0) / 0.25 = 0 */
    expect_slot(a, 1, 0, 0.0);
    auction_free(a);
}

static void
test_squash_changes_order(void **state)
{
    /* row 0: bid 1,   pctr 0.25;  row 1: bid 0.5, pctr 0.5625 (= 0.75^2).
     * s = 1:   row 0 = 0.25,  row 1 = 0.28125: row 1 wins and pays
     *          0.25 / 0.5625 = 4/9.
     * s = 0.5: row 0 = 1 * 0.5 = 0.5, row 1 = 0.5 * 0.75 = 0.375: row 0
     *          wins and pays 0.375 / 0.5 = 0.75.
     * s = 0:   bids alone, 1 and 0.5: row 0 pays 0.5 / 1 = 0.5.
     * s = 2:   row 0 = 1/16, row 1 = 0.5 * 81/256 = 81/512: row 1 wins and
     *          pays (1/16) / (81/256) = 16/81. */
    static const struct {
        double s;
        uint32_t first, second;
        double price;
    } cases[] = {
        {1.0, 1, 0, 4.0 / 9.0},
        {0.5, 0, 1, 0.75},
        {0.0, 0, 1, 0.5},
        {2.0, 1, 0, 16.0 / 81.0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct auction *a =
            auction_open(gsp_plugin, cfg_nums("squash", cases[c].s, NULL), 5);
        bidder(a, 0, 1.0f, 0.25f, 1.0f);
        bidder(a, 1, 0.5f, 0.5625f, 1.0f);
        run(a);
        assert_int_equal(a->slots.n, 2);
        expect_slot(a, 0, cases[c].first, cases[c].price);
        expect_slot(a, 1, cases[c].second, 0.0);
        auction_free(a);
    }
}

static void
test_squash_applies_to_cpa_not_cpm(void **state)
{
    /* s = 0.5.  row 0 CPA bid 4, pctr 0.25, pcvr 0.25:
     *   e = 0.5 * 0.25 = 0.125, score 0.5.
     * row 1 CPM bid 250: e = 0.001 (no pCTR to squash), score 0.25.
     * row 0 pays 0.25 / 0.125 = 2 per conversion. */
    struct auction *a =
        auction_open(gsp_plugin, cfg_nums("squash", 0.5, NULL), 5);
    bidder_full(a, 0, AF_BID_CPA, 4.0f, 0.25f, 0.25f, 0.0f, 1.0f);
    bidder_full(a, 1, AF_BID_CPM, 250.0f, 0.25f, 0.0f, 0.0f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    assert_float_equal(a->b.score[1], 0.25, EPS);
    expect_slot(a, 0, 0, 2.0);
    expect_slot(a, 1, 1, 0.0);
    auction_free(a);
}

static void
test_neg_penalty(void **state)
{
    /* neg_penalty 2, reserve 0.
     *   row 0: bid 2, pctr 0.5,  pneg 0.125: 1 - 0.25 = 0.75  (pen 0.25)
     *   row 1: bid 1, pctr 0.5,  pneg 0:     0.5               (pen 0)
     *   row 2: bid 4, pctr 0.25, pneg 0.375: 1 - 0.75 = 0.25  (pen 0.75)
     *   row 3: bid 1, pctr 0.25, pneg 0.5:   0.25 - 1 = -0.75: left out
     * Without the penalty row 2 (1.0) would tie row 0 and win.
     * row 0 pays (0.5 + 0.25) / 0.5  = 1.5
     * row 1 pays (0.25 + 0) / 0.5    = 0.5
     * row 2, last, pays the least bid that keeps its score >= 0:
     *        (0 + 0.75) / 0.25 = 3 (<= its bid 4). */
    struct auction *a =
        auction_open(gsp_plugin, cfg_nums("neg_penalty", 2.0, NULL), 5);
    bidder_full(a, 0, AF_BID_CPC, 2.0f, 0.5f, 0.0f, 0.125f, 1.0f);
    bidder_full(a, 1, AF_BID_CPC, 1.0f, 0.5f, 0.0f, 0.0f, 1.0f);
    bidder_full(a, 2, AF_BID_CPC, 4.0f, 0.25f, 0.0f, 0.375f, 1.0f);
    bidder_full(a, 3, AF_BID_CPC, 1.0f, 0.25f, 0.0f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 3);
    assert_float_equal(a->b.score[3], -0.75, EPS); /* scored, not shown */
    expect_slot(a, 0, 0, 1.5);
    expect_slot(a, 1, 1, 0.5);
    expect_slot(a, 2, 2, 3.0);
    auction_free(a);

    /* The penalty is off by default: pneg is not even read. */
    a = auction_new(-1, -1, 5);
    bidder_full(a, 0, AF_BID_CPC, 1.0f, 0.5f, 0.0f, NAN, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 1);
    assert_float_equal(a->b.score[0], 0.5, EPS);
    auction_free(a);
}

static void
test_per_advertiser_reserve(void **state)
{
    /* Surface reserve 0.25; advertiser 100 (row 0) 0.75, advertiser 101
     * (row 1) 1.5, advertiser 102 (row 2) 0.0625 (a discount below the
     * surface's).  Row r belongs to advertiser 100 + r.
     *   row 0: bid 2,     pctr 0.5: 1.0
     *   row 1: bid 1.25,  pctr 0.5: 0.625, bid < 1.5: left out
     *   row 2: bid 0.125, pctr 0.5: 0.0625, under 0.25 but >= its 0.0625
     *   row 3: bid 0.5,   pctr 0.5: 0.25
     * row 0 pays max(0.75, 0.25 / 0.5 = 0.5)     = 0.75 (its own reserve)
     * row 3 pays max(0.25, 0.0625 / 0.5 = 0.125) = 0.25 (surface reserve)
     * row 2 pays max(0.0625, 0)                  = 0.0625 */
    af_config *cfg = cfg_nums("reserve", 0.25, "reserve_by_advertiser.100",
                              0.75, "reserve_by_advertiser.101", 1.5,
                              "reserve_by_advertiser.102", 0.0625, NULL);
    struct auction *a = auction_open(gsp_plugin, cfg, 5);
    bidder(a, 0, 2.0f, 0.5f, 1.0f);
    bidder(a, 1, 1.25f, 0.5f, 1.0f);
    bidder(a, 2, 0.125f, 0.5f, 1.0f);
    bidder(a, 3, 0.5f, 0.5f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 3);
    assert_float_equal(a->b.score[1], 0.625, EPS);
    expect_slot(a, 0, 0, 0.75);
    expect_slot(a, 1, 3, 0.25);
    expect_slot(a, 2, 2, 0.0625);
    auction_free(a);
}

static void
test_per_advertiser_reserve_shared_by_its_ads(void **state)
{
    /* Rows 0 and 1 both belong to advertiser 7 (reserve 1); row 2 to
     * advertiser 102 (surface reserve 0).
     *   row 0: bid 2,   pctr 0.5:  1.0
     *   row 1: bid 0.9, pctr 0.5:  under 1: left out
     *   row 2: bid 1,   pctr 0.25: 0.25
     * row 0 pays max(1, 0.25 / 0.5) = 1; row 2 pays 0. */
    struct auction *a = auction_open(
        gsp_plugin, cfg_nums("reserve_by_advertiser.7", 1.0, NULL), 5);
    a->cat.advertiser_id[0] = a->cat.advertiser_id[1] = 7;
    bidder(a, 0, 2.0f, 0.5f, 1.0f);
    bidder(a, 1, 0.9f, 0.5f, 1.0f);
    bidder(a, 2, 1.0f, 0.25f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 1.0);
    expect_slot(a, 1, 2, 0.0);
    auction_free(a);
}

static void
test_bad_new_parameters(void **state)
{
    expect_create_error(gsp_plugin, cfg_nums("squash", -1.0, NULL),
                        "squash must be a number in [0, 4], got -1");
    expect_create_error(gsp_plugin, cfg_nums("squash", 5.0, NULL),
                        "squash must be a number in [0, 4], got 5");
    expect_create_error(gsp_plugin, cfg_str("neg_penalty", "high"),
                        "neg_penalty must be a number in [0, 1e+09], got high");
    expect_create_error(gsp_plugin,
                        cfg_nums("reserve_by_advertiser.7", -0.5, NULL),
                        "reserve_by_advertiser.7 must be a number in [0, "
                        "1e+09], got -0.5");
    expect_create_error(gsp_plugin,
                        cfg_nums("reserve_by_advertiser.acme", 0.5, NULL),
                        "reserve_by_advertiser.acme: the key of "
                        "reserve_by_advertiser must be an advertiser id");
    expect_create_error(gsp_plugin,
                        cfg_nums("reserve_by_advertiser.4294967296", 0.5, NULL),
                        "must be an advertiser id in 0..4294967295");
    expect_create_error(gsp_plugin,
                        cfg_nums("reserve_by_advertiser.7", 0.5,
                                 "reserve_by_advertiser.07", 0.25, NULL),
                        "reserve_by_advertiser names advertiser 7 twice");
    expect_create_error(gsp_plugin,
                        cfg_nums("reserve_by_advertiser", 0.2, NULL),
                        "reserve_by_advertiser must be a table of advertiser "
                        "id -> reserve");
    expect_create_error(gsp_plugin, cfg_nums("reserv", 0.2, NULL),
                        "unknown parameter \"reserv\" (takes reserve, "
                        "reserve_by_advertiser.<key>, quality, squash, "
                        "neg_penalty, max_per_advertiser, "
                        "no_adjacent_advertiser)");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_bidders),
        cmocka_unit_test(test_three_bidders),
        cmocka_unit_test(test_fewer_slots_than_bidders),
        cmocka_unit_test(test_reserve_binding),
        cmocka_unit_test(test_under_reserve_does_not_price),
        cmocka_unit_test(test_quality_changes_order),
        cmocka_unit_test(test_single_bidder_pays_reserve),
        cmocka_unit_test(test_all_under_reserve),
        cmocka_unit_test(test_ties_by_catalog_row),
        cmocka_unit_test(test_price_reaches_bid_at_tie),
        cmocka_unit_test(test_cpm_bid),
        cmocka_unit_test(test_empty_batch_and_zero_slots),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_cpc_cpa_cpm_together),
        cmocka_unit_test(test_cpa_without_pcvr_scores_zero),
        cmocka_unit_test(test_squash_changes_order),
        cmocka_unit_test(test_squash_applies_to_cpa_not_cpm),
        cmocka_unit_test(test_neg_penalty),
        cmocka_unit_test(test_per_advertiser_reserve),
        cmocka_unit_test(test_per_advertiser_reserve_shared_by_its_ads),
        cmocka_unit_test(test_bad_new_parameters),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
