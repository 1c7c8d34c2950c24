/*
 * mlp.h -- a multi-layer perceptron for the deepfm trainer: Linear layers
 * with ReLU (and inverted dropout) between them, the last one linear, batch
 * by batch with cblas_sgemm.
 *
 * Layout.  Everything is batch-major and row-major: a batch of n rows of
 * width w is an n x w matrix with row r at r * w.  Layer l maps width[l] to
 * width[l + 1] with W[l] stored in x out (row-major, width[l] x width[l+1])
 * and bias b[l], so the forward pass is one sgemm per layer:
 *
 *   z_l = a_l W_l + b_l,   a_0 = x,   a_{l+1} = dropout(relu(z_l)),
 *   out = z_{L-1}
 *
 * and the backward pass two (g_l = dLoss/dz_l):
 *
 *   dW_l = a_l^T g_l,   db_l = sum over rows of g_l,
 *   g_{l-1} = (g_l W_l^T) * [a_l > 0] / (1 - p)
 *
 * (a_l holds the value after dropout, so a_l > 0 exactly when the unit was
 * active and kept; relu'(0) is 0 as in torch).
 *
 * Threads.  Forward and backward work on a range of rows, so several
 * threads can each take a slice of one batch; the weight gradient is split
 * into "parts" by rows of W (input units), so that each part is a
 * contiguous range of the parameter vector that one thread both computes
 * and updates.  Dropout masks are a hash of (seed, step, layer, row, unit),
 * so they do not depend on how rows are split.
 */
#ifndef AF_CORE_MLP_H
#define AF_CORE_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "world/wrand.h"

#define AF_MLP_MAX_LAYERS 9 /* linear layers, the output layer included */

struct af_mlp {
    uint32_t n_layers;                     /* linear layers (>= 1)        */
    uint32_t width[AF_MLP_MAX_LAYERS + 1]; /* width[0] in, width[L] out   */
    float *W[AF_MLP_MAX_LAYERS];           /* width[l] x width[l+1]       */
    float *b[AF_MLP_MAX_LAYERS];           /* width[l+1]                  */
    float *params;  /* W[0] b[0] W[1] b[1] ... contiguous                 */
    size_t n_params;
    int own;        /* 1: params was allocated by af_mlp_init             */
};

/* Number of parameters of an MLP of these widths. */
size_t af_mlp_param_count(uint32_t n_layers, const uint32_t *width);

/* Allocate zeroed parameters (caller frees with af_mlp_free).  0,
 * AF_EINVAL (no layer, too many, a zero width) or AF_ENOMEM. */
int af_mlp_init(struct af_mlp *m, uint32_t n_layers, const uint32_t *width);
/* Point m at caller-owned parameters (af_mlp_param_count floats, e.g. a
 * model file payload); af_mlp_free then releases nothing. */
int af_mlp_view(struct af_mlp *m, uint32_t n_layers, const uint32_t *width,
                float *params);
void af_mlp_free(struct af_mlp *m);

/* Xavier-uniform weights (U(-a, a), a = sqrt(6 / (fan_in + fan_out))) and
 * zero biases, drawn from r. */
void af_mlp_xavier(struct af_mlp *m, struct af_wrand *r);

/* Dropout of one training step; p == 0 (or a NULL pointer) is eval mode. */
struct af_dropout {
    float p;        /* drop probability in [0, 1)                         */
    uint64_t seed;  /* run seed                                           */
    uint64_t step;  /* optimizer step: a fresh mask every step            */
};

/* Activations and gradients of up to `cap` rows (malloc'd by
 * af_mlp_work_init, released by af_mlp_work_free). */
struct af_mlp_work {
    uint32_t cap;
    float *a[AF_MLP_MAX_LAYERS]; /* a[l], l >= 1: cap x width[l]          */
    float *out;                  /* cap x width[L]                         */
    float *g[AF_MLP_MAX_LAYERS]; /* g[l]: cap x width[l+1]                 */
    float *mem;
};

int af_mlp_work_init(struct af_mlp_work *w, const struct af_mlp *m,
                     uint32_t cap);
void af_mlp_work_free(struct af_mlp_work *w);

/*
 * Forward pass of rows [r0, r0 + n) of x (rows of width[0], row r at
 * x + r * width[0]) into w->a[] and w->out (same row numbers).  d may be
 * NULL.  Threads may run disjoint row ranges of one batch concurrently.
 */
void af_mlp_forward(const struct af_mlp *m, struct af_mlp_work *w,
                    const float *x, uint32_t r0, uint32_t n,
                    const struct af_dropout *d);

/*
 * Backward pass of rows [r0, r0 + n): the caller has written dLoss/dout
 * into w->g[L-1] for those rows; fills the other g[l] and, when dx is not
 * NULL, dLoss/dx into dx (rows of width[0], same row numbers).  Needs the
 * forward pass of the same rows with the same dropout.
 */
void af_mlp_backward(const struct af_mlp *m, struct af_mlp_work *w,
                     uint32_t r0, uint32_t n, const struct af_dropout *d,
                     float *dx);

/* The parameter ranges of part `part` of `parts` (see the threads note):
 * for each layer the W rows [lo, hi) of its input units and the bias
 * entries of its output units [blo, bhi).  Offsets are into params. */
struct af_mlp_range {
    size_t w_off, w_len; /* contiguous slice of W[l]                      */
    size_t b_off, b_len; /* contiguous slice of b[l]                      */
};
void af_mlp_part(const struct af_mlp *m, uint32_t layer, uint32_t part,
                 uint32_t parts, struct af_mlp_range *r);

/*
 * Gradient of part `part` of `parts` for the n rows of a batch whose
 * backward pass is complete: writes dW and db of that part into grad (same
 * layout as m->params, other entries untouched).  x is the batch input.
 */
void af_mlp_grad(const struct af_mlp *m, const struct af_mlp_work *w,
                 const float *x, uint32_t n, uint32_t part, uint32_t parts,
                 float *grad);

#endif
