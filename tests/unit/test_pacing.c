/*
 * test_pacing.c -- the budget_pacing filter
 * (plugins/filter_budget_pacing/budget_pacing.c):
 *
 *   - the controller: pass probability 1 on or behind the target curve,
 *     falling linearly to 0 one `tolerance` of the budget ahead, 0 once the
 *     budget is spent (measured pass rates over many seeded requests);
 *   - even and traffic-shaped curves;
 *   - one draw per campaign per request;
 *   - the guard near the budget keeps one candidate per campaign;
 *   - budget 0 is not paced; fail closed / open when the state is down;
 *   - a closed loop over a simulated day: demand 5x the budget ends within
 *     5% of the budget, never above budget + one price, and tracks the curve;
 *   - bad parameters are refused with clear messages.
 */
#include "state_fixture.h"

static const af_loaded *pacing;

static int
group_setup(void **state)
{
    pacing = load_shipped("filter_budget_pacing.so");
    return 0;
}

static int
group_teardown(void **state)
{
    af_loader_close((af_loaded *)pacing);
    return 0;
}

/* Rows 0..2: campaign 200 (budget 100); row 3: campaign 203 (budget 100). */
struct pfx {
    struct test_catalog cat;
    struct test_request tr;
    struct af_batch b;
    af_state *st;
    struct af_instance in;
};

static struct pfx *
pfx_new(af_config *cfg, af_state *st)
{
    struct pfx *f = calloc(1, sizeof *f);
    tc_init(&f->cat, 4);
    f->cat.campaign_id[1] = f->cat.campaign_id[2] = 200;
    treq_init(&f->tr, &f->cat.view);
    batch_new(&f->tr, &f->b, 8);
    for (uint32_t r = 0; r < 4; r++) {
        batch_add(&f->b, &f->cat.view, r);
        f->b.retrieval_score[r] = (float)(10 - r);
    }
    f->st = st ? st : af_state_embedded_new(1024);
    sf_instance(pacing, cfg, &f->cat.view, f->st, &f->in);
    return f;
}

static void
pfx_free(struct pfx *f, int own_state)
{
    af_instance_destroy(&f->in);
    if (own_state)
        af_state_free(f->st);
    treq_free(&f->tr);
    free(f);
}

/* Share of `trials` seeded requests at time t in which row 0 passes. */
static double
pass_rate(struct pfx *f, int64_t t, int trials)
{
    int pass = 0;
    f->tr.req.time_s = t;
    for (int k = 0; k < trials; k++) {
        af_rng_seed(&f->tr.rng, (uint64_t)k + 1);
        sf_clear_drops(&f->b);
        assert_int_equal(sf_filter(&f->in, &f->tr, &f->b), AF_OK);
        pass += !f->b.drop[0];
        /* One draw per campaign: rows 0..2 share campaign 200. */
        assert_int_equal(f->b.drop[1], f->b.drop[0]);
        assert_int_equal(f->b.drop[2], f->b.drop[0]);
    }
    return (double)pass / trials;
}

static void
spend(struct pfx *f, double amount, int64_t t)
{
    sf_record(f->st, &f->cat.view, AF_EV_SPEND, 1, 0, amount, t);
}

static void
test_controller_even(void **unused)
{
    struct pfx *f = pfx_new(af_config_new(), NULL); /* even, tolerance 0.02 */
    int64_t noon = SF_DAY0 + 12 * SF_HOUR;          /* target 50 of 100 */
    assert_float_equal(pass_rate(f, noon, 200), 1.0, 0);
    spend(f, 50, SF_DAY0 + 11 * SF_HOUR); /* on target: still p = 1 */
    assert_float_equal(pass_rate(f, noon, 200), 1.0, 0);
    spend(f, 1, SF_DAY0 + 11 * SF_HOUR); /* 1% ahead: p = 1 - 0.01/0.02 */
    double r = pass_rate(f, noon, 4000);
    if (r < 0.46 || r > 0.54)
        fail_msg("1%% ahead with tolerance 2%%: pass rate %.3f, want 0.5", r);
    spend(f, 0.5, SF_DAY0 + 11 * SF_HOUR); /* 1.5% ahead: p = 0.25 */
    r = pass_rate(f, noon, 4000);
    if (r < 0.22 || r > 0.28)
        fail_msg("1.5%% ahead: pass rate %.3f, want 0.25", r);
    spend(f, 0.5, SF_DAY0 + 11 * SF_HOUR); /* 2% ahead: p = 0 */
    assert_float_equal(pass_rate(f, noon, 200), 0.0, 0);
    /* Later the curve catches up: at 13:00 the target is 54.17, behind. */
    assert_float_equal(pass_rate(f, SF_DAY0 + 13 * SF_HOUR, 200), 1.0, 0);
    /* Row 3's campaign spent nothing: always passes. */
    f->tr.req.time_s = SF_DAY0 + 12 * SF_HOUR;
    sf_clear_drops(&f->b);
    sf_filter(&f->in, &f->tr, &f->b);
    assert_int_equal(f->b.drop[3], 0);
    /* A new day starts from zero. */
    assert_float_equal(pass_rate(f, SF_DAY0 + 24 * SF_HOUR + 60, 200), 1.0, 0);
    pfx_free(f, 1);
}

