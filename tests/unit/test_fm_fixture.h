/*
 * test_fm_fixture.h -- synthetic data and hand-built models for the fm,
 * deepfm and mlp tests (test_fm.c, test_deepfm.c, test_deepfm_serve.c).
 *
 * Data: F categorical fields, field f with card[f] values plus its OOV slot
 * (index field_offset[f]); field `multi` (or none, -1) holds 1..3 distinct
 * tokens with value 1/k each; n_dense dense inputs in [0, 1).  Labels are
 * drawn from a hidden factorization machine, so an FM can learn them and
 * an AUC well above 0.5 is reachable.  Everything derives from a seed.
 * Header-only: each test binary includes it once.
 */
#ifndef AF_TEST_FM_FIXTURE_H
#define AF_TEST_FM_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "learn/examples.h"
#include "learn/fm.h"
#include "learn/mlp.h"
#include "world/wrand.h"

#define FX_MAX_F 16

struct fx_data {
    struct af_examples x;
    uint32_t offs[FX_MAX_F + 1];
};

/* Field offsets for card[f] values + 1 OOV slot each. */
static inline void
fx_offsets(uint32_t *offs, uint32_t F, const uint32_t *card)
{
    offs[0] = 0;
    for (uint32_t f = 0; f < F; f++)
        offs[f + 1] = offs[f] + card[f] + 1;
}

/* n rows; labels from a hidden FM drawn with `seed` (rows with `seed`+1,
 * so two sets with the same seed and different row seeds share the
 * hidden model: pass row_seed). */
static inline void
fx_make(struct fx_data *d, uint32_t n, uint32_t F, const uint32_t *card,
        int multi, uint32_t n_dense, uint64_t seed, uint64_t row_seed)
{
    fx_offsets(d->offs, F, card);
    uint32_t n_index = d->offs[F];
    assert_int_equal(af_examples_init(&d->x, F, n_dense, d->offs, 16, 64), 0);
    struct af_wrand hm, rr;
    af_wrand_seed(&hm, seed, 100);
    float *hw = malloc(n_index * sizeof *hw);
    float *hv = malloc(n_index * 4 * sizeof *hv);
    for (uint32_t i = 0; i < n_index; i++) {
        hw[i] = (float)(0.7 * af_wrand_normal(&hm));
        for (int k = 0; k < 4; k++)
            hv[i * 4 + k] = (float)(0.6 * af_wrand_normal(&hm));
    }
    af_wrand_seed(&rr, row_seed, 101);
    for (uint32_t r = 0; r < n; r++) {
        uint32_t cnt[FX_MAX_F], g[FX_MAX_F * 3];
        float v[FX_MAX_F * 3], dense[8] = {0};
        uint32_t e = 0;
        for (uint32_t f = 0; f < F; f++) {
            uint32_t k = (int)f == multi ? 1 + af_wrand_below(&rr, 3) : 1;
            cnt[f] = k;
            for (uint32_t j = 0; j < k; j++) {
                /* value 0 is OOV (rare), others 1..card */
                uint32_t local = af_wrand_below(&rr, card[f] + 1);
                for (uint32_t t = 0; t < j; t++)
                    if (g[e - j + t] == d->offs[f] + local)
                        local = (local + 1) % (card[f] + 1);
                g[e] = d->offs[f] + local;
                v[e] = 1.0f / (float)k;
                e++;
            }
        }
        for (uint32_t j = 0; j < n_dense; j++)
            dense[j] = (float)af_wrand_unit(&rr);
        /* hidden FM logit */
        double z = -1.0, s[4] = {0}, q = 0;
        for (uint32_t j = 0; j < e; j++) {
            z += v[j] * hw[g[j]];
            for (int k = 0; k < 4; k++) {
                double t = v[j] * hv[g[j] * 4 + k];
                s[k] += t;
                q += t * t;
            }
        }
        for (int k = 0; k < 4; k++)
            z += 0.5 * s[k] * s[k];
        z -= 0.5 * q;
        for (uint32_t j = 0; j < n_dense; j++)
            z += (j % 2 ? -1.0 : 1.0) * dense[j];
        float y = af_wrand_unit(&rr) < 1.0 / (1.0 + exp(-z)) ? 1.0f : 0.0f;
        assert_int_equal(af_examples_push(&d->x, cnt, g, v, dense, y, 1.0f, 0),
                         0);
    }
    free(hw);
    free(hv);
}

static inline void
fx_free(struct fx_data *d)
{
    af_examples_free(&d->x);
}

/* A model with plain tables (strides 1 and dim) and random weights. */
struct fx_model {
    struct af_fm_model m;
    float *w1, *emb, *wd;
};

