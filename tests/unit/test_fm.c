/*
 * test_fm.c -- the fm kind: finite-difference gradient check of the FM
 * model (first order, pairwise term, mean-pooled multi-valued field, dense
 * inputs, bias), training on data drawn from a hidden FM, payload round
 * trip, and refusal of malformed payloads.
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
#include "learn/trainer.h"
#include "test_fm_fixture.h"
#include "../../plugins/model_fm/fm_format.h"

static const uint32_t card[] = {6, 9, 5, 7};

/* Every parameter of an FM against central differences. */
static void
test_fm_gradient(void **state)
{
    struct fx_data d;
    fx_make(&d, 12, 4, card, 2, 2, 1, 2);
    struct fx_model fm;
    fx_model_init(&fm, &d.x, 3, 0, NULL, 3);
    struct af_fm_model *m = &fm.m;
    struct fx_grad g;
    fx_gradient(m, &d.x, &g);
    const float eps = 5e-3f;
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
    fx_grad_free(&g);
    fx_model_free(&fm);
    fx_free(&d);
}

static void
fm_opts(struct af_train_opts *o)
{
    af_train_opts_defaults(o, "fm");
    o->embed_dim = 4;
    o->batch_size = 64;
    o->learning_rate = 0.02;
    o->epochs = 12;
    o->patience = 2;
    o->l2 = 1e-5;
    o->threads = 2;
    o->seed = 5;
}

/* An FM learns labels drawn from a hidden FM; the payload scores the valid
 * set exactly as the trainer's best epoch did. */
static void
test_fm_learns(void **state)
{
    struct fx_data tr, va;
    fx_make(&tr, 6000, 4, card, 2, 2, 21, 22);
    fx_make(&va, 2000, 4, card, 2, 2, 21, 23);
    struct af_train_opts o;
    fm_opts(&o);
    struct af_model_out out;
    char err[256] = "";
    int rc = af_train_fm(&tr.x, &va.x, &o, &out, err, sizeof err);
    if (rc != AF_OK)
        fail_msg("%s", err);
    assert_string_equal(out.kind, "fm");
    assert_true(out.n_epochs >= 2 && out.best_epoch >= 1);
    double best = out.epoch[out.best_epoch - 1].valid_auc;
    print_message("fm: %u epochs, best %u, valid AUC %.4f; %s\n", out.n_epochs,
                  out.best_epoch, best, out.summary);
    assert_true(out.epoch[0].train_loss > out.epoch[out.n_epochs - 1].train_loss);
    /* A constant scores 0.5; this run reaches about 0.85. */
    if (best < 0.80)
        fail_msg("valid AUC %.4f after %u epochs", best, out.n_epochs);

    double *p = malloc(va.x.n * sizeof *p);
    rc = af_predict_fm(out.payload, out.payload_size, &va.x, p, err,
                       sizeof err);
    assert_int_equal(rc, AF_OK);
    assert_float_equal(af_eval_auc(va.x.label, p, va.x.n), best, 1e-9);
    /* deepfm's predictor refuses an fm payload */
    assert_int_equal(af_predict_deepfm(out.payload, out.payload_size, &va.x,
                                       p, err, sizeof err), AF_ECORRUPT);
    assert_non_null(strstr(err, "MLP layers"));
    free(p);
    af_model_out_free(&out);
    fx_free(&tr);
    fx_free(&va);
}

