/*
 * test_diversity.c -- advertiser diversity in the auctions
 * (max_per_advertiser, no_adjacent_advertiser; plugins/auction_common/
 * auc_alloc.h): hand-computed allocations and prices for gsp, vcg and
 * first_price, then random auctions checking that
 *
 *   1. the rules hold in every response and the allocation equals an
 *      independent greedy written here;
 *   2. every price lies in [reserve, bid];
 *   3. gsp prices are thresholds on the constrained allocation: bidding a
 *      little over its price keeps a winner its slot, a little under loses it
 *      (re-running the auction);
 *   4. vcg price <= gsp price slot by slot (same bids, same rules);
 *   5. without rules the constrained code is not used (same as before).
 *
 * Scores and prices are binary fractions where possible; comments show the
 * arithmetic.  The fixture's catalog gives row i advertiser 100 + i unless a
 * test says otherwise.
 */
#include "auction_fixture.h"

#define EPS 1e-6

static const af_loaded *gsp_plugin, *vcg_plugin, *fp_plugin;

static int
group_setup(void **state)
{
    gsp_plugin = load_shipped("auction_gsp.so");
    vcg_plugin = load_shipped("auction_vcg.so");
    fp_plugin = load_shipped("auction_first_price.so");
    return 0;
}

static int
group_teardown(void **state)
{
    af_loader_close((af_loaded *)gsp_plugin);
    af_loader_close((af_loaded *)vcg_plugin);
    af_loader_close((af_loaded *)fp_plugin);
    return 0;
}

/* Rows 0, 1 of advertiser A (100); row 2 of B (102); row 3 of C (103). */
static void
four_bidders(struct auction *a)
{
    a->cat.advertiser_id[1] = 100;
    bidder(a, 0, 2.0f, 0.25f, 1.0f); /* A 0.5 */
    bidder(a, 1, 1.0f, 0.4f, 1.0f);  /* A 0.4 */
    bidder(a, 2, 1.0f, 0.3f, 1.0f);  /* B 0.3 */
    bidder(a, 3, 1.0f, 0.2f, 1.0f);  /* C 0.2 */
}

static void
test_gsp_max_per_advertiser(void **state)
{
    struct auction *a =
        auction_open(gsp_plugin, cfg_nums("max_per_advertiser", 1.0, NULL), 3);
    four_bidders(a);
    run(a);
    assert_int_equal(a->slots.n, 3);
    /* slot 0: row 0.  Without it row 1 (0.4) takes slot 0: 0.4/0.25 = 1.6 */
    expect_slot(a, 0, 0, 1.6);
    /* slot 1: row 1 is A again, so row 2.  Without row 2, slot 1 goes to
     * row 3 (0.2): 0.2 / 0.3 */
    expect_slot(a, 1, 2, 0.2 / 0.3);
    /* slot 2: row 3.  Without it no one may take slot 2 (row 1 is A): it
     * pays the reserve, 0 */
    expect_slot(a, 2, 3, 0.0);
    auction_free(a);

    /* The same bids without the rule: the usual gsp. */
    a = auction_open(gsp_plugin, af_config_new(), 3);
    four_bidders(a);
    run(a);
    expect_slot(a, 0, 0, 1.6);
    expect_slot(a, 1, 1, 0.75); /* 0.3 / 0.4 */
    expect_slot(a, 2, 2, 0.2 / 0.3);
    auction_free(a);
}

/* Rows 0, 1 of advertiser A, row 2 of B. */
static void
adjacent_bidders(struct auction *a)
{
    a->cat.advertiser_id[1] = 100;
    bidder(a, 0, 2.0f, 0.25f, 1.0f); /* A 0.5 */
    bidder(a, 1, 1.0f, 0.4f, 1.0f);  /* A 0.4 */
    bidder(a, 2, 1.0f, 0.3f, 1.0f);  /* B 0.3 */
}

static void
test_gsp_no_adjacent(void **state)
{
    af_config *c = cfg_nums("reserve", 0.125, NULL);
    af_config_set_bool(c, "no_adjacent_advertiser", 1);
    struct auction *a = auction_open(gsp_plugin, c, 3);
    adjacent_bidders(a);
    run(a);
    assert_int_equal(a->slots.n, 3);
    /* A, B, A: row 1 cannot follow row 0, row 2 takes slot 1. */
    expect_slot(a, 0, 0, 1.6); /* without row 0, row 1 leads: 0.4 / 0.25 */
    /* Without row 2, slot 1 stays empty (row 1 would be adjacent to row 0):
     * threshold 0, so the reserve. */
    expect_slot(a, 1, 2, 0.125);
    /* Without row 1, slot 2 is empty too: the reserve. */
    expect_slot(a, 2, 1, 0.125);
    auction_free(a);
}

