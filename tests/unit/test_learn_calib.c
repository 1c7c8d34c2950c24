/*
 * test_learn_calib.c -- calibrators (core/learn/calib.h): PAV is monotone
 * and equals the min-max formula of isotonic regression on fixtures;
 * isotonic fits are monotone and calibrate a miscalibrated score; Platt
 * recovers known coefficients; calibrator files round-trip and damaged
 * ones are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../plugins/calibrator_isotonic/iso_format.h"
#include "adfunnel/af_errno.h"
#include "learn/calib.h"
#include "learn/eval.h"
#include "model/modelfile.h"

static uint64_t
lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static double
unit(uint64_t *s)
{
    return (double)lcg(s) * 0x1.0p-53;
}

/* Isotonic regression by its closed form: f_i = max over j <= i of min
 * over k >= i of the weighted mean of y[j..k]. */
static void
reference(const double *y, const double *w, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) {
        double best = -INFINITY;
        for (size_t j = 0; j <= i; j++) {
            double lo = INFINITY;
            for (size_t k = i; k < n; k++) {
                double sy = 0, sw = 0;
                for (size_t t = j; t <= k; t++) {
                    sy += y[t] * w[t];
                    sw += w[t];
                }
                lo = fmin(lo, sy / sw);
            }
            best = fmax(best, lo);
        }
        out[i] = best;
    }
}

static void
test_pav_equals_reference(void **state)
{
    (void)state;
    uint64_t s = 42;
    for (int round = 0; round < 20; round++) {
        size_t n = 5 + lcg(&s) % 40;
        double y[64], w[64], got[64], want[64];
        for (size_t i = 0; i < n; i++) {
            y[i] = (double)(lcg(&s) % 7) + 0.1 * (double)i; /* noisy trend */
            w[i] = 1 + (double)(lcg(&s) % 5);
        }
        assert_int_equal(af_pav(y, w, n, got), 0);
        reference(y, w, n, want);
        for (size_t i = 0; i < n; i++) {
            assert_true(fabs(got[i] - want[i]) < 1e-9);
            if (i > 0)
                assert_true(got[i] >= got[i - 1]);
        }
    }
    /* already sorted: unchanged; all equal: unchanged */
    double y[5] = {1, 2, 3, 4, 5}, out[5];
    assert_int_equal(af_pav(y, NULL, 5, out), 0);
    for (int i = 0; i < 5; i++)
        assert_true(out[i] == y[i]);
    double z[4] = {3, 1, 2, 0};
    assert_int_equal(af_pav(z, NULL, 4, out), 0);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(out[i] - 1.5) < 1e-12);
}

/* A score whose true probability is p^2: isotonic must fix it. */
static void
test_isotonic_calibrates(void **state)
{
    (void)state;
    enum { N = 20000 };
    float *y = malloc(N * sizeof *y);
    double *p = malloc(N * sizeof *p), *q = malloc(N * sizeof *q);
    uint64_t s = 7;
    for (int i = 0; i < N; i++) {
        p[i] = unit(&s);
        y[i] = unit(&s) < p[i] * p[i] ? 1.0f : 0.0f;
    }
    for (uint32_t mode = AF_ISO_LINEAR; mode <= AF_ISO_STEP; mode++) {
        struct af_isotonic c;
        assert_int_equal(af_isotonic_fit(y, p, N, 200, mode, &c), 0);
        assert_true(c.n >= 2 && c.n <= 200);
        for (uint32_t k = 1; k < c.n; k++) {
            assert_true(c.x[k] > c.x[k - 1]);
            assert_true(c.y[k] >= c.y[k - 1]);
        }
        double prev = -1;
        for (int i = 0; i <= 1000; i++) { /* monotone everywhere */
            double v = af_isotonic_apply(&c, i / 1000.0);
            assert_true(v >= prev && v >= 0 && v <= 1);
            prev = v;
        }
        struct af_eval before, after;
        for (int i = 0; i < N; i++)
            q[i] = af_isotonic_apply(&c, p[i]);
        af_eval_compute(y, p, N, 10, &before);
        af_eval_compute(y, q, N, 10, &after);
        assert_true(before.ece > 0.1);
        assert_true(after.ece < 0.01);
        assert_true(fabs(after.ratio - 1.0) < 0.02);
        af_isotonic_free(&c);
    }
    free(y);
    free(p);
    free(q);
}

