/*
 * fm_format.h -- payload of "fm" and "deepfm" model files (the bytes after
 * the .afm header; see core/model/modelfile.h for the header, checksums and
 * the feature-spec fingerprint).
 *
 * One format serves both kinds: an fm file is a deepfm file without the
 * MLP (n_layers = 0).  Little-endian, IEEE 754 floats, no padding:
 *
 *   struct af_fm_payload_header          128 bytes
 *   uint32_t field_slots[F]              serving slots of each field
 *   uint32_t field_offset[F + 1]         index range of each field
 *   float    w1[n_index]                 first-order weights
 *   float    emb[n_index * dim]          embeddings, row i at i * dim
 *   float    w_dense[n_dense]            first-order weights of dense inputs
 *   MLP (deepfm only), for l = 0 .. n_layers-1:
 *     float W_l[width[l] * width[l+1]]   row-major, input x output
 *     float b_l[width[l+1]]
 *
 * with F = n_fields, width[0] = F * dim + n_dense, width[n_layers] = 1.
 *
 * The model.  Field f of a row holds entries (index i, value v) with i in
 * [field_offset[f], field_offset[f+1]) -- one with v = 1, or k with
 * v = 1/k for a multi-valued field (mean pooling); field_offset[f] itself
 * is the field's OOV slot.  With e_f = sum v * emb[i] and
 * w_f = sum v * w1[i]:
 *
 *   logit = bias + sum_f w_f + sum_j w_dense[j] x_j
 *         + 1/2 sum_k [(sum_f e_f[k])^2 - sum_f e_f[k]^2]
 *         + MLP(e_0 .. e_{F-1}, x_0 .. x_{n_dense-1})      (deepfm)
 *   MLP: z = a W_l + b_l, ReLU between layers, none after the last
 *   p = sigmoid(logit), then p / (p + (1 - p) / w) when
 *   downsample_rate w < 1.
 *
 * Serving layout (core/learn/field_layout.h): fields [0, n_req_fields) are
 * request-side and fill field_slots[f] consecutive entries of b->req_fid
 * each, in field order; the others fill consecutive fid columns.  Dense
 * inputs [0, n_req_dense) come from b->req_dense, the others from
 * b->dense columns, in order.  Slots hold global indices; AF_FID_NONE
 * marks an empty slot of a multi-valued field, and an index outside the
 * field's range is read as the field's OOV slot.
 *
 * af_fm_payload_parse() below checks all of that and is shared by the
 * serving plugins and the trainers (header-only: plugins link nothing).
 */
#ifndef AF_PLUGIN_FM_FORMAT_H
#define AF_PLUGIN_FM_FORMAT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define AF_FM_KIND "fm"
#define AF_DEEPFM_KIND "deepfm"
#define AF_FM_MAX_FIELDS 256   /* categorical fields                      */
#define AF_FM_MAX_DENSE 256    /* dense inputs                            */
#define AF_FM_MAX_DIM 256      /* embedding width                         */
#define AF_FM_MAX_LAYERS 9     /* MLP linear layers, output included      */
#define AF_FM_MAX_WIDTH 65536  /* units of one layer                      */

struct af_fm_payload_header {
    uint32_t n_fields;      /* F: categorical fields, model order          */
    uint32_t n_req_fields;  /* fields [0, n_req_fields) are request-side   */
    uint32_t n_dense;       /* dense inputs                                */
    uint32_t n_req_dense;   /* dense [0, n_req_dense) are request-side     */
    uint32_t dim;           /* embedding width                             */
    uint32_t n_layers;      /* MLP linear layers (output included); 0: fm  */
    uint64_t n_index;       /* table rows, = field_offset[F]               */
    double downsample_rate; /* negatives kept in training, (0, 1]; 1: none */
    float bias;             /* global bias                                 */
    uint32_t reserved0;     /* 0                                           */
    uint32_t width[AF_FM_MAX_LAYERS + 1]; /* MLP widths; unused entries 0  */
    uint32_t reserved[10];  /* 0                                           */
};

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "fm model files are little-endian; this host is not");
_Static_assert(sizeof(struct af_fm_payload_header) == 128,
               "the fm payload header is 128 bytes on disk");

