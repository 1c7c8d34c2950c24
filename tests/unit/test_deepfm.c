/*
 * test_deepfm.c -- the deepfm kind: finite-difference gradient check of
 * the whole model (tables, bias, dense weights, every MLP layer), training
 * (learning, seed reproducibility, thread layouts, lazy Adam, Adagrad,
 * dropout), early stopping with the best epoch restored, and the payload
 * predictor.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "adfunnel/af_errno.h"
#include "learn/deepfm.h"
#include "learn/eval.h"
#include "learn/optim.h"
#include "learn/trainer.h"
#include "test_fm_fixture.h"

static const uint32_t card[] = {6, 9, 5, 7};

static void
test_deepfm_gradient(void **state)
{
    struct fx_data d;
    fx_make(&d, 10, 4, card, 1, 2, 1, 2);
    struct fx_model fm;
    static const uint32_t hidden[] = {7, 5};
    fx_model_init(&fm, &d.x, 3, 2, hidden, 4);
    struct af_fm_model *m = &fm.m;
    struct fx_grad g;
    fx_gradient(m, &d.x, &g);
    /* Small steps: a larger one crosses a ReLU kink (a unit at -0.004). */
    const float eps = 1e-3f;
    for (uint64_t i = 0; i < m->n_index; i++) {
        fx_expect_close(g.w1[i], fx_numeric(m, &d.x, &fm.w1[i], eps), "w1", i);
        for (uint32_t k = 0; k < m->dim; k++)
            fx_expect_close(g.emb[i * m->dim + k],
                            fx_numeric(m, &d.x, &fm.emb[i * m->dim + k], eps),
                            "emb", i * m->dim + k);
    }
    for (uint32_t j = 0; j < m->n_dense; j++)
        fx_expect_close(g.wd[j], fx_numeric(m, &d.x, &fm.wd[j], eps), "wd", j);
    fx_expect_close(g.bias, fx_numeric(m, &d.x, &m->bias, eps), "bias", 0);
    for (size_t i = 0; i < m->mlp.n_params; i++)
        fx_expect_close(g.mlp[i], fx_numeric(m, &d.x, &m->mlp.params[i], eps),
                        "mlp", i);
    fx_grad_free(&g);
    fx_model_free(&fm);
    fx_free(&d);
}


/* Hand-run Adam state of every parameter of an fx_model. */
struct hand_adam {
    float *m, *v;
};

/* One Adam step on p[0..n) with gradient g (double) and state at s. */
static void
hand_step(const struct af_adam *a, float *p, const double *gd, const float *gf,
          float *m, float *v, size_t n, float wd)
{
    for (size_t i = 0; i < n; i++) {
        float g = gd != NULL ? (float)gd[i] : gf[i];
        af_adam_dense(a, &p[i], &m[i], &v[i], &g, 1, wd);
    }
}

/*
 * Training steps on a batch that holds every row (so the row order does
 * not matter) equal Adam steps computed by hand from the model's gradient:
 * checks the trainer's wiring -- initialisation, gradient coalescing, the
 * parameter split over threads, optimizer state carried across steps,
 * weight decay on every table row.
 */
