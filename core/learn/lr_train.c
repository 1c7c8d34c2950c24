/*
 * lr_train.c -- logistic regression over global indices: FTRL-Proximal
 * (McMahan et al., KDD 2013) with L1/L2, or plain SGD with L2; mini-batches;
 * the forward pass of each batch split over o->threads threads.
 *
 * Coordinates: the n_index feature weights, then n_dense dense weights,
 * then the bias (never regularized).  A batch's gradient is summed per
 * coordinate (g_j = sum over rows of (p - y) * weight * x_j) and applied
 * once: FTRL per coordinate on the sum, SGD on the mean.  Rows are visited
 * in a fresh seeded permutation every epoch.  The forward pass is the only
 * parallel part and its per-row results are reduced in row order, so a run
 * is bit-reproducible for a seed whatever the thread count.
 */
#include "learn/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../plugins/model_lr/lr_format.h"
#include "adfunnel/af_errno.h"
#include "learn/eval.h"
#include "learn/field_layout.h"
#include "learn/lr_newton.h"
#include "learn/lr_pool.h"

#define PROGRESS_EVERY_S 0.25

struct lr {
    uint64_t n_index;
    uint32_t n_dense;
    uint64_t n_coef;          /* n_index + n_dense + 1                    */
    double *w;                /* current weights                          */
    double *z, *n;            /* FTRL state                               */
    double *g;                /* batch gradient accumulator               */
    uint64_t *touched;        /* coordinates with g != 0 in this batch   */
    uint8_t *mark;
    uint64_t n_touched;
    /* Averaging over each epoch (Polyak-Ruppert): acc[j] sums w_j over the
     * epoch's steps, lazily -- last[j] is the last step already added. */
    double *acc, *avg;
    uint32_t *last;
    uint32_t step;
};

/* --- ## Updates --- */

static void
add_grad(struct lr *m, uint64_t j, double g)
{
    if (!m->mark[j]) {
        m->mark[j] = 1;
        m->touched[m->n_touched++] = j;
        m->g[j] = 0.0;
    }
    m->g[j] += g;
}

static void
accumulate(struct lr *m, const struct af_examples *x, uint32_t r, double res)
{
    uint32_t a = x->start[(size_t)r * x->n_fields];
    uint32_t b = x->start[(size_t)(r + 1) * x->n_fields];
    for (uint32_t e = a; e < b; e++)
        add_grad(m, x->gidx[e], res * x->val[e]);
    const float *d = x->dense ? x->dense + (size_t)r * x->n_dense : NULL;
    for (uint32_t j = 0; d && j < m->n_dense; j++)
        if (d[j] != 0.0f)
            add_grad(m, m->n_index + j, res * d[j]);
    add_grad(m, m->n_index + m->n_dense, res);
}

/* FTRL-Proximal closed form for coordinate j. */
static double
ftrl_weight(double z, double n, double alpha, double beta, double l1,
            double l2)
{
    if (fabs(z) <= l1)
        return 0.0;
    double sgn = z < 0 ? -1.0 : 1.0;
    return -(z - sgn * l1) / ((beta + sqrt(n)) / alpha + l2);
}

/*
 * passes = rows seen / train rows.  FTRL's closed form adds its L1/L2
 * terms once to a sum of gradients that grows by one train loss per pass,
 * so they are scaled by the passes so far: the weights then track the
 * minimizer of (summed train loss + l1 * |w|_1 + l2 / 2 * |w|^2), the
 * objective of liblinear with l2 = 1 / C, instead of a regularization that
 * fades epoch after epoch.  SGD steps on the mean loss, so its L2 is l2 / N
 * per row.
 */
static void
apply(struct lr *m, const struct af_train_opts *o, uint32_t batch_rows,
      double passes, uint32_t n_train)
{
    uint64_t bias = m->n_index + m->n_dense;
    double l1 = o->l1 * passes, l2 = o->l2 * passes;
    m->step++;
    for (uint64_t t = 0; t < m->n_touched; t++) {
        uint64_t j = m->touched[t];
        double g = m->g[j];
        m->mark[j] = 0;
        m->acc[j] += m->w[j] * (double)(m->step - 1 - m->last[j]);
        m->last[j] = m->step - 1;
        int reg = j != bias;
        if (o->optimizer == AF_OPT_SGD) {
            double step = g / batch_rows +
                          (reg ? o->l2 / n_train * m->w[j] : 0.0);
            m->w[j] -= o->learning_rate * step;
            continue;
        }
        double sigma = (sqrt(m->n[j] + g * g) - sqrt(m->n[j])) / o->ftrl_alpha;
        m->z[j] += g - sigma * m->w[j];
        m->n[j] += g * g;
        m->w[j] = ftrl_weight(m->z[j], m->n[j], o->ftrl_alpha, o->ftrl_beta,
                              reg ? l1 : 0.0, reg ? l2 : 0.0);
    }
    m->n_touched = 0;
}