/* A parsed payload: the header and pointers into the payload bytes. */
struct af_fm_view {
    struct af_fm_payload_header h;
    const uint32_t *field_slots;  /* F                                     */
    const uint32_t *field_offset; /* F + 1                                 */
    const float *w1;              /* n_index                               */
    const float *emb;             /* n_index * dim                         */
    const float *w_dense;         /* n_dense                               */
    const float *mlp;             /* MLP parameters (NULL for fm)          */
    uint64_t mlp_floats;          /* their count                           */
};

/* Floats of the MLP section for the header's widths. */
static inline uint64_t
af_fm_mlp_floats(const struct af_fm_payload_header *h)
{
    uint64_t n = 0;
    for (uint32_t l = 0; l < h->n_layers; l++)
        n += (uint64_t)h->width[l] * h->width[l + 1] + h->width[l + 1];
    return n;
}

/* Payload bytes implied by a header (its shape fields already checked). */
static inline uint64_t
af_fm_payload_bytes(const struct af_fm_payload_header *h)
{
    uint64_t n4 = (uint64_t)h->n_fields * 2 + 1 + h->n_index +
                  h->n_index * h->dim + h->n_dense + af_fm_mlp_floats(h);
    return sizeof *h + 4 * n4;
}

/* Check the header's shape for a file of kind `kind` ("fm" or "deepfm"). */
static inline int
af_fm_check_header(const struct af_fm_payload_header *h, const char *kind,
                   char *err, size_t errlen)
{
    int deep = strcmp(kind, AF_DEEPFM_KIND) == 0;
    if (h->n_fields == 0 || h->n_fields > AF_FM_MAX_FIELDS ||
        h->n_req_fields > h->n_fields) {
        snprintf(err, errlen, "%s payload: n_fields=%u n_req_fields=%u (need "
                 "1..%d fields, request ones among them)", kind, h->n_fields,
                 h->n_req_fields, AF_FM_MAX_FIELDS);
        return -1;
    }
    if (h->n_dense > AF_FM_MAX_DENSE || h->n_req_dense > h->n_dense ||
        h->dim == 0 || h->dim > AF_FM_MAX_DIM) {
        snprintf(err, errlen, "%s payload: n_dense=%u n_req_dense=%u dim=%u "
                 "out of range", kind, h->n_dense, h->n_req_dense, h->dim);
        return -1;
    }
    if (h->n_index < h->n_fields || h->n_index > UINT32_MAX) {
        snprintf(err, errlen, "%s payload: n_index=%llu (need one row per "
                 "field at least, at most 2^32-1)", kind,
                 (unsigned long long)h->n_index);
        return -1;
    }
    if (!(h->downsample_rate > 0.0 && h->downsample_rate <= 1.0) ||
        !isfinite(h->bias)) {
        snprintf(err, errlen, "%s payload: downsample_rate %g (need (0, 1]) "
                 "or bias %g not finite", kind, h->downsample_rate,
                 (double)h->bias);
        return -1;
    }
    if (deep ? (h->n_layers == 0 || h->n_layers > AF_FM_MAX_LAYERS)
             : h->n_layers != 0) {
        snprintf(err, errlen, "%s payload: %u MLP layers (need %s)", kind,
                 h->n_layers, deep ? "1..9" : "0");
        return -1;
    }
    for (uint32_t l = 0; l <= h->n_layers && h->n_layers > 0; l++) {
        if (h->width[l] == 0 || h->width[l] > AF_FM_MAX_WIDTH) {
            snprintf(err, errlen, "%s payload: layer width %u is %u", kind, l,
                     h->width[l]);
            return -1;
        }
    }
    if (deep && (h->width[0] != h->n_fields * h->dim + h->n_dense ||
                 h->width[h->n_layers] != 1)) {
        snprintf(err, errlen, "%s payload: MLP input %u must be n_fields*dim"
                 "+n_dense = %u and its output %u must be 1", kind,
                 h->width[0], h->n_fields * h->dim + h->n_dense,
                 h->width[h->n_layers]);
        return -1;
    }
    return 0;
}

