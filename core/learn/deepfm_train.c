/*
 * deepfm_train.c -- mini-batch training of the fm and deepfm kinds
 * (deepfm.h describes the step, its threads and its optimizers).
 *
 * Table rows are interleaved while training: row i of the trainer's table
 * holds, 64-byte aligned,
 *
 *   [0, D)            embedding         [D] w1  [D+1] its m  [D+2] its v
 *   [off_m, off_m+D)  embedding's m (Adagrad: its sum)
 *   [off_v, off_v+D)  embedding's v
 *
 * so the update of one index touches one page and a few adjacent cache
 * lines instead of six arrays (the throughput set's tables are 2 M rows,
 * far beyond the caches).  The model file stores plain arrays; the payload
 * is built at the end.
 *
 * The other parameters (MLP, dense first-order weights, bias) form one
 * contiguous "dense block" with dense Adam state.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "adfunnel/af_errno.h"
#include "learn/deepfm.h"
#include "learn/eval.h"
#include "learn/fm_pool.h"
#include "learn/optim.h"
#include "world/wrand.h"
#include "../../plugins/model_fm/fm_format.h"

#define MAX_THREADS 64
#define EMB_INIT_SD 0.01
#define PROGRESS_NS 250000000ULL
#define PREFETCH 12 /* entries or rows ahead of a random table read */

/* What each thread accumulates for one step. */
/* One batch entry of a row this thread owns. */
struct owned {
    uint32_t g;         /* table row                                      */
    uint32_t rf;        /* batch row * n_fields + field                   */
    float v;            /* entry value                                    */
};

struct tstate {
    struct owned *own;  /* this step's owned entries                      */
    uint32_t n_slots;   /* distinct owned rows in this batch             */
    uint32_t *uniq;     /* index of each slot                            */
    float *acc;         /* slot x (D + 2): d emb, d w1, occurrences      */
    double loss;        /* weighted loss of its rows                     */
    double dbias;       /* sum of dlogit over its rows                   */
    double *ddense;     /* n_dense: sum of dlogit * x_j                  */
    char pad[64];       /* keep threads' hot fields off one cache line   */
};

struct fit {
    const struct af_train_opts *o;
    const struct af_examples *train;
    struct af_fm_model m;   /* tables point into rows, MLP into dp       */
    uint32_t D, stride, off_m, off_v, acc_w;
    float *rows;            /* n_index x stride                          */
    size_t rows_bytes;
    float *dp, *dm, *dv, *dg; /* dense block: MLP, w_dense, bias         */
    size_t n_dp, mlp_n;
    int32_t *slot_of;       /* n_index: slot of an index this step, -1   */
    struct af_fm_work w;
    struct af_fm_pool *pool;
    uint32_t T;
    struct tstate ts[MAX_THREADS];

    const uint32_t *batch;  /* example rows of this step                 */
    uint32_t B;
    struct af_adam adam;
    struct af_adagrad adagrad;
    struct af_dropout drop;
    int use_adagrad, lazy, blas_mlp;
    float wd;               /* dense mode: weight decay 2 * l2           */
    float l2;               /* lazy mode: l2 per looked-up row           */
};

/* --- ## Helpers --- */

static uint64_t
now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static void
share(uint64_t n, uint32_t part, uint32_t parts, uint64_t *lo, uint64_t *hi)
{
    *lo = n * part / parts;
    *hi = n * (part + 1) / parts;
}

/* Thread that owns table row g (a multiplicative hash, so consecutive
 * indices -- one field's vocabulary -- spread over all threads). */
static inline uint32_t
owner(uint32_t g, uint32_t T)
{
    return (uint32_t)(((uint64_t)(uint32_t)(g * 0x9e3779b1u) * T) >> 32);
}

static inline float *
row_of(const struct fit *F, uint32_t g)
{
    return F->rows + (size_t)g * F->stride;
}

/* --- ## Checking the inputs --- */

static int
check_set(const struct af_examples *x, const struct af_examples *ref,
          const char *name, char *err, size_t errlen)
{
    if (x->n_fields != ref->n_fields || x->n_dense != ref->n_dense ||
        x->n_index != ref->n_index) {
        snprintf(err, errlen, "%s set has %u fields, %u dense, %llu indices; "
                 "train has %u, %u, %llu", name, x->n_fields, x->n_dense,
                 (unsigned long long)x->n_index, ref->n_fields, ref->n_dense,
                 (unsigned long long)ref->n_index);
        return AF_EINVAL;
    }
    for (uint32_t r = 0; r < x->n; r++) {
        for (uint32_t f = 0; f < x->n_fields; f++) {
            const uint32_t *g;
            const float *v;
            uint32_t cnt = af_examples_entries(x, r, f, &g, &v);
            uint32_t lo = ref->field_offset[f], hi = ref->field_offset[f + 1];
            for (uint32_t j = 0; j < cnt; j++) {
                if (g[j] < lo || g[j] >= hi || !isfinite(v[j])) {
                    snprintf(err, errlen, "%s row %u field %u: index %u "
                             "(value %g) outside the field's range [%u, %u)",
                             name, r, f, g[j], (double)v[j], lo, hi);
                    return AF_EINVAL;
                }
            }
        }
        if (x->label[r] != 0.0f && x->label[r] != 1.0f) {
            snprintf(err, errlen, "%s row %u: label %g is not 0 or 1", name,
                     r, (double)x->label[r]);
            return AF_EINVAL;
        }
    }
    return AF_OK;
}