/* --- ## Training loop --- */

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* splitmix64: the permutation's generator. */
static uint64_t
mix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void
shuffle(uint32_t *v, uint32_t n, uint64_t *seed)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(mix64(seed) % i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static void
corrected(double *p, uint32_t n, double rate)
{
    if (rate >= 1.0)
        return;
    for (uint32_t i = 0; i < n; i++)
        p[i] = p[i] / (p[i] + (1.0 - p[i]) / rate);
}

/* Valid loss and AUC of the current weights. */
static void
validate(struct af_lr_pool *pl, const struct lr *m, const struct af_examples *v,
         double rate, double *p, double *loss, double *auc)
{
    pl->job = (struct af_lr_job){.x = v, .from = 0, .n = v->n, .w = m->avg,
                           .n_index = m->n_index, .n_dense = m->n_dense,
                           .out = p};
    af_lr_pool_run(pl);
    corrected(p, v->n, rate);
    *loss = af_eval_logloss(v->label, p, v->weight, v->n);
    *auc = af_eval_auc(v->label, p, v->n);
}

struct run {
    const struct af_examples *train, *valid;
    const struct af_train_opts *o;
    struct lr m;
    struct af_lr_pool pool;
    uint32_t *perm;
    double *p_batch, *p_valid;
    double *best_w;
};

static int
check_input(const struct af_examples *t, const struct af_examples *v,
            const struct af_train_opts *o, char *err, size_t errlen)
{
    if (t == NULL || t->n == 0) {
        snprintf(err, errlen, "lr: the train split is empty");
        return AF_EINVAL;
    }
    if (v && (v->n_index != t->n_index || v->n_dense != t->n_dense)) {
        snprintf(err, errlen, "lr: valid has %llu indices and %u dense "
                 "features, train %llu and %u", (unsigned long long)v->n_index,
                 v->n_dense, (unsigned long long)t->n_index, t->n_dense);
        return AF_EMISMATCH;
    }
    if (o->optimizer != AF_OPT_FTRL && o->optimizer != AF_OPT_SGD &&
        o->optimizer != AF_OPT_NEWTON && o->optimizer != AF_OPT_DEFAULT) {
        snprintf(err, errlen, "lr: optimizer %s is not supported (ftrl, sgd, "
                 "newton)", af_optimizer_name(o->optimizer));
        return AF_EINVAL;
    }
    if (!(o->downsample_rate > 0 && o->downsample_rate <= 1) ||
        o->batch_size == 0 || o->epochs == 0 ||
        (o->optimizer != AF_OPT_SGD && o->optimizer != AF_OPT_NEWTON &&
         !(o->ftrl_alpha > 0)) ||
        (o->optimizer == AF_OPT_SGD && !(o->learning_rate > 0)) ||
        o->l1 < 0 || o->l2 < 0) {
        snprintf(err, errlen, "lr: need epochs >= 1, batch_size >= 1, "
                 "downsample_rate in (0, 1], alpha / learning rate > 0 and "
                 "l1, l2 >= 0");
        return AF_EINVAL;
    }
    return 0;
}

static int
run_alloc(struct run *r)
{
    struct lr *m = &r->m;
    m->n_index = r->train->n_index;
    m->n_dense = r->train->n_dense;
    m->n_coef = m->n_index + m->n_dense + 1;
    m->w = calloc(m->n_coef, sizeof *m->w);
    m->z = calloc(m->n_coef, sizeof *m->z);
    m->n = calloc(m->n_coef, sizeof *m->n);
    m->g = calloc(m->n_coef, sizeof *m->g);
    m->touched = malloc(m->n_coef * sizeof *m->touched);
    m->mark = calloc(m->n_coef, 1);
    m->acc = calloc(m->n_coef, sizeof *m->acc);
    m->avg = calloc(m->n_coef, sizeof *m->avg);
    m->last = calloc(m->n_coef, sizeof *m->last);
    r->best_w = malloc(m->n_coef * sizeof *r->best_w);
    r->perm = malloc(r->train->n * sizeof *r->perm);
    r->p_batch = malloc(r->o->batch_size * sizeof *r->p_batch);
    r->p_valid = malloc(((r->valid ? r->valid->n : 0) + 1) * sizeof *r->p_valid);
    if (!m->w || !m->z || !m->n || !m->g || !m->touched || !m->mark ||
        !m->acc || !m->avg || !m->last ||
        !r->best_w || !r->perm || !r->p_batch || !r->p_valid)
        return AF_ENOMEM;
    for (uint32_t i = 0; i < r->train->n; i++)
        r->perm[i] = i;
    return 0;
}

static void
run_free(struct run *r)
{
    free(r->m.w);
    free(r->m.z);
    free(r->m.n);
    free(r->m.g);
    free(r->m.touched);
    free(r->m.mark);
    free(r->m.acc);
    free(r->m.avg);
    free(r->m.last);
    free(r->best_w);
    free(r->perm);
    free(r->p_batch);
    free(r->p_valid);
}

/* One pass over train; returns the mean weighted logloss. */
static double
epoch(struct run *r, uint32_t ep, uint64_t *seed, double t_begin)
{
    const struct af_examples *x = r->train;
    const struct af_train_opts *o = r->o;
    shuffle(r->perm, x->n, seed);
    struct lr *m = &r->m;
    m->step = 0;
    memset(m->acc, 0, m->n_coef * sizeof *m->acc);
    memset(m->last, 0, m->n_coef * sizeof *m->last);
    double loss = 0, wsum = 0, recent = 0, recent_w = 0, last = now_s();
    for (uint32_t a = 0; a < x->n; a += o->batch_size) {
        uint32_t n = x->n - a < o->batch_size ? x->n - a : o->batch_size;
        r->pool.job = (struct af_lr_job){.x = x, .rows = r->perm + a, .n = n,
                                   .w = r->m.w, .n_index = r->m.n_index,
                                   .n_dense = r->m.n_dense, .out = r->p_batch};
        af_lr_pool_run(&r->pool);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t row = r->perm[a + i];
            double y = x->label[row], wt = x->weight ? x->weight[row] : 1.0;
            double p = r->p_batch[i];
            double pc = p < 1e-15 ? 1e-15 : p > 1 - 1e-15 ? 1 - 1e-15 : p;
            double l = -(y * log(pc) + (1 - y) * log(1 - pc)) * wt;
            loss += l;
            wsum += wt;
            recent = recent * 0.999 + l;
            recent_w = recent_w * 0.999 + wt;
            accumulate(&r->m, x, row, (p - y) * wt);
        }
        apply(&r->m, o, n, (ep - 1) + (double)(a + n) / x->n, x->n);
        double t = now_s();
        if (o->progress && t - last >= PROGRESS_EVERY_S) {
            last = t;
            struct af_train_progress pr = {ep, o->epochs, a + n, x->n,
                                           recent / recent_w, t - t_begin, 0};
            o->progress(o->progress_ctx, &pr);
        }
    }
    for (uint64_t j = 0; j < m->n_coef; j++) {
        m->acc[j] += m->w[j] * (double)(m->step - m->last[j]);
        m->avg[j] = m->acc[j] / (m->step ? m->step : 1);
    }
    return wsum > 0 ? loss / wsum : 0.0;
}

