/*
 * fm_score.c -- scoring candidate batches with an fm or deepfm model file
 * (fm_score.h describes the computation, fm_format.h the file).
 *
 * Parameters:
 *   model         path of the .afm file (required; relative to the data dir)
 *   dedup         compute the request part once per request (default true);
 *                 false scores every candidate with the full model, for
 *                 benchmarks and tests
 *   blas_threads  OpenBLAS threads for this process (default 1: a request
 *                 is scored on its worker's core; 0 leaves OpenBLAS as is)
 */
#include "fm_score.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <adfunnel/af_params.h>
#include "../../core/learn/field_layout.h"
#include "fm_format.h"

/* Candidates ahead whose table rows are prefetched. */
#define PREFETCH 16

struct fm_serve {
    const struct af_host_api *host;
    struct af_model_blob blob; /* owns the memory the view points into    */
    struct af_fm_view v;
    int deep;
    int dedup;
    uint32_t F, Fr, D, nd, ndr; /* fields, request fields, dim, dense ... */
    uint32_t req_slots, cand_slots; /* batch slots used on each side       */
    uint32_t slot0[AF_FM_MAX_FIELDS]; /* first slot of field f on its side */
    /* MLP (deepfm) */
    uint32_t L;
    uint32_t width[AF_FM_MAX_LAYERS + 1];
    const float *W[AF_FM_MAX_LAYERS], *b[AF_FM_MAX_LAYERS];
    uint32_t in_req, in_cand;   /* first-layer inputs on each side         */
    const float *W1_req;        /* in_req x width[1]                       */
    const float *W1_cand;       /* in_cand x width[1]                      */
    float *packed;              /* W1_req / W1_cand copies when the dense
                                   rows split them (else NULL)             */
};

/* --- ## Loading --- */

/* Serving layout from the view: slot offsets, and that it fits a batch. */
static int
bind_layout(struct fm_serve *s, const char *path, char *err, size_t errlen)
{
    const struct af_fm_payload_header *h = &s->v.h;
    s->F = h->n_fields;
    s->Fr = h->n_req_fields;
    s->D = h->dim;
    s->nd = h->n_dense;
    s->ndr = h->n_req_dense;
    uint32_t req = 0, cand = 0;
    for (uint32_t f = 0; f < s->F; f++) {
        uint32_t *side = f < s->Fr ? &req : &cand;
        s->slot0[f] = *side;
        if (s->v.field_slots[f] > AF_MAX_FIELDS ||
            *side + s->v.field_slots[f] > AF_MAX_FIELDS) {
            snprintf(err, errlen, "%s: the model needs more than %d %s slots "
                     "(field %u)", path, AF_MAX_FIELDS,
                     f < s->Fr ? "request" : "candidate", f);
            return AF_EINVAL;
        }
        *side += s->v.field_slots[f];
    }
    if (s->ndr > AF_MAX_DENSE || s->nd - s->ndr > AF_MAX_DENSE) {
        snprintf(err, errlen, "%s: the model has %u request and %u candidate "
                 "dense inputs, a batch holds %d of each", path, s->ndr,
                 s->nd - s->ndr, AF_MAX_DENSE);
        return AF_EINVAL;
    }
    s->req_slots = req;
    s->cand_slots = cand;
    s->in_req = s->Fr * s->D + s->ndr;
    s->in_cand = (s->F - s->Fr) * s->D + (s->nd - s->ndr);
    return AF_OK;
}