static int
check_opts(const struct af_train_opts *o, int with_mlp, char *err,
           size_t errlen)
{
    const char *kind = with_mlp ? "deepfm" : "fm";
    if (o->epochs == 0 || o->epochs > AF_TRAIN_MAX_EPOCHS ||
        o->batch_size == 0 || o->batch_size > (1u << 20)) {
        snprintf(err, errlen, "%s: epochs %u (1..%d) or batch_size %u "
                 "(1..1048576) out of range", kind, o->epochs,
                 AF_TRAIN_MAX_EPOCHS, o->batch_size);
        return AF_EINVAL;
    }
    if (!(o->learning_rate > 0.0) || !(o->l2 >= 0.0) ||
        !(o->dropout >= 0.0 && o->dropout < 1.0)) {
        snprintf(err, errlen, "%s: learning_rate %g must be > 0, l2 %g >= 0, "
                 "dropout %g in [0, 1)", kind, o->learning_rate, o->l2,
                 o->dropout);
        return AF_EINVAL;
    }
    if (o->optimizer != AF_OPT_DEFAULT && o->optimizer != AF_OPT_ADAM &&
        o->optimizer != AF_OPT_ADAGRAD) {
        snprintf(err, errlen, "%s trains with adam or adagrad, not %s", kind,
                 af_optimizer_name(o->optimizer));
        return AF_EINVAL;
    }
    if (o->embed_dim == 0 || o->embed_dim > AF_FM_MAX_DIM ||
        o->threads == 0 || o->threads > MAX_THREADS) {
        snprintf(err, errlen, "%s: embed_dim %u (1..%d) or threads %u "
                 "(1..%d) out of range", kind, o->embed_dim, AF_FM_MAX_DIM,
                 o->threads, MAX_THREADS);
        return AF_EINVAL;
    }
    if (!(o->downsample_rate > 0.0 && o->downsample_rate <= 1.0)) {
        snprintf(err, errlen, "%s: downsample_rate %g must be in (0, 1]",
                 kind, o->downsample_rate);
        return AF_EINVAL;
    }
    if (with_mlp) {
        if (o->n_hidden > AF_TRAIN_MAX_HIDDEN) {
            snprintf(err, errlen, "deepfm: %u hidden layers, at most %d",
                     o->n_hidden, AF_TRAIN_MAX_HIDDEN);
            return AF_EINVAL;
        }
        for (uint32_t l = 0; l < o->n_hidden; l++) {
            if (o->hidden[l] == 0 || o->hidden[l] > AF_FM_MAX_WIDTH) {
                snprintf(err, errlen, "deepfm: hidden layer %u has width %u "
                         "(1..%d)", l + 1, o->hidden[l], AF_FM_MAX_WIDTH);
                return AF_EINVAL;
            }
        }
    }
    if (o->adam_beta1 < 0 || o->adam_beta1 >= 1 || o->adam_beta2 < 0 ||
        o->adam_beta2 >= 1 || !(o->adam_eps > 0)) {
        snprintf(err, errlen, "%s: adam betas must be in [0, 1) and eps > 0",
                 kind);
        return AF_EINVAL;
    }
    return AF_OK;
}

static int
check_inputs(const struct af_examples *train, const struct af_examples *valid,
             const struct af_train_opts *o, char *err, size_t errlen)
{
    if (train == NULL || train->n == 0 || train->field_offset == NULL) {
        snprintf(err, errlen, "the train set is empty");
        return AF_EINVAL;
    }
    if (train->n_fields == 0 || train->n_fields > AF_FM_MAX_FIELDS ||
        train->n_dense > AF_FM_MAX_DENSE ||
        train->n_index != train->field_offset[train->n_fields] ||
        train->n_index > UINT32_MAX) {
        snprintf(err, errlen, "train set: %u fields (1..%d), %u dense (<= %d)"
                 ", index size %llu must equal field_offset[F] = %u",
                 train->n_fields, AF_FM_MAX_FIELDS, train->n_dense,
                 AF_FM_MAX_DENSE, (unsigned long long)train->n_index,
                 train->field_offset[train->n_fields]);
        return AF_EINVAL;
    }
    for (uint32_t f = 0; f < train->n_fields; f++) {
        if (train->field_offset[f + 1] <= train->field_offset[f]) {
            snprintf(err, errlen, "field %u has no index (offsets %u, %u): "
                     "every field needs its OOV slot", f,
                     train->field_offset[f], train->field_offset[f + 1]);
            return AF_EINVAL;
        }
        if (o->field_slots != NULL && o->field_slots[f] == 0) {
            snprintf(err, errlen, "field %u has 0 serving slots", f);
            return AF_EINVAL;
        }
    }
    if (o->n_req_fields > train->n_fields || o->n_req_dense > train->n_dense) {
        snprintf(err, errlen, "n_req_fields %u > %u fields or n_req_dense %u "
                 "> %u dense", o->n_req_fields, train->n_fields,
                 o->n_req_dense, train->n_dense);
        return AF_EINVAL;
    }
    int rc = check_set(train, train, "train", err, errlen);
    if (rc == AF_OK && valid != NULL)
        rc = check_set(valid, train, "valid", err, errlen);
    return rc;
}

