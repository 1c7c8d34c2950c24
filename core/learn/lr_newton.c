/* lr_newton.c -- truncated Newton for L2 logistic regression (lr_newton.h). */
#include "learn/lr_newton.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adfunnel/af_errno.h"
#include "learn/eval.h"

#define CG_MAX 250
#define CG_TOL 0.1        /* |residual| <= 0.1 |grad|, as liblinear      */
#define GRAD_TOL 1e-6
#define ARMIJO 1e-4
#define BIAS_REG 0.01     /* intercept penalized 100x less (scaling 10)   */

struct newton {
    const struct af_examples *x;
    struct af_lr_pool *pool;
    uint64_t n_index;
    uint32_t n_dense;
    uint64_t n_coef;
    double l2;
    double *z, *d;        /* per row: X w, curvature weights             */
    double *g, *r, *p, *hp, *step, *wt, *xv;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* out[row] = X_row . v (+ v's bias) on the pool. */
static void
product(struct newton *nt, const double *v, double *out)
{
    nt->pool->job = (struct af_lr_job){.x = nt->x, .n = nt->x->n, .w = v,
                                       .n_index = nt->n_index,
                                       .n_dense = nt->n_dense, .out = out,
                                       .raw = 1};
    af_lr_pool_run(nt->pool);
}

/* acc += X^T coef (bias included), serial so sums are reproducible. */
static void
scatter(const struct newton *nt, const double *coef, double *acc)
{
    const struct af_examples *x = nt->x;
    memset(acc, 0, nt->n_coef * sizeof *acc);
    for (uint32_t r = 0; r < x->n; r++) {
        double c = coef[r];
        if (c == 0.0)
            continue;
        uint32_t a = x->start[(size_t)r * x->n_fields];
        uint32_t b = x->start[(size_t)(r + 1) * x->n_fields];
        for (uint32_t e = a; e < b; e++)
            acc[x->gidx[e]] += c * x->val[e];
        const float *dv = x->dense ? x->dense + (size_t)r * x->n_dense : NULL;
        for (uint32_t j = 0; dv && j < nt->n_dense; j++)
            acc[nt->n_index + j] += c * dv[j];
        acc[nt->n_index + nt->n_dense] += c;
    }
}

static double
reg_of(const struct newton *nt, uint64_t j)
{
    return j == nt->n_index + nt->n_dense ? nt->l2 * BIAS_REG : nt->l2;
}

/* Objective at w; z must hold X w.  Also the sum of weights into *wsum. */
static double
objective(const struct newton *nt, const double *w, const double *z,
          double *loss_mean)
{
    const struct af_examples *x = nt->x;
    double f = 0, ws = 0;
    for (uint32_t r = 0; r < x->n; r++) {
        double y = x->label[r], wt = x->weight ? x->weight[r] : 1.0;
        /* log(1 + exp(-m)) with m = +-z, computed stably */
        double m = y > 0.5 ? z[r] : -z[r];
        f += wt * (m > 0 ? log1p(exp(-m)) : -m + log1p(exp(m)));
        ws += wt;
    }
    if (loss_mean)
        *loss_mean = ws > 0 ? f / ws : 0;
    for (uint64_t j = 0; j < nt->n_coef; j++)
        f += 0.5 * reg_of(nt, j) * w[j] * w[j];
    return f;
}

static double
dot(const double *a, const double *b, uint64_t n)
{
    double s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* Gradient at w (z = X w) into nt->g; curvature weights into nt->d. */
static void
gradient(struct newton *nt, const double *w)
{
    const struct af_examples *x = nt->x;
    for (uint32_t r = 0; r < x->n; r++) {
        double q = af_lr_sigmoid(nt->z[r]);
        double wt = x->weight ? x->weight[r] : 1.0;
        nt->wt[r] = wt * (q - x->label[r]);
        nt->d[r] = wt * q * (1 - q);
    }
    scatter(nt, nt->wt, nt->g);
    for (uint64_t j = 0; j < nt->n_coef; j++)
        nt->g[j] += reg_of(nt, j) * w[j];
}

/* out = H v. */
static void
hessian_times(struct newton *nt, const double *v, double *out)
{
    product(nt, v, nt->xv);
    for (uint32_t r = 0; r < nt->x->n; r++)
        nt->xv[r] *= nt->d[r];
    scatter(nt, nt->xv, out);
    for (uint64_t j = 0; j < nt->n_coef; j++)
        out[j] += reg_of(nt, j) * v[j];
}

/* Solve H step = -g approximately. */
static void
conjugate_gradient(struct newton *nt, double gnorm)
{
    uint64_t n = nt->n_coef;
    memset(nt->step, 0, n * sizeof *nt->step);
    for (uint64_t j = 0; j < n; j++)
        nt->r[j] = nt->p[j] = -nt->g[j];
    double rr = dot(nt->r, nt->r, n);
    for (int it = 0; it < CG_MAX && sqrt(rr) > CG_TOL * gnorm; it++) {
        hessian_times(nt, nt->p, nt->hp);
        double php = dot(nt->p, nt->hp, n);
        if (!(php > 0))
            break;
        double alpha = rr / php;
        for (uint64_t j = 0; j < n; j++) {
            nt->step[j] += alpha * nt->p[j];
            nt->r[j] -= alpha * nt->hp[j];
        }
        double rr2 = dot(nt->r, nt->r, n);
        double beta = rr2 / rr;
        rr = rr2;
        for (uint64_t j = 0; j < n; j++)
            nt->p[j] = nt->r[j] + beta * nt->p[j];
    }
}

static void
valid_metrics(struct newton *nt, const struct af_examples *v,
              const struct af_train_opts *o, const double *w, double *buf,
              struct af_train_epoch *h)
{
    h->valid_loss = h->valid_auc = NAN;
    if (v == NULL || v->n == 0)
        return;
    nt->pool->job = (struct af_lr_job){.x = v, .n = v->n, .w = w,
                                       .n_index = nt->n_index,
                                       .n_dense = nt->n_dense, .out = buf};
    af_lr_pool_run(nt->pool);
    if (o->downsample_rate < 1.0)
        for (uint32_t i = 0; i < v->n; i++)
            buf[i] = buf[i] / (buf[i] + (1.0 - buf[i]) / o->downsample_rate);
    h->valid_loss = af_eval_logloss(v->label, buf, v->weight, v->n);
    h->valid_auc = af_eval_auc(v->label, buf, v->n);
}

/* One Newton step with backtracking; returns the new objective. */
static double
newton_step(struct newton *nt, double *w, double *wtry, double f, double gnorm)
{
    conjugate_gradient(nt, gnorm);
    double gd = dot(nt->g, nt->step, nt->n_coef);
    double t = 1.0, ft = f;
    for (int ls = 0; ls < 30; ls++, t *= 0.5) {
        for (uint64_t j = 0; j < nt->n_coef; j++)
            wtry[j] = w[j] + t * nt->step[j];
        product(nt, wtry, nt->z);
        ft = objective(nt, wtry, nt->z, NULL);
        if (ft <= f + ARMIJO * t * gd)
            break;
    }
    if (ft <= f) {
        memcpy(w, wtry, nt->n_coef * sizeof *w);
        return ft;
    }
    product(nt, w, nt->z); /* no decrease: keep w */
    return f;
}

int
af_lr_newton(const struct af_examples *train, const struct af_examples *valid,
             const struct af_train_opts *o, struct af_lr_pool *pool, double *w,
             struct af_model_out *out)
{
    struct newton nt = {.x = train, .pool = pool, .n_index = train->n_index,
                        .n_dense = train->n_dense, .l2 = o->l2};
    nt.n_coef = nt.n_index + nt.n_dense + 1;
    uint64_t n = nt.n_coef, rows = train->n ? train->n : 1;
    nt.z = malloc(rows * sizeof *nt.z);
    nt.d = malloc(rows * sizeof *nt.d);
    nt.wt = malloc(rows * sizeof *nt.wt);
    nt.xv = malloc(rows * sizeof *nt.xv);
    nt.g = malloc(n * sizeof *nt.g);
    nt.r = malloc(n * sizeof *nt.r);
    nt.p = malloc(n * sizeof *nt.p);
    nt.hp = malloc(n * sizeof *nt.hp);
    nt.step = malloc(n * sizeof *nt.step);
    double *wtry = malloc(n * sizeof *wtry);
    double *vbuf = malloc(((valid ? valid->n : 0) + 1) * sizeof *vbuf);
    int rc = (!nt.z || !nt.d || !nt.wt || !nt.xv || !nt.g || !nt.r || !nt.p ||
              !nt.hp || !nt.step || !wtry || !vbuf) ? AF_ENOMEM : 0;
    double t0 = now_s(), g0 = 0;
    if (rc == 0) {
        product(&nt, w, nt.z);
        double f = objective(&nt, w, nt.z, NULL);
        uint32_t max_it = o->epochs < AF_TRAIN_MAX_EPOCHS ? o->epochs
                                                          : AF_TRAIN_MAX_EPOCHS;
        for (uint32_t it = 1; it <= max_it; it++) {
            double te = now_s();
            gradient(&nt, w);
            double gnorm = sqrt(dot(nt.g, nt.g, n));
            if (it == 1)
                g0 = gnorm;
            if (gnorm <= GRAD_TOL * g0 || gnorm == 0)
                break;
            f = newton_step(&nt, w, wtry, f, gnorm);
            struct af_train_epoch *h = &out->epoch[out->n_epochs++];
            h->epoch = it;
            objective(&nt, w, nt.z, &h->train_loss);
            valid_metrics(&nt, valid, o, w, vbuf, h);
            h->seconds = now_s() - te;
            out->best_epoch = it;
            if (o->progress) {
                struct af_train_progress pr = {it, max_it, train->n, train->n,
                                               h->train_loss, now_s() - t0, 1};
                o->progress(o->progress_ctx, &pr);
            }
        }
    }
    free(nt.z);
    free(nt.d);
    free(nt.wt);
    free(nt.xv);
    free(nt.g);
    free(nt.r);
    free(nt.p);
    free(nt.hp);
    free(nt.step);
    free(wtry);
    free(vbuf);
    return rc;
}
