/*
 * test_mlp.c -- the MLP (core/learn/mlp.c) and the optimizers
 * (core/learn/optim.c): finite-difference gradient checks with and without
 * dropout, row-split and part-split passes equal to whole-batch ones, and
 * one optimizer step of Adam, lazy Adam and Adagrad against hand-computed
 * values.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "adfunnel/af_errno.h"
#include "learn/mlp.h"
#include "learn/optim.h"
#include "world/wrand.h"

#define IN 5
#define ROWS 4

static const uint32_t widths[] = {IN, 6, 4, 1};

/* Loss = sum_r c_r * out_r over the rows of x. */
static double
loss(const struct af_mlp *m, const float *x, const float *c,
     const struct af_dropout *d)
{
    struct af_mlp_work w;
    assert_int_equal(af_mlp_work_init(&w, m, ROWS), 0);
    af_mlp_forward(m, &w, x, 0, ROWS, d);
    double l = 0;
    for (int r = 0; r < ROWS; r++)
        l += (double)c[r] * w.out[r];
    af_mlp_work_free(&w);
    return l;
}

/* Random model, inputs and loss weights; returns the smallest
 * |pre-activation| so callers can avoid ReLU kinks. */
static void
setup(struct af_mlp *m, float *x, float *c, uint64_t seed)
{
    struct af_wrand r;
    af_wrand_seed(&r, seed, 0);
    assert_int_equal(af_mlp_init(m, 3, widths), 0);
    af_mlp_xavier(m, &r);
    for (uint32_t l = 0; l < m->n_layers; l++)
        for (uint32_t j = 0; j < m->width[l + 1]; j++)
            m->b[l][j] = (float)(0.2 * af_wrand_normal(&r));
    for (int i = 0; i < ROWS * IN; i++)
        x[i] = (float)af_wrand_normal(&r);
    for (int i = 0; i < ROWS; i++)
        c[i] = (float)af_wrand_normal(&r);
}

static void
check_gradients(const struct af_dropout *d)
{
    struct af_mlp m;
    float x[ROWS * IN], c[ROWS], dx[ROWS * IN];
    setup(&m, x, c, d ? 11 : 5);
    struct af_mlp_work w;
    assert_int_equal(af_mlp_work_init(&w, &m, ROWS), 0);
    af_mlp_forward(&m, &w, x, 0, ROWS, d);
    memcpy(w.g[m.n_layers - 1], c, sizeof c);
    af_mlp_backward(&m, &w, 0, ROWS, d, dx);
    float *grad = calloc(m.n_params, sizeof *grad);
    af_mlp_grad(&m, &w, x, ROWS, 0, 1, grad);

    const float eps = 1e-3f;
    int checked = 0;
    for (size_t i = 0; i < m.n_params; i++) {
        float keep = m.params[i];
        m.params[i] = keep + eps;
        double up = loss(&m, x, c, d);
        m.params[i] = keep - eps;
        double down = loss(&m, x, c, d);
        m.params[i] = keep;
        double num = (up - down) / (2 * eps);
        if (fabs(grad[i] - num) > 1e-3 + 1e-2 * fabs(num))
            fail_msg("param %zu: analytic %g numeric %g", i, grad[i], num);
        checked++;
    }
    for (int i = 0; i < ROWS * IN; i++) {
        float keep = x[i];
        x[i] = keep + eps;
        double up = loss(&m, x, c, d);
        x[i] = keep - eps;
        double down = loss(&m, x, c, d);
        x[i] = keep;
        double num = (up - down) / (2 * eps);
        if (fabs(dx[i] - num) > 1e-3 + 1e-2 * fabs(num))
            fail_msg("input %d: analytic %g numeric %g", i, dx[i], num);
    }
    assert_int_equal(checked, (int)m.n_params);
    free(grad);
    af_mlp_work_free(&w);
    af_mlp_free(&m);
}

static void
test_mlp_gradient(void **state)
{
    check_gradients(NULL);
}

static void
test_mlp_gradient_dropout(void **state)
{
    struct af_dropout d = {.p = 0.3f, .seed = 9, .step = 4};
    check_gradients(&d);
}

/* Rows split over "threads" and parameters split into parts give the same
 * numbers as one pass over the batch. */
static void
test_mlp_splits(void **state)
{
    struct af_mlp m;
    float x[ROWS * IN], c[ROWS], dx1[ROWS * IN], dx2[ROWS * IN];
    setup(&m, x, c, 3);
    struct af_dropout d = {.p = 0.25f, .seed = 1, .step = 2};
    struct af_mlp_work w1, w2;
    assert_int_equal(af_mlp_work_init(&w1, &m, ROWS), 0);
    assert_int_equal(af_mlp_work_init(&w2, &m, ROWS), 0);
    af_mlp_forward(&m, &w1, x, 0, ROWS, &d);
    af_mlp_forward(&m, &w2, x, 0, 1, &d);
    af_mlp_forward(&m, &w2, x, 1, ROWS - 1, &d);
    for (int r = 0; r < ROWS; r++)
        assert_float_equal(w1.out[r], w2.out[r], 1e-6);
    memcpy(w1.g[m.n_layers - 1], c, sizeof c);
    memcpy(w2.g[m.n_layers - 1], c, sizeof c);
    af_mlp_backward(&m, &w1, 0, ROWS, &d, dx1);
    af_mlp_backward(&m, &w2, 0, 3, &d, dx2);
    af_mlp_backward(&m, &w2, 3, 1, &d, dx2);
    for (int i = 0; i < ROWS * IN; i++)
        assert_float_equal(dx1[i], dx2[i], 1e-6);

    float *g1 = calloc(m.n_params, sizeof *g1);
    float *g2 = calloc(m.n_params, sizeof *g2);
    af_mlp_grad(&m, &w1, x, ROWS, 0, 1, g1);
    uint8_t *seen = calloc(m.n_params, 1);
    for (uint32_t p = 0; p < 3; p++) {
        af_mlp_grad(&m, &w2, x, ROWS, p, 3, g2);
        for (uint32_t l = 0; l < m.n_layers; l++) {
            struct af_mlp_range r;
            af_mlp_part(&m, l, p, 3, &r);
            for (size_t i = 0; i < r.w_len; i++)
                seen[r.w_off + i]++;
            for (size_t i = 0; i < r.b_len; i++)
                seen[r.b_off + i]++;
        }
    }
    for (size_t i = 0; i < m.n_params; i++) {
        assert_int_equal(seen[i], 1); /* the parts tile the parameters */
        assert_float_equal(g1[i], g2[i], 1e-6);
    }
    free(seen);
    free(g1);
    free(g2);
    af_mlp_work_free(&w1);
    af_mlp_work_free(&w2);
    af_mlp_free(&m);
}