/*
 * Parse and check a payload of kind "fm" or "deepfm": shape, exact size,
 * field slots (>= 1) and offsets (field_offset[0] = 0, strictly increasing,
 * field_offset[F] = n_index).  Floats are not scanned (af_fm_check_finite).
 * data must be 4-byte aligned.  0, or -1 with a message in err.
 */
static inline int
af_fm_payload_parse(const void *data, size_t size, const char *kind,
                    struct af_fm_view *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    if (strcmp(kind, AF_FM_KIND) != 0 && strcmp(kind, AF_DEEPFM_KIND) != 0) {
        snprintf(err, errlen, "payload kind \"%s\" is neither fm nor deepfm",
                 kind);
        return -1;
    }
    if (((uintptr_t)data & 3) != 0) {
        snprintf(err, errlen, "%s payload is not 4-byte aligned", kind);
        return -1;
    }
    if (size < sizeof v->h) {
        snprintf(err, errlen, "%s payload is %zu bytes, its header alone "
                 "needs %zu", kind, size, sizeof v->h);
        return -1;
    }
    memcpy(&v->h, data, sizeof v->h);
    const struct af_fm_payload_header *h = &v->h;
    if (af_fm_check_header(h, kind, err, errlen) != 0)
        return -1;
    uint64_t want = af_fm_payload_bytes(h);
    if ((uint64_t)size != want) {
        snprintf(err, errlen, "%s payload is %zu bytes, expected %llu for "
                 "%u fields, %llu rows of dim %u, %u dense, %u layers", kind,
                 size, (unsigned long long)want, h->n_fields,
                 (unsigned long long)h->n_index, h->dim, h->n_dense,
                 h->n_layers);
        return -1;
    }
    const uint32_t *u = (const uint32_t *)((const char *)data + sizeof *h);
    v->field_slots = u;
    v->field_offset = u + h->n_fields;
    for (uint32_t f = 0; f < h->n_fields; f++) {
        if (v->field_slots[f] == 0) {
            snprintf(err, errlen, "%s payload: field %u has 0 slots", kind, f);
            return -1;
        }
        if (v->field_offset[f + 1] <= v->field_offset[f]) {
            snprintf(err, errlen, "%s payload: field offsets not increasing "
                     "at field %u (%u then %u)", kind, f, v->field_offset[f],
                     v->field_offset[f + 1]);
            return -1;
        }
    }
    if (v->field_offset[0] != 0 || v->field_offset[h->n_fields] != h->n_index) {
        snprintf(err, errlen, "%s payload: field offsets span [%u, %u), "
                 "expected [0, %llu)", kind, v->field_offset[0],
                 v->field_offset[h->n_fields], (unsigned long long)h->n_index);
        return -1;
    }
    const float *p = (const float *)(v->field_offset + h->n_fields + 1);
    v->w1 = p;
    p += h->n_index;
    v->emb = p;
    p += h->n_index * h->dim;
    v->w_dense = p;
    p += h->n_dense;
    v->mlp = h->n_layers > 0 ? p : NULL;
    v->mlp_floats = af_fm_mlp_floats(h);
    return 0;
}

/* 0 when every float of the payload is finite, else -1 naming the first
 * bad section in err (a linear scan: call it once at load). */
static inline int
af_fm_check_finite(const struct af_fm_view *v, char *err, size_t errlen)
{
    const struct af_fm_payload_header *h = &v->h;
    struct { const char *name; const float *p; uint64_t n; } sec[] = {
        {"w1", v->w1, h->n_index},
        {"emb", v->emb, h->n_index * h->dim},
        {"w_dense", v->w_dense, h->n_dense},
        {"mlp", v->mlp, v->mlp_floats},
    };
    for (size_t s = 0; s < sizeof sec / sizeof sec[0]; s++) {
        for (uint64_t i = 0; i < sec[s].n; i++) {
            if (!isfinite(sec[s].p[i])) {
                snprintf(err, errlen, "%s[%llu] is not finite", sec[s].name,
                         (unsigned long long)i);
                return -1;
            }
        }
    }
    return 0;
}

#endif