/* Point W/b into the MLP section and split W_1 by side. */
static int
bind_mlp(struct fm_serve *s)
{
    const struct af_fm_payload_header *h = &s->v.h;
    s->L = h->n_layers;
    memcpy(s->width, h->width, sizeof s->width);
    const float *p = s->v.mlp;
    for (uint32_t l = 0; l < s->L; l++) {
        s->W[l] = p;
        p += (size_t)s->width[l] * s->width[l + 1];
        s->b[l] = p;
        p += s->width[l + 1];
    }
    uint32_t H = s->width[1], FD = s->F * s->D, FrD = s->Fr * s->D;
    const float *W0 = s->W[0];
    if (s->ndr == 0) {
        /* Request rows are a prefix of W_1, candidate rows the rest. */
        s->W1_req = W0;
        s->W1_cand = W0 + (size_t)FrD * H;
        return AF_OK;
    }
    s->packed = malloc(((size_t)s->in_req + s->in_cand) * H * sizeof(float));
    if (s->packed == NULL)
        return AF_ENOMEM;
    float *req = s->packed, *cand = s->packed + (size_t)s->in_req * H;
    size_t row = (size_t)H * sizeof(float);
    memcpy(req, W0, FrD * row);
    memcpy(req + (size_t)FrD * H, W0 + (size_t)FD * H, s->ndr * row);
    memcpy(cand, W0 + (size_t)FrD * H, (FD - FrD) * row);
    memcpy(cand + (size_t)(FD - FrD) * H, W0 + (size_t)(FD + s->ndr) * H,
           (s->nd - s->ndr) * row);
    s->W1_req = req;
    s->W1_cand = cand;
    return AF_OK;
}

static void
release(struct fm_serve *s)
{
    if (s->blob.host_handle != NULL)
        s->host->model_close(&s->blob);
    free(s->packed);
    free(s);
}

int
af_fm_serve_create(const char *kind, const struct af_create_args *args,
                   void **inst, char *err, size_t errlen)
{
    const struct af_host_api *h = args->host;
    const char *path = h->config_str(args->config, "model", NULL);
    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "model is required: the path of a %s .afm "
                 "file, e.g. model = \"models/%s.afm\"", kind, kind);
        return AF_EINVAL;
    }
    int dedup;
    int64_t threads;
    int rc = af_param_bool(h, args->config, "dedup", 1, &dedup, err, errlen);
    if (rc == AF_OK)
        rc = af_param_int(h, args->config, "blas_threads", 1, 0, 256,
                          &threads, err, errlen);
    if (rc != AF_OK)
        return rc;
    for (uint32_t i = 0; i < h->config_count(args->config); i++) {
        const char *k = h->config_key(args->config, i);
        if (strcmp(k, "model") && strcmp(k, "dedup") &&
            strcmp(k, "blas_threads")) {
            snprintf(err, errlen, "unknown parameter \"%s\" (known: model, "
                     "dedup, blas_threads)", k);
            return AF_EINVAL;
        }
    }
    struct fm_serve *s = calloc(1, sizeof *s);
    if (s == NULL)
        return AF_ENOMEM;
    s->host = h;
    s->dedup = dedup;
    s->deep = strcmp(kind, AF_DEEPFM_KIND) == 0;
    rc = h->model_open(args->pc, path, kind, h->feature_fingerprint(args->pc),
                       &s->blob, err, errlen);
    if (rc != AF_OK) {
        free(s);
        return rc;
    }
    char full[4096]; /* for messages: the path the host actually opened */
    h->data_path(args->pc, path, full, sizeof full);
    char why[512];
    if (af_fm_payload_parse(s->blob.data, s->blob.size, kind, &s->v, why,
                            sizeof why) != 0 ||
        af_fm_check_finite(&s->v, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: %s", full, why);
        release(s);
        return AF_ECORRUPT;
    }
    rc = bind_layout(s, full, err, errlen);
    if (rc == AF_OK && s->deep)
        rc = bind_mlp(s);
    if (rc != AF_OK) {
        if (rc == AF_ENOMEM)
            snprintf(err, errlen, "out of memory");
        release(s);
        return rc;
    }
    /* One request is scored on one core: BLAS threads of its own would only
     * compete with the other workers.  A process-wide OpenBLAS setting, set
     * again by every instance to the same configured value. */
    if (threads > 0)
        openblas_set_num_threads((int)threads);
    h->log(args->pc, AF_LOG_INFO, "loaded %s (%s): %u fields (%u request), "
           "%llu rows of dim %u, %u dense, %u MLP layers, dedup %s", path,
           s->blob.version, s->F, s->Fr, (unsigned long long)s->v.h.n_index,
           s->D, s->nd, s->L, dedup ? "on" : "off");
    *inst = s;
    return AF_OK;
}

