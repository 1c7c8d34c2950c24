/*
 * fm_pool.h -- a fixed team of threads for the fm/deepfm trainers: every
 * thread runs the same function on its own thread number, with barriers
 * between the phases of a training step (rows, then parameter slices).
 *
 * Thread 0 is the caller; n - 1 workers are started by af_fm_pool_create
 * and sleep (futex, no spinning) between jobs, so they leave the cores to
 * OpenBLAS's own threads when the trainer hands a matrix product to it.
 * Not for the request path (training and offline prediction only).
 */
#ifndef AF_CORE_FM_POOL_H
#define AF_CORE_FM_POOL_H

#include <stdint.h>

struct af_fm_pool;

typedef void (*af_fm_job)(void *ctx, uint32_t tid, uint32_t n_threads);

/* A team of n >= 1 threads (n - 1 started).  NULL when threads cannot be
 * created.  Owned by the caller: af_fm_pool_destroy. */
struct af_fm_pool *af_fm_pool_create(uint32_t n);
void af_fm_pool_destroy(struct af_fm_pool *p);
uint32_t af_fm_pool_size(const struct af_fm_pool *p);

/* Run job(ctx, tid, n) on every thread (tid 0 on the caller) and return
 * when all have finished.  One job at a time. */
void af_fm_pool_run(struct af_fm_pool *p, af_fm_job job, void *ctx);

/* Inside a job: wait until every thread of the team reaches it. */
void af_fm_pool_barrier(struct af_fm_pool *p);

#endif
