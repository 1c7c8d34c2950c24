/*
 * lr.c -- model "lr": logistic regression over hashed features.
 *
 * The weights come from a model file (lr_format.h) opened through the host,
 * which checks the checksum and that the file was trained with the
 * pipeline's features (fingerprint).  Scoring adds the request-side weights
 * once per request and broadcasts them to every candidate, as af_types.h
 * suggests: with 8 request fields and 9 candidate fields that halves the
 * lookups.
 *
 * Parameters:
 *   model            path of the .afm file (required; relative to the data dir)
 *   downsample_rate  w in (0, 1] (default: the model file's, else 1): the
 *                    rate at which negatives were kept in training; scores
 *                    are corrected with p' = p / (p + (1 - p) / w)
 *
 * Files written by `adfunnel train` carry the payload extension
 * (lr_format.h): their ids are global indices of a feature spec laid out by
 * field (core/learn/field_layout.h), a multi-valued field averaging its
 * filled slots, and they record their own downsampling rate.
 *
 * The instance holds the open blob and pointers into it, read-only after
 * create(), so concurrent score() calls need no lock.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <adfunnel/adfunnel.h>

#include <adfunnel/af_params.h>
#include "lr_format.h"
#include "../../core/learn/field_layout.h"

#define LR_MAX_MODEL_FIELDS (2 * AF_MAX_FIELDS)

struct lr {
    const struct af_host_api *host;
    struct af_model_blob blob; /* owns the memory w and w_dense point to */
    const float *w;            /* n_buckets weights                       */
    const float *w_dense;      /* n_dense weights                         */
    uint32_t n_buckets;
    uint32_t bucket_mask;      /* n_buckets - 1 when a power of two, else 0 */
    uint32_t n_dense;
    float bias;
    double downsample_rate;    /* 1 = no correction                       */
    /* Field layout (payload extension); n_fields = 0: one id per slot. */
    uint32_t n_fields, n_req_fields;
    uint32_t slots[LR_MAX_MODEL_FIELDS];
    uint32_t req_slots, cand_slots;
    double file_rate;          /* the extension's downsampling rate       */
};

/* Bucket of a hashed feature id: a mask when the table size is a power of
 * two (the usual case), a division otherwise. */
static inline uint32_t
bucket(const struct lr *l, uint32_t fid)
{
    return l->bucket_mask ? (fid & l->bucket_mask) : (fid % l->n_buckets);
}

/* --- ## Loading --- */

/* The optional extension after the weights: layout and downsampling. */
static int
lr_bind_ext(struct lr *l, const char *path, uint64_t at, char *err,
            size_t errlen)
{
    const struct af_model_blob *b = &l->blob;
    struct af_lr_payload_ext ext;
    if (b->size - at < sizeof ext) {
        snprintf(err, errlen, "%s: lr payload has %llu bytes after the "
                 "weights, too few for the extension", path,
                 (unsigned long long)(b->size - at));
        return AF_ECORRUPT;
    }
    memcpy(&ext, (const char *)b->data + at, sizeof ext);
    if (ext.magic != AF_LR_EXT_MAGIC || ext.n_fields > LR_MAX_MODEL_FIELDS ||
        ext.n_req_fields > ext.n_fields ||
        b->size != at + sizeof ext + 4 * (uint64_t)ext.n_fields ||
        !(ext.downsample_rate > 0 && ext.downsample_rate <= 1)) {
        snprintf(err, errlen, "%s: malformed lr payload extension (magic, "
                 "%u fields, %u request-side, rate %g)", path, ext.n_fields,
                 ext.n_req_fields, ext.downsample_rate);
        return AF_ECORRUPT;
    }
    l->n_fields = ext.n_fields;
    l->n_req_fields = ext.n_req_fields;
    l->file_rate = ext.downsample_rate;
    memcpy(l->slots, (const char *)b->data + at + sizeof ext, 4 * ext.n_fields);
    for (uint32_t f = 0; f < l->n_fields; f++) {
        if (l->slots[f] == 0 || l->slots[f] > AF_MAX_FIELDS) {
            snprintf(err, errlen, "%s: field %u has %u slots", path, f,
                     l->slots[f]);
            return AF_ECORRUPT;
        }
        if (f < l->n_req_fields)
            l->req_slots += l->slots[f];
        else
            l->cand_slots += l->slots[f];
    }
    if (l->req_slots > AF_MAX_FIELDS || l->cand_slots > AF_MAX_FIELDS) {
        snprintf(err, errlen, "%s: %u request and %u candidate slots exceed "
                 "the batch's %d", path, l->req_slots, l->cand_slots,
                 AF_MAX_FIELDS);
        return AF_ECORRUPT;
    }
    return AF_OK;
}

