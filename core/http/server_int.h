/*
 * server_int.h -- the server's and workers' internals, shared by server.c
 * (lifecycle, generations, shutdown), worker.c (event loop, connections,
 * drain) and handlers.c (routes).  Not a public header.
 *
 * Threads: the serving thread (af_server_serve) owns struct af_server; each
 * worker thread owns its struct af_worker.  Fields read by other threads are
 * _Atomic and say so.
 */
#ifndef AF_CORE_HTTP_SERVER_INT_H
#define AF_CORE_HTTP_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine/generation.h"
#include "http/conntab.h"
#include "http/server.h"
#include "mem/arena.h"
#include "metrics/metrics.h"
#include "util/strbuf.h"

struct event_base;
struct event;
struct evhttp;
struct evhttp_request;
struct evconnlistener;

struct af_worker {
    struct af_server *srv;
    unsigned index;
    pthread_t thread;
    int started;                  /* thread created                      */

    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *listener;
    int wake_fd;                  /* eventfd: stop / publish notices     */
    struct event *wake_ev;
    struct event *tick_ev;        /* 1 s: re-pin an idle worker          */
    struct event *drain_ev;       /* 10 ms while draining                */
    struct event *resume_ev;      /* one-shot: accept again after EMFILE */

    af_arena *arena;              /* reset after every request           */
    af_metrics_shard *metrics;
    af_buf text;                  /* reused response body (JSON, errors) */
    uint8_t *pb;                  /* reused protobuf output              */
    size_t pb_cap;

    af_generation *gen;           /* pinned; one reference               */
    af_generation *canary;        /* pinned canary, or NULL              */
    uint32_t canary_ppm;          /* share of users it serves            */
    uint64_t gen_seq;             /* publication it belongs to           */

    struct af_conntab conns;
    unsigned in_flight;           /* replies dispatched, not yet written */
    int accept_paused;            /* bit 1: at the connection cap;
                                     bit 2: accept() out of descriptors  */
    int draining;
    uint64_t drain_deadline_ns;
    uint64_t last_dispatch_ns;
    uint64_t req_seq;             /* for generated request ids           */

    /* Read by other threads (relaxed; single writer: this worker). */
    _Atomic uint64_t drained;     /* requests finished while draining    */
    _Atomic uint64_t abandoned;   /* unfinished at the drain timeout     */
    _Atomic uint64_t rejected;    /* connections refused at the cap      */
    _Atomic uint64_t served_label[2]; /* rankings by stable [0], canary [1] */
    _Atomic uint32_t open_conns;
    _Atomic int accept_stopped;   /* listener disabled for the drain     */
    _Atomic int exited;           /* event loop returned                 */
};

#define MAX_WORKERS 256

struct af_server {
    const struct af_server_opts *opts; /* borrowed                       */
    char host[256];
    int port;
    /* One listening socket per worker, all on `port` (SO_REUSEPORT): the
     * kernel spreads new connections over them.  With one shared socket
     * the first worker to wake took nearly all of a burst (56 of 64 wrk
     * connections against 8 in one measurement). */
    int listen_fd[MAX_WORKERS];
    size_t max_body;
    unsigned max_conns;
    double drain_timeout_s;
    int idle_timeout_s;
    size_t arena_limit;
    size_t max_response;

    /* The current generations.  The mutex is taken by af_server_publish*
     * and by a worker re-pinning after a publication -- never per request.
     * Replaced generations wait on `retired` until no worker pins them. */
    pthread_mutex_t gen_lock;
    af_generation *gen;
    af_generation *canary;
    uint32_t canary_ppm;
    _Atomic uint64_t gen_seq;
    af_generation **retired;
    unsigned n_retired, cap_retired;

    af_metrics *metrics;
    unsigned n_workers;
    struct af_worker *workers;

    _Atomic int stop_requested;
};

/* worker.c */
int af_worker_init(struct af_worker *w, struct af_server *s, unsigned index,
                   char *err, size_t errlen);
int af_worker_start(struct af_worker *w);
void af_worker_notify(struct af_worker *w);
void af_worker_join(struct af_worker *w);
void af_worker_destroy(struct af_worker *w);
/* Pin the server's current generation if a newer one was published. */
void af_worker_repin(struct af_worker *w);
/* Per-request connection bookkeeping; see handlers.c.  af_worker_admit
 * returns 0 when the request may proceed, -1 when the worker is at its
 * connection cap (the caller answers 503 and closes). */
int af_worker_admit(struct af_worker *w, struct evhttp_request *req);

/* handlers.c: the evhttp generic callback (arg: struct af_worker *). */
void af_http_dispatch(struct evhttp_request *req, void *arg);

/* server.c */
uint64_t af_server_now_ns(void);

#endif