static int
write_payload(const struct run *r, const double *w, struct af_model_out *out)
{
    const struct af_train_opts *o = r->o;
    const struct lr *m = &r->m;
    uint32_t nf = r->train->n_fields;
    size_t size = sizeof(struct af_lr_payload_header) +
                  4 * (m->n_index + m->n_dense) +
                  sizeof(struct af_lr_payload_ext) + 4 * (size_t)nf;
    unsigned char *buf = malloc(size);
    if (buf == NULL)
        return AF_ENOMEM;
    struct af_lr_payload_header h = {
        .n_buckets = (uint32_t)m->n_index, .n_dense = m->n_dense,
        .bias = (float)w[m->n_index + m->n_dense], .reserved = 0.0f};
    memcpy(buf, &h, sizeof h);
    float *fw = (float *)(buf + sizeof h);
    for (uint64_t j = 0; j < m->n_index + m->n_dense; j++)
        fw[j] = (float)w[j];
    unsigned char *p = buf + sizeof h + 4 * (m->n_index + m->n_dense);
    struct af_lr_payload_ext ext = {
        .magic = AF_LR_EXT_MAGIC, .n_fields = nf,
        .n_req_fields = o->n_req_fields,
        .downsample_rate = (float)o->downsample_rate};
    memcpy(p, &ext, sizeof ext);
    uint32_t *slots = (uint32_t *)(p + sizeof ext);
    for (uint32_t f = 0; f < nf; f++)
        slots[f] = o->field_slots ? o->field_slots[f] : 1;
    snprintf(out->kind, sizeof out->kind, "%s", AF_LR_KIND);
    out->payload = buf;
    out->payload_size = size;
    return 0;
}

