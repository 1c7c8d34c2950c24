/*
 * optim.c -- Adam, lazy Adam and Adagrad updates (optim.h).
 *
 * The arithmetic follows torch's single-tensor implementations operation by
 * operation in float, with the scalar bias corrections in double, so that a
 * run differs from the anchor only by summation order elsewhere.
 */
#include "learn/optim.h"

#include <math.h>

void
af_adam_init(struct af_adam *a, double lr, double beta1, double beta2,
             double eps)
{
    a->lr = lr;
    a->beta1 = beta1;
    a->beta2 = beta2;
    a->eps = (float)eps;
    a->c1 = (float)(1.0 - beta1);
    a->c2 = (float)(1.0 - beta2);
    a->t = 0;
    a->step_size = a->bc2_sqrt = a->sparse_step = 0.0f;
}

void
af_adam_begin_step(struct af_adam *a)
{
    a->t++;
    double bc1 = 1.0 - pow(a->beta1, (double)a->t);
    double bc2 = 1.0 - pow(a->beta2, (double)a->t);
    a->step_size = (float)(a->lr / bc1);
    a->bc2_sqrt = (float)sqrt(bc2);
    a->sparse_step = (float)(a->lr * sqrt(bc2) / bc1);
}

/*
 * The loops below run four lanes at a time with SSE2 (every x86-64 CPU has
 * it): the compiler keeps sqrtf scalar because of errno, and these updates
 * are a tenth of a training step.  Lanes do exactly the scalar operations,
 * in the same order, so the vector and scalar paths agree bit for bit.
 */
#if defined(__SSE2__)
#include <emmintrin.h>
#define AF_OPTIM_SSE 1
#endif

void
af_adam_dense(const struct af_adam *a, float *p, float *m, float *v,
              const float *g, size_t n, float weight_decay)
{
    const float b1 = (float)a->beta1, b2 = (float)a->beta2;
    const float c1 = a->c1, c2 = a->c2;
    const float step = a->step_size, bc2s = a->bc2_sqrt, eps = a->eps;
    size_t i = 0;
#ifdef AF_OPTIM_SSE
    const __m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2);
    const __m128 vc1 = _mm_set1_ps(c1), vc2 = _mm_set1_ps(c2);
    const __m128 vstep = _mm_set1_ps(step), vbc2 = _mm_set1_ps(bc2s);
    const __m128 veps = _mm_set1_ps(eps), vwd = _mm_set1_ps(weight_decay);
    for (; i + 4 <= n; i += 4) {
        __m128 pi = _mm_loadu_ps(p + i);
        __m128 gi = g != NULL ? _mm_loadu_ps(g + i) : _mm_setzero_ps();
        gi = _mm_add_ps(gi, _mm_mul_ps(vwd, pi));
        __m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)),
                               _mm_mul_ps(vc1, gi));
        __m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)),
                               _mm_mul_ps(_mm_mul_ps(vc2, gi), gi));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 den = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), vbc2), veps);
        pi = _mm_sub_ps(pi, _mm_mul_ps(vstep, _mm_div_ps(mi, den)));
        _mm_storeu_ps(p + i, pi);
    }
#endif
    for (; i < n; i++) {
        float gi = (g != NULL ? g[i] : 0.0f) + weight_decay * p[i];
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * (mi / (sqrtf(vi) / bc2s + eps));
    }
}

void
af_adam_sparse_row(const struct af_adam *a, float *p, float *m, float *v,
                   const float *g, size_t n)
{
    const float c1 = a->c1, c2 = a->c2;
    const float step = a->sparse_step, eps = a->eps;
    size_t i = 0;
#ifdef AF_OPTIM_SSE
    const __m128 vc1 = _mm_set1_ps(c1), vc2 = _mm_set1_ps(c2);
    const __m128 vstep = _mm_set1_ps(step), veps = _mm_set1_ps(eps);
    for (; i + 4 <= n; i += 4) {
        __m128 gi = _mm_loadu_ps(g + i);
        __m128 mo = _mm_loadu_ps(m + i), vo = _mm_loadu_ps(v + i);
        __m128 mi = _mm_add_ps(mo, _mm_mul_ps(_mm_sub_ps(gi, mo), vc1));
        __m128 vi = _mm_add_ps(
            vo, _mm_mul_ps(_mm_sub_ps(_mm_mul_ps(gi, gi), vo), vc2));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 den = _mm_add_ps(_mm_sqrt_ps(vi), veps);
        __m128 pi = _mm_loadu_ps(p + i);
        pi = _mm_sub_ps(pi, _mm_mul_ps(vstep, _mm_div_ps(mi, den)));
        _mm_storeu_ps(p + i, pi);
    }
#endif
    for (; i < n; i++) {
        float gi = g[i];
        float mi = m[i] + (gi - m[i]) * c1;
        float vi = v[i] + (gi * gi - v[i]) * c2;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * (mi / (sqrtf(vi) + eps));
    }
}

void
af_adagrad_dense(const struct af_adagrad *a, float *p, float *sum,
                 const float *g, size_t n, float weight_decay)
{
    const float lr = a->lr, eps = a->eps;
    size_t i = 0;
#ifdef AF_OPTIM_SSE
    const __m128 vlr = _mm_set1_ps(lr), veps = _mm_set1_ps(eps);
    const __m128 vwd = _mm_set1_ps(weight_decay);
    for (; i + 4 <= n; i += 4) {
        __m128 pi = _mm_loadu_ps(p + i);
        __m128 gi = g != NULL ? _mm_loadu_ps(g + i) : _mm_setzero_ps();
        gi = _mm_add_ps(gi, _mm_mul_ps(vwd, pi));
        __m128 si = _mm_add_ps(_mm_loadu_ps(sum + i), _mm_mul_ps(gi, gi));
        _mm_storeu_ps(sum + i, si);
        __m128 den = _mm_add_ps(_mm_sqrt_ps(si), veps);
        pi = _mm_sub_ps(pi, _mm_mul_ps(vlr, _mm_div_ps(gi, den)));
        _mm_storeu_ps(p + i, pi);
    }
#endif
    for (; i < n; i++) {
        float gi = (g != NULL ? g[i] : 0.0f) + weight_decay * p[i];
        float si = sum[i] + gi * gi;
        sum[i] = si;
        p[i] -= lr * (gi / (sqrtf(si) + eps));
    }
}