/* Four slots, A A A B: no_adjacent gives A B A and leaves slot 3 empty
 * (only an A is left, and it cannot follow an A). */
static void
test_no_adjacent_stops_filling(void **state)
{
    af_config *c = af_config_new();
    af_config_set_bool(c, "no_adjacent_advertiser", 1);
    struct auction *a = auction_open(gsp_plugin, c, 4);
    a->cat.advertiser_id[1] = a->cat.advertiser_id[2] = 100;
    bidder(a, 0, 1.0f, 0.5f, 1.0f);
    bidder(a, 1, 1.0f, 0.375f, 1.0f);
    bidder(a, 2, 1.0f, 0.25f, 1.0f);
    bidder(a, 3, 1.0f, 0.125f, 1.0f);
    run(a);
    assert_int_equal(a->slots.n, 3); /* A(0) B(3) A(1); A(2) cannot follow */
    assert_int_equal(a->slots.slot[0].row, 0);
    assert_int_equal(a->slots.slot[1].row, 3);
    assert_int_equal(a->slots.slot[2].row, 1);
    auction_free(a);
}

static void
test_max_two(void **state)
{
    struct auction *a =
        auction_open(gsp_plugin, cfg_nums("max_per_advertiser", 2.0, NULL), 3);
    a->cat.advertiser_id[1] = a->cat.advertiser_id[2] = 100;
    bidder(a, 0, 1.0f, 0.5f, 1.0f);   /* A 0.5   */
    bidder(a, 1, 1.0f, 0.375f, 1.0f); /* A 0.375 */
    bidder(a, 2, 1.0f, 0.25f, 1.0f);  /* A 0.25: third A, left out */
    bidder(a, 3, 1.0f, 0.125f, 1.0f); /* D 0.125 */
    run(a);
    assert_int_equal(a->slots.n, 3);
    expect_slot(a, 0, 0, 0.75);  /* without row 0: row 1 leads, 0.375/0.5 */
    /* without row 1, row 2 (the second A) takes slot 1: 0.25 / 0.375 */
    expect_slot(a, 1, 1, 0.25 / 0.375);
    expect_slot(a, 2, 3, 0.0);   /* without row 3: slot 2 empty (A full)   */
    auction_free(a);
}

/* gsp ranks only the best 8m + 8 bidders first; when the rules need someone
 * deeper it ranks them all.  Two slots: the 30 best bidders are all of
 * advertiser 100, max 1 each, so slot 1 goes to row 30 (advertiser 130),
 * ranked 31st. */
static void
test_deep_ranking(void **state)
{
    struct auction *a =
        auction_open(gsp_plugin, cfg_nums("max_per_advertiser", 1.0, NULL), 2);
    for (uint32_t r = 0; r < 31; r++) {
        if (r < 30)
            a->cat.advertiser_id[r] = 100;
        bidder(a, r, 1.0f, 0.5f - 0.01f * (float)r, 1.0f);
    }
    run(a);
    assert_int_equal(a->slots.n, 2);
    expect_slot(a, 0, 0, 0.49 / 0.5); /* without row 0, row 1 leads */
    expect_slot(a, 1, 30, 0.0);       /* without row 30, slot 1 is empty */
    auction_free(a);
}

static void
test_vcg_max_per_advertiser(void **state)
{
    af_config *c = cfg_nums("max_per_advertiser", 1.0, "position_ctr.1", 1.0,
                            "position_ctr.2", 0.5, "position_ctr.3", 0.25,
                            NULL);
    struct auction *a = auction_open(vcg_plugin, c, 3);
    four_bidders(a);
    run(a);
    assert_int_equal(a->slots.n, 3);
    /* Row 0: without it the allocation is rows 1, 2, 3, and row 0 (A) may
     * take slot 0 only, so every threshold is 0.4: price 1.6 whatever the
     * position weights. */
    expect_slot(a, 0, 0, 1.6);
    /* Row 2 at slot 1: without it rows 0, 3 fill slots 0, 1 and slot 2 is
     * empty.  Thresholds: slot 1 -> 0.2, slot 2 -> 0.  Price =
     * (0.5 - 0.25)/0.5 * 0.2/0.3 + 0.25/0.5 * 0 = 1/3. */
    expect_slot(a, 1, 2, 1.0 / 3.0);
    /* Row 3 at slot 2: without it slot 2 is empty: 0. */
    expect_slot(a, 2, 3, 0.0);
    auction_free(a);
}