static void
test_budget_spent_never_passes(void **unused)
{
    struct pfx *f = pfx_new(cfg_nums("tolerance", 1.0, NULL), NULL);
    spend(f, 100, SF_DAY0 + SF_HOUR);
    /* At 23:59:59 the target is ~100 and the error is 0, but S >= B. */
    assert_float_equal(pass_rate(f, SF_DAY0 + 24 * SF_HOUR - 1, 200), 0.0, 0);
    pfx_free(f, 1);
}

static void
test_traffic_curve(void **unused)
{
    /* Hours 0..11 weigh 1, hours 12..23 weigh 3: by 12:00 a quarter of the
     * day's budget, by 18:00 a quarter + 6 * 3 / 48 = 0.625. */
    af_config *c = af_config_new();
    af_config_set_str(c, "curve", "traffic");
    for (int h = 0; h < 24; h++) {
        char key[32];
        snprintf(key, sizeof key, "traffic.%d", h + 1);
        af_config_set_num(c, key, h < 12 ? 1.0 : 3.0);
    }
    struct pfx *f = pfx_new(c, NULL);
    spend(f, 26, SF_DAY0 + SF_HOUR); /* 1% ahead of 25 at noon */
    double r = pass_rate(f, SF_DAY0 + 12 * SF_HOUR, 4000);
    if (r < 0.46 || r > 0.54)
        fail_msg("traffic curve, 1%% ahead at noon: pass rate %.3f", r);
    /* 15:00: target 0.25 + 3 * 3/48 = 0.4375 -> 43.75, far behind. */
    assert_float_equal(pass_rate(f, SF_DAY0 + 15 * SF_HOUR, 200), 1.0, 0);
    /* Within an hour the curve is linear: 06:30 -> 6.5/48 = 13.54%. */
    sf_clear_drops(&f->b);
    struct pfx *g = pfx_new(af_config_new(), NULL);
    af_instance_destroy(&g->in);
    c = af_config_new();
    af_config_set_str(c, "curve", "traffic");
    for (int h = 0; h < 24; h++) {
        char key[32];
        snprintf(key, sizeof key, "traffic.%d", h + 1);
        af_config_set_num(c, key, h < 12 ? 1.0 : 3.0);
    }
    sf_instance(pacing, c, &g->cat.view, g->st, &g->in);
    spend(g, 100 * 6.5 / 48 + 1, SF_DAY0 + SF_HOUR); /* 1% ahead */
    r = pass_rate(g, SF_DAY0 + 6 * SF_HOUR + 1800, 4000);
    if (r < 0.46 || r > 0.54)
        fail_msg("traffic curve, 1%% ahead at 06:30: pass rate %.3f", r);
    pfx_free(g, 1);
    pfx_free(f, 1);
}

static void
test_guard_near_budget(void **unused)
{
    struct pfx *f = pfx_new(af_config_new(), NULL);
    /* 99.5 spent of 100 late in the day: behind the curve, so it passes,
     * but 0.5 left < 3 candidates x bid 1: only the best (row 0, highest
     * retrieval score) stays. */
    spend(f, 99.5, SF_DAY0 + SF_HOUR);
    f->tr.req.time_s = SF_DAY0 + 24 * SF_HOUR - 10;
    assert_int_equal(sf_filter(&f->in, &f->tr, &f->b), AF_OK);
    assert_int_equal(sf_kept(&f->b), 0x1 | 0x8);
    /* With row 2 best by retrieval score, row 2 is the one kept. */
    f->b.retrieval_score[2] = 100;
    sf_clear_drops(&f->b);
    sf_filter(&f->in, &f->tr, &f->b);
    assert_int_equal(sf_kept(&f->b), 0x4 | 0x8);
    /* 3 left covers three bids of 1: no guard. */
    struct pfx *g = pfx_new(af_config_new(), NULL);
    sf_record(g->st, &g->cat.view, AF_EV_SPEND, 1, 0, 97, SF_DAY0 + SF_HOUR);
    g->tr.req.time_s = SF_DAY0 + 24 * SF_HOUR - 10;
    sf_filter(&g->in, &g->tr, &g->b);
    assert_int_equal(sf_kept(&g->b), 0xf);
    pfx_free(g, 1);
    pfx_free(f, 1);
}

static void
test_zero_budget_not_paced(void **unused)
{
    struct pfx *f = pfx_new(af_config_new(), NULL);
    for (int r = 0; r < 4; r++)
        f->cat.daily_budget[r] = 0;
    spend(f, 1000, SF_DAY0 + SF_HOUR);
    assert_float_equal(pass_rate(f, SF_DAY0 + 2 * SF_HOUR, 50), 1.0, 0);
    pfx_free(f, 1);
}

