/*
 * fm.c -- batch forward and backward of the FM / DeepFM model (fm.h).
 */
#include "learn/fm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"

/* --- ## Work space --- */

/* Floats rounded up to a 64-byte multiple, so every array stays aligned. */
static size_t
pad16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

int
af_fm_work_init(struct af_fm_work *w, const struct af_fm_model *m,
                uint32_t cap, int train)
{
    memset(w, 0, sizeof *w);
    w->cap = cap;
    w->in = af_fm_input_width(m);
    size_t xin = pad16((size_t)cap * w->in);
    size_t c = pad16(cap), cd = pad16((size_t)cap * m->dim);
    size_t total = xin * (train ? 2 : 1) + 4 * c + cd;
    w->mem = aligned_alloc(64, total * sizeof(float));
    if (w->mem == NULL)
        return AF_ENOMEM;
    float *p = w->mem;
    w->x0 = p, p += xin;
    if (train)
        w->dx0 = p, p += xin;
    w->lin = p, p += c;
    w->fm = p, p += c;
    w->logit = p, p += c;
    w->dlogit = p, p += c;
    w->ssum = p;
    if (m->has_mlp && af_mlp_work_init(&w->mw, &m->mlp, cap) != AF_OK) {
        free(w->mem);
        memset(w, 0, sizeof *w);
        return AF_ENOMEM;
    }
    return AF_OK;
}

void
af_fm_work_free(struct af_fm_work *w)
{
    if (w == NULL)
        return;
    af_mlp_work_free(&w->mw);
    free(w->mem);
    memset(w, 0, sizeof *w);
}

/* --- ## Forward --- */

/* Pool field f of example row er into e (dim floats); returns the field's
 * first-order contribution. */
static inline float
pool_field(const struct af_fm_model *m, const struct af_examples *x,
           uint32_t er, uint32_t f, float *e)
{
    const uint32_t *g;
    const float *v;
    uint32_t cnt = af_examples_entries(x, er, f, &g, &v);
    const uint32_t D = m->dim;
    float lin = 0.0f;
    if (cnt == 1) {
        uint32_t i = af_fm_clamp_index(m, f, g[0]);
        const float *src = m->emb + (size_t)i * m->emb_stride;
        for (uint32_t k = 0; k < D; k++)
            e[k] = v[0] * src[k];
        return v[0] * m->w1[(size_t)i * m->w1_stride];
    }
    memset(e, 0, D * sizeof *e);
    for (uint32_t j = 0; j < cnt; j++) {
        uint32_t i = af_fm_clamp_index(m, f, g[j]);
        const float *src = m->emb + (size_t)i * m->emb_stride;
        for (uint32_t k = 0; k < D; k++)
            e[k] += v[j] * src[k];
        lin += v[j] * m->w1[(size_t)i * m->w1_stride];
    }
    return lin;
}

/* Rows ahead whose table rows are prefetched (see af_fm_gather). */
#define PREFETCH_ROWS 16

/* Start fetching the table rows of field f of example row er. */
static inline void
prefetch_field(const struct af_fm_model *m, const struct af_examples *x,
               uint32_t er, uint32_t f)
{
    const uint32_t *g;
    const float *v;
    uint32_t cnt = af_examples_entries(x, er, f, &g, &v);
    for (uint32_t j = 0; j < cnt; j++) {
        if (g[j] < m->n_index) {
            __builtin_prefetch(m->emb + (size_t)g[j] * m->emb_stride);
            __builtin_prefetch(m->w1 + (size_t)g[j] * m->w1_stride);
        }
    }
}

/*
 * Field by field over the rows: the table reads of one field are
 * independent of each other, and prefetching a field's rows 16 rows ahead
 * keeps many cache misses in flight (tables of megabytes miss every time;
 * going row by row left the CPU waiting on one row's 39 reads at a time and
 * made the gather 3 to 4 times slower).  Sums are taken in the same order
 * as row by row: bias, fields in order, then dense inputs.
 */