static int
summarize(struct run *r, const double *w, struct af_model_out *out)
{
    const struct af_train_opts *o = r->o;
    int rc = write_payload(r, w, out);
    const struct af_train_epoch *b = &out->epoch[out->best_epoch - 1];
    int opt = o->optimizer == AF_OPT_DEFAULT ? AF_OPT_FTRL : o->optimizer;
    snprintf(out->summary, sizeof out->summary,
             "lr %s epochs=%u best=%u valid_auc=%.4f valid_ll=%.4f l1=%g l2=%g "
             "w=%g", af_optimizer_name(opt), out->n_epochs, out->best_epoch,
             b->valid_auc, b->valid_loss, o->l1, o->l2, o->downsample_rate);
    return rc;
}

/* Newton: the exact solution; the bias starts at the logit of the train
 * positive rate. */
static int
train_newton(struct run *r, struct af_model_out *out)
{
    const struct af_examples *x = r->train;
    double pos = 0, tot = 0;
    for (uint32_t i = 0; i < x->n; i++) {
        double wt = x->weight ? x->weight[i] : 1.0;
        pos += wt * x->label[i];
        tot += wt;
    }
    double rate = (pos + 0.5) / (tot + 1.0);
    r->m.w[r->m.n_index + r->m.n_dense] = log(rate / (1 - rate));
    int rc = af_lr_newton(x, r->valid, r->o, &r->pool, r->m.w, out);
    if (rc != 0)
        return rc;
    if (out->n_epochs == 0) { /* already optimal at the start */
        out->epoch[0] = (struct af_train_epoch){1, NAN, NAN, NAN, 0};
        out->n_epochs = out->best_epoch = 1;
    }
    return summarize(r, r->m.w, out);
}

static int
train_loop(struct run *r, struct af_model_out *out)
{
    if (r->o->optimizer == AF_OPT_NEWTON)
        return train_newton(r, out);
    const struct af_train_opts *o = r->o;
    uint64_t seed = o->seed ^ 0x6c722d7472616e69ull;
    double t0 = now_s(), best = -1.0;
    uint32_t since_best = 0;
    memcpy(r->best_w, r->m.w, r->m.n_coef * sizeof *r->best_w);
    for (uint32_t ep = 1; ep <= o->epochs && ep <= AF_TRAIN_MAX_EPOCHS; ep++) {
        double te = now_s();
        struct af_train_epoch *h = &out->epoch[out->n_epochs++];
        h->epoch = ep;
        h->train_loss = epoch(r, ep, &seed, t0);
        h->valid_loss = h->valid_auc = NAN;
        if (r->valid && r->valid->n > 0)
            validate(&r->pool, &r->m, r->valid, o->downsample_rate,
                     r->p_valid, &h->valid_loss, &h->valid_auc);
        h->seconds = now_s() - te;
        /* No valid split (or a one-class one): keep the last epoch. */
        double score = isnan(h->valid_auc) ? (double)ep : h->valid_auc;
        if (score > best) {
            best = score;
            since_best = 0;
            out->best_epoch = ep;
            memcpy(r->best_w, r->m.avg, r->m.n_coef * sizeof *r->best_w);
        } else {
            since_best++;
        }
        if (o->progress) {
            struct af_train_progress pr = {ep, o->epochs, r->train->n,
                                           r->train->n, h->train_loss,
                                           now_s() - t0, 1};
            o->progress(o->progress_ctx, &pr);
        }
        if (o->patience && since_best >= o->patience)
            break;
    }
    return summarize(r, r->best_w, out);
}

int
af_train_lr(const struct af_examples *train, const struct af_examples *valid,
            const struct af_train_opts *o, struct af_model_out *out,
            char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = check_input(train, valid, o, err, errlen);
    if (rc != 0)
        return rc;
    struct run r = {.train = train, .valid = valid, .o = o};
    rc = run_alloc(&r);
    if (rc == 0) {
        af_lr_pool_start(&r.pool, o->threads);
        rc = train_loop(&r, out);
        af_lr_pool_stop(&r.pool);
    }
    if (rc != 0) {
        snprintf(err, errlen, "lr: %s", af_strerror(rc));
        af_model_out_free(out);
    }
    run_free(&r);
    return rc;
}