static void
test_first_price_rules(void **state)
{
    af_config *c = cfg_nums("max_per_advertiser", 1.0, NULL);
    struct auction *a = auction_open(fp_plugin, c, 3);
    four_bidders(a);
    run(a);
    assert_int_equal(a->slots.n, 3);
    expect_slot(a, 0, 0, 2.0);
    expect_slot(a, 1, 2, 1.0);
    expect_slot(a, 2, 3, 1.0);
    auction_free(a);
}

static void
test_bad_parameters(void **state)
{
    expect_create_error(gsp_plugin, cfg_nums("max_per_advertiser", -1.0, NULL),
                        "max_per_advertiser must be an integer in 0..64, "
                        "got -1");
    expect_create_error(vcg_plugin, cfg_nums("max_per_advertiser", 1.5, NULL),
                        "max_per_advertiser must be an integer in 0..64");
    expect_create_error(fp_plugin, cfg_str("no_adjacent_advertiser", "often"),
                        "no_adjacent_advertiser must be true or false, got "
                        "often");
}

/* --- ## Random auctions --- */

static uint64_t
next_u64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
unif(uint64_t *x)
{
    return (double)(next_u64(x) >> 11) * 0x1.0p-53;
}

struct scenario {
    uint32_t n, slots, max_adv;
    int no_adj;
    double reserve;
    uint32_t adv[TC_MAX];
    float bid[TC_MAX], pctr[TC_MAX], q[TC_MAX];
};

static void
draw(struct scenario *s, uint64_t *rng)
{
    s->n = 1 + (uint32_t)(next_u64(rng) % TC_MAX); /* > 8m + 8: gsp ranks
                                                       only the best first */
    s->slots = 1 + (uint32_t)(next_u64(rng) % 6);
    s->max_adv = (uint32_t)(next_u64(rng) % 3); /* 0, 1, 2 */
    s->no_adj = (int)(next_u64(rng) % 2);
    if (s->max_adv == 0 && !s->no_adj)
        s->no_adj = 1;
    s->reserve = unif(rng) < 0.5 ? 0.0 : 0.25;
    for (uint32_t i = 0; i < s->n; i++) {
        s->adv[i] = 1 + (uint32_t)(next_u64(rng) % 4);
        /* Coarse values make ties happen. */
        s->bid[i] = (float)(0.25 * (1 + next_u64(rng) % 8));
        s->pctr[i] = (float)(0.0625 * (1 + next_u64(rng) % 8));
        s->q[i] = (float)(0.5 + 0.5 * (next_u64(rng) % 2));
    }
}

/* Run plugin p on scenario s, with row `w` bidding `w_bid` instead. */
static struct auction *
run_scenario(const af_loaded *p, const struct scenario *s, uint32_t w,
             float w_bid)
{
    af_config *c = cfg_nums("reserve", s->reserve, "max_per_advertiser",
                            (double)s->max_adv, NULL);
    af_config_set_bool(c, "no_adjacent_advertiser", s->no_adj);
    if (p == vcg_plugin)
        for (uint32_t k = 0; k < s->slots; k++) {
            char key[32];
            snprintf(key, sizeof key, "position_ctr.%u", k + 1);
            af_config_set_num(c, key, 1.0 / (1.0 + 0.35 * k));
        }
    struct auction *a = auction_open(p, c, s->slots);
    for (uint32_t i = 0; i < s->n; i++) {
        a->cat.advertiser_id[i] = s->adv[i];
        bidder(a, i, i == w ? w_bid : s->bid[i], s->pctr[i], s->q[i]);
    }
    run(a);
    return a;
}

/* The greedy constrained allocation, written independently: repeatedly
 * take the best remaining row (score, then row) allowed at the next slot. */
static uint32_t
reference_allocation(const struct scenario *s, uint32_t *out)
{
    double score[TC_MAX];
    int used[TC_MAX] = {0}, part[TC_MAX];
    for (uint32_t i = 0; i < s->n; i++) {
        score[i] = (double)s->bid[i] * s->pctr[i] * s->q[i];
        part[i] = s->bid[i] >= s->reserve;
    }
    uint32_t j = 0;
    for (; j < s->slots; j++) {
        int best = -1;
        for (uint32_t i = 0; i < s->n; i++) {
            if (used[i] || !part[i])
                continue;
            uint32_t same = 0;
            for (uint32_t k = 0; k < j; k++)
                same += s->adv[out[k]] == s->adv[i];
            if (s->max_adv && same >= s->max_adv)
                continue;
            if (s->no_adj && j > 0 && s->adv[out[j - 1]] == s->adv[i])
                continue;
            if (best < 0 || score[i] > score[best])
                best = (int)i; /* ties: lower row first, as i ascends */
        }
        if (best < 0)
            break;
        used[best] = 1;
        out[j] = (uint32_t)best;
    }
    return j;
}

