/*
 * mlp.c -- MLP forward, backward and weight gradients with cblas_sgemm
 * (mlp.h).
 */
#include "learn/mlp.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"

/* --- ## Parameters --- */

size_t
af_mlp_param_count(uint32_t n_layers, const uint32_t *width)
{
    size_t n = 0;
    for (uint32_t l = 0; l < n_layers; l++)
        n += (size_t)width[l] * width[l + 1] + width[l + 1];
    return n;
}

/* Check the shape and point W/b into params. */
static int
bind(struct af_mlp *m, uint32_t n_layers, const uint32_t *width,
     float *params)
{
    if (n_layers == 0 || n_layers > AF_MLP_MAX_LAYERS)
        return AF_EINVAL;
    for (uint32_t l = 0; l <= n_layers; l++)
        if (width[l] == 0)
            return AF_EINVAL;
    m->n_layers = n_layers;
    memcpy(m->width, width, (n_layers + 1) * sizeof *width);
    m->params = params;
    m->n_params = af_mlp_param_count(n_layers, width);
    float *p = params;
    for (uint32_t l = 0; l < n_layers; l++) {
        m->W[l] = p;
        p += (size_t)width[l] * width[l + 1];
        m->b[l] = p;
        p += width[l + 1];
    }
    return AF_OK;
}

int
af_mlp_init(struct af_mlp *m, uint32_t n_layers, const uint32_t *width)
{
    memset(m, 0, sizeof *m);
    if (n_layers == 0 || n_layers > AF_MLP_MAX_LAYERS)
        return AF_EINVAL;
    float *p = calloc(af_mlp_param_count(n_layers, width) + 1, sizeof *p);
    if (p == NULL)
        return AF_ENOMEM;
    int rc = bind(m, n_layers, width, p);
    if (rc != AF_OK) {
        free(p);
        memset(m, 0, sizeof *m);
        return rc;
    }
    m->own = 1;
    return AF_OK;
}

int
af_mlp_view(struct af_mlp *m, uint32_t n_layers, const uint32_t *width,
            float *params)
{
    memset(m, 0, sizeof *m);
    return bind(m, n_layers, width, params);
}

void
af_mlp_free(struct af_mlp *m)
{
    if (m == NULL)
        return;
    if (m->own)
        free(m->params);
    memset(m, 0, sizeof *m);
}

void
af_mlp_xavier(struct af_mlp *m, struct af_wrand *r)
{
    for (uint32_t l = 0; l < m->n_layers; l++) {
        uint32_t in = m->width[l], out = m->width[l + 1];
        double a = sqrt(6.0 / (double)(in + out));
        size_t n = (size_t)in * out;
        for (size_t i = 0; i < n; i++)
            m->W[l][i] = (float)((2.0 * af_wrand_unit(r) - 1.0) * a);
        memset(m->b[l], 0, out * sizeof(float));
    }
}

/* --- ## Work space --- */

int
af_mlp_work_init(struct af_mlp_work *w, const struct af_mlp *m, uint32_t cap)
{
    memset(w, 0, sizeof *w);
    uint32_t L = m->n_layers;
    /* Each array is padded to 16 floats so all start 64-byte aligned. */
    size_t total = 0;
    for (uint32_t l = 1; l <= L; l++)
        total += 2 * (((size_t)cap * m->width[l] + 15) & ~(size_t)15);
    w->mem = aligned_alloc(64, (total + 16) * sizeof(float));
    if (w->mem == NULL)
        return AF_ENOMEM;
    float *p = w->mem;
    for (uint32_t l = 1; l <= L; l++) {
        size_t n = (size_t)cap * m->width[l];
        size_t padded = (n + 15) & ~(size_t)15;
        if (l < L)
            w->a[l] = p;
        else
            w->out = p;
        p += padded;
        w->g[l - 1] = p;
        p += padded;
    }
    w->cap = cap;
    return AF_OK;
}

void
af_mlp_work_free(struct af_mlp_work *w)
{
    if (w == NULL)
        return;
    free(w->mem);
    memset(w, 0, sizeof *w);
}

/* --- ## Dropout --- */

static inline uint64_t
mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Per-(step, layer) base of the mask hash. */
static uint64_t
mask_base(const struct af_dropout *d, uint32_t layer)
{
    return mix64(d->seed * 0x9e3779b97f4a7c15ULL ^ mix64(d->step + 1) ^
                 ((uint64_t)layer << 56));
}

/* Dropout mask bits of units [j, j+1] of row r: two 32-bit uniforms from
 * one hash. */
static inline uint64_t
mask_pair(uint64_t base, uint32_t r, uint32_t j)
{
    return mix64(base + (uint64_t)r * 0x9e3779b97f4a7c15ULL +
                 (uint64_t)(j >> 1) * 0xc2b2ae3d27d4eb4fULL);
}

static int
dropping(const struct af_dropout *d)
{
    return d != NULL && d->p > 0.0f;
}