void
af_fm_serve_destroy(void *inst)
{
    release(inst);
}

const char *
af_fm_serve_version(void *inst)
{
    const struct fm_serve *s = inst;
    return s->blob.version;
}

/* --- ## Pooling --- */

/* Pool field f whose k slots are at fid[0], fid[stride], ... into e (D
 * floats); returns its first-order weight.  Empty slots are skipped,
 * indices outside the field's range read its OOV row. */
static inline float
pool(const struct fm_serve *s, uint32_t f, const uint32_t *fid,
     size_t stride, float *e)
{
    const uint32_t D = s->D, slots = s->v.field_slots[f];
    const uint32_t lo = s->v.field_offset[f], hi = s->v.field_offset[f + 1];
    if (slots == 1) { /* the common case: a copy */
        uint32_t g = fid[0];
        if (g < lo || g >= hi)
            g = lo;
        memcpy(e, s->v.emb + (size_t)g * D, D * sizeof *e);
        return s->v.w1[g];
    }
    uint32_t k = af_field_filled(fid, slots, stride);
    memset(e, 0, D * sizeof *e);
    if (k == 0)
        return 0.0f;
    float wt = 1.0f / (float)k, lin = 0.0f;
    for (uint32_t j = 0; j < slots; j++) {
        uint32_t g = fid[j * stride];
        if (g == AF_FID_NONE)
            continue;
        if (g < lo || g >= hi)
            g = lo;
        const float *src = s->v.emb + (size_t)g * D;
        for (uint32_t c = 0; c < D; c++)
            e[c] += wt * src[c];
        lin += wt * s->v.w1[g];
    }
    return lin;
}

/* --- ## Scoring --- */

/* Per-request work space, from the arena. */
struct scratch {
    float *x;      /* n x in: the MLP input rows                         */
    float *lin;    /* n: bias + first order                              */
    float *fm;     /* n: second-order term                               */
    float *z[2];   /* n x max hidden width, ping-pong                     */
    float *out;    /* n: MLP output                                       */
    float *xr;     /* request inputs (in_req), then u (width[1])          */
};

static int
scratch_alloc(const struct fm_serve *s, af_arena *a, uint32_t n,
              uint32_t in, struct scratch *w)
{
    const struct af_host_api *h = s->host;
    uint32_t hmax = 1;
    for (uint32_t l = 1; l < s->L; l++)
        hmax = s->width[l] > hmax ? s->width[l] : hmax;
    size_t N = n ? n : 1;
    w->x = h->arena_alloc(a, N * (in ? in : 1) * sizeof(float));
    w->lin = h->arena_alloc(a, N * sizeof(float));
    w->fm = h->arena_alloc(a, N * sizeof(float));
    w->out = h->arena_alloc(a, N * sizeof(float));
    w->xr = h->arena_alloc(a, ((size_t)s->in_req + s->F * s->D + hmax +
                               s->D + 1) * sizeof(float));
    w->z[0] = w->z[1] = NULL;
    if (s->deep) {
        w->z[0] = h->arena_alloc(a, N * hmax * sizeof(float));
        w->z[1] = h->arena_alloc(a, N * hmax * sizeof(float));
    }
    if (!w->x || !w->lin || !w->fm || !w->out || !w->xr ||
        (s->deep && (!w->z[0] || !w->z[1])))
        return AF_ENOMEM;
    return AF_OK;
}

/* The request fields of one row: their pooled embeddings into e
 * (Fr * D floats) and request dense values into dense (ndr floats);
 * returns bias + their first-order sum. */
static float
gather_request(const struct fm_serve *s, const struct af_batch *b, float *e,
               float *dense)
{
    float lin = s->v.h.bias;
    for (uint32_t f = 0; f < s->Fr; f++)
        lin += pool(s, f, b->req_fid + s->slot0[f], 1, e + (size_t)f * s->D);
    for (uint32_t j = 0; j < s->ndr; j++) {
        float x = j < b->n_req_dense ? b->req_dense[j] : 0.0f;
        dense[j] = x;
        lin += s->v.w_dense[j] * x;
    }
    return lin;
}

