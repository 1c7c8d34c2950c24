/*
 * server.h -- the HTTP front end: N worker threads, each running its own
 * libevent loop and evhttp, accepting from one shared listening socket.
 *
 * Routes: POST /v1/rank (application/json or application/x-protobuf),
 * GET /healthz, GET /metrics (Prometheus text).  See core/http/handlers.c.
 *
 * Generations.  The server holds the current generation (see
 * engine/generation.h) and a publication counter.  Each worker keeps its own
 * reference to the generation it serves and re-pins -- under a mutex, once
 * per publication, never per request -- when the counter moves, so a request
 * always runs on one generation from start to end and an old generation is
 * destroyed when the last worker lets go of it.
 *
 * Shutdown.  SIGTERM or SIGINT (or af_server_stop) stops accepting, closes
 * the listening socket, lets every dispatched request finish (replies during
 * the drain carry "Connection: close"), then returns; requests still
 * unfinished after the drain timeout are abandoned and counted in the log.
 * A worker leaves once nothing is in flight and no request was dispatched
 * for 100 ms, so requests already on the wire still get in; a request whose
 * bytes arrive later than that on an idle keep-alive connection is not
 * served (libevent 2.1 does not expose half-read requests).
 *
 * Canary.  Besides the generation every request gets by default ("stable"),
 * the server may hold a "canary" generation (af_server_publish_canary): a
 * request with the header "X-Version-Label: canary" is ranked by it, and so
 * is a fixed share of users (by a hash of the user id, so a user sticks to
 * one version).  Replies say which one served them: "X-Version-Label" and
 * "X-Generation".  "X-Version-Label: stable" always gets the stable one; a
 * request for "canary" when there is none is served by stable (and says
 * so); any other label is a 400.
 *
 * Retiring.  A generation replaced by a publication is kept on a retired
 * list and destroyed by the serving thread (every 100 ms) once no worker
 * pins it -- never by a worker, so dlclose and freeing a model never add to
 * a request's latency.
 *
 * SIGHUP calls opts->on_sighup on the serving thread (the admin control
 * plane reloads the pipelines); without a handler it is logged and ignored.
 *
 * Back-pressure.  Bodies above max_body get 413 (libevent's own HTML page)
 * without being buffered: the rest of the body is read and discarded so the
 * client sees the 413 rather than a reset; headers are capped at 16 KiB;
 * idle and slow connections time out; each worker tracks
 * at most max_connections connections: at the cap it stops accepting (the
 * kernel backlog, then the clients, absorb the excess) and a connection it
 * had already accepted is answered 503 with "Connection: close" and
 * "Retry-After: 1" (the client should come back, not give up).  When
 * accept() runs out of descriptors the worker pauses accepting for 100 ms
 * instead of spinning.  Responses are bounded by construction (at most
 * AF_MAX_SLOTS ads, stages only with explain); one larger than max_response
 * anyway is replaced by a 500 rather than sent.
 */
#ifndef AF_CORE_HTTP_SERVER_H
#define AF_CORE_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "engine/generation.h"

struct af_buf;

struct af_server_opts {
    const char *host;         /* address to bind; NULL: "127.0.0.1"        */
    int port;                 /* 0: an ephemeral port (see port_file)      */
    int workers;              /* 0: one per online CPU                     */
    size_t max_body;          /* request body limit; 0: 64 KiB             */
    const char *port_file;    /* if set, the bound port is written there
                                 (atomically, "PORT\n") once listening     */
    const struct af_gen_config *gen; /* what to serve (borrowed)           */
    unsigned max_connections; /* per worker; 0: 1024                       */
    double drain_timeout_s;   /* 0: 5 s                                    */
    int idle_timeout_s;       /* keep-alive / read / write timeout; 0: 30 s */
    size_t arena_limit;       /* per-request memory limit; 0: 64 MiB       */
    int quiet;                /* no banner on stdout                       */
    size_t max_response;      /* response body limit; 0: 1 MiB             */

    /* Control-plane hooks (core/admin); all may be NULL.  They run on the
     * serving thread (on_sighup) or a worker (metrics_hook, with the
     * generations that worker pins; must not block). */
    void (*on_sighup)(void *arg);
    void (*metrics_hook)(void *arg, const af_generation *stable,
                         const af_generation *canary, struct af_buf *out);
    void *hook_arg;
};

typedef struct af_server af_server;

/*
 * Build the generation from opts->gen, bind and listen, prepare the workers
 * (not started).  `o` and the strings it points to are borrowed until
 * af_server_destroy.  Returns NULL with the reason in err.
 */
af_server *af_server_create(const struct af_server_opts *o, char *err,
                            size_t errlen);

/* The port actually bound (useful with port 0). */
int af_server_port(const af_server *s);

/*
 * Start the workers and serve until SIGTERM/SIGINT or af_server_stop, then
 * drain.  The calling thread blocks SIGTERM, SIGINT and (in the workers)
 * SIGPIPE while serving and restores its signal mask before returning.
 * Returns 0 after a clean drain (even if requests had to be abandoned at the
 * drain timeout: they are logged), or a negative AF_E* when the workers could
 * not start.  Call at most once per server.
 */
int af_server_serve(af_server *s);

/* Ask a serving server to stop and drain.  Thread-safe and
 * async-signal-safe. */
void af_server_stop(af_server *s);

/*
 * Make `g` the generation new requests use.  Takes over the caller's
 * reference to g; the previous generation is released (and destroyed once
 * no worker pins it any more).  Thread-safe.  Returns 0.
 */
int af_server_publish(af_server *s, af_generation *g);

/*
 * Make `g` the canary generation (NULL: no canary), served to requests
 * labelled "canary" and to share_ppm / 1,000,000 of users.  Takes over the
 * caller's reference.  Thread-safe.  Returns 0.
 */
int af_server_publish_canary(af_server *s, af_generation *g,
                             uint32_t share_ppm);

/* A new reference to the stable generation (the caller unrefs it). */
af_generation *af_server_current(af_server *s);

/* Generations replaced but still pinned by a worker (for tests/metrics). */
unsigned af_server_retired_count(af_server *s);

/* Release everything (after af_server_serve returned, or instead of it). */
void af_server_destroy(af_server *s);

/* create + serve + destroy; prints the banner unless o->quiet.
 * Returns 0 on a clean shutdown, 1 when the server could not start. */
int af_server_run(const struct af_server_opts *o);

#endif
