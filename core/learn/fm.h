/*
 * fm.h -- the FM and DeepFM model (plugins/model_fm/fm_format.h gives the
 * formula) as the trainers and offline predictors hold it, and its batch
 * forward/backward over encoded examples (examples.h).
 *
 *   logit = bias + first order + FM second order [+ MLP(embeddings, dense)]
 *
 * A DeepFM is an FM plus an MLP that reads the same field embeddings; the
 * fm kind is the same model with no MLP, so both kinds share every line of
 * this code.
 *
 * Tables.  w1 and emb are addressed with strides so that one forward pass
 * reads both a trainer's interleaved rows (parameter and optimizer state of
 * an index side by side, one page per row) and a model file's plain arrays.
 *
 * Batches.  A batch is a list of example row numbers; its forward pass
 * fills struct af_fm_work row by row, so threads can take disjoint row
 * ranges of one batch (the MLP then runs on the same ranges, mlp.h).
 */
#ifndef AF_CORE_FM_H
#define AF_CORE_FM_H

#include <stddef.h>
#include <stdint.h>

#include "learn/examples.h"
#include "learn/mlp.h"

#define AF_FM_DIM_MAX 256 /* embedding width limit (fm_format.h) */

struct af_fm_model {
    uint32_t n_fields;      /* F categorical fields                        */
    uint32_t n_dense;       /* dense inputs                                */
    uint32_t dim;           /* embedding width                             */
    uint64_t n_index;       /* table rows                                  */
    const uint32_t *field_offset; /* F + 1 (borrowed)                      */
    float bias;
    double downsample_rate; /* (0, 1]; predictions are corrected           */
    float *w1;              /* first-order weight of index i at w1[i*w1_stride] */
    size_t w1_stride;
    float *emb;             /* embedding of index i at emb[i*emb_stride]   */
    size_t emb_stride;
    float *w_dense;         /* n_dense                                     */
    int has_mlp;            /* 0: fm                                       */
    struct af_mlp mlp;      /* input F*dim + n_dense, output 1             */
};

/* Width of the MLP input: the concatenated embeddings, then dense. */
static inline uint32_t
af_fm_input_width(const struct af_fm_model *m)
{
    return m->n_fields * m->dim + m->n_dense;
}

/* Per-batch buffers for up to cap rows (af_fm_work_init allocates). */
struct af_fm_work {
    uint32_t cap;
    uint32_t in;        /* af_fm_input_width                              */
    float *x0;          /* cap x in: pooled embeddings, then dense        */
    float *dx0;         /* cap x in: dLoss/dx0 (MLP), then after
                           af_fm_backward_fm dLoss/de of each field       */
    float *lin;         /* cap: bias + first order                        */
    float *ssum;        /* cap x dim: sum over fields of the embeddings   */
    float *fm;          /* cap: second-order term                         */
    float *logit;       /* cap                                            */
    float *dlogit;      /* cap: dLoss/dlogit                              */
    struct af_mlp_work mw;
    void *mem;
};

/* 0 or AF_ENOMEM; `train` also allocates the gradient buffers. */
int af_fm_work_init(struct af_fm_work *w, const struct af_fm_model *m,
                    uint32_t cap, int train);
void af_fm_work_free(struct af_fm_work *w);

/*
 * Forward pass of batch rows [r0, r0 + n): batch row r is example row
 * rows[r] of x (rows == NULL: example row r).  Fills x0, lin, ssum, fm,
 * runs the MLP (with dropout d, may be NULL) and leaves the logit in
 * w->logit.  Indices outside [0, n_index) are read as their field's OOV
 * slot (field_offset[f]), so malformed input cannot read out of bounds.
 */
void af_fm_forward(const struct af_fm_model *m, struct af_fm_work *w,
                   const struct af_examples *x, const uint32_t *rows,
                   uint32_t r0, uint32_t n, const struct af_dropout *d);

/* The two halves of af_fm_forward, for callers that run them on different
 * threads: the embedding gather (fills x0, lin, ssum, fm) and the head
 * (the MLP and the logit).  af_fm_forward = gather then head. */
void af_fm_gather(const struct af_fm_model *m, struct af_fm_work *w,
                  const struct af_examples *x, const uint32_t *rows,
                  uint32_t r0, uint32_t n);
void af_fm_head(const struct af_fm_model *m, struct af_fm_work *w,
                uint32_t r0, uint32_t n, const struct af_dropout *d);

/*
 * Backward pass of the same rows once w->dlogit holds dLoss/dlogit: the
 * MLP's input gradient, then dLoss/de[f] = dx0[f] + dlogit * (ssum - e[f])
 * (the FM term) into w->dx0 (field f of row r at r * in + f * dim).
 */
void af_fm_backward(const struct af_fm_model *m, struct af_fm_work *w,
                    uint32_t r0, uint32_t n, const struct af_dropout *d);
/* Its two halves: the MLP part (dx0 = dLoss/dx0, or 0 for fm) and the FM
 * part added to it.  af_fm_backward = backward_mlp then backward_fm. */
void af_fm_backward_mlp(const struct af_fm_model *m, struct af_fm_work *w,
                        uint32_t r0, uint32_t n, const struct af_dropout *d);
void af_fm_backward_fm(const struct af_fm_model *m, struct af_fm_work *w,
                       uint32_t r0, uint32_t n);

/* p = sigmoid(logit), then p / (p + (1 - p) / w) when w < 1. */
double af_fm_probability(double logit, double downsample_rate);

/* Index of entry (field f, global index g) as read: g when it lies in
 * field f's range, else the field's OOV slot. */
static inline uint32_t
af_fm_clamp_index(const struct af_fm_model *m, uint32_t f, uint32_t g)
{
    uint32_t lo = m->field_offset[f], hi = m->field_offset[f + 1];
    return g >= lo && g < hi ? g : lo;
}

#endif