static void
test_deepfm_steps_by_hand(void **state)
{
    struct fx_data d;
    fx_make(&d, 64, 4, card, 1, 2, 5, 6);
    static const uint32_t hidden[] = {5, 3};
    struct af_train_opts o;
    af_train_opts_defaults(&o, "deepfm");
    o.embed_dim = 4;
    o.n_hidden = 2;
    o.hidden[0] = hidden[0];
    o.hidden[1] = hidden[1];
    o.batch_size = 64;
    o.epochs = 3; /* one step per epoch */
    o.learning_rate = 0.01;
    o.l2 = 0.05;
    o.seed = 7;
    for (uint32_t threads = 1; threads <= 3; threads++) {
        o.threads = threads;
        struct af_model_out out;
        char err[256];
        assert_int_equal(af_train_deepfm(&d.x, NULL, &o, &out, err,
                                         sizeof err), AF_OK);
        /* The initial model, drawn as the trainer draws it. */
        struct fx_model fm;
        fx_model_init(&fm, &d.x, 4, 2, hidden, 1);
        struct af_fm_model *m = &fm.m;
        struct af_wrand r;
        af_wrand_seed(&r, o.seed, 1);
        for (uint64_t i = 0; i < m->n_index; i++) {
            for (uint32_t k = 0; k < 4; k++)
                fm.emb[i * 4 + k] = (float)(0.01 * af_wrand_normal(&r));
            fm.w1[i] = 0.0f;
        }
        memset(fm.wd, 0, m->n_dense * sizeof(float));
        af_wrand_seed(&r, o.seed, 2);
        af_mlp_xavier(&m->mlp, &r);
        double pos = 0;
        for (uint32_t i = 0; i < d.x.n; i++)
            pos += d.x.label[i];
        m->bias = (float)log(pos / d.x.n / (1.0 - pos / d.x.n));

        size_t nt = m->n_index, ne = m->n_index * 4, nm = m->mlp.n_params;
        size_t total = nt + ne + nm + m->n_dense + 1;
        float *ms = calloc(total, sizeof(float)), *vs = calloc(total, sizeof(float));
        struct af_adam a;
        af_adam_init(&a, o.learning_rate, 0.9, 0.999, 1e-8);
        const float wd = (float)(2 * o.l2);
        for (uint32_t step = 0; step < o.epochs; step++) {
            struct fx_grad g;
            fx_gradient(m, &d.x, &g);
            af_adam_begin_step(&a);
            size_t at = 0;
            hand_step(&a, fm.w1, g.w1, NULL, ms + at, vs + at, nt, wd);
            at += nt;
            hand_step(&a, fm.emb, g.emb, NULL, ms + at, vs + at, ne, wd);
            at += ne;
            hand_step(&a, m->mlp.params, NULL, g.mlp, ms + at, vs + at, nm,
                      0.0f);
            at += nm;
            hand_step(&a, fm.wd, g.wd, NULL, ms + at, vs + at, m->n_dense,
                      0.0f);
            at += m->n_dense;
            hand_step(&a, &m->bias, &g.bias, NULL, ms + at, vs + at, 1, 0.0f);
            fx_grad_free(&g);
        }
        struct af_fm_model got;
        assert_int_equal(af_fm_model_from_payload(out.payload,
                                                  out.payload_size, "deepfm",
                                                  &got, err, sizeof err), 0);
        for (uint64_t i = 0; i < nt; i++)
            assert_float_equal(got.w1[i], fm.w1[i], 1e-5);
        for (uint64_t i = 0; i < ne; i++)
            assert_float_equal(got.emb[i], fm.emb[i], 1e-5);
        for (size_t i = 0; i < nm; i++)
            if (fabsf(got.mlp.params[i] - m->mlp.params[i]) > 1e-5f)
                fail_msg("threads %u: mlp[%zu] %g, want %g", threads, i,
                         got.mlp.params[i], m->mlp.params[i]);
        for (uint32_t j = 0; j < m->n_dense; j++)
            assert_float_equal(got.w_dense[j], fm.wd[j], 1e-5);
        assert_float_equal(got.bias, m->bias, 1e-5);
        af_fm_model_view_free(&got);
        free(ms);
        free(vs);
        fx_model_free(&fm);
        af_model_out_free(&out);
    }
    fx_free(&d);
}

/* Small and quick: 16-16 MLP, dim 4. */
static void
deep_opts(struct af_train_opts *o)
{
    af_train_opts_defaults(o, "deepfm");
    o->embed_dim = 4;
    o->n_hidden = 2;
    o->hidden[0] = o->hidden[1] = 16;
    o->batch_size = 64;
    o->learning_rate = 0.01;
    o->epochs = 8;
    o->patience = 2;
    o->l2 = 1e-5;
    o->threads = 2;
    o->seed = 1;
}

struct sets {
    struct fx_data tr, va;
};

static void
sets_make(struct sets *s, uint32_t n_train)
{
    fx_make(&s->tr, n_train, 4, card, 1, 2, 31, 32);
    fx_make(&s->va, 1500, 4, card, 1, 2, 31, 33);
}

static void
sets_free(struct sets *s)
{
    fx_free(&s->tr);
    fx_free(&s->va);
}

static void
train_ok(const struct sets *s, const struct af_train_opts *o,
         struct af_model_out *out)
{
    char err[256] = "";
    int rc = af_train_deepfm(&s->tr.x, &s->va.x, o, out, err, sizeof err);
    if (rc != AF_OK)
        fail_msg("train: %s", err);
}

static double
best_auc(const struct af_model_out *out)
{
    return out->epoch[out->best_epoch - 1].valid_auc;
}

/* The payload scores valid exactly as the best epoch did, so the best
 * weights (not the last) were kept. */