/* The candidate fields of rows [0, n) into x (rows of width in; fields
 * from column col0, candidate dense from column dcol), first-order sums
 * added to lin.  Field-major: the table reads of one field are
 * independent, so their cache misses overlap. */
static void
gather_candidates(const struct fm_serve *s, const struct af_batch *b,
                  float *x, uint32_t in, uint32_t col0, uint32_t dcol,
                  float *lin)
{
    const uint32_t D = s->D, n = b->n;
    for (uint32_t f = s->Fr; f < s->F; f++) {
        const uint32_t *col = b->fid + (size_t)(s->slot0[f]) * b->cap;
        uint32_t c0 = col0 + (f - s->Fr) * D;
        for (uint32_t i = 0; i < n; i++) {
            /* Rows of a table of megabytes: ask for them well ahead so
             * that many misses are in flight at once. */
            if (i + PREFETCH < n) {
                uint32_t g = col[i + PREFETCH];
                if (g < s->v.h.n_index) {
                    __builtin_prefetch(s->v.emb + (size_t)g * D);
                    __builtin_prefetch(s->v.w1 + g);
                }
            }
            lin[i] += pool(s, f, col + i, b->cap, x + (size_t)i * in + c0);
        }
    }
    for (uint32_t i = 0; s->nd > s->ndr && i < n; i++) {
        const float *d = b->dense + (size_t)i * AF_MAX_DENSE;
        float *xi = x + (size_t)i * in + dcol;
        for (uint32_t j = s->ndr; j < s->nd; j++) {
            uint32_t bj = j - s->ndr;
            float v = bj < b->n_dense ? d[bj] : 0.0f;
            xi[bj] = v;
            lin[i] += s->v.w_dense[j] * v;
        }
    }
}

/* Sums of nf fields' embeddings (a row of nf * D floats): s (D floats)
 * and q = sum of squares. */
static void
fm_sums(const float *e, uint32_t nf, uint32_t D, float *s, float *q)
{
    memset(s, 0, D * sizeof *s);
    float qq = 0.0f;
    for (uint32_t f = 0; f < nf; f++)
        for (uint32_t c = 0; c < D; c++) {
            s[c] += e[f * D + c];
            qq += e[f * D + c] * e[f * D + c];
        }
    *q = qq;
}

/* FM term of rows [0, n) of x (nf fields from column 0, rows of width in)
 * on top of other fields' sums (sr, qr).  Per-lane sums of squares keep
 * the inner loop free of a reduction, so it vectorizes. */
static void
fm_terms(const float *x, uint32_t in, uint32_t n, uint32_t nf, uint32_t D,
         const float *sr, float qr, float *fm)
{
    float t[AF_FM_MAX_DIM], qq[AF_FM_MAX_DIM];
    for (uint32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in;
        memcpy(t, sr, D * sizeof *t);
        memset(qq, 0, D * sizeof *qq);
        for (uint32_t f = 0; f < nf; f++) {
            const float *e = xi + (size_t)f * D;
            for (uint32_t c = 0; c < D; c++) {
                t[c] += e[c];
                qq[c] += e[c] * e[c];
            }
        }
        float s2 = 0.0f, q = qr;
        for (uint32_t c = 0; c < D; c++) {
            s2 += t[c] * t[c];
            q += qq[c];
        }
        fm[i] = 0.5f * (s2 - q);
    }
}

/* Rows z (n x width) = broadcast row v. */
static void
broadcast(float *z, const float *v, uint32_t n, uint32_t width)
{
    for (uint32_t i = 0; i < n; i++)
        memcpy(z + (size_t)i * width, v, width * sizeof *v);
}

static void
relu(float *z, size_t count)
{
    for (size_t i = 0; i < count; i++)
        z[i] = z[i] > 0.0f ? z[i] : 0.0f;
}

