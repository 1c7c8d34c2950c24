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
 * Back-pressure.  Bodies above max_body get 413 (libevent's own HTML page)
 * without being buffered: the rest of the body is read and discarded so the
 * client sees the 413 rather than a reset; headers are capped at 16 KiB;
 * idle and slow connections time out; each worker tracks
 * at most max_connections connections: at the cap it stops accepting (the
 * kernel backlog, then the clients, absorb the excess) and a connection it
 * had already accepted is answered 503 with "Connection: close".  When
 * accept() runs out of descriptors the worker pauses accepting for 100 ms
 * instead of spinning.
 */
#ifndef AF_CORE_HTTP_SERVER_H
#define AF_CORE_HTTP_SERVER_H

#include <stddef.h>
#include "engine/generation.h"

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

/* Release everything (after af_server_serve returned, or instead of it). */
void af_server_destroy(af_server *s);

/* create + serve + destroy; prints the banner unless o->quiet.
 * Returns 0 on a clean shutdown, 1 when the server could not start. */
int af_server_run(const struct af_server_opts *o);

#endif
