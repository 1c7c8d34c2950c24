/*
 * test_metrics_eval.c -- offline metrics (core/learn/eval.h) against
 * brute-force definitions on fixtures with many ties: AUC as the fraction
 * of (positive, negative) pairs ranked right (ties count 1/2), average
 * precision summed threshold by threshold, logloss term by term, ECE and
 * the predicted/observed ratio from their definitions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "learn/eval.h"

#define N 600

/* Scores on a coarse grid (so ties are frequent) and labels correlated with
 * them, from a fixed LCG. */
static void
fixture(float *y, double *p, size_t n, uint32_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (double)((s >> 33) % 21) / 20.0; /* 0, 0.05, ..., 1 */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) * 0x1.0p-53;
        y[i] = u < 0.15 + 0.6 * p[i] ? 1.0f : 0.0f;
    }
}

static double
brute_auc(const float *y, const double *p, size_t n)
{
    double good = 0, pairs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (y[i] > 0.5f && y[j] < 0.5f) {
                pairs++;
                good += p[i] > p[j] ? 1.0 : p[i] == p[j] ? 0.5 : 0.0;
            }
    return good / pairs;
}

/* AP: for each distinct threshold t (descending), precision at t times the
 * recall gained at t. */
static double
brute_ap(const float *y, const double *p, size_t n)
{
    double pos = 0, ap = 0, prev_recall = 0;
    for (size_t i = 0; i < n; i++)
        pos += y[i] > 0.5f;
    for (int k = 20; k >= 0; k--) {
        double t = k / 20.0, tp = 0, sel = 0;
        for (size_t i = 0; i < n; i++)
            if (p[i] >= t) {
                sel++;
                tp += y[i] > 0.5f;
            }
        if (sel == 0)
            continue;
        double recall = tp / pos;
        ap += (recall - prev_recall) * (tp / sel);
        prev_recall = recall;
    }
    return ap;
}

static void
test_auc_matches_pairs(void **state)
{
    (void)state;
    float y[N];
    double p[N];
    for (uint32_t seed = 1; seed <= 5; seed++) {
        fixture(y, p, N, seed);
        assert_true(fabs(af_eval_auc(y, p, N) - brute_auc(y, p, N)) < 1e-12);
        assert_true(fabs(af_eval_pr_auc(y, p, N) - brute_ap(y, p, N)) < 1e-12);
    }
}

static void
test_auc_edge_cases(void **state)
{
    (void)state;
    float y1[4] = {1, 1, 0, 0};
    double perfect[4] = {0.9, 0.8, 0.2, 0.1}, reversed[4] = {0.1, 0.2, 0.8, 0.9};
    double tied[4] = {0.5, 0.5, 0.5, 0.5};
    assert_true(af_eval_auc(y1, perfect, 4) == 1.0);
    assert_true(af_eval_auc(y1, reversed, 4) == 0.0);
    assert_true(af_eval_auc(y1, tied, 4) == 0.5);
    float none[3] = {0, 0, 0};
    assert_true(isnan(af_eval_auc(none, perfect, 3)));
}

static void
test_logloss_matches_terms(void **state)
{
    (void)state;
    float y[N];
    double p[N];
    fixture(y, p, N, 7);
    double s = 0;
    for (size_t i = 0; i < N; i++) {
        double q = fmin(fmax(p[i], 1e-7), 1 - 1e-7); /* p holds 0 and 1 */
        s += -(y[i] * log(q) + (1 - y[i]) * log(1 - q));
    }
    assert_true(fabs(af_eval_logloss(y, p, NULL, N) - s / N) < 1e-12);
    /* weights: a row of weight 2 counts as two rows */
    float w[2] = {2, 1}, y2[3] = {1, 1, 0}, yw[2] = {1, 0};
    double p2[3] = {0.3, 0.3, 0.4}, pw[2] = {0.3, 0.4};
    assert_true(fabs(af_eval_logloss(yw, pw, w, 2) -
                     af_eval_logloss(y2, p2, NULL, 3)) < 1e-12);
}

static void
test_calibration_metrics(void **state)
{
    (void)state;
    float y[N];
    double p[N];
    fixture(y, p, N, 11);
    struct af_eval ev;
    assert_int_equal(af_eval_compute(y, p, N, 10, &ev), 0);
    /* ECE by definition over equal-width bins [k/10, (k+1)/10), 1 in the
     * last bin */
    double ece = 0, sp = 0, sy = 0;
    for (int k = 0; k < 10; k++) {
        double n = 0, mp = 0, my = 0;
        for (size_t i = 0; i < N; i++) {
            int b = p[i] >= 1.0 ? 9 : (int)(p[i] * 10);
            if (b == k) {
                n++;
                mp += p[i];
                my += y[i];
            }
        }
        if (n > 0)
            ece += n / N * fabs(mp / n - my / n);
    }
    for (size_t i = 0; i < N; i++) {
        sp += p[i];
        sy += y[i];
    }
    assert_true(fabs(ev.ece - ece) < 1e-12);
    assert_true(fabs(ev.ratio - sp / sy) < 1e-12);
    assert_true(fabs(ev.auc - brute_auc(y, p, N)) < 1e-12);
    double r = sy / N, h = -(r * log(r) + (1 - r) * log(1 - r));
    assert_true(fabs(ev.ne - ev.logloss / h) < 1e-12);
    /* equal-count bins cover every row */
    uint64_t total = 0;
    for (int k = 0; k < 10; k++)
        total += ev.bin_mass[k].n;
    assert_int_equal(total, N);
    /* perfectly calibrated constant predictions: ECE 0 */
    for (size_t i = 0; i < N; i++)
        p[i] = sy / N;
    assert_int_equal(af_eval_compute(y, p, N, 10, &ev), 0);
    assert_true(ev.ece < 1e-12);
    assert_true(fabs(ev.ratio - 1.0) < 1e-12);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auc_matches_pairs),
        cmocka_unit_test(test_auc_edge_cases),
        cmocka_unit_test(test_logloss_matches_terms),
        cmocka_unit_test(test_calibration_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