/* Check the payload of an open blob and point l's weights into it. */
static int
lr_bind(struct lr *l, const char *path, char *err, size_t errlen)
{
    const struct af_model_blob *b = &l->blob;
    struct af_lr_payload_header hdr;
    if (b->size < sizeof hdr) {
        snprintf(err, errlen, "%s: lr payload is %zu bytes, its header alone "
                 "needs %zu", path, b->size, sizeof hdr);
        return AF_ECORRUPT;
    }
    memcpy(&hdr, b->data, sizeof hdr);
    uint64_t want = sizeof hdr + 4 * ((uint64_t)hdr.n_buckets + hdr.n_dense);
    l->file_rate = 1.0;
    if (hdr.n_buckets != 0 && b->size > want) {
        int rc = lr_bind_ext(l, path, want, err, errlen);
        if (rc != AF_OK)
            return rc;
        want = b->size;
    }
    if (hdr.n_buckets == 0 || b->size != want) {
        snprintf(err, errlen, "%s: lr payload is %zu bytes, expected %llu for "
                 "n_buckets=%u (must be > 0) and n_dense=%u", path, b->size,
                 (unsigned long long)want, hdr.n_buckets, hdr.n_dense);
        return AF_ECORRUPT;
    }
    /* The host hands out malloc'd or mapped payloads: 16-byte aligned. */
    if ((uintptr_t)b->data % _Alignof(float) != 0) {
        snprintf(err, errlen, "%s: payload is not aligned for floats", path);
        return AF_EINVAL;
    }
    l->w = (const float *)((const char *)b->data + sizeof hdr);
    l->w_dense = l->w + hdr.n_buckets;
    l->n_buckets = hdr.n_buckets;
    l->bucket_mask = (hdr.n_buckets & (hdr.n_buckets - 1)) == 0 ? hdr.n_buckets - 1 : 0;
    l->n_dense = hdr.n_dense;
    l->bias = hdr.bias;
    uint64_t n = (uint64_t)hdr.n_buckets + hdr.n_dense;
    for (uint64_t i = 0; i < n; i++) {
        if (!isfinite(l->w[i])) {
            snprintf(err, errlen, "%s: weight %llu is not finite", path,
                     (unsigned long long)i);
            return AF_ECORRUPT;
        }
    }
    if (!isfinite(hdr.bias)) {
        snprintf(err, errlen, "%s: bias is not finite", path);
        return AF_ECORRUPT;
    }
    return AF_OK;
}

/* --- ## Life cycle --- */

static int
lr_create(const struct af_create_args *args, void **inst, char *err,
          size_t errlen)
{
    const struct af_host_api *h = args->host;
    const char *path = h->config_str(args->config, "model", NULL);
    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "model is required: the path of an lr .afm "
                 "weights file, e.g. model = \"models/lr.afm\"");
        return AF_EINVAL;
    }
    double rate;
    int rate_given = h->config_has(args->config, "downsample_rate");
    int rc = af_param_num(h, args->config, "downsample_rate", 1.0, 0.0, 1.0,
                       &rate, err, errlen);
    if (rc != AF_OK)
        return rc;
    if (rate <= 0.0) {
        snprintf(err, errlen, "downsample_rate must be in (0, 1], got %g",
                 rate);
        return AF_EINVAL;
    }

    struct lr *l = calloc(1, sizeof *l);
    if (l == NULL)
        return AF_ENOMEM;
    l->host = h;
    l->downsample_rate = rate;
    rc = h->model_open(args->pc, path, AF_LR_KIND,
                       h->feature_fingerprint(args->pc), &l->blob, err,
                       errlen);
    if (rc != AF_OK) {
        free(l);
        return rc;
    }
    char full[4096]; /* for messages: the path the host actually opened */
    rc = lr_bind(l, h->data_path(args->pc, path, full, sizeof full), err,
                 errlen);
    if (rc != AF_OK) {
        h->model_close(&l->blob);
        free(l);
        return rc;
    }
    if (!rate_given)
        l->downsample_rate = l->file_rate;
    h->log(args->pc, AF_LOG_INFO, "loaded %s (%s): %u buckets, %u dense, %u "
           "spec fields, downsample rate %g", path, l->blob.version,
           l->n_buckets, l->n_dense, l->n_fields, l->downsample_rate);
    *inst = l;
    return AF_OK;
}

static void
lr_destroy(void *inst)
{
    struct lr *l = inst;
    l->host->model_close(&l->blob);
    free(l);
}

