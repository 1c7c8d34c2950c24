/*
 * optim.h -- first-order optimizers for the fm and deepfm trainers: Adam
 * (dense, as torch.optim.Adam), lazy sparse Adam (as torch.optim.SparseAdam)
 * and Adagrad (as torch.optim.Adagrad), each on a plain float vector.
 *
 * The functions update parameters in place from a gradient the caller has
 * computed; the state vectors (m, v, or the Adagrad sum) are the caller's,
 * zero-initialised, the same length as the parameters.  Nothing allocates,
 * nothing locks: the trainers call them on disjoint ranges from several
 * threads at once.
 *
 * The step count t is 1-based and counts optimizer steps of the whole model
 * (the bias corrections of Adam use it), not updates of one row: that is
 * what makes lazy Adam "lazy" -- a row skipped by a batch keeps its moments
 * but still sees the global t when it is next updated, as in SparseAdam.
 */
#ifndef AF_CORE_OPTIM_H
#define AF_CORE_OPTIM_H

#include <stddef.h>
#include <stdint.h>

/* Adam hyperparameters and the per-step constants derived from them. */
struct af_adam {
    double lr;             /* learning rate                               */
    double beta1, beta2;   /* decay rates (double, as torch's scalars)     */
    float eps;
    float c1, c2;          /* 1 - beta1, 1 - beta2 (computed in double)    */
    uint64_t t;            /* 1-based step the constants below are for    */
    float step_size;       /* lr / (1 - beta1^t)                          */
    float bc2_sqrt;        /* sqrt(1 - beta2^t)                           */
    float sparse_step;     /* lr * sqrt(1 - beta2^t) / (1 - beta1^t)      */
};

/* Set the hyperparameters (t = 0: call af_adam_begin_step before use). */
void af_adam_init(struct af_adam *a, double lr, double beta1, double beta2,
                  double eps);
/* Advance to the next step and compute its bias corrections (double
 * precision, as torch does in Python floats). */
void af_adam_begin_step(struct af_adam *a);

/*
 * Dense Adam on n parameters (torch.optim.Adam, single-tensor path):
 *   g' = g + weight_decay * p;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2
 *   p -= step_size * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * g may be NULL (a zero gradient: only the weight decay acts).
 */
void af_adam_dense(const struct af_adam *a, float *p, float *m, float *v,
                   const float *g, size_t n, float weight_decay);

/*
 * Lazy Adam on one row of n parameters with a (coalesced) gradient g, as
 * torch.optim.SparseAdam does for the rows present in a sparse gradient:
 *   m += (1-b1)(g - m);  v += (1-b2)(g^2 - v)
 *   p -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)
 * (note eps is added to sqrt(v) before the bias correction, unlike Adam).
 */
void af_adam_sparse_row(const struct af_adam *a, float *p, float *m, float *v,
                        const float *g, size_t n);

/* Adagrad hyperparameters (torch.optim.Adagrad with lr_decay 0 and
 * initial_accumulator_value 0). */
struct af_adagrad {
    float lr, eps;
};

/* Dense Adagrad: g' = g + weight_decay * p; sum += g'^2;
 * p -= lr * g' / (sqrt(sum) + eps).  g may be NULL (zero gradient). */
void af_adagrad_dense(const struct af_adagrad *a, float *p, float *sum,
                      const float *g, size_t n, float weight_decay);

#endif