/* --- ## Set-up --- */

static void
layout_rows(struct fit *F)
{
    uint32_t D = F->D;
    F->off_m = (D + 3 + 15) & ~15u;
    F->off_v = F->off_m + D;
    F->stride = (F->off_v + D + 15) & ~15u;
    F->acc_w = D + 2;
}

/* Big zeroed table, asking for huge pages (fewer TLB misses on random rows). */
static float *
alloc_table(size_t bytes)
{
    size_t align = 2u << 20;
    bytes = (bytes + align - 1) & ~(align - 1);
    float *p = aligned_alloc(align, bytes);
    if (p == NULL)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    return p;
}

/* Mean label (weighted) of the train set, clamped like the anchor. */
static double
base_rate(const struct af_examples *x)
{
    double pos = 0, tot = 0;
    for (uint32_t r = 0; r < x->n; r++) {
        double w = x->weight != NULL ? x->weight[r] : 1.0;
        pos += w * x->label[r];
        tot += w;
    }
    double p = tot > 0 ? pos / tot : 0.5;
    return fmin(fmax(p, 1e-6), 1.0 - 1e-6);
}

static int
fit_init(struct fit *F, const struct af_examples *train,
         const struct af_train_opts *o, int with_mlp)
{
    F->o = o;
    F->train = train;
    F->D = o->embed_dim;
    F->T = o->threads;
    F->use_adagrad = o->optimizer == AF_OPT_ADAGRAD;
    F->lazy = o->sparse != 0;
    F->blas_mlp = o->blas_threads_mlp != 0 && with_mlp;
    F->wd = F->lazy ? 0.0f : (float)(2.0 * o->l2);
    F->l2 = F->lazy ? (float)o->l2 : 0.0f;
    layout_rows(F);

    struct af_fm_model *m = &F->m;
    m->n_fields = train->n_fields;
    m->n_dense = train->n_dense;
    m->dim = F->D;
    m->n_index = train->n_index;
    m->field_offset = train->field_offset;
    m->downsample_rate = o->downsample_rate;
    m->has_mlp = with_mlp;

    F->rows_bytes = (size_t)m->n_index * F->stride * sizeof(float);
    F->rows = alloc_table(F->rows_bytes);
    F->slot_of = malloc((size_t)m->n_index * sizeof *F->slot_of);
    if (F->rows == NULL || F->slot_of == NULL)
        return AF_ENOMEM;
    memset(F->slot_of, 0xff, (size_t)m->n_index * sizeof *F->slot_of);
    m->emb = F->rows;
    m->emb_stride = F->stride;
    m->w1 = F->rows + F->D;
    m->w1_stride = F->stride;

    uint32_t width[AF_MLP_MAX_LAYERS + 1];
    uint32_t n_layers = 0;
    if (with_mlp) {
        width[0] = af_fm_input_width(m);
        for (uint32_t l = 0; l < o->n_hidden; l++)
            width[l + 1] = o->hidden[l];
        width[o->n_hidden + 1] = 1;
        n_layers = o->n_hidden + 1;
        F->mlp_n = af_mlp_param_count(n_layers, width);
    }
    F->n_dp = F->mlp_n + m->n_dense + 1;
    F->dp = calloc(4 * F->n_dp, sizeof(float));
    if (F->dp == NULL)
        return AF_ENOMEM;
    F->dm = F->dp + F->n_dp;
    F->dv = F->dm + F->n_dp;
    F->dg = F->dv + F->n_dp;
    m->w_dense = F->dp + F->mlp_n;
    if (with_mlp && af_mlp_view(&m->mlp, n_layers, width, F->dp) != AF_OK)
        return AF_EINVAL;

    /* Initialisation (anchor): embeddings N(0, 0.01), first order 0,
     * Xavier-uniform MLP, zero biases, bias = logit of the base rate. */
    struct af_wrand r;
    af_wrand_seed(&r, o->seed, 1);
    for (uint64_t i = 0; i < m->n_index; i++) {
        float *row = row_of(F, (uint32_t)i);
        for (uint32_t k = 0; k < F->D; k++)
            row[k] = (float)(EMB_INIT_SD * af_wrand_normal(&r));
    }
    if (with_mlp) {
        af_wrand_seed(&r, o->seed, 2);
        af_mlp_xavier(&m->mlp, &r);
    }
    double p0 = base_rate(train);
    m->bias = (float)log(p0 / (1.0 - p0));
    F->dp[F->n_dp - 1] = m->bias;

    uint32_t B = o->batch_size < train->n ? o->batch_size : train->n;
    if (af_fm_work_init(&F->w, m, B, 1) != AF_OK)
        return AF_ENOMEM;
    uint32_t max_row = 0; /* most entries in one row: sizes the slot lists */
    for (uint32_t i = 0; i < train->n; i++) {
        uint32_t c = train->start[(size_t)(i + 1) * train->n_fields] -
                     train->start[(size_t)i * train->n_fields];
        max_row = c > max_row ? c : max_row;
    }
    size_t slots = (size_t)B * (max_row ? max_row : 1);
    for (uint32_t t = 0; t < F->T; t++) {
        struct tstate *s = &F->ts[t];
        s->uniq = malloc(slots * sizeof *s->uniq);
        s->own = malloc(slots * sizeof *s->own);
        s->acc = malloc(slots * F->acc_w * sizeof *s->acc);
        s->ddense = calloc(m->n_dense + 1, sizeof *s->ddense);
        if (s->uniq == NULL || s->own == NULL || s->acc == NULL ||
            s->ddense == NULL)
            return AF_ENOMEM;
    }
    F->pool = af_fm_pool_create(F->T);
    if (F->pool == NULL)
        return AF_ENOMEM;
    af_adam_init(&F->adam, o->learning_rate, o->adam_beta1, o->adam_beta2,
                 o->adam_eps);
    F->adagrad.lr = (float)o->learning_rate;
    F->adagrad.eps = 1e-10f;
    F->drop.p = (float)o->dropout;
    F->drop.seed = o->seed;
    return AF_OK;
}