/* --- ## Request path --- */

static float
sigmoid(double x)
{
    return (float)(1.0 / (1.0 + exp(-x)));
}

/* Undo negative downsampling: p / (p + (1 - p) / w). */
static float
downsample_correct(float p, double w)
{
    return (float)(p / (p + (1.0 - p) / w));
}

/* Sum of w over a field's entries (field_layout.h: the same (index,
 * value) pairs training saw). */
static double
field_sum(const struct lr *l, const uint32_t *fid, uint32_t slots,
          size_t stride)
{
    uint32_t g[AF_MAX_FIELDS];
    float v[AF_MAX_FIELDS];
    uint32_t n = af_field_entries(fid, slots, stride, g, v);
    double s = 0;
    for (uint32_t e = 0; e < n; e++)
        s += (double)l->w[bucket(l, g[e])] * v[e];
    return s;
}

/* Logits of a spec-trained model: request fields once, then candidate
 * fields column by column (single-slot fields on the fast path). */
static int
lr_logits_layout(const struct lr *l, const struct af_batch *b, float *logit)
{
    if (b->n_req_fields != l->req_slots || b->n_fields != l->cand_slots)
        return AF_EMISMATCH; /* not the spec stage this model was trained on */
    double user = l->bias;
    uint32_t pos = 0;
    for (uint32_t f = 0; f < l->n_req_fields; f++) {
        user += field_sum(l, b->req_fid + pos, l->slots[f], 1);
        pos += l->slots[f];
    }
    for (uint32_t i = 0; i < b->n; i++)
        logit[i] = (float)user;
    uint32_t col = 0;
    for (uint32_t f = l->n_req_fields; f < l->n_fields; f++) {
        const uint32_t *c = b->fid + (size_t)col * b->cap;
        if (l->slots[f] == 1) {
            for (uint32_t i = 0; i < b->n; i++)
                logit[i] += l->w[bucket(l, c[i])];
        } else {
            for (uint32_t i = 0; i < b->n; i++)
                logit[i] += (float)field_sum(l, c + i, l->slots[f], b->cap);
        }
        col += l->slots[f];
    }
    return AF_OK;
}

static int
lr_score(void *inst, const struct af_request *req, const struct af_batch *b,
         const struct af_score_out *out)
{
    const struct lr *l = inst;
    if (out->pctr == NULL)
        return AF_OK; /* this stage wants no click probability */

    float *logit = l->host->arena_alloc(req->arena, (b->n + 1) * sizeof(float));
    if (logit == NULL)
        return AF_ENOMEM;
    if (l->n_fields > 0) {
        int rc = lr_logits_layout(l, b, logit);
        if (rc != AF_OK)
            return rc;
    } else {
        /* The user part once per request, broadcast over the candidates. */
        double user = l->bias;
        for (uint32_t f = 0; f < b->n_req_fields; f++)
            user += l->w[bucket(l, b->req_fid[f])];
        for (uint32_t i = 0; i < b->n; i++)
            logit[i] = (float)user;
        /* Field by field: the weight loads of one field are independent of
         * each other, so the CPU overlaps their cache misses (the table is
         * megabytes; row-by-row summing left the misses serialised). */
        for (uint32_t f = 0; f < b->n_fields; f++) {
            const uint32_t *col = b->fid + (size_t)f * b->cap;
            for (uint32_t i = 0; i < b->n; i++)
                logit[i] += l->w[bucket(l, col[i])];
        }
    }
    uint32_t n_dense = b->n_dense < l->n_dense ? b->n_dense : l->n_dense;
    for (uint32_t i = 0; i < b->n; i++) {
        const float *d = b->dense + (size_t)i * AF_MAX_DENSE;
        double z = logit[i];
        for (uint32_t j = 0; j < n_dense; j++)
            z += (double)l->w_dense[j] * d[j];
        float p = sigmoid(z);
        if (l->downsample_rate < 1.0)
            p = downsample_correct(p, l->downsample_rate);
        out->pctr[i] = p;
    }
    return AF_OK;
}

static const char *
lr_model_version(void *inst)
{
    const struct lr *l = inst;
    return l->blob.version;
}

/* --- ## Descriptor --- */

static const struct af_model_ops lr_ops = {
    .struct_size = sizeof lr_ops,
    .score = lr_score,
    .model_version = lr_model_version,
};

static const struct af_plugin lr_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_MODEL,
    .name = "lr",
    .version = "1.0.0",
    .description = "logistic regression over hashed features (pCTR)",
    .create = lr_create,
    .destroy = lr_destroy,
    .ops = &lr_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &lr_plugin;
}
