/* lr_pool.c -- see lr_pool.h. */
#include "learn/lr_pool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS AF_LR_MAX_THREADS


double
af_lr_logit_row(const struct af_examples *x, uint32_t r, const double *w,
          uint64_t n_index, uint32_t n_dense)
{
    double s = w[n_index + n_dense];
    uint32_t a = x->start[(size_t)r * x->n_fields];
    uint32_t b = x->start[(size_t)(r + 1) * x->n_fields];
    for (uint32_t e = a; e < b; e++)
        s += w[x->gidx[e]] * x->val[e];
    const float *d = x->dense ? x->dense + (size_t)r * x->n_dense : NULL;
    for (uint32_t j = 0; d && j < n_dense && j < x->n_dense; j++)
        s += w[n_index + j] * d[j];
    return s;
}

double
af_lr_sigmoid(double z)
{
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* Worker t's share of the job. */
static void
run_share(const struct af_lr_job *j, uint32_t t, uint32_t threads)
{
    uint32_t lo = (uint32_t)((uint64_t)j->n * t / threads);
    uint32_t hi = (uint32_t)((uint64_t)j->n * (t + 1) / threads);
    for (uint32_t i = lo; i < hi; i++) {
        uint32_t r = j->rows ? j->rows[i] : j->from + i;
        double z = af_lr_logit_row(j->x, r, j->w, j->n_index, j->n_dense);
        j->out[i] = j->raw ? z : af_lr_sigmoid(z);
    }
}

struct worker_arg {
    struct af_lr_pool *p;
    uint32_t t;
};

static void *
worker(void *arg)
{
    struct worker_arg *wa = arg;
    struct af_lr_pool *p = wa->p;
    uint32_t t = wa->t;
    free(wa);
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->generation == seen && !p->stop)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->generation;
        uint32_t threads = p->threads;
        pthread_mutex_unlock(&p->mu);
        run_share(&p->job, t, threads);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Start threads - 1 workers; with fewer (pthread_create failing) the pool
 * simply runs on those it has. */
void
af_lr_pool_start(struct af_lr_pool *p, uint32_t threads)
{
    memset(p, 0, sizeof *p);
    threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    p->threads = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (uint32_t t = 1; t < threads; t++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (wa == NULL)
            break;
        wa->p = p;
        wa->t = t;
        if (pthread_create(&p->tid[t], NULL, worker, wa) != 0) {
            free(wa);
            break;
        }
        p->threads = t + 1; /* no job runs before pool_start returns */
    }
}

void
af_lr_pool_run(struct af_lr_pool *p)
{
    if (p->threads == 1) {
        run_share(&p->job, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->pending = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    run_share(&p->job, 0, p->threads);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void
af_lr_pool_stop(struct af_lr_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t t = 1; t < p->threads; t++)
        pthread_join(p->tid[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
}