static void
expect_restored(const struct sets *s, const struct af_model_out *out)
{
    double *p = malloc(s->va.x.n * sizeof *p);
    char err[256];
    assert_int_equal(af_predict_deepfm(out->payload, out->payload_size,
                                       &s->va.x, p, err, sizeof err), AF_OK);
    /* Training evaluates in batches of batch_size rows, the predictor in
     * 4096-row blocks: OpenBLAS may sum a row in another order, so a few
     * near-ties can flip. */
    assert_float_equal(af_eval_auc(s->va.x.label, p, s->va.x.n),
                       best_auc(out), 2e-5);
    free(p);
}

static void
test_deepfm_learns(void **state)
{
    struct sets s;
    sets_make(&s, 5000);
    struct af_train_opts o;
    deep_opts(&o);
    struct af_model_out out;
    train_ok(&s, &o, &out);
    print_message("deepfm: %s\n", out.summary);
    assert_string_equal(out.kind, "deepfm");
    if (best_auc(&out) < 0.78)
        fail_msg("valid AUC %.4f", best_auc(&out));
    expect_restored(&s, &out);

    /* Same seed, same threads: the same model, byte for byte. */
    struct af_model_out again;
    train_ok(&s, &o, &again);
    assert_int_equal(out.payload_size, again.payload_size);
    assert_memory_equal(out.payload, again.payload, out.payload_size);
    af_model_out_free(&again);

    /* Another seed: another model. */
    o.seed = 2;
    train_ok(&s, &o, &again);
    assert_true(memcmp(out.payload, again.payload, out.payload_size) != 0);
    af_model_out_free(&again);
    af_model_out_free(&out);
    sets_free(&s);
}

/* One thread, two threads, sgemm on OpenBLAS threads: the same training
 * up to float summation order. */
static void
test_deepfm_thread_layouts(void **state)
{
    struct sets s;
    sets_make(&s, 3000);
    struct af_train_opts o;
    deep_opts(&o);
    o.epochs = 2;
    o.patience = 5;
    struct af_model_out a, b, c;
    o.threads = 1;
    train_ok(&s, &o, &a);
    o.threads = 2;
    train_ok(&s, &o, &b);
    o.blas_threads_mlp = 1;
    train_ok(&s, &o, &c);
    for (uint32_t e = 0; e < 2; e++) {
        assert_float_equal(a.epoch[e].train_loss, b.epoch[e].train_loss, 1e-4);
        assert_float_equal(a.epoch[e].train_loss, c.epoch[e].train_loss, 1e-4);
        assert_float_equal(a.epoch[e].valid_auc, b.epoch[e].valid_auc, 2e-3);
        assert_float_equal(a.epoch[e].valid_auc, c.epoch[e].valid_auc, 2e-3);
    }
    af_model_out_free(&a);
    af_model_out_free(&b);
    af_model_out_free(&c);
    sets_free(&s);
}

/* Lazy Adam, Adagrad (dense and lazy) and dropout all learn. */
static void
test_deepfm_optimizers(void **state)
{
    struct sets s;
    sets_make(&s, 4000);
    struct af_train_opts o;
    struct af_model_out out;
    struct {
        int opt, sparse;
        double dropout, lr;
    } cases[] = {
        {AF_OPT_ADAM, 1, 0.0, 0.01},
        {AF_OPT_ADAGRAD, 0, 0.0, 0.05},
        {AF_OPT_ADAGRAD, 1, 0.0, 0.05},
        {AF_OPT_ADAM, 0, 0.3, 0.01},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        deep_opts(&o);
        o.optimizer = cases[i].opt;
        o.sparse = cases[i].sparse;
        o.dropout = cases[i].dropout;
        o.learning_rate = cases[i].lr;
        train_ok(&s, &o, &out);
        print_message("case %zu: %s\n", i, out.summary);
        if (best_auc(&out) < 0.76)
            fail_msg("case %zu: valid AUC %.4f", i, best_auc(&out));
        expect_restored(&s, &out);
        af_model_out_free(&out);
    }
    sets_free(&s);
}

/* A learning rate that overfits at once stops after `patience` bad epochs
 * and returns epoch 1's weights. */