/* Layers 2..L of the MLP from the first layer's pre-activations in z[0]. */
static void
mlp_rest(const struct fm_serve *s, struct scratch *w, uint32_t n)
{
    float *cur = w->z[0], *nxt = w->z[1];
    relu(cur, (size_t)n * s->width[1]);
    for (uint32_t l = 1; l < s->L; l++) {
        uint32_t wi = s->width[l], wo = s->width[l + 1];
        float *y = l + 1 < s->L ? nxt : w->out;
        broadcast(y, s->b[l], n, wo);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n,
                    (int)wo, (int)wi, 1.0f, cur, (int)wi, s->W[l], (int)wo,
                    1.0f, y, (int)wo);
        if (l + 1 < s->L) {
            relu(y, (size_t)n * wo);
            nxt = cur;
            cur = y;
        }
    }
}

/* The model with the request part computed once (fm_score.h). */
static void
score_dedup(const struct fm_serve *s, const struct af_batch *b,
            struct scratch *w)
{
    const uint32_t n = b->n, D = s->D, Fc = s->F - s->Fr;
    float *xr = w->xr, *sr = xr + s->in_req, *u = sr + D;
    float qr;
    float lr = gather_request(s, b, xr, xr + (size_t)s->Fr * D);
    fm_sums(xr, s->Fr, D, sr, &qr);
    for (uint32_t i = 0; i < n; i++)
        w->lin[i] = lr;
    uint32_t in = s->in_cand;
    gather_candidates(s, b, w->x, in, 0, Fc * D, w->lin);
    fm_terms(w->x, in, n, Fc, D, sr, qr, w->fm);
    if (!s->deep)
        return;
    uint32_t H = s->width[1];
    /* u = b_1 + x_r W_1,req: the request's share of layer 1, once. */
    memcpy(u, s->b[0], H * sizeof *u);
    if (s->in_req > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, (int)H,
                    (int)s->in_req, 1.0f, xr, (int)s->in_req, s->W1_req,
                    (int)H, 1.0f, u, (int)H);
    broadcast(w->z[0], u, n, H);
    if (in > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)H,
                    (int)in, 1.0f, w->x, (int)in, s->W1_cand, (int)H, 1.0f,
                    w->z[0], (int)H);
}

/* The model with every input gathered per candidate (dedup = false). */
static void
score_full(const struct fm_serve *s, const struct af_batch *b,
           struct scratch *w)
{
    const uint32_t n = b->n, D = s->D, FD = s->F * s->D;
    const uint32_t in = FD + s->nd;
    static const float zero[AF_FM_MAX_DIM];
    for (uint32_t i = 0; i < n; i++) {
        float *xi = w->x + (size_t)i * in;
        w->lin[i] = gather_request(s, b, xi, xi + FD);
    }
    gather_candidates(s, b, w->x, in, s->Fr * D, FD + s->ndr, w->lin);
    fm_terms(w->x, in, n, s->F, D, zero, 0.0f, w->fm);
    if (!s->deep)
        return;
    uint32_t H = s->width[1];
    broadcast(w->z[0], s->b[0], n, H);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)H,
                (int)in, 1.0f, w->x, (int)in, s->W[0], (int)H, 1.0f, w->z[0],
                (int)H);
}

int
af_fm_serve_score(void *inst, const struct af_request *req,
                  const struct af_batch *b, const struct af_score_out *out)
{
    const struct fm_serve *s = inst;
    if (out->pctr == NULL || b->n == 0)
        return AF_OK;
    if (b->n_req_fields < s->req_slots || b->n_fields < s->cand_slots)
        return AF_EINVAL; /* the feature stage filled fewer slots */
    uint32_t in = s->dedup ? s->in_cand : s->F * s->D + s->nd;
    struct scratch w;
    if (scratch_alloc(s, req->arena, b->n, in, &w) != AF_OK)
        return AF_ENOMEM;
    if (s->dedup)
        score_dedup(s, b, &w);
    else
        score_full(s, b, &w);
    if (s->deep)
        mlp_rest(s, &w, b->n);
    double rate = s->v.h.downsample_rate;
    for (uint32_t i = 0; i < b->n; i++) {
        double z = (double)w.lin[i] + w.fm[i] + (s->deep ? w.out[i] : 0.0f);
        double p = 1.0 / (1.0 + exp(-z));
        if (rate < 1.0)
            p = p / (p + (1.0 - p) / rate);
        out->pctr[i] = (float)p;
    }
    return AF_OK;
}
