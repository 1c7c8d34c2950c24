/*
 * test_learn_lr.c -- the lr trainer (core/learn/lr_train.c): FTRL and SGD
 * lower the loss on a separable fixture and separate it; Newton reaches
 * the stationary point of the L2 objective; results do not depend on the
 * thread count; negative downsampling with the correction at prediction
 * recovers the base rate within 2%; malformed payloads are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../plugins/model_lr/lr_format.h"
#include "adfunnel/af_errno.h"
#include "learn/eval.h"
#include "learn/sampling.h"
#include "learn/trainer.h"

#define FIELDS 3
#define VALUES 10

static const uint32_t offsets[FIELDS + 1] = {0, VALUES, 2 * VALUES, 3 * VALUES};

static double
unit(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53;
}

/* Three categorical fields of 10 values.  Separable: the label is 1 when
 * field 0's value is >= 5.  Otherwise the CTR is a logistic function of
 * per-value effects, around a low base rate. */
static void
make(struct af_examples *e, uint32_t n, int separable, uint64_t seed)
{
    assert_int_equal(af_examples_init(e, FIELDS, 0, offsets, n, n * FIELDS), 0);
    uint64_t s = seed;
    uint32_t npf[FIELDS] = {1, 1, 1}, g[FIELDS];
    float v[FIELDS] = {1, 1, 1};
    for (uint32_t r = 0; r < n; r++) {
        uint32_t x[FIELDS];
        for (int f = 0; f < FIELDS; f++) {
            x[f] = (uint32_t)(unit(&s) * VALUES);
            g[f] = offsets[f] + x[f];
        }
        float y;
        if (separable) {
            y = x[0] >= 5 ? 1.0f : 0.0f;
        } else {
            double z = -3.5 + 0.25 * x[0] - 0.15 * x[1] + (x[2] == 3 ? 1.0 : 0.0);
            y = unit(&s) < 1 / (1 + exp(-z)) ? 1.0f : 0.0f;
        }
        assert_int_equal(af_examples_push(e, npf, g, v, NULL, y, 1.0f, 0), 0);
    }
}

static void
opts(struct af_train_opts *o, int optimizer)
{
    af_train_opts_defaults(o, "lr");
    o->optimizer = optimizer;
    o->epochs = 10;
    o->patience = 0;
    o->l2 = 0.01;
    o->learning_rate = 0.5;
    o->threads = 1;
}

static void
test_loss_decreases_on_separable(void **state)
{
    (void)state;
    struct af_examples tr, va;
    make(&tr, 4000, 1, 1);
    make(&va, 1000, 1, 2);
    int optimizers[] = {AF_OPT_FTRL, AF_OPT_SGD, AF_OPT_NEWTON};
    for (int k = 0; k < 3; k++) {
        struct af_train_opts o;
        opts(&o, optimizers[k]);
        struct af_model_out *m = calloc(1, sizeof *m);
        char err[256];
        assert_int_equal(af_train_lr(&tr, &va, &o, m, err, sizeof err), 0);
        assert_true(m->n_epochs >= 2);
        for (uint32_t i = 1; i < m->n_epochs; i++) /* monotone here */
            assert_true(m->epoch[i].train_loss <= m->epoch[i - 1].train_loss + 1e-9);
        assert_true(m->epoch[m->n_epochs - 1].train_loss <
                    0.5 * m->epoch[0].train_loss);
        double *p = malloc(va.n * sizeof *p);
        assert_int_equal(af_predict_lr(m->payload, m->payload_size, &va, p, err,
                                       sizeof err), 0);
        uint32_t right = 0;
        for (uint32_t i = 0; i < va.n; i++)
            right += (p[i] > 0.5) == (va.label[i] > 0.5f);
        assert_int_equal(right, va.n); /* separated */
        assert_true(af_eval_auc(va.label, p, va.n) == 1.0);
        free(p);
        af_model_out_free(m);
        free(m);
    }
    af_examples_free(&tr);
    af_examples_free(&va);
}

/* At the Newton solution the gradient of sum(loss) + l2/2 |w|^2 vanishes:
 * check it coordinate by coordinate from the saved weights. */
static void
test_newton_is_stationary(void **state)
{
    (void)state;
    struct af_examples tr;
    make(&tr, 5000, 0, 3);
    struct af_train_opts o;
    opts(&o, AF_OPT_NEWTON);
    o.epochs = 50;
    o.l2 = 2.0;
    struct af_model_out *m = calloc(1, sizeof *m);
    char err[256];
    assert_int_equal(af_train_lr(&tr, NULL, &o, m, err, sizeof err), 0);
    struct af_lr_payload_header h;
    memcpy(&h, m->payload, sizeof h);
    const float *w = (const float *)((const char *)m->payload + sizeof h);
    double *p = malloc(tr.n * sizeof *p);
    assert_int_equal(af_predict_lr(m->payload, m->payload_size, &tr, p, err,
                                   sizeof err), 0);
    double g[FIELDS * VALUES + 1] = {0};
    for (uint32_t r = 0; r < tr.n; r++) {
        for (uint32_t f = 0; f < FIELDS; f++)
            g[tr.gidx[tr.start[r * FIELDS + f]]] += p[r] - tr.label[r];
        g[FIELDS * VALUES] += p[r] - tr.label[r];
    }
    for (uint32_t j = 0; j < FIELDS * VALUES; j++)
        assert_true(fabs(g[j] + o.l2 * w[j]) < 1e-2); /* float weights */
    assert_true(fabs(g[FIELDS * VALUES] + 0.01 * o.l2 * h.bias) < 1e-2);
    free(p);
    af_model_out_free(m);
    free(m);
    af_examples_free(&tr);
}

