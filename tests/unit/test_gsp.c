/*
 * test_gsp.c -- the "gsp" auction plugin on hand-computed cases.
 *
 * The plugin is loaded with af_loader_open and instantiated with
 * af_instance_create, as the server does.  Bids, pCTRs and qualities are
 * chosen as binary fractions so every expected score and price below is
 * exact; the comments show the arithmetic.  Rule under test:
 *
 *   score_i = bid_i * pctr_i * q_i      (CPC)
 *   price_j = min(bid_j, max(reserve, score_{j+1} / (pctr_j * q_j)))
 *   the last candidate with no one after it pays the reserve.
 */
#include "test_plugins_harness.h"

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

/* One auction: catalog, request, batch, slots, and the plugin instance. */
struct auction {
    struct test_catalog cat;
    struct test_request tr;
    struct af_batch b;
    struct af_slot slot[AF_MAX_SLOTS];
    struct af_slots slots;
    struct af_instance in;
};

/* reserve < 0: parameter omitted (default 0).  quality < 0: omitted. */
static struct auction *
auction_new(double reserve, int quality, uint32_t max_slots)
{
    struct auction *a = calloc(1, sizeof *a);
    assert_non_null(a);
    tc_init(&a->cat, 8);
    treq_init(&a->tr, &a->cat.view);
    batch_new(&a->tr, &a->b, 16);
    a->slots.max = max_slots;
    a->slots.slot = a->slot;
    af_config *cfg = af_config_new();
    if (reserve >= 0)
        af_config_set_num(cfg, "reserve", reserve);
    if (quality >= 0)
        af_config_set_bool(cfg, "quality", quality);
    must_instance(gsp_plugin, cfg, &a->cat.view, &a->in);
    af_config_free(cfg); /* parameters are read in create() */
    return a;
}

static void
auction_free(struct auction *a)
{
    af_instance_destroy(&a->in);
    treq_free(&a->tr);
    free(a);
}

/* Put catalog row `row` (CPC, bid, quality q) in the batch with pctr. */
static void
bidder(struct auction *a, uint32_t row, float bid, float pctr, float q)
{
    a->cat.bid[row] = bid;
    a->cat.quality[row] = q;
    batch_add(&a->b, &a->cat.view, row);
    a->b.pctr[a->b.n - 1] = pctr;
}

static void
run(struct auction *a)
{
    const struct af_auction_ops *ops = a->in.ops;
    a->slots.n = 99; /* must be overwritten */
    assert_int_equal(ops->auction(a->in.inst, &a->tr.req, &a->b, &a->slots),
                     AF_OK);
}

/* Slot j shows batch row `row` at `price`, deterministically. */
static void
expect_slot(const struct auction *a, uint32_t j, uint32_t row, double price)
{
    assert_true(j < a->slots.n);
    const struct af_slot *s = &a->slots.slot[j];
    if (s->row != row || fabs(s->price - price) > EPS)
        fail_msg("slot %u: got row %u price %.9f, want row %u price %.9f", j,
                 s->row, s->price, row, price);
    assert_float_equal(s->score, a->b.score[row], EPS);
    assert_float_equal(s->propensity, 1.0, 0);
    assert_int_equal(s->explored, 0);
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
    a->cat.bid_type[0] = AF_BID_CPM;
    bidder(a, 0, 2000.0f, 0.0f, 1.0f);
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
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
