/*
 * test_exploration.c -- the exploration plugins epsilon_greedy, ucb and
 * thompson (plugins/exploration_*, plugins/exploration_common/expl.h):
 *
 *   epsilon_greedy  one slot replaced by a uniform eligible non-winner with
 *                   probability budget; exact propensities checked against
 *                   observed frequencies; diversity rules respected.
 *   ucb             hand-computed posterior means, bonuses, orders, prices
 *                   and exact propensities.
 *   thompson        the advertiser -> campaign -> ad back-off gives a new ad
 *                   its campaign's rate; budget 0 is the greedy order with
 *                   propensity 1; the Monte-Carlo propensity matches the
 *                   observed frequency of each (ad, slot); the budget bounds
 *                   the share of explored requests; prices within
 *                   [reserve, bid]; diversity rules respected.
 *
 * Each request re-seeds the request generator and uses a scratch arena that
 * is reset between requests, as the server's per-request arena is.
 */
#include "state_fixture.h"

static const af_loaded *egreedy, *ucb, *thompson, *gsp;

static int
group_setup(void **state)
{
    egreedy = load_shipped("exploration_epsilon_greedy.so");
    ucb = load_shipped("exploration_ucb.so");
    thompson = load_shipped("exploration_thompson.so");
    gsp = load_shipped("auction_gsp.so");
    return 0;
}

static int
group_teardown(void **state)
{
    af_loader_close((af_loaded *)egreedy);
    af_loader_close((af_loaded *)ucb);
    af_loader_close((af_loaded *)thompson);
    af_loader_close((af_loaded *)gsp);
    return 0;
}

/* n rows, row i: advertiser 100 + i, campaign 200 + i, CPC bid 1, quality 1,
 * pctr pctr0 - 0.05 i. */
struct efx {
    struct test_catalog cat;
    struct test_request tr;
    af_arena *scratch;
    struct af_batch b;
    af_state *st;
    struct af_instance in, auc;
    struct af_slot slot[AF_MAX_SLOTS + 1];
    struct af_slots slots;
};

static struct efx *
efx_new(uint32_t n, uint32_t max_slots)
{
    struct efx *f = calloc(1, sizeof *f);
    tc_init(&f->cat, n);
    treq_init(&f->tr, &f->cat.view);
    f->scratch = af_arena_create(1 << 16, 0);
    batch_new(&f->tr, &f->b, n);
    for (uint32_t r = 0; r < n; r++) {
        batch_add(&f->b, &f->cat.view, r);
        f->b.pctr[r] = 0.5f - 0.05f * (float)r;
    }
    f->st = af_state_embedded_new(1024);
    f->slots.max = max_slots;
    f->slots.slot = f->slot;
    f->tr.req.time_s = SF_DAY0;
    f->tr.req.arena = f->scratch;
    return f;
}

/* Instances: the explorer p with cfg and a gsp auction with auc_cfg. */
static void
efx_plugins(struct efx *f, const af_loaded *p, af_config *cfg,
            af_config *auc_cfg)
{
    sf_instance(p, cfg, &f->cat.view, f->st, &f->in);
    sf_instance(gsp, auc_cfg ? auc_cfg : af_config_new(), &f->cat.view, f->st,
                &f->auc);
}

static void
efx_free(struct efx *f)
{
    af_instance_destroy(&f->in);
    af_instance_destroy(&f->auc);
    af_state_free(f->st);
    af_arena_destroy(f->scratch);
    treq_free(&f->tr);
    free(f);
}

/* One request with seed k: the gsp auction, then the explorer. */
static void
efx_run(struct efx *f, uint64_t k)
{
    af_arena_reset(f->scratch);
    af_rng_seed(&f->tr.rng, k);
    const struct af_auction_ops *a = f->auc.ops;
    assert_int_equal(a->auction(f->auc.inst, &f->tr.req, &f->b, &f->slots),
                     AF_OK);
    const struct af_exploration_ops *e = f->in.ops;
    assert_int_equal(e->explore(f->in.inst, &f->tr.req, &f->b, &f->slots),
                     AF_OK);
}

/* n impressions and c clicks of row r. */
static void
counts(struct efx *f, uint32_t r, int n, int c)
{
    for (int k = 0; k < n; k++)
        sf_record(f->st, &f->cat.view, AF_EV_IMPRESSION, 1, r, 1, SF_DAY0 - 10);
    for (int k = 0; k < c; k++)
        sf_record(f->st, &f->cat.view, AF_EV_CLICK, 1, r, 1, SF_DAY0 - 10);
}