static void
fit_free(struct fit *F)
{
    af_fm_pool_destroy(F->pool);
    for (uint32_t t = 0; t < MAX_THREADS; t++) {
        free(F->ts[t].uniq);
        free(F->ts[t].own);
        free(F->ts[t].acc);
        free(F->ts[t].ddense);
    }
    af_fm_work_free(&F->w);
    af_mlp_free(&F->m.mlp);
    free(F->dp);
    free(F->slot_of);
    free(F->rows);
}

/* --- ## One step: rows --- */

/* Loss and dLoss/dlogit of batch rows [lo, hi), into thread t's sums. */
static void
loss_rows(struct fit *F, uint32_t lo, uint32_t hi, struct tstate *s)
{
    const struct af_examples *x = F->train;
    struct af_fm_work *w = &F->w;
    const float inv_b = 1.0f / (float)F->B;
    for (uint32_t r = lo; r < hi; r++) {
        uint32_t er = F->batch[r];
        double z = w->logit[r], y = x->label[er];
        double wt = x->weight != NULL ? x->weight[er] : 1.0;
        /* log(1 + e^-|z|) + max(z, 0) - y z: stable for any z */
        s->loss += wt * (log1p(exp(-fabs(z))) + (z > 0 ? z : 0) - y * z);
        double p = 1.0 / (1.0 + exp(-z));
        float g = (float)(wt * (p - y)) * inv_b;
        w->dlogit[r] = g;
        s->dbias += g;
        if (F->m.n_dense > 0) {
            const float *d = x->dense + (size_t)er * F->m.n_dense;
            for (uint32_t j = 0; j < F->m.n_dense; j++)
                s->ddense[j] += (double)g * d[j];
        }
    }
}

/* --- ## One step: parameters --- */

/* Adam or Adagrad on a dense-block range with gradient dg. */
static void
dense_update(struct fit *F, size_t off, size_t len)
{
    if (len == 0)
        return;
    if (F->use_adagrad)
        af_adagrad_dense(&F->adagrad, F->dp + off, F->dm + off, F->dg + off,
                         len, 0.0f);
    else
        af_adam_dense(&F->adam, F->dp + off, F->dm + off, F->dv + off,
                      F->dg + off, len, 0.0f);
}

/* MLP weight gradient and update of part t of `parts`. */
static void
mlp_update(struct fit *F, uint32_t t, uint32_t parts)
{
    const struct af_mlp *mlp = &F->m.mlp;
    af_mlp_grad(mlp, &F->w.mw, F->w.x0, F->B, t, parts, F->dg);
    for (uint32_t l = 0; l < mlp->n_layers; l++) {
        struct af_mlp_range r;
        af_mlp_part(mlp, l, t, parts, &r);
        dense_update(F, r.w_off, r.w_len);
        dense_update(F, r.b_off, r.b_len);
    }
}

/* Bias and dense first-order weights from every thread's sums (thread 0). */
static void
head_update(struct fit *F)
{
    uint32_t nd = F->m.n_dense;
    float *g = F->dg + F->mlp_n;
    for (uint32_t j = 0; j <= nd; j++) {
        double sum = 0;
        for (uint32_t t = 0; t < F->T; t++)
            sum += j < nd ? F->ts[t].ddense[j] : F->ts[t].dbias;
        g[j] = (float)sum;
    }
    dense_update(F, F->mlp_n, nd + 1);
    F->m.bias = F->dp[F->n_dp - 1];
}