static void
test_deepfm_early_stopping(void **state)
{
    struct sets s;
    sets_make(&s, 400);
    struct af_train_opts o;
    deep_opts(&o);
    o.learning_rate = 0.05;
    o.l2 = 0.0;
    o.n_hidden = 2;
    o.hidden[0] = o.hidden[1] = 64;
    o.epochs = 30;
    o.patience = 3;
    struct af_model_out out;
    train_ok(&s, &o, &out);
    print_message("early stop: %s\n", out.summary);
    assert_true(out.n_epochs < 30);
    assert_int_equal(out.n_epochs, out.best_epoch + 3);
    for (uint32_t e = out.best_epoch; e < out.n_epochs; e++)
        assert_true(out.epoch[e].valid_auc <= best_auc(&out));
    expect_restored(&s, &out);
    af_model_out_free(&out);

    /* No valid set: every epoch runs, the last is kept. */
    o.epochs = 3;
    char err[256];
    assert_int_equal(af_train_deepfm(&s.tr.x, NULL, &o, &out, err,
                                     sizeof err), AF_OK);
    assert_int_equal(out.n_epochs, 3);
    assert_int_equal(out.best_epoch, 3);
    assert_true(isnan(out.epoch[0].valid_auc));
    af_model_out_free(&out);
    sets_free(&s);
}

/* Downsampling: the payload remembers w and every prediction is
 * corrected, p' = p / (p + (1 - p) / w). */
static void
test_deepfm_downsample_correction(void **state)
{
    struct sets s;
    sets_make(&s, 500);
    struct af_train_opts o;
    deep_opts(&o);
    o.epochs = 1;
    struct af_model_out a, b;
    train_ok(&s, &o, &a);
    o.downsample_rate = 0.25;
    train_ok(&s, &o, &b);
    double *pa = malloc(s.va.x.n * sizeof *pa), *pb = malloc(s.va.x.n * sizeof *pb);
    char err[256];
    assert_int_equal(af_predict_deepfm(a.payload, a.payload_size, &s.va.x, pa,
                                       err, sizeof err), AF_OK);
    assert_int_equal(af_predict_deepfm(b.payload, b.payload_size, &s.va.x, pb,
                                       err, sizeof err), AF_OK);
    for (uint32_t i = 0; i < s.va.x.n; i++)
        assert_float_equal(pb[i], pa[i] / (pa[i] + (1 - pa[i]) / 0.25), 1e-9);
    free(pa);
    free(pb);
    af_model_out_free(&a);
    af_model_out_free(&b);
    sets_free(&s);
}

static void
test_deepfm_bad_options(void **state)
{
    struct sets s;
    sets_make(&s, 50);
    struct af_train_opts o;
    struct af_model_out out;
    char err[256];
    deep_opts(&o);
    o.n_hidden = 9;
    assert_int_equal(af_train_deepfm(&s.tr.x, &s.va.x, &o, &out, err,
                                     sizeof err), AF_EINVAL);
    assert_non_null(strstr(err, "hidden layers"));
    deep_opts(&o);
    o.hidden[1] = 0;
    assert_int_equal(af_train_deepfm(&s.tr.x, &s.va.x, &o, &out, err,
                                     sizeof err), AF_EINVAL);
    deep_opts(&o);
    o.dropout = 1.0;
    assert_int_equal(af_train_deepfm(&s.tr.x, &s.va.x, &o, &out, err,
                                     sizeof err), AF_EINVAL);
    deep_opts(&o);
    o.n_req_fields = 5;
    assert_int_equal(af_train_deepfm(&s.tr.x, &s.va.x, &o, &out, err,
                                     sizeof err), AF_EINVAL);
    deep_opts(&o);
    struct af_examples empty = s.tr.x;
    empty.n = 0;
    assert_int_equal(af_train_deepfm(&empty, NULL, &o, &out, err, sizeof err),
                     AF_EINVAL);
    assert_non_null(strstr(err, "empty"));
    /* a valid set of another shape */
    assert_int_equal(af_train_deepfm(&s.tr.x, &s.tr.x, &o, &out, err,
                                     sizeof err), AF_OK);
    af_model_out_free(&out);
    struct fx_data other;
    static const uint32_t card3[] = {6, 9, 5};
    fx_make(&other, 10, 3, card3, -1, 2, 1, 2);
    assert_int_equal(af_train_deepfm(&s.tr.x, &other.x, &o, &out, err,
                                     sizeof err), AF_EINVAL);
    assert_non_null(strstr(err, "valid set has 3 fields"));
    fx_free(&other);
    sets_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepfm_gradient),
        cmocka_unit_test(test_deepfm_steps_by_hand),
        cmocka_unit_test(test_deepfm_learns),
        cmocka_unit_test(test_deepfm_thread_layouts),
        cmocka_unit_test(test_deepfm_optimizers),
        cmocka_unit_test(test_deepfm_early_stopping),
        cmocka_unit_test(test_deepfm_downsample_correction),
        cmocka_unit_test(test_deepfm_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
