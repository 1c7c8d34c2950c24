/*
 * deepfm.h -- training and offline scoring of the fm and deepfm kinds
 * (trainer.h gives the public contract: af_train_fm, af_train_deepfm,
 * af_predict_fm, af_predict_deepfm; this header is what those are built
 * from, and what the tests and benchmarks reach for).
 *
 * Training, per mini-batch (deepfm_train.c):
 *   - rows of the batch are split over the threads: embedding gather and
 *     pooling, FM terms, the MLP forward and backward with cblas_sgemm on
 *     each thread's rows (OpenBLAS single-threaded), the loss;
 *   - then parameters are split: each thread computes and applies the MLP
 *     weight gradient of its slice of input units (one sgemm per layer),
 *     and coalesces and applies the embedding gradients of the table rows
 *     it owns (a hash of the index picks the owner, so no two threads
 *     write one row and no locks are needed).
 *   Alternatively (opts->blas_threads_mlp) the sparse parts are split the
 *   same way but every sgemm runs on thread 0 with OpenBLAS using all the
 *   threads; docs/benchmarks.md compares the two.
 *
 * Optimizers (optim.h):
 *   adam (default, o->sparse = 0): torch.optim.Adam over every parameter
 *     with dense gradients, the embedding L2 as weight decay 2*l2 on both
 *     tables, every row, every step -- exactly the anchor's accuracy runs
 *     (../shared/anchors/README.md, "Loss");
 *   adam with o->sparse = 1: lazy Adam (torch.optim.SparseAdam) on the
 *     table rows present in the batch, Adam on the rest, and the L2 term
 *     l2 * sum of squares of the looked-up rows (each occurrence counts) --
 *     the anchor's "sparse rows" throughput variant.  It differs from the
 *     dense variant in that rows absent from a batch are not decayed and
 *     keep their moments unchanged;
 *   adagrad: torch.optim.Adagrad, dense (weight decay 2*l2 on every row)
 *     or, with o->sparse, on the batch's rows only (L2 as above).
 */
#ifndef AF_CORE_DEEPFM_H
#define AF_CORE_DEEPFM_H

#include <stddef.h>
#include <stdint.h>

#include "learn/examples.h"
#include "learn/fm.h"
#include "learn/trainer.h"

/* The engine of af_train_fm (with_mlp = 0) and af_train_deepfm. */
int af_deepfm_fit(const struct af_examples *train,
                  const struct af_examples *valid,
                  const struct af_train_opts *o, int with_mlp,
                  struct af_model_out *out, char *err, size_t errlen);

/*
 * Score every row of x with model m on `threads` threads (OpenBLAS is set
 * to one thread meanwhile and restored): p[i] = corrected probability.
 * The model must match x (fields, dense, index size; the caller checks).
 * 0 or AF_ENOMEM.
 */
int af_fm_predict_rows(const struct af_fm_model *m,
                       const struct af_examples *x, double *p,
                       uint32_t threads);

/*
 * Build a model file payload (plugins/model_fm/fm_format.h) from m with
 * the serving layout: n_req_fields, field_slots (NULL = all 1) and
 * n_req_dense.  *payload is malloc'd (caller frees).  0, AF_EINVAL (layout
 * out of range) or AF_ENOMEM.
 */
int af_fm_payload_build(const struct af_fm_model *m, uint32_t n_req_fields,
                        const uint32_t *field_slots, uint32_t n_req_dense,
                        void **payload, size_t *size);

/*
 * Parse a payload of `kind` into a model view whose tables point into the
 * payload (which must outlive m).  0, or AF_ECORRUPT with a message.
 */
int af_fm_model_from_payload(const void *payload, size_t size,
                             const char *kind, struct af_fm_model *m,
                             char *err, size_t errlen);
/* Release what af_fm_model_from_payload allocated (the MLP view only). */
void af_fm_model_view_free(struct af_fm_model *m);

/* af_predict_fm / af_predict_deepfm with an explicit kind and threads. */
int af_fm_predict_payload(const char *kind, const void *payload, size_t size,
                          const struct af_examples *x, double *p,
                          uint32_t threads, char *err, size_t errlen);

#endif
