/*
 * lr_newton.h -- the "newton" optimizer of the lr trainer: the exact
 * minimizer of  sum_i weight_i * logloss_i + l2/2 * |w|^2 + l2/200 * b^2
 * (liblinear's L2 objective with l2 = 1 / C and intercept_scaling 10, the
 * anchor's) by truncated Newton: conjugate gradient on Hessian-vector
 * products, Armijo backtracking, stop at |grad| <= 1e-6 |grad(w0)| or after
 * o->epochs Newton steps.  Deterministic; the products run on the pool.
 */
#ifndef AF_CORE_LR_NEWTON_H
#define AF_CORE_LR_NEWTON_H

#include "learn/lr_pool.h"
#include "learn/trainer.h"

/* w: n_index + n_dense + 1 coefficients (bias last), in: start, out: the
 * solution.  Fills out->epoch[] (one entry per Newton step) and
 * out->best_epoch.  0 or AF_ENOMEM. */
int af_lr_newton(const struct af_examples *train,
                 const struct af_examples *valid,
                 const struct af_train_opts *o, struct af_lr_pool *pool,
                 double *w, struct af_model_out *out);

#endif