/* Coalesce the embedding gradients of the rows thread t owns: first the
 * list of its entries (a sequential scan of the batch), then one pass that
 * maps each to its slot, with the slot_of reads prefetched ahead (they are
 * random reads of an array of n_index entries). */
static void
accumulate_owned(struct fit *F, uint32_t t)
{
    const struct af_examples *x = F->train;
    const struct af_fm_work *w = &F->w;
    const uint32_t D = F->D, Fn = F->m.n_fields, in = w->in, aw = F->acc_w;
    struct tstate *s = &F->ts[t];
    uint32_t n_own = 0;
    for (uint32_t r = 0; r < F->B; r++) {
        uint32_t er = F->batch[r];
        for (uint32_t f = 0; f < Fn; f++) {
            const uint32_t *g;
            const float *v;
            uint32_t cnt = af_examples_entries(x, er, f, &g, &v);
            for (uint32_t j = 0; j < cnt; j++) {
                if (owner(g[j], F->T) != t)
                    continue;
                s->own[n_own].g = g[j];
                s->own[n_own].v = v[j];
                s->own[n_own].rf = r * Fn + f;
                n_own++;
            }
        }
    }
    s->n_slots = 0;
    for (uint32_t i = 0; i < n_own; i++) {
        if (i + PREFETCH < n_own)
            __builtin_prefetch(&F->slot_of[s->own[i + PREFETCH].g]);
        uint32_t g = s->own[i].g, r = s->own[i].rf / Fn;
        uint32_t f = s->own[i].rf - r * Fn;
        float v = s->own[i].v;
        int32_t slot = F->slot_of[g];
        float *a;
        if (slot < 0) {
            slot = (int32_t)s->n_slots++;
            F->slot_of[g] = slot;
            s->uniq[slot] = g;
            a = s->acc + (size_t)slot * aw;
            memset(a, 0, aw * sizeof *a);
        } else {
            a = s->acc + (size_t)slot * aw;
        }
        const float *de = w->dx0 + (size_t)r * in + (size_t)f * D;
        for (uint32_t k = 0; k < D; k++)
            a[k] += v * de[k];
        a[D] += v * w->dlogit[r];
        a[D + 1] += 1.0f;
    }
}

/* Start loading the table row of index g (all its cache lines). */
static inline void
prefetch_table_row(const struct fit *F, uint32_t g)
{
    const char *p = (const char *)row_of(F, g);
    for (uint32_t b = 0; b < F->stride * sizeof(float); b += 64)
        __builtin_prefetch(p + b, 1);
}

/* Lazy update of the rows thread t owns (o->sparse). */
static void
update_owned_lazy(struct fit *F, uint32_t t)
{
    struct tstate *s = &F->ts[t];
    const uint32_t D = F->D, aw = F->acc_w;
    const float two_l2 = 2.0f * F->l2;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        if (i + PREFETCH < s->n_slots)
            prefetch_table_row(F, s->uniq[i + PREFETCH]);
        uint32_t g = s->uniq[i];
        float *row = row_of(F, g), *a = s->acc + (size_t)i * aw;
        if (two_l2 > 0.0f) {
            float c = two_l2 * a[D + 1];
            for (uint32_t k = 0; k <= D; k++)
                a[k] += c * row[k];
        }
        if (F->use_adagrad) {
            af_adagrad_dense(&F->adagrad, row, row + F->off_m, a, D, 0.0f);
            af_adagrad_dense(&F->adagrad, row + D, row + D + 1, a + D, 1,
                             0.0f);
        } else {
            af_adam_sparse_row(&F->adam, row, row + F->off_m, row + F->off_v,
                               a, D);
            af_adam_sparse_row(&F->adam, row + D, row + D + 1, row + D + 2,
                               a + D, 1);
        }
        F->slot_of[g] = -1;
    }
}

/* Dense update of table rows [share of thread t]: every row, with its
 * coalesced gradient when the batch touched it, weight decay 2*l2. */
static void
update_sweep(struct fit *F, uint32_t t)
{
    uint64_t lo, hi;
    share(F->m.n_index, t, F->T, &lo, &hi);
    const uint32_t D = F->D, aw = F->acc_w;
    for (uint64_t i = lo; i < hi; i++) {
        float *row = row_of(F, (uint32_t)i);
        const float *a = NULL;
        int32_t slot = F->slot_of[i];
        if (slot >= 0) {
            a = F->ts[owner((uint32_t)i, F->T)].acc + (size_t)slot * aw;
            F->slot_of[i] = -1;
        }
        if (F->use_adagrad) {
            af_adagrad_dense(&F->adagrad, row, row + F->off_m, a, D, F->wd);
            af_adagrad_dense(&F->adagrad, row + D, row + D + 1,
                             a ? a + D : NULL, 1, F->wd);
        } else {
            af_adam_dense(&F->adam, row, row + F->off_m, row + F->off_v, a,
                          D, F->wd);
            af_adam_dense(&F->adam, row + D, row + D + 1, row + D + 2,
                          a ? a + D : NULL, 1, F->wd);
        }
    }
}

