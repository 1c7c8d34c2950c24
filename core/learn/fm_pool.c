/*
 * fm_pool.c -- the trainers' thread team (fm_pool.h).
 *
 * Jobs are handed out with a generation counter under a mutex (so a team
 * that failed half-way through creation can still be told to quit); the
 * phase barrier inside a job is a pthread barrier of the whole team.
 */
#include "learn/fm_pool.h"

#include <pthread.h>
#include <stdlib.h>

struct af_fm_pool {
    uint32_t n;               /* team size, caller included              */
    uint32_t started;         /* workers running                         */
    pthread_t *tid;           /* n - 1 workers                           */
    pthread_mutex_t mu;
    pthread_cond_t go;        /* a new generation (job or quit)          */
    pthread_cond_t idle;      /* the last worker finished its job        */
    uint64_t gen;             /* bumped for every job                    */
    uint32_t busy;            /* workers still running the current job   */
    int quit;
    af_fm_job job;
    void *ctx;
    int has_barrier;
    pthread_barrier_t phase;  /* af_fm_pool_barrier                      */
};

struct worker_arg {
    struct af_fm_pool *p;
    uint32_t id;
};

static void *
worker(void *arg)
{
    struct worker_arg a = *(struct worker_arg *)arg;
    struct af_fm_pool *p = a.p;
    free(arg);
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->gen == seen && !p->quit)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->gen;
        af_fm_job job = p->job;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);

        job(ctx, a.id, p->n);

        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->idle);
        pthread_mutex_unlock(&p->mu);
    }
}

struct af_fm_pool *
af_fm_pool_create(uint32_t n)
{
    if (n == 0)
        n = 1;
    struct af_fm_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->n = n;
    if (n == 1)
        return p;
    p->tid = calloc(n - 1, sizeof *p->tid);
    if (p->tid == NULL) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (uint32_t i = 1; i < n; i++) {
        struct worker_arg *a = malloc(sizeof *a);
        if (a == NULL) {
            af_fm_pool_destroy(p);
            return NULL;
        }
        a->p = p;
        a->id = i;
        if (pthread_create(&p->tid[i - 1], NULL, worker, a) != 0) {
            free(a);
            af_fm_pool_destroy(p);
            return NULL;
        }
        p->started++;
    }
    if (pthread_barrier_init(&p->phase, NULL, n) != 0) {
        af_fm_pool_destroy(p);
        return NULL;
    }
    p->has_barrier = 1;
    return p;
}

uint32_t
af_fm_pool_size(const struct af_fm_pool *p)
{
    return p->n;
}

void
af_fm_pool_run(struct af_fm_pool *p, af_fm_job job, void *ctx)
{
    if (p->n == 1) {
        job(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->job = job;
    p->ctx = ctx;
    p->busy = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);

    job(ctx, 0, p->n);

    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void
af_fm_pool_barrier(struct af_fm_pool *p)
{
    if (p->n > 1)
        pthread_barrier_wait(&p->phase);
}

void
af_fm_pool_destroy(struct af_fm_pool *p)
{
    if (p == NULL)
        return;
    if (p->n > 1) {
        pthread_mutex_lock(&p->mu);
        p->quit = 1;
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
        for (uint32_t i = 0; i < p->started; i++)
            pthread_join(p->tid[i], NULL);
        if (p->has_barrier)
            pthread_barrier_destroy(&p->phase);
        pthread_cond_destroy(&p->go);
        pthread_cond_destroy(&p->idle);
        pthread_mutex_destroy(&p->mu);
        free(p->tid);
    }
    free(p);
}