/* Diversity rules hold in the served slots. */
static void
check_rules(const struct efx *f, uint32_t max_adv, int no_adj)
{
    const struct af_catalog *cat = &f->cat.view;
    for (uint32_t j = 0; j < f->slots.n; j++) {
        uint32_t adv = cat->advertiser_id[f->b.ad[f->slots.slot[j].row]];
        uint32_t same = 0;
        for (uint32_t k = 0; k < j; k++) {
            same += cat->advertiser_id[f->b.ad[f->slots.slot[k].row]] == adv;
            assert_int_not_equal(f->slots.slot[k].row, f->slots.slot[j].row);
        }
        if (max_adv)
            assert_true(same < max_adv);
        if (no_adj && j > 0)
            assert_int_not_equal(
                cat->advertiser_id[f->b.ad[f->slots.slot[j - 1].row]], adv);
    }
}

/* --- ## epsilon_greedy --- */

static void
test_egreedy_uniform(void **unused)
{
    struct efx *f = efx_new(6, 3);
    efx_plugins(f, egreedy, cfg_nums("budget", 1.0, NULL), NULL);
    int seen[6][3] = {{0}};
    const int K = 9000;
    for (int k = 0; k < K; k++) {
        efx_run(f, (uint64_t)k);
        assert_int_equal(f->slots.n, 3);
        int explored = 0;
        for (uint32_t j = 0; j < 3; j++) {
            struct af_slot *s = &f->slots.slot[j];
            if (s->explored) {
                explored++;
                assert_true(s->row >= 3); /* a non-winner */
                assert_float_equal(s->propensity, 1.0 / 9.0, 1e-6);
                assert_float_equal(s->price, 0.0, 0); /* the reserve */
                seen[s->row][j]++;
            } else {
                assert_int_equal(s->row, j); /* the auction's ad */
                assert_float_equal(s->propensity, 2.0 / 3.0, 1e-6);
            }
        }
        assert_int_equal(explored, 1);
    }
    /* Every (non-winner, slot) pair about K / 9 times. */
    for (int r = 3; r < 6; r++)
        for (int j = 0; j < 3; j++)
            if (seen[r][j] < 850 || seen[r][j] > 1150)
                fail_msg("row %d at slot %d: %d times, want ~1000", r, j,
                         seen[r][j]);
    efx_free(f);
}

static void
test_egreedy_budget_and_rules(void **unused)
{
    /* budget 0.25: a quarter of the requests explore. */
    struct efx *f = efx_new(6, 3);
    efx_plugins(f, egreedy, cfg_nums("budget", 0.25, NULL), NULL);
    int explored = 0;
    for (int k = 0; k < 4000; k++) {
        efx_run(f, (uint64_t)k);
        for (uint32_t j = 0; j < 3; j++) {
            explored += f->slots.slot[j].explored;
            if (!f->slots.slot[j].explored)
                assert_float_equal(f->slots.slot[j].propensity,
                                   1 - 0.25 / 3, 1e-6);
        }
    }
    if (explored < 900 || explored > 1100)
        fail_msg("budget 0.25: %d of 4000 requests explored", explored);
    efx_free(f);

    /* budget 0: the auction's slots, propensity 1. */
    f = efx_new(6, 3);
    efx_plugins(f, egreedy, cfg_nums("budget", 0.0, NULL), NULL);
    efx_run(f, 1);
    for (uint32_t j = 0; j < 3; j++) {
        assert_int_equal(f->slots.slot[j].row, j);
        assert_float_equal(f->slots.slot[j].propensity, 1.0, 0);
        assert_int_equal(f->slots.slot[j].explored, 0);
    }
    efx_free(f);

    /* max_per_advertiser = 1, row 3 of row 0's advertiser: row 3 may only
     * replace row 0.  V_0 = {3, 4, 5}, V_1 = V_2 = {4, 5}. */
    f = efx_new(6, 3);
    f->cat.advertiser_id[3] = 100;
    af_config *c = cfg_nums("budget", 1.0, "max_per_advertiser", 1.0, NULL);
    efx_plugins(f, egreedy, c, cfg_nums("max_per_advertiser", 1.0, NULL));
    for (int k = 0; k < 600; k++) {
        efx_run(f, (uint64_t)k);
        check_rules(f, 1, 0);
        for (uint32_t j = 0; j < 3; j++) {
            struct af_slot *s = &f->slots.slot[j];
            if (s->explored)
                assert_float_equal(s->propensity,
                                   j == 0 ? 1.0 / 9 : 1.0 / 6, 1e-6);
        }
    }
    efx_free(f);

    /* no_adjacent_advertiser, row 4 of row 1's advertiser: row 4 may only
     * replace row 1 (slots 0 and 2 are next to slot 1). */
    f = efx_new(6, 3);
    f->cat.advertiser_id[4] = 101;
    c = cfg_nums("budget", 1.0, NULL);
    af_config_set_bool(c, "no_adjacent_advertiser", 1);
    af_config *ac = af_config_new();
    af_config_set_bool(ac, "no_adjacent_advertiser", 1);
    efx_plugins(f, egreedy, c, ac);
    for (int k = 0; k < 600; k++) {
        efx_run(f, (uint64_t)k);
        check_rules(f, 0, 1);
        for (uint32_t j = 0; j < 3; j++)
            if (f->slots.slot[j].row == 4)
                assert_int_equal(j, 1);
    }
    efx_free(f);
}