/* ReLU (and dropout) of rows [r0, r0+n) of a hidden layer, in place. */
static void
activate(float *a, uint32_t width, uint32_t r0, uint32_t n, uint32_t layer,
         const struct af_dropout *d)
{
    if (!dropping(d)) {
        size_t total = (size_t)n * width;
        float *x = a + (size_t)r0 * width;
        for (size_t i = 0; i < total; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return;
    }
    uint64_t base = mask_base(d, layer);
    uint32_t threshold = (uint32_t)fmin((double)d->p * 4294967296.0,
                                        4294967295.0);
    float scale = 1.0f / (1.0f - d->p);
    for (uint32_t r = r0; r < r0 + n; r++) {
        float *x = a + (size_t)r * width;
        uint64_t h = 0;
        for (uint32_t j = 0; j < width; j++) {
            if ((j & 1) == 0)
                h = mask_pair(base, r, j);
            uint32_t u = (j & 1) ? (uint32_t)(h >> 32) : (uint32_t)h;
            float v = x[j] > 0.0f ? x[j] : 0.0f;
            x[j] = u >= threshold ? v * scale : 0.0f;
        }
    }
}

/* --- ## Forward and backward --- */

/* y rows [r0, r0+n) = bias broadcast (sgemm then accumulates into them). */
static void
fill_bias(float *y, const float *b, uint32_t width, uint32_t r0, uint32_t n)
{
    for (uint32_t r = r0; r < r0 + n; r++)
        memcpy(y + (size_t)r * width, b, width * sizeof *b);
}

void
af_mlp_forward(const struct af_mlp *m, struct af_mlp_work *w,
               const float *x, uint32_t r0, uint32_t n,
               const struct af_dropout *d)
{
    if (n == 0)
        return;
    const float *in = x;
    for (uint32_t l = 0; l < m->n_layers; l++) {
        uint32_t wi = m->width[l], wo = m->width[l + 1];
        float *y = l + 1 < m->n_layers ? w->a[l + 1] : w->out;
        fill_bias(y, m->b[l], wo, r0, n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n,
                    (int)wo, (int)wi, 1.0f, in + (size_t)r0 * wi, (int)wi,
                    m->W[l], (int)wo, 1.0f, y + (size_t)r0 * wo, (int)wo);
        if (l + 1 < m->n_layers)
            activate(y, wo, r0, n, l, d);
        in = y;
    }
}

void
af_mlp_backward(const struct af_mlp *m, struct af_mlp_work *w, uint32_t r0,
                uint32_t n, const struct af_dropout *d, float *dx)
{
    if (n == 0)
        return;
    float scale = dropping(d) ? 1.0f / (1.0f - d->p) : 1.0f;
    for (uint32_t l = m->n_layers; l-- > 0;) {
        uint32_t wi = m->width[l], wo = m->width[l + 1];
        float *dst = l > 0 ? w->g[l - 1] : dx;
        if (dst == NULL)
            break;
        /* d(input of layer l) = g_l W_l^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)wi,
                    (int)wo, 1.0f, w->g[l] + (size_t)r0 * wo, (int)wo,
                    m->W[l], (int)wo, 0.0f, dst + (size_t)r0 * wi, (int)wi);
        if (l == 0)
            break;
        /* through ReLU and dropout of hidden layer l; a multiplicative
         * mask (not a branch) so that the loop vectorizes */
        const float *restrict a = w->a[l] + (size_t)r0 * wi;
        float *restrict g = dst + (size_t)r0 * wi;
        size_t total = (size_t)n * wi;
        for (size_t i = 0; i < total; i++) {
            float k = a[i] > 0.0f ? scale : 0.0f;
            g[i] *= k;
        }
    }
}

/* --- ## Weight gradients --- */

/* [lo, hi) of the p-th of `parts` nearly equal shares of n. */
static void
share(uint32_t n, uint32_t part, uint32_t parts, uint32_t *lo, uint32_t *hi)
{
    *lo = (uint32_t)((uint64_t)n * part / parts);
    *hi = (uint32_t)((uint64_t)n * (part + 1) / parts);
}

void
af_mlp_part(const struct af_mlp *m, uint32_t layer, uint32_t part,
            uint32_t parts, struct af_mlp_range *r)
{
    uint32_t wi = m->width[layer], wo = m->width[layer + 1];
    uint32_t lo, hi, blo, bhi;
    share(wi, part, parts, &lo, &hi);
    share(wo, part, parts, &blo, &bhi);
    r->w_off = (size_t)(m->W[layer] - m->params) + (size_t)lo * wo;
    r->w_len = (size_t)(hi - lo) * wo;
    r->b_off = (size_t)(m->b[layer] - m->params) + blo;
    r->b_len = bhi - blo;
}

void
af_mlp_grad(const struct af_mlp *m, const struct af_mlp_work *w,
            const float *x, uint32_t n, uint32_t part, uint32_t parts,
            float *grad)
{
    for (uint32_t l = 0; l < m->n_layers; l++) {
        uint32_t wi = m->width[l], wo = m->width[l + 1];
        const float *a = l == 0 ? x : w->a[l];
        const float *g = w->g[l];
        uint32_t lo, hi, blo, bhi;
        share(wi, part, parts, &lo, &hi);
        share(wo, part, parts, &blo, &bhi);
        float *dW = grad + (m->W[l] - m->params);
        float *db = grad + (m->b[l] - m->params);
        if (hi > lo) {
            if (n == 0)
                memset(dW + (size_t)lo * wo, 0,
                       (size_t)(hi - lo) * wo * sizeof(float));
            else /* dW[lo:hi, :] = a[:, lo:hi]^T g */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                            (int)(hi - lo), (int)wo, (int)n, 1.0f, a + lo,
                            (int)wi, g, (int)wo, 0.0f, dW + (size_t)lo * wo,
                            (int)wo);
        }
        if (bhi > blo) {
            memset(db + blo, 0, (bhi - blo) * sizeof(float));
            for (uint32_t r = 0; r < n; r++) {
                const float *gr = g + (size_t)r * wo;
                for (uint32_t j = blo; j < bhi; j++)
                    db[j] += gr[j];
            }
        }
    }
}