static void
test_state_down(void **unused)
{
    struct pfx *f = pfx_new(af_config_new(), sf_failing_state());
    f->tr.req.time_s = SF_DAY0 + SF_HOUR;
    assert_int_equal(sf_filter(&f->in, &f->tr, &f->b), AF_EIO);
    assert_int_equal(sf_kept(&f->b), 0); /* closed: nothing passes */
    pfx_free(f, 0);
    af_config *c = af_config_new();
    af_config_set_str(c, "on_error", "open");
    f = pfx_new(c, sf_failing_state());
    f->tr.req.time_s = SF_DAY0 + SF_HOUR;
    assert_int_equal(sf_filter(&f->in, &f->tr, &f->b), AF_EIO);
    assert_int_equal(sf_kept(&f->b), 0xf); /* open: everything passes */
    pfx_free(f, 0);
}

/*
 * A day of 20,000 requests (one every 4.32 s).  Each request the campaign's
 * one ad, if it passes, is shown and clicked with probability 0.05 at price
 * 1: demand 1000 a day against a budget of 100.  Spend must end within 5% of
 * the budget, never exceed budget + one price, and stay near the curve.
 */
static void
test_closed_loop_day(void **unused)
{
    for (int shaped = 0; shaped < 2; shaped++) {
        af_config *c = af_config_new();
        double w[24], cum = 0, total = 0;
        if (shaped) {
            af_config_set_str(c, "curve", "traffic");
            for (int h = 0; h < 24; h++) {
                char key[32];
                w[h] = 1 + (h >= 8 && h < 22 ? 2 : 0);
                total += w[h];
                snprintf(key, sizeof key, "traffic.%d", h + 1);
                af_config_set_num(c, key, w[h]);
            }
        }
        struct pfx *f = pfx_new(c, NULL);
        uint64_t x = 99;
        double spent = 0, max_dev = 0;
        const int n = 20000;
        for (int k = 0; k < n; k++) {
            int64_t t = SF_DAY0 + (int64_t)k * 86400 / n;
            f->tr.req.time_s = t;
            af_rng_seed(&f->tr.rng, (uint64_t)k);
            sf_clear_drops(&f->b);
            sf_filter(&f->in, &f->tr, &f->b);
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(x >> 11) * 0x1.0p-53;
            if (!f->b.drop[0] && u < 0.05) {
                spend(f, 1.0, t);
                spent += 1;
            }
            int h = (int)((t - SF_DAY0) / 3600);
            double frac = (double)((t - SF_DAY0) % 3600) / 3600.0;
            if (shaped) {
                cum = 0;
                for (int q = 0; q < h; q++)
                    cum += w[q];
                cum = (cum + w[h] * frac) / total;
            } else {
                cum = (double)(t - SF_DAY0) / 86400.0;
            }
            double dev = fabs(spent - 100 * cum) / 100;
            if (dev > max_dev)
                max_dev = dev;
        }
        if (spent < 95 || spent > 101)
            fail_msg("%s curve: spent %.0f of 100 (demand ~1000)",
                     shaped ? "traffic" : "even", spent);
        /* tolerance 2% + one price (1% of the budget) + noise */
        if (max_dev > 0.05)
            fail_msg("%s curve: max deviation from the curve %.3f of budget",
                     shaped ? "traffic" : "even", max_dev);
        print_message("%s curve: spent %.0f / 100, max deviation %.1f%%\n",
                      shaped ? "traffic" : "even", spent, 100 * max_dev);
        pfx_free(f, 1);
    }
}

static void
test_bad_parameters(void **unused)
{
    sf_create_error(pacing, cfg_str("curve", "sine"),
                    "curve must be \"even\" or \"traffic\", got sine");
    sf_create_error(pacing, cfg_str("curve", "traffic"),
                    "curve = \"traffic\" needs traffic = a list of 24 hourly "
                    "weights");
    sf_create_error(pacing, cfg_nums("tolerance", 0.0, NULL),
                    "tolerance must be a number in [0.0001, 1], got 0");
    sf_create_error(pacing, cfg_nums("traffic.1", 1.0, NULL),
                    "traffic is only used with curve = \"traffic\"");
    sf_create_error(pacing, cfg_nums("budget", 1.0, NULL),
                    "unknown parameter \"budget\"");
    sf_create_error(pacing, cfg_str("on_error", "maybe"),
                    "on_error must be \"open\" or \"closed\"");
    af_config *c = af_config_new();
    af_config_set_str(c, "curve", "traffic");
    for (int h = 0; h < 24; h++) {
        char key[32];
        snprintf(key, sizeof key, "traffic.%d", h + 1);
        af_config_set_num(c, key, 0.0);
    }
    sf_create_error(pacing, c, "traffic weights must not all be 0");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_controller_even),
        cmocka_unit_test(test_budget_spent_never_passes),
        cmocka_unit_test(test_traffic_curve),
        cmocka_unit_test(test_guard_near_budget),
        cmocka_unit_test(test_zero_budget_not_paced),
        cmocka_unit_test(test_state_down),
        cmocka_unit_test(test_closed_loop_day),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