/* --- ## ucb --- */

/* Rows 0..2 with 1000/50, 1000/30, 0/0 impressions/clicks; prior global
 * 0.04 with strength 100; alpha 0.02; 2 slots.
 *   means   (4+50)/1100 = 0.0490909, (4+30)/1100 = 0.0309091, 0.04
 *   N = 2001, ln N = 7.601402
 *   bonus   0.02 sqrt(7.601402/1001) = 0.0017429 (rows 0, 1),
 *           0.02 sqrt(7.601402) = 0.0551412 (row 2)
 *   index   0.0508338, 0.0326520, 0.0951412
 *   greedy  row 0, row 2      UCB  row 2, row 0 */
static struct efx *
ucb_setup(double budget)
{
    struct efx *f = efx_new(3, 2);
    counts(f, 0, 1000, 50);
    counts(f, 1, 1000, 30);
    af_config *c = cfg_nums("budget", budget, "alpha", 0.02, "prior_mean",
                            0.04, "prior_strength", 100.0, NULL);
    af_config_set_str(c, "prior", "global");
    efx_plugins(f, ucb, c, NULL);
    return f;
}

static void
test_ucb_hand_computed(void **unused)
{
    struct efx *f = ucb_setup(1.0);
    efx_run(f, 1);
    assert_int_equal(f->slots.n, 2);
    struct af_slot *s = f->slots.slot;
    assert_int_equal(s[0].row, 2);
    assert_int_equal(s[1].row, 0);
    assert_int_equal(s[0].explored, 1);
    assert_int_equal(s[1].explored, 1);
    assert_float_equal(s[0].propensity, 1.0, 1e-6);
    assert_float_equal(s[1].propensity, 1.0, 1e-6);
    assert_float_equal(s[0].price, 0.0508338 / 0.0951412, 1e-5);
    assert_float_equal(s[1].price, 0.0326520 / 0.0508338, 1e-5);
    assert_float_equal(s[0].score, 0.0951412, 1e-6);
    efx_free(f);

    f = ucb_setup(0.0);
    efx_run(f, 1);
    s = f->slots.slot;
    assert_int_equal(s[0].row, 0);
    assert_int_equal(s[1].row, 2);
    assert_int_equal(s[0].explored + s[1].explored, 0);
    assert_float_equal(s[0].propensity, 1.0, 0);
    assert_float_equal(s[0].price, 0.04 / 0.0490909, 1e-5);
    assert_float_equal(s[1].price, 0.0309091 / 0.04, 1e-5);
    efx_free(f);

    /* budget 0.5: either order, each with propensity 0.5 per slot. */
    f = ucb_setup(0.5);
    int explored = 0;
    for (int k = 0; k < 2000; k++) {
        efx_run(f, (uint64_t)k);
        s = f->slots.slot;
        assert_float_equal(s[0].propensity, 0.5, 1e-6);
        assert_float_equal(s[1].propensity, 0.5, 1e-6);
        assert_int_equal(s[0].explored, s[0].row == 2);
        explored += s[0].explored;
    }
    if (explored < 900 || explored > 1100)
        fail_msg("budget 0.5: %d of 2000 requests explored", explored);
    efx_free(f);
}

/* --- ## thompson --- */