/* Parsing refuses every kind of damage with a message. */
static void
test_fm_payload_refusals(void **state)
{
    struct fx_data d;
    fx_make(&d, 50, 4, card, -1, 1, 1, 2);
    struct fx_model fm;
    fx_model_init(&fm, &d.x, 2, 0, NULL, 3);
    void *pl;
    size_t size;
    uint32_t slots[4] = {1, 1, 2, 1};
    assert_int_equal(af_fm_payload_build(&fm.m, 1, slots, 0, &pl, &size), 0);
    struct af_fm_view v;
    char err[256];
    assert_int_equal(af_fm_payload_parse(pl, size, "fm", &v, err, sizeof err),
                     0);
    assert_int_equal(v.h.n_req_fields, 1);
    assert_int_equal(v.field_slots[2], 2);
    assert_memory_equal(v.field_offset, d.offs, sizeof(uint32_t) * 5);

    assert_int_equal(af_fm_payload_parse(pl, size - 4, "fm", &v, err,
                                         sizeof err), -1);
    assert_non_null(strstr(err, "expected"));
    assert_int_equal(af_fm_payload_parse(pl, 100, "fm", &v, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "header alone"));
    assert_int_equal(af_fm_payload_parse(pl, size, "lr", &v, err, sizeof err),
                     -1);

    char *bad = malloc(size);
    struct af_fm_payload_header *h = (struct af_fm_payload_header *)bad;
    uint32_t *u = (uint32_t *)(bad + sizeof *h);
    /* a field with zero slots */
    memcpy(bad, pl, size);
    u[1] = 0;
    assert_int_equal(af_fm_payload_parse(bad, size, "fm", &v, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "0 slots"));
    /* offsets not increasing */
    memcpy(bad, pl, size);
    u[4 + 2] = u[4 + 1];
    assert_int_equal(af_fm_payload_parse(bad, size, "fm", &v, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "not increasing"));
    /* a request-field count beyond the fields, a zero dim */
    memcpy(bad, pl, size);
    h->n_req_fields = 9;
    assert_int_equal(af_fm_payload_parse(bad, size, "fm", &v, err, sizeof err),
                     -1);
    memcpy(bad, pl, size);
    h->dim = 0;
    assert_int_equal(af_fm_payload_parse(bad, size, "fm", &v, err, sizeof err),
                     -1);
    /* downsample rate out of range */
    memcpy(bad, pl, size);
    h->downsample_rate = 0.0;
    assert_int_equal(af_fm_payload_parse(bad, size, "fm", &v, err, sizeof err),
                     -1);
    /* a NaN weight parses but fails the finite check (and loading) */
    memcpy(bad, pl, size);
    float nan = NAN;
    memcpy(bad + size - 4, &nan, 4);
    assert_int_equal(af_fm_payload_parse(bad, size, "fm", &v, err, sizeof err),
                     0);
    assert_int_equal(af_fm_check_finite(&v, err, sizeof err), -1);
    assert_non_null(strstr(err, "w_dense[0] is not finite"));
    struct af_fm_model m2;
    assert_int_equal(af_fm_model_from_payload(bad, size, "fm", &m2, err,
                                              sizeof err), AF_ECORRUPT);
    /* a payload trained on other fields is a mismatch, not a crash */
    struct fx_data other;
    static const uint32_t card2[] = {6, 9, 5, 8};
    fx_make(&other, 5, 4, card2, -1, 1, 1, 2);
    double p[5];
    assert_int_equal(af_predict_fm(pl, size, &other.x, p, err, sizeof err),
                     AF_EMISMATCH);
    assert_non_null(strstr(err, "another feature spec"));
    fx_free(&other);
    free(bad);
    free(pl);
    fx_model_free(&fm);
    fx_free(&d);
}

/* Bad options and bad examples are refused with a message. */
static void
test_fm_bad_inputs(void **state)
{
    struct fx_data d;
    fx_make(&d, 40, 4, card, -1, 0, 1, 2);
    struct af_train_opts o;
    fm_opts(&o);
    struct af_model_out out;
    char err[256];
    o.optimizer = AF_OPT_FTRL;
    assert_int_equal(af_train_fm(&d.x, NULL, &o, &out, err, sizeof err),
                     AF_EINVAL);
    assert_non_null(strstr(err, "adam or adagrad"));
    fm_opts(&o);
    o.embed_dim = 0;
    assert_int_equal(af_train_fm(&d.x, NULL, &o, &out, err, sizeof err),
                     AF_EINVAL);
    fm_opts(&o);
    d.x.gidx[3] = 10000; /* outside its field */
    assert_int_equal(af_train_fm(&d.x, NULL, &o, &out, err, sizeof err),
                     AF_EINVAL);
    assert_non_null(strstr(err, "outside the field's range"));
    fx_free(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fm_gradient),
        cmocka_unit_test(test_fm_learns),
        cmocka_unit_test(test_fm_payload_refusals),
        cmocka_unit_test(test_fm_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