static void
clear_sums(struct fit *F, uint32_t t)
{
    struct tstate *s = &F->ts[t];
    s->dbias = 0;
    memset(s->ddense, 0, F->m.n_dense * sizeof *s->ddense);
}

/* The parameter half of a step (after every row's gradient is known). */
static void
step_params(struct fit *F, uint32_t t, uint32_t T)
{
    if (F->m.has_mlp && !F->blas_mlp)
        mlp_update(F, t, T);
    accumulate_owned(F, t);
    if (F->lazy) {
        update_owned_lazy(F, t);
    } else {
        af_fm_pool_barrier(F->pool);
        update_sweep(F, t);
    }
    if (t == 0)
        head_update(F);
}

/* A step with our threads splitting rows; OpenBLAS single-threaded. */
static void
step_split(void *ctx, uint32_t t, uint32_t T)
{
    struct fit *F = ctx;
    uint64_t lo, hi;
    share(F->B, t, T, &lo, &hi);
    const struct af_dropout *d = &F->drop;
    clear_sums(F, t);
    af_fm_forward(&F->m, &F->w, F->train, F->batch, (uint32_t)lo,
                  (uint32_t)(hi - lo), d);
    loss_rows(F, (uint32_t)lo, (uint32_t)hi, &F->ts[t]);
    af_fm_backward(&F->m, &F->w, (uint32_t)lo, (uint32_t)(hi - lo), d);
    af_fm_pool_barrier(F->pool);
    step_params(F, t, T);
}

/* A step with every sgemm on thread 0 and OpenBLAS on all threads. */
static void
step_blas(void *ctx, uint32_t t, uint32_t T)
{
    struct fit *F = ctx;
    struct af_fm_work *w = &F->w;
    uint64_t lo, hi;
    share(F->B, t, T, &lo, &hi);
    const struct af_dropout *d = &F->drop;
    clear_sums(F, t);
    af_fm_gather(&F->m, w, F->train, F->batch, (uint32_t)lo,
                 (uint32_t)(hi - lo));
    af_fm_pool_barrier(F->pool);
    if (t == 0) {
        af_fm_head(&F->m, w, 0, F->B, d);
        loss_rows(F, 0, F->B, &F->ts[0]);
        af_fm_backward_mlp(&F->m, w, 0, F->B, d);
    }
    af_fm_pool_barrier(F->pool);
    af_fm_backward_fm(&F->m, w, (uint32_t)lo, (uint32_t)(hi - lo));
    af_fm_pool_barrier(F->pool);
    if (t == 0)
        mlp_update(F, 0, 1);
    af_fm_pool_barrier(F->pool);
    step_params(F, t, T);
}

/* --- ## Prediction during training --- */

struct predict_ctx {
    const struct af_fm_model *m;
    struct af_fm_work *w;
    const struct af_examples *x;
    uint32_t from, n;
    double *p;
};

static void
predict_job(void *ctx, uint32_t t, uint32_t T)
{
    struct predict_ctx *c = ctx;
    uint64_t lo, hi;
    share(c->n, t, T, &lo, &hi);
    struct af_examples view;
    af_examples_view(c->x, c->from, c->n, &view);
    af_fm_forward(c->m, c->w, &view, NULL, (uint32_t)lo, (uint32_t)(hi - lo),
                  NULL);
    for (uint64_t r = lo; r < hi; r++)
        c->p[c->from + r] =
            af_fm_probability(c->w->logit[r], c->m->downsample_rate);
}

/* Score x in chunks of w->cap rows on the pool (OpenBLAS single-threaded). */
static void
predict_with(const struct af_fm_model *m, struct af_fm_work *w,
             struct af_fm_pool *pool, const struct af_examples *x, double *p)
{
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    struct predict_ctx c = {.m = m, .w = w, .x = x, .p = p};
    for (uint32_t a = 0; a < x->n; a += w->cap) {
        c.from = a;
        c.n = x->n - a < w->cap ? x->n - a : w->cap;
        af_fm_pool_run(pool, predict_job, &c);
    }
    openblas_set_num_threads(saved);
}

int
af_fm_predict_rows(const struct af_fm_model *m, const struct af_examples *x,
                   double *p, uint32_t threads)
{
    struct af_fm_work w;
    if (af_fm_work_init(&w, m, 4096, 0) != AF_OK)
        return AF_ENOMEM;
    struct af_fm_pool *pool = af_fm_pool_create(threads ? threads : 1);
    if (pool == NULL) {
        af_fm_work_free(&w);
        return AF_ENOMEM;
    }
    predict_with(m, &w, pool, x, p);
    af_fm_pool_destroy(pool);
    af_fm_work_free(&w);
    return AF_OK;
}

/* --- ## Epochs, early stopping --- */

/* Parameter values (no optimizer state) of the best epoch so far. */
struct snapshot {
    float *tab;  /* n_index x (D + 1): emb then w1 */
    float *dp;   /* n_dp                          */
};