static int
slot_of(const struct auction *a, uint32_t row)
{
    for (uint32_t j = 0; j < a->slots.n; j++)
        if (a->slots.slot[j].row == row)
            return (int)j;
    return -1;
}

static void
test_random_auctions(void **state)
{
    uint64_t rng = 2026;
    uint32_t thresholds_checked = 0, vcg_below = 0, left_out = 0;
    for (int trial = 0; trial < 1500; trial++) {
        struct scenario s;
        draw(&s, &rng);
        struct auction *g = run_scenario(gsp_plugin, &s, UINT32_MAX, 0);
        struct auction *v = run_scenario(vcg_plugin, &s, UINT32_MAX, 0);
        struct auction *f = run_scenario(fp_plugin, &s, UINT32_MAX, 0);
        uint32_t ref[TC_MAX];
        uint32_t n_ref = reference_allocation(&s, ref);
        assert_int_equal(g->slots.n, n_ref);
        assert_int_equal(v->slots.n, n_ref);
        assert_int_equal(f->slots.n, n_ref);
        for (uint32_t j = 0; j < n_ref; j++) {
            uint32_t row = g->slots.slot[j].row;
            assert_int_equal(row, ref[j]);
            assert_int_equal(v->slots.slot[j].row, ref[j]);
            assert_int_equal(f->slots.slot[j].row, ref[j]);
            /* 1. the rules */
            uint32_t same = 0;
            for (uint32_t k = 0; k < j; k++)
                same += s.adv[g->slots.slot[k].row] == s.adv[row];
            if (s.max_adv)
                assert_true(same < s.max_adv);
            if (s.no_adj && j > 0)
                assert_true(s.adv[g->slots.slot[j - 1].row] != s.adv[row]);
            /* 2. price within [reserve, bid] */
            float pg = g->slots.slot[j].price, pv = v->slots.slot[j].price;
            assert_true(pg <= s.bid[row] && pg >= (float)s.reserve);
            assert_true(pv <= s.bid[row] && pv >= (float)s.reserve);
            assert_float_equal(f->slots.slot[j].price, s.bid[row], 0);
            /* 4. vcg <= gsp */
            assert_true(pv <= pg * (1 + EPS) + EPS);
            vcg_below += pv < pg * (1 - 1e-4);
            /* 3. thresholds: over the price keeps slot j, under loses it. */
            float over = pg * 1.001f + 1e-4f;
            if (over <= s.bid[row]) {
                struct auction *x = run_scenario(gsp_plugin, &s, row, over);
                if (slot_of(x, row) != (int)j)
                    fail_msg("trial %d: row %u bidding %g over its price %g "
                             "left slot %u", trial, row, over, pg, j);
                auction_free(x);
            }
            float under = pg * 0.999f - 1e-4f;
            if (under >= (float)s.reserve && pg > (float)s.reserve) {
                struct auction *x = run_scenario(gsp_plugin, &s, row, under);
                int k = slot_of(x, row);
                if (k >= 0 && k <= (int)j)
                    fail_msg("trial %d: row %u bidding %g under its price %g "
                             "still got slot %d <= %u", trial, row, under, pg,
                             k, j);
                thresholds_checked++;
                auction_free(x);
            }
        }
        for (uint32_t i = 0; i < s.n; i++)
            left_out += slot_of(g, i) < 0 && s.bid[i] >= s.reserve &&
                        n_ref < s.slots;
        auction_free(g);
        auction_free(v);
        auction_free(f);
    }
    /* The interesting cases happened. */
    assert_true(thresholds_checked > 500);
    assert_true(vcg_below > 100);
    assert_true(left_out > 50); /* rules left slots empty with bidders left */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gsp_max_per_advertiser),
        cmocka_unit_test(test_gsp_no_adjacent),
        cmocka_unit_test(test_no_adjacent_stops_filling),
        cmocka_unit_test(test_max_two),
        cmocka_unit_test(test_deep_ranking),
        cmocka_unit_test(test_vcg_max_per_advertiser),
        cmocka_unit_test(test_first_price_rules),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_random_auctions),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