static void
test_threads_do_not_change_results(void **state)
{
    (void)state;
    struct af_examples tr, va;
    make(&tr, 3000, 0, 4);
    make(&va, 500, 0, 5);
    int optimizers[] = {AF_OPT_FTRL, AF_OPT_NEWTON};
    for (int k = 0; k < 2; k++) {
        struct af_model_out *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
        struct af_train_opts o;
        char err[256];
        opts(&o, optimizers[k]);
        o.batch_size = 256;
        o.seed = 17;
        assert_int_equal(af_train_lr(&tr, &va, &o, a, err, sizeof err), 0);
        o.threads = 2;
        assert_int_equal(af_train_lr(&tr, &va, &o, b, err, sizeof err), 0);
        assert_int_equal(a->payload_size, b->payload_size);
        assert_memory_equal(a->payload, b->payload, a->payload_size);
        af_model_out_free(a);
        af_model_out_free(b);
        free(a);
        free(b);
    }
    af_examples_free(&tr);
    af_examples_free(&va);
}

/* Train on negatives kept at rate 0.1; the corrected predictions on the
 * full test set average to its positive rate within 2%. */
static void
test_downsampling_recovers_base_rate(void **state)
{
    (void)state;
    struct af_examples full, test, sampled;
    make(&full, 200000, 0, 6);
    make(&test, 100000, 0, 7);
    const double w = 0.1;
    assert_int_equal(af_examples_downsample(&full, w, 8, &sampled), 0);
    assert_true(sampled.n < full.n / 3);
    uint32_t kept_pos = 0, all_pos = 0;
    for (uint32_t i = 0; i < sampled.n; i++)
        kept_pos += sampled.label[i] > 0.5f;
    for (uint32_t i = 0; i < full.n; i++)
        all_pos += full.label[i] > 0.5f;
    assert_int_equal(kept_pos, all_pos); /* every positive kept */
    struct af_train_opts o;
    opts(&o, AF_OPT_FTRL);
    o.downsample_rate = w;
    o.epochs = 5;
    o.l2 = 1;
    o.batch_size = 256;
    struct af_model_out *m = calloc(1, sizeof *m);
    char err[256];
    assert_int_equal(af_train_lr(&sampled, NULL, &o, m, err, sizeof err), 0);
    double *p = malloc(test.n * sizeof *p), sp = 0, sy = 0;
    assert_int_equal(af_predict_lr(m->payload, m->payload_size, &test, p, err,
                                   sizeof err), 0);
    for (uint32_t i = 0; i < test.n; i++) {
        sp += p[i];
        sy += test.label[i];
    }
    double ratio = sp / sy;
    print_message("base rate %.4f, mean corrected prediction %.4f (ratio %.4f)\n",
                  sy / test.n, sp / test.n, ratio);
    assert_true(fabs(ratio - 1.0) < 0.02);
    /* without the correction the same model overshoots badly */
    struct af_lr_payload_ext ext;
    size_t at = m->payload_size - sizeof ext - 4 * FIELDS;
    memcpy(&ext, (char *)m->payload + at, sizeof ext);
    assert_true(fabs(ext.downsample_rate - w) < 1e-7);
    ext.downsample_rate = 1.0f;
    memcpy((char *)m->payload + at, &ext, sizeof ext);
    assert_int_equal(af_predict_lr(m->payload, m->payload_size, &test, p, err,
                                   sizeof err), 0);
    sp = 0;
    for (uint32_t i = 0; i < test.n; i++)
        sp += p[i];
    assert_true(sp / sy > 3.0);
    free(p);
    af_model_out_free(m);
    free(m);
    af_examples_free(&sampled);
    af_examples_free(&full);
    af_examples_free(&test);
}

static void
test_bad_payloads_refused(void **state)
{
    (void)state;
    struct af_examples tr;
    make(&tr, 500, 1, 9);
    struct af_train_opts o;
    opts(&o, AF_OPT_FTRL);
    o.epochs = 1;
    struct af_model_out *m = calloc(1, sizeof *m);
    char err[256];
    assert_int_equal(af_train_lr(&tr, NULL, &o, m, err, sizeof err), 0);
    double *p = malloc(tr.n * sizeof *p);
    assert_int_equal(af_predict_lr(m->payload, 10, &tr, p, err, sizeof err),
                     AF_ECORRUPT);
    assert_int_equal(af_predict_lr(m->payload, m->payload_size - 3, &tr, p, err,
                                   sizeof err), AF_ECORRUPT);
    struct af_examples other;
    static const uint32_t off2[2] = {0, 7};
    assert_int_equal(af_examples_init(&other, 1, 0, off2, 1, 1), 0);
    assert_int_equal(af_predict_lr(m->payload, m->payload_size, &other, p, err,
                                   sizeof err), AF_EMISMATCH);
    /* bad options */
    af_model_out_free(m);
    o.optimizer = AF_OPT_ADAM;
    assert_int_equal(af_train_lr(&tr, NULL, &o, m, err, sizeof err), AF_EINVAL);
    af_examples_free(&other);
    free(p);
    free(m);
    af_examples_free(&tr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_decreases_on_separable),
        cmocka_unit_test(test_newton_is_stationary),
        cmocka_unit_test(test_threads_do_not_change_results),
        cmocka_unit_test(test_downsampling_recovers_base_rate),
        cmocka_unit_test(test_bad_payloads_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