static int
snapshot_take(struct fit *F, struct snapshot *s)
{
    const uint32_t D = F->D;
    if (s->tab == NULL) {
        s->tab = malloc((size_t)F->m.n_index * (D + 1) * sizeof(float));
        s->dp = malloc(F->n_dp * sizeof(float));
        if (s->tab == NULL || s->dp == NULL)
            return AF_ENOMEM;
    }
    for (uint64_t i = 0; i < F->m.n_index; i++)
        memcpy(s->tab + i * (D + 1), row_of(F, (uint32_t)i),
               (D + 1) * sizeof(float));
    memcpy(s->dp, F->dp, F->n_dp * sizeof(float));
    return AF_OK;
}

static void
snapshot_restore(struct fit *F, const struct snapshot *s)
{
    const uint32_t D = F->D;
    for (uint64_t i = 0; i < F->m.n_index; i++)
        memcpy(row_of(F, (uint32_t)i), s->tab + i * (D + 1),
               (D + 1) * sizeof(float));
    memcpy(F->dp, s->dp, F->n_dp * sizeof(float));
    F->m.bias = F->dp[F->n_dp - 1];
}

static void
report(const struct af_train_opts *o, uint32_t epoch, uint64_t done,
       uint64_t total, double loss, double secs, int epoch_done)
{
    if (o->progress == NULL)
        return;
    struct af_train_progress p = {
        .epoch = epoch, .epochs = o->epochs, .rows_done = done,
        .rows_total = total, .running_loss = loss, .seconds = secs,
        .epoch_done = epoch_done};
    o->progress(o->progress_ctx, &p);
}

/* One pass over the train rows in the order of perm; returns the mean
 * weighted loss. */
static double
run_epoch(struct fit *F, const uint32_t *perm, uint32_t epoch, uint64_t t0)
{
    const struct af_examples *x = F->train;
    uint32_t B = F->w.cap;
    double loss = 0, wsum = 0, recent = 0, recent_w = 0;
    uint64_t last = now_ns();
    for (uint32_t a = 0; a < x->n; a += B) {
        F->batch = perm + a;
        F->B = x->n - a < B ? x->n - a : B;
        af_adam_begin_step(&F->adam);
        F->drop.step = F->adam.t;
        af_fm_pool_run(F->pool, F->blas_mlp ? step_blas : step_split, F);
        double l = 0;
        for (uint32_t t = 0; t < F->T; t++) {
            l += F->ts[t].loss;
            F->ts[t].loss = 0;
        }
        double bw = F->B;
        if (x->weight != NULL) {
            bw = 0;
            for (uint32_t r = 0; r < F->B; r++)
                bw += x->weight[F->batch[r]];
        }
        loss += l, wsum += bw, recent += l, recent_w += bw;
        uint64_t now = now_ns();
        if (F->o->progress != NULL && now - last >= PROGRESS_NS) {
            report(F->o, epoch, a + F->B, x->n, recent / recent_w,
                   (double)(now - t0) * 1e-9, 0);
            recent = recent_w = 0;
            last = now;
        }
    }
    return wsum > 0 ? loss / wsum : NAN;
}

/* Fisher-Yates with the run's shuffle stream (continues across epochs). */
static void
shuffle(uint32_t *perm, uint32_t n, struct af_wrand *r)
{
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(((af_wrand_u64(r) >> 32) * (uint64_t)i) >> 32);
        uint32_t tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
}

/* Valid metrics of the current weights into e. */
static int
evaluate(struct fit *F, const struct af_examples *valid,
         struct af_train_epoch *e)
{
    e->valid_auc = e->valid_loss = NAN;
    if (valid == NULL || valid->n == 0)
        return AF_OK;
    double *p = malloc((size_t)valid->n * sizeof *p);
    if (p == NULL)
        return AF_ENOMEM;
    predict_with(&F->m, &F->w, F->pool, valid, p);
    e->valid_auc = af_eval_auc(valid->label, p, valid->n);
    e->valid_loss = af_eval_logloss(valid->label, p, valid->weight, valid->n);
    free(p);
    return AF_OK;
}