static void
test_platt_recovers_coefficients(void **state)
{
    (void)state;
    enum { N = 50000 };
    float *y = malloc(N * sizeof *y);
    double *p = malloc(N * sizeof *p);
    uint64_t s = 9;
    const double a = 0.6, b = -0.8;
    for (int i = 0; i < N; i++) {
        double z = 4 * unit(&s) - 2; /* logit of the raw score */
        p[i] = 1 / (1 + exp(-z));
        y[i] = unit(&s) < 1 / (1 + exp(-(a * z + b))) ? 1.0f : 0.0f;
    }
    struct af_platt c;
    assert_int_equal(af_platt_fit(y, p, N, &c), 0);
    assert_true(fabs(c.a - a) < 0.05);
    assert_true(fabs(c.b - b) < 0.05);
    assert_true(af_platt_fit(y, p, 0, &c) == AF_EINVAL);
    free(y);
    free(p);
}

static void
test_files_round_trip_and_refuse(void **state)
{
    (void)state;
    char dir[] = "/tmp/af_calib_XXXXXX", path[128], err[512];
    assert_non_null(mkdtemp(dir));
    struct af_isotonic iso = {3, AF_ISO_LINEAR, NULL, NULL};
    float x[3] = {0.1f, 0.5f, 0.9f}, yy[3] = {0.05f, 0.4f, 0.8f};
    iso.x = x;
    iso.y = yy;
    snprintf(path, sizeof path, "%s/i.afm", dir);
    assert_int_equal(af_isotonic_save(&iso, path, "test", err, sizeof err), 0);
    struct af_calibrator c;
    assert_int_equal(af_calibrator_load(path, &c, err, sizeof err), 0);
    assert_string_equal(c.kind, "isotonic");
    assert_true(fabs(af_calibrator_apply(&c, 0.3) - (0.05 + 0.5 * 0.35)) < 1e-6);
    assert_true(af_calibrator_apply(&c, 0.0) == yy[0]);
    assert_true(af_calibrator_apply(&c, 1.0) == yy[2]);
    af_calibrator_free(&c);

    /* knots out of order: written fine (the writer trusts the fitter),
     * refused on load */
    float bad[3] = {0.5f, 0.1f, 0.9f};
    iso.x = bad;
    assert_int_equal(af_isotonic_save(&iso, path, "bad", err, sizeof err), 0);
    assert_int_equal(af_calibrator_load(path, &c, err, sizeof err), AF_ECORRUPT);
    assert_non_null(strstr(err, "out of order"));

    struct af_platt pl = {0.9, -0.2};
    snprintf(path, sizeof path, "%s/p.afm", dir);
    assert_int_equal(af_platt_save(&pl, path, "test", err, sizeof err), 0);
    assert_int_equal(af_calibrator_load(path, &c, err, sizeof err), 0);
    assert_string_equal(c.kind, "platt");
    assert_true(fabs(c.platt.a - 0.9) < 1e-15 && fabs(c.platt.b + 0.2) < 1e-15);
    af_calibrator_free(&c);

    /* truncated file */
    assert_int_equal(truncate(path, 256 + 10), 0);
    assert_true(af_calibrator_load(path, &c, err, sizeof err) < 0);
    /* a model file of another kind */
    snprintf(path, sizeof path, "%s/m.afm", dir);
    struct af_modelfile_meta m = {.kind = "lr", .version = "x"};
    float w[4] = {0};
    assert_int_equal(af_modelfile_write(path, &m, w, sizeof w, err, sizeof err), 0);
    assert_int_equal(af_calibrator_load(path, &c, err, sizeof err), AF_EMISMATCH);
    assert_non_null(strstr(err, "not a calibrator"));
    unlink(path);
    snprintf(path, sizeof path, "%s/p.afm", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/i.afm", dir);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pav_equals_reference),
        cmocka_unit_test(test_isotonic_calibrates),
        cmocka_unit_test(test_platt_recovers_coefficients),
        cmocka_unit_test(test_files_round_trip_and_refuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