static inline void
fx_model_init(struct fx_model *fm, const struct af_examples *x, uint32_t dim,
              uint32_t n_hidden, const uint32_t *hidden, uint64_t seed)
{
    memset(fm, 0, sizeof *fm);
    struct af_fm_model *m = &fm->m;
    m->n_fields = x->n_fields;
    m->n_dense = x->n_dense;
    m->dim = dim;
    m->n_index = x->n_index;
    m->field_offset = x->field_offset;
    m->bias = 0.1f;
    m->downsample_rate = 1.0;
    struct af_wrand r;
    af_wrand_seed(&r, seed, 7);
    fm->w1 = malloc(m->n_index * sizeof(float));
    fm->emb = malloc(m->n_index * dim * sizeof(float));
    fm->wd = malloc((m->n_dense + 1) * sizeof(float));
    for (uint64_t i = 0; i < m->n_index; i++)
        fm->w1[i] = (float)(0.3 * af_wrand_normal(&r));
    for (uint64_t i = 0; i < m->n_index * dim; i++)
        fm->emb[i] = (float)(0.3 * af_wrand_normal(&r));
    for (uint32_t j = 0; j < m->n_dense; j++)
        fm->wd[j] = (float)(0.3 * af_wrand_normal(&r));
    m->w1 = fm->w1;
    m->w1_stride = 1;
    m->emb = fm->emb;
    m->emb_stride = dim;
    m->w_dense = fm->wd;
    if (n_hidden > 0) {
        uint32_t width[AF_MLP_MAX_LAYERS + 1];
        width[0] = af_fm_input_width(m);
        for (uint32_t l = 0; l < n_hidden; l++)
            width[l + 1] = hidden[l];
        width[n_hidden + 1] = 1;
        assert_int_equal(af_mlp_init(&m->mlp, n_hidden + 1, width), 0);
        af_mlp_xavier(&m->mlp, &r);
        /* non-zero biases exercise their gradients */
        for (uint32_t l = 0; l < m->mlp.n_layers; l++)
            for (uint32_t j = 0; j < width[l + 1]; j++)
                m->mlp.b[l][j] = (float)(0.1 * af_wrand_normal(&r));
        m->has_mlp = 1;
    }
}

static inline void
fx_model_free(struct fx_model *fm)
{
    af_mlp_free(&fm->m.mlp);
    free(fm->w1);
    free(fm->emb);
    free(fm->wd);
}

/* Mean BCE of the model on all rows of x, in double from float logits. */
static inline double
fx_loss(const struct af_fm_model *m, const struct af_examples *x)
{
    struct af_fm_work w;
    assert_int_equal(af_fm_work_init(&w, m, x->n, 0), 0);
    af_fm_forward(m, &w, x, NULL, 0, x->n, NULL);
    double l = 0;
    for (uint32_t r = 0; r < x->n; r++) {
        double z = w.logit[r], y = x->label[r];
        l += log1p(exp(-fabs(z))) + (z > 0 ? z : 0) - y * z;
    }
    af_fm_work_free(&w);
    return l / x->n;
}

/* Analytic gradient of fx_loss: table rows (emb, w1), bias, dense and MLP
 * (g_mlp may be NULL for fm). */
struct fx_grad {
    double *emb, *w1, *wd, bias;
    float *mlp;
};

static inline void
fx_gradient(const struct af_fm_model *m, const struct af_examples *x,
            struct fx_grad *g)
{
    uint32_t D = m->dim, n = x->n;
    g->emb = calloc(m->n_index * D, sizeof(double));
    g->w1 = calloc(m->n_index, sizeof(double));
    g->wd = calloc(m->n_dense + 1, sizeof(double));
    g->bias = 0;
    g->mlp = m->has_mlp ? calloc(m->mlp.n_params, sizeof(float)) : NULL;
    struct af_fm_work w;
    assert_int_equal(af_fm_work_init(&w, m, n, 1), 0);
    af_fm_forward(m, &w, x, NULL, 0, n, NULL);
    for (uint32_t r = 0; r < n; r++) {
        double p = 1.0 / (1.0 + exp(-(double)w.logit[r]));
        w.dlogit[r] = (float)((p - x->label[r]) / n);
    }
    af_fm_backward(m, &w, 0, n, NULL);
    for (uint32_t r = 0; r < n; r++) {
        g->bias += w.dlogit[r];
        for (uint32_t j = 0; j < m->n_dense; j++)
            g->wd[j] += w.dlogit[r] * x->dense[r * m->n_dense + j];
        for (uint32_t f = 0; f < m->n_fields; f++) {
            const uint32_t *gi;
            const float *v;
            uint32_t c = af_examples_entries(x, r, f, &gi, &v);
            for (uint32_t j = 0; j < c; j++) {
                g->w1[gi[j]] += v[j] * w.dlogit[r];
                for (uint32_t k = 0; k < D; k++)
                    g->emb[gi[j] * D + k] +=
                        v[j] * w.dx0[(size_t)r * w.in + f * D + k];
            }
        }
    }
    if (m->has_mlp)
        af_mlp_grad(&m->mlp, &w.mw, w.x0, n, 0, 1, g->mlp);
    af_fm_work_free(&w);
}

static inline void
fx_grad_free(struct fx_grad *g)
{
    free(g->emb);
    free(g->w1);
    free(g->wd);
    free(g->mlp);
}

/* Central difference of fx_loss in parameter *p. */
static inline double
fx_numeric(const struct af_fm_model *m, const struct af_examples *x,
           float *p, float eps)
{
    float keep = *p;
    *p = keep + eps;
    double up = fx_loss(m, x);
    *p = keep - eps;
    double down = fx_loss(m, x);
    *p = keep;
    return (up - down) / (2.0 * eps);
}

/* |analytic - numeric| within tolerance, or fail naming the parameter. */
static inline void
fx_expect_close(double analytic, double numeric, const char *what, size_t i)
{
    double tol = 2e-4 + 2e-2 * fabs(numeric);
    if (fabs(analytic - numeric) > tol)
        fail_msg("%s[%zu]: analytic %.7g vs numeric %.7g", what, i, analytic,
                 numeric);
}

#endif