/* The whole schedule: epochs, validation, early stopping, restore. */
static int
train_loop(struct fit *F, const struct af_examples *valid,
           struct af_model_out *out)
{
    const struct af_train_opts *o = F->o;
    const struct af_examples *x = F->train;
    uint32_t *perm = malloc((size_t)x->n * sizeof *perm);
    struct snapshot snap = {0};
    if (perm == NULL)
        return AF_ENOMEM;
    struct af_wrand r;
    af_wrand_seed(&r, o->seed, 3);
    double best = -INFINITY;
    uint32_t bad = 0;
    int rc = AF_OK;
    uint64_t t0 = now_ns();
    for (uint32_t epoch = 1; epoch <= o->epochs; epoch++) {
        uint64_t e0 = now_ns();
        shuffle(perm, x->n, &r);
        struct af_train_epoch *e = &out->epoch[epoch - 1];
        e->epoch = epoch;
        e->train_loss = run_epoch(F, perm, epoch, t0);
        e->seconds = (double)(now_ns() - e0) * 1e-9;
        out->n_epochs = epoch;
        if ((rc = evaluate(F, valid, e)) != AF_OK)
            break;
        report(o, epoch, x->n, x->n, e->train_loss,
               (double)(now_ns() - t0) * 1e-9, 1);
        if (valid == NULL || valid->n == 0) {
            out->best_epoch = epoch;
            continue;
        }
        /* The first epoch always counts; NaN AUC never improves. */
        if (epoch == 1 || e->valid_auc > best) {
            best = epoch == 1 && isnan(e->valid_auc) ? -INFINITY
                                                     : e->valid_auc;
            out->best_epoch = epoch;
            bad = 0;
            if ((rc = snapshot_take(F, &snap)) != AF_OK)
                break;
        } else if (++bad >= (o->patience ? o->patience : 1)) {
            break;
        }
    }
    if (rc == AF_OK && snap.tab != NULL)
        snapshot_restore(F, &snap);
    free(snap.tab);
    free(snap.dp);
    free(perm);
    return rc;
}

/* --- ## Output --- */

static int
make_output(struct fit *F, const struct af_train_opts *o,
            struct af_model_out *out)
{
    /* The payload wants plain arrays: copy the parameters out of the
     * interleaved rows into a model that views them. */
    struct af_fm_model m = F->m;
    const uint32_t D = F->D;
    float *plain = malloc((size_t)m.n_index * (D + 1) * sizeof(float));
    if (plain == NULL)
        return AF_ENOMEM;
    for (uint64_t i = 0; i < m.n_index; i++) {
        const float *row = row_of(F, (uint32_t)i);
        memcpy(plain + i * D, row, D * sizeof(float));
        plain[(size_t)m.n_index * D + i] = row[D];
    }
    m.emb = plain;
    m.emb_stride = D;
    m.w1 = plain + (size_t)m.n_index * D;
    m.w1_stride = 1;
    int rc = af_fm_payload_build(&m, o->n_req_fields, o->field_slots,
                                 o->n_req_dense, &out->payload,
                                 &out->payload_size);
    free(plain);
    if (rc != AF_OK)
        return rc;
    snprintf(out->kind, sizeof out->kind, "%s", m.has_mlp ? "deepfm" : "fm");
    char widths[64] = "";
    size_t used = 0;
    for (uint32_t l = 1; m.has_mlp && l < m.mlp.n_layers; l++)
        used += (size_t)snprintf(widths + used, sizeof widths - used, "%s%u",
                                 l > 1 ? "-" : "", m.mlp.width[l]);
    const struct af_train_epoch *b =
        out->best_epoch ? &out->epoch[out->best_epoch - 1] : NULL;
    char line[512]; /* then cut to the header's summary field */
    snprintf(line, sizeof line,
             "%s F=%u k=%u%s%s %s%s lr=%g l2=%g drop=%g epoch %u/%u "
             "valid auc %.4f", out->kind, m.n_fields, D,
             m.has_mlp ? " mlp=" : "", widths,
             o->optimizer == AF_OPT_ADAGRAD ? "adagrad" : "adam",
             o->sparse ? "(lazy)" : "", o->learning_rate, o->l2, o->dropout,
             out->best_epoch, out->n_epochs, b ? b->valid_auc : NAN);
    size_t len = strlen(line);
    if (len >= sizeof out->summary)
        len = sizeof out->summary - 1;
    memcpy(out->summary, line, len);
    out->summary[len] = '\0';
    return AF_OK;
}

/* --- ## Entry points --- */

int
af_deepfm_fit(const struct af_examples *train, const struct af_examples *valid,
              const struct af_train_opts *o, int with_mlp,
              struct af_model_out *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = check_opts(o, with_mlp, err, errlen);
    if (rc == AF_OK)
        rc = check_inputs(train, valid, o, err, errlen);
    if (rc != AF_OK)
        return rc;
    struct fit *F = calloc(1, sizeof *F);
    if (F == NULL)
        return AF_ENOMEM;
    int saved = openblas_get_num_threads();
    rc = fit_init(F, train, o, with_mlp);
    if (rc == AF_OK) {
        /* Explicit, because OpenBLAS would otherwise start one thread per
         * core on top of ours. */
        openblas_set_num_threads(F->blas_mlp ? (int)F->T : 1);
        rc = train_loop(F, valid, out);
    }
    if (rc == AF_OK)
        rc = make_output(F, o, out);
    openblas_set_num_threads(saved);
    if (rc != AF_OK) {
        snprintf(err, errlen, "%s training failed: %s", with_mlp ? "deepfm"
                 : "fm", rc == AF_ENOMEM ? "out of memory" : af_strerror(rc));
        af_model_out_free(out);
    }
    fit_free(F);
    free(F);
    return rc;
}

int
af_train_deepfm(const struct af_examples *train,
                const struct af_examples *valid,
                const struct af_train_opts *o, struct af_model_out *out,
                char *err, size_t errlen)
{
    return af_deepfm_fit(train, valid, o, 1, out, err, errlen);
}