void
af_fm_gather(const struct af_fm_model *m, struct af_fm_work *w,
             const struct af_examples *x, const uint32_t *rows, uint32_t r0,
             uint32_t n)
{
    const uint32_t F = m->n_fields, D = m->dim, in = w->in;
    const uint32_t end = r0 + n;
    for (uint32_t r = r0; r < end; r++)
        w->lin[r] = m->bias;
    for (uint32_t f = 0; f < F; f++) {
        for (uint32_t r = r0; r < end && r < r0 + PREFETCH_ROWS; r++)
            prefetch_field(m, x, rows != NULL ? rows[r] : r, f);
        for (uint32_t r = r0; r < end; r++) {
            if (r + PREFETCH_ROWS < end)
                prefetch_field(m, x, rows != NULL ? rows[r + PREFETCH_ROWS]
                                                  : r + PREFETCH_ROWS, f);
            uint32_t er = rows != NULL ? rows[r] : r;
            w->lin[r] += pool_field(m, x, er, f,
                                    w->x0 + (size_t)r * in + (size_t)f * D);
        }
    }
    for (uint32_t r = r0; r < end; r++) {
        uint32_t er = rows != NULL ? rows[r] : r;
        float *x0 = w->x0 + (size_t)r * in;
        float *ss = w->ssum + (size_t)r * D;
        float lin = w->lin[r], q = 0.0f;
        /* per-lane sums of squares: no reduction in the inner loop, so it
         * vectorizes */
        float qq[AF_FM_DIM_MAX];
        memset(ss, 0, D * sizeof *ss);
        memset(qq, 0, D * sizeof *qq);
        for (uint32_t f = 0; f < F; f++) {
            const float *e = x0 + (size_t)f * D;
            for (uint32_t k = 0; k < D; k++) {
                ss[k] += e[k];
                qq[k] += e[k] * e[k];
            }
        }
        for (uint32_t k = 0; k < D; k++)
            q += qq[k];
        if (m->n_dense > 0) {
            const float *dense = x->dense + (size_t)er * m->n_dense;
            for (uint32_t j = 0; j < m->n_dense; j++) {
                x0[(size_t)F * D + j] = dense[j];
                lin += m->w_dense[j] * dense[j];
            }
        }
        float s2 = 0.0f;
        for (uint32_t k = 0; k < D; k++)
            s2 += ss[k] * ss[k];
        w->lin[r] = lin;
        w->fm[r] = 0.5f * (s2 - q);
    }
}

void
af_fm_head(const struct af_fm_model *m, struct af_fm_work *w, uint32_t r0,
           uint32_t n, const struct af_dropout *d)
{
    if (m->has_mlp) {
        af_mlp_forward(&m->mlp, &w->mw, w->x0, r0, n, d);
        for (uint32_t r = r0; r < r0 + n; r++)
            w->logit[r] = w->lin[r] + w->fm[r] + w->mw.out[r];
    } else {
        for (uint32_t r = r0; r < r0 + n; r++)
            w->logit[r] = w->lin[r] + w->fm[r];
    }
}

void
af_fm_forward(const struct af_fm_model *m, struct af_fm_work *w,
              const struct af_examples *x, const uint32_t *rows, uint32_t r0,
              uint32_t n, const struct af_dropout *d)
{
    af_fm_gather(m, w, x, rows, r0, n);
    af_fm_head(m, w, r0, n, d);
}

/* --- ## Backward --- */

void
af_fm_backward_mlp(const struct af_fm_model *m, struct af_fm_work *w,
                   uint32_t r0, uint32_t n, const struct af_dropout *d)
{
    const uint32_t F = m->n_fields, D = m->dim, in = w->in;
    if (m->has_mlp) {
        uint32_t L = m->mlp.n_layers;
        for (uint32_t r = r0; r < r0 + n; r++)
            w->mw.g[L - 1][r] = w->dlogit[r];
        af_mlp_backward(&m->mlp, &w->mw, r0, n, d, w->dx0);
    } else {
        for (uint32_t r = r0; r < r0 + n; r++)
            memset(w->dx0 + (size_t)r * in, 0, (size_t)F * D * sizeof(float));
    }
}

void
af_fm_backward_fm(const struct af_fm_model *m, struct af_fm_work *w,
                  uint32_t r0, uint32_t n)
{
    const uint32_t F = m->n_fields, D = m->dim, in = w->in;
    /* d fm / d e[f][k] = ssum[k] - e[f][k] */
    for (uint32_t r = r0; r < r0 + n; r++) {
        const float g = w->dlogit[r];
        const float *ss = w->ssum + (size_t)r * D;
        const float *x0 = w->x0 + (size_t)r * in;
        float *dx = w->dx0 + (size_t)r * in;
        for (uint32_t f = 0; f < F; f++)
            for (uint32_t k = 0; k < D; k++)
                dx[f * D + k] += g * (ss[k] - x0[f * D + k]);
    }
}

void
af_fm_backward(const struct af_fm_model *m, struct af_fm_work *w, uint32_t r0,
               uint32_t n, const struct af_dropout *d)
{
    af_fm_backward_mlp(m, w, r0, n, d);
    af_fm_backward_fm(m, w, r0, n);
}

double
af_fm_probability(double logit, double downsample_rate)
{
    double p = 1.0 / (1.0 + exp(-logit));
    if (downsample_rate < 1.0)
        p = p / (p + (1.0 - p) / downsample_rate);
    return p;
}