/* Rows 0-2: campaign 200 of advertiser 100 (rows 0, 1 at 10%, row 2 new);
 * row 3: 3%, row 4: 4%, each its own advertiser. */
static struct efx *
backoff_setup(const char *prior)
{
    struct efx *f = efx_new(5, 3);
    for (uint32_t r = 0; r < 3; r++) {
        f->cat.campaign_id[r] = 200;
        f->cat.advertiser_id[r] = 100;
    }
    counts(f, 0, 10000, 1000);
    counts(f, 1, 10000, 1000);
    counts(f, 3, 10000, 300);
    counts(f, 4, 10000, 400);
    af_config *c = cfg_nums("budget", 0.0, "prior_mean", 0.02, NULL);
    af_config_set_str(c, "prior", prior);
    efx_plugins(f, thompson, c, NULL);
    return f;
}

static int
slot_of(const struct efx *f, uint32_t row)
{
    for (uint32_t j = 0; j < f->slots.n; j++)
        if (f->slots.slot[j].row == row)
            return (int)j;
    return -1;
}

static void
test_thompson_backoff(void **unused)
{
    /* prior = advertiser: the new row 2 starts from its campaign's other
     * ads, (2000 + 100 * 0.02) / (20000 + 100) = 0.0996, and takes a slot
     * above rows 3 and 4; budget 0: greedy, propensity 1. */
    struct efx *f = backoff_setup("advertiser");
    efx_run(f, 1);
    assert_int_equal(f->slots.n, 3);
    assert_true(slot_of(f, 2) >= 0);
    assert_int_equal(slot_of(f, 3), -1);
    for (uint32_t j = 0; j < 3; j++) {
        assert_float_equal(f->slots.slot[j].propensity, 1.0, 0);
        assert_int_equal(f->slots.slot[j].explored, 0);
    }
    /* Its greedy score is the posterior mean: 0.0996 for bid 1. */
    assert_float_equal(f->slots.slot[slot_of(f, 2)].score, 2002.0 / 20100,
                       1e-6);
    efx_free(f);

    /* prior = global: the new ad starts at 0.02, below rows 3 and 4. */
    f = backoff_setup("global");
    efx_run(f, 1);
    assert_int_equal(slot_of(f, 2), -1);
    assert_true(slot_of(f, 4) >= 0);
    efx_free(f);

    /* prior = model: the pipeline's pCTR (row 2: 0.4) is the prior mean. */
    f = backoff_setup("model");
    efx_run(f, 1);
    assert_int_equal(slot_of(f, 2), 0);
    assert_float_equal(f->slots.slot[0].score, 0.4, 1e-6);
    efx_free(f);
}

/* Row 0 known at 5%, row 1 new (Beta(1, 19) from a global prior 0.05 of
 * strength 20), row 2 known at 4.5%, row 3 known at 2%; 2 slots. */
static struct efx *
sampling_setup(double budget, double resamples)
{
    struct efx *f = efx_new(4, 2);
    counts(f, 0, 20000, 1000);
    counts(f, 2, 20000, 900);
    counts(f, 3, 20000, 400);
    af_config *c = cfg_nums("budget", budget, "prior_mean", 0.05,
                            "prior_strength", 20.0, "propensity_samples",
                            resamples, NULL);
    af_config_set_str(c, "prior", "global");
    efx_plugins(f, thompson, c, NULL);
    return f;
}

static void
test_thompson_propensity(void **unused)
{
    struct efx *f = sampling_setup(1.0, 200);
    const int K = 3000;
    int seen[4][2] = {{0}};
    double psum[4][2] = {{0}};
    for (int k = 0; k < K; k++) {
        efx_run(f, (uint64_t)k + 1);
        assert_int_equal(f->slots.n, 2);
        for (uint32_t j = 0; j < 2; j++) {
            struct af_slot *s = &f->slots.slot[j];
            seen[s->row][j]++;
            psum[s->row][j] += s->propensity;
            assert_true(s->propensity > 0 && s->propensity <= 1);
            assert_true(s->price >= 0 && s->price <= 1.0f);
        }
    }
    /* The reported propensity of (row, slot), averaged over the requests
     * that served it, matches how often it was served. */
    int checked = 0;
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 2; j++) {
            if (seen[r][j] < 100)
                continue;
            double freq = (double)seen[r][j] / K, mean = psum[r][j] / seen[r][j];
            if (fabs(freq - mean) > 0.03)
                fail_msg("row %d slot %d: served %.3f of requests, mean "
                         "propensity %.3f", r, j, freq, mean);
            checked++;
        }
    assert_true(checked >= 4);
    /* The new ad is explored: it reaches the top slot a fair share. */
    assert_true(seen[1][0] > K / 10);
    efx_free(f);
}

