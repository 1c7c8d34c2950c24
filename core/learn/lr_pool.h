/*
 * lr_pool.h -- the LR trainers' thread pool: one job at a time, each
 * thread scoring a contiguous share of the job's rows, results written per
 * row (so the outcome does not depend on the thread count).
 */
#ifndef AF_CORE_LR_POOL_H
#define AF_CORE_LR_POOL_H

#include <pthread.h>
#include <stdint.h>

#include "learn/examples.h"

#define AF_LR_MAX_THREADS 64

/* Score rows: out[i] = x_row . w (+ bias w[n_index + n_dense]), through
 * the sigmoid unless raw. */
struct af_lr_job {
    const struct af_examples *x;
    const uint32_t *rows;     /* row ids (NULL: rows [from, from + n))    */
    uint32_t from, n;
    const double *w;
    uint64_t n_index;
    uint32_t n_dense;
    double *out;
    int raw;
};

struct af_lr_pool {
    uint32_t threads;         /* workers + the calling thread             */
    pthread_t tid[AF_LR_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t generation;      /* bumped for each job                      */
    uint32_t pending;         /* workers still running the job            */
    struct af_lr_job job;
    int stop;
};

/* Start threads - 1 workers (fewer if pthread_create fails: the pool runs
 * on those it has). */
void af_lr_pool_start(struct af_lr_pool *p, uint32_t threads);
/* Run p->job on every thread, the caller included; returns when done. */
void af_lr_pool_run(struct af_lr_pool *p);
void af_lr_pool_stop(struct af_lr_pool *p);

double af_lr_logit_row(const struct af_examples *x, uint32_t r,
                       const double *w, uint64_t n_index, uint32_t n_dense);
double af_lr_sigmoid(double z);

#endif