static void
test_mlp_bad_shapes(void **state)
{
    struct af_mlp m;
    uint32_t w0[] = {3, 0, 1};
    assert_int_equal(af_mlp_init(&m, 2, w0), AF_EINVAL);
    assert_int_equal(af_mlp_init(&m, 0, w0), AF_EINVAL);
    uint32_t many[AF_MLP_MAX_LAYERS + 2];
    for (int i = 0; i < AF_MLP_MAX_LAYERS + 2; i++)
        many[i] = 2;
    assert_int_equal(af_mlp_init(&m, AF_MLP_MAX_LAYERS + 1, many), AF_EINVAL);
}

/* --- ## Optimizers --- */

static void
test_adam_steps(void **state)
{
    struct af_adam a;
    af_adam_init(&a, 0.1, 0.9, 0.999, 1e-8);
    af_adam_begin_step(&a);
    assert_int_equal(a.t, 1);
    /* Step 1 of Adam: m = 0.1 g', v = 0.001 g'^2, bias-corrected m/sqrt(v)
     * is sign(g'), so p moves by lr (up to eps). */
    float p[2] = {1.0f, -2.0f}, m[2] = {0}, v[2] = {0}, g[2] = {0.5f, -0.25f};
    af_adam_dense(&a, p, m, v, g, 2, 0.0f);
    assert_float_equal(p[0], 0.9f, 1e-6);
    assert_float_equal(p[1], -1.9f, 1e-6);
    assert_float_equal(m[0], 0.05f, 1e-7);
    assert_float_equal(v[0], 0.00025f, 1e-9);
    /* Weight decay with a zero gradient: g' = wd * p. */
    float q[1] = {2.0f}, mq[1] = {0}, vq[1] = {0};
    af_adam_dense(&a, q, mq, vq, NULL, 1, 0.5f);
    assert_float_equal(mq[0], 0.1f, 1e-7); /* 0.1 * (0.5 * 2) */
    assert_float_equal(q[0], 1.9f, 1e-6);
    /* Step 2 by hand: g = 1 again. */
    af_adam_begin_step(&a);
    float r[1] = {0.0f}, mr[1] = {0.1f}, vr[1] = {0.001f}, gr[1] = {1.0f};
    af_adam_dense(&a, r, mr, vr, gr, 1, 0.0f);
    double m2 = 0.9 * 0.1 + 0.1, v2 = 0.999 * 0.001 + 0.001;
    double want = -0.1 / (1 - 0.81) * m2 / (sqrt(v2) / sqrt(1 - 0.998001) +
                                             1e-8);
    assert_float_equal(r[0], want, 1e-6);

    /* Lazy Adam (SparseAdam) on a row at step 2: eps before the bias
     * correction, and the same global t. */
    float s[1] = {0.0f}, ms[1] = {0.1f}, vs[1] = {0.001f};
    af_adam_sparse_row(&a, s, ms, vs, gr, 1);
    double want_s = -0.1 * sqrt(1 - 0.998001) / (1 - 0.81) * m2 /
                    (sqrt(v2) + 1e-8);
    assert_float_equal(s[0], want_s, 1e-6);
    assert_float_equal(ms[0], m2, 1e-7);
}

static void
test_adagrad_step(void **state)
{
    struct af_adagrad a = {.lr = 0.5f, .eps = 1e-10f};
    float p[1] = {1.0f}, sum[1] = {0}, g[1] = {2.0f};
    af_adagrad_dense(&a, p, sum, g, 1, 0.0f);
    assert_float_equal(sum[0], 4.0f, 1e-7);
    assert_float_equal(p[0], 0.5f, 1e-6); /* 1 - 0.5 * 2 / 2 */
    af_adagrad_dense(&a, p, sum, NULL, 1, 2.0f); /* g' = 2 * 0.5 = 1 */
    assert_float_equal(sum[0], 5.0f, 1e-6);
    assert_float_equal(p[0], 0.5f - 0.5f / sqrtf(5.0f), 1e-6);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_gradient),
        cmocka_unit_test(test_mlp_gradient_dropout),
        cmocka_unit_test(test_mlp_splits),
        cmocka_unit_test(test_mlp_bad_shapes),
        cmocka_unit_test(test_adam_steps),
        cmocka_unit_test(test_adagrad_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