static void
test_thompson_budget(void **unused)
{
    int rates[2];
    const double budgets[2] = {1.0, 0.2};
    for (int v = 0; v < 2; v++) {
        struct efx *f = sampling_setup(budgets[v], 16);
        int any = 0;
        for (int k = 0; k < 4000; k++) {
            efx_run(f, (uint64_t)k + 7);
            int ex = 0;
            for (uint32_t j = 0; j < f->slots.n; j++) {
                ex |= f->slots.slot[j].explored;
                if (budgets[v] < 1 && !f->slots.slot[j].explored)
                    assert_true(f->slots.slot[j].propensity >= 1 - budgets[v] - 1e-6);
            }
            any += ex;
        }
        rates[v] = any;
        efx_free(f);
    }
    /* budget 1 explores often here; budget 0.2 explores at most ~20% of
     * requests (3 sigma of 4000 Bernoulli(0.2) draws is 76). */
    assert_true(rates[0] > 1200);
    if (rates[1] > 800 + 76)
        fail_msg("budget 0.2: %d of 4000 requests had explored slots",
                 rates[1]);
    assert_true(rates[1] < rates[0]);
}

static void
test_thompson_rules_and_no_state(void **unused)
{
    /* Every row of advertiser 100 or 101; max 1 per advertiser, 3 slots:
     * only two can be filled. */
    struct efx *f = efx_new(6, 3);
    for (uint32_t r = 0; r < 6; r++)
        f->cat.advertiser_id[r] = 100 + r % 2;
    af_config *c = cfg_nums("budget", 1.0, "max_per_advertiser", 1.0,
                            "reserve", 0.25, NULL);
    efx_plugins(f, thompson, c, cfg_nums("max_per_advertiser", 1.0, NULL));
    for (int k = 0; k < 500; k++) {
        efx_run(f, (uint64_t)k);
        assert_int_equal(f->slots.n, 2);
        check_rules(f, 1, 0);
        for (uint32_t j = 0; j < 2; j++)
            assert_true(f->slots.slot[j].price >= 0.25f &&
                        f->slots.slot[j].price <= 1.0f);
    }
    efx_free(f);

    /* Without a state the posteriors are the priors: still serves. */
    f = efx_new(4, 2);
    af_instance_destroy(&f->in);
    struct af_instance_opts o = {.label = "t", .data_dir = "",
                                 .catalog = &f->cat.view, .state = NULL};
    char err[256];
    af_config *tc = cfg_nums("budget", 1.0, NULL);
    assert_int_equal(af_instance_create(thompson, tc, &o, &f->in, err,
                                        sizeof err), AF_OK);
    af_config_free(tc);
    sf_instance(gsp, af_config_new(), &f->cat.view, f->st, &f->auc);
    efx_run(f, 3);
    assert_int_equal(f->slots.n, 2);
    efx_free(f);
}

static void
test_bad_parameters(void **unused)
{
    sf_create_error(thompson, cfg_nums("budget", 1.5, NULL),
                    "budget must be a number in [0, 1], got 1.5");
    sf_create_error(thompson, cfg_str("prior", "ad"),
                    "prior must be \"advertiser\", \"campaign\", \"global\" "
                    "or \"model\", got ad");
    sf_create_error(thompson, cfg_nums("propensity_samples", 0.0, NULL),
                    "propensity_samples must be an integer in 1..1024");
    sf_create_error(ucb, cfg_nums("alpha", -1.0, NULL),
                    "alpha must be a number in [0, 100], got -1");
    sf_create_error(egreedy, cfg_nums("epsilon", 0.1, NULL),
                    "unknown parameter \"epsilon\"");
    sf_create_error(thompson, cfg_nums("prior_strength", 0.0, NULL),
                    "prior_strength must be a number in [0.001, 1e+09]");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_egreedy_uniform),
        cmocka_unit_test(test_egreedy_budget_and_rules),
        cmocka_unit_test(test_ucb_hand_computed),
        cmocka_unit_test(test_thompson_backoff),
        cmocka_unit_test(test_thompson_propensity),
        cmocka_unit_test(test_thompson_budget),
        cmocka_unit_test(test_thompson_rules_and_no_state),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
