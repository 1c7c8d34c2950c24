/*
 * worker.c -- one serving thread: its event loop, its evhttp, the
 * connections it accepted, its pinned generation and its drain.
 *
 * Every worker accepts from the same listening socket.  We chose one shared
 * socket over one SO_REUSEPORT socket per worker because the kernel then
 * hands a new connection to whichever worker is waiting in epoll -- an idle
 * one -- while SO_REUSEPORT hashes connections to workers regardless of how
 * busy they are (a worker stuck in a slow request would keep receiving new
 * connections).  The cost, several workers woken for one connection, is
 * small at a handful of workers.  It also keeps one bind for --port 0.
 *
 * Each event base is created with EVENT_BASE_FLAG_NOLOCK: only its own
 * thread touches it, and other threads reach a worker through its eventfd,
 * so the loop takes no lock at all.
 */
#include "http/server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "adfunnel/af_errno.h"
#include "http/codec.h"
#include "util/log.h"

#define PAUSE_FULL 1   /* at the connection cap            */
#define PAUSE_EMFILE 2 /* accept() out of file descriptors */
#define DRAIN_TICK_US 10000
#define DRAIN_SETTLE_NS 100000000ull /* quiet time before a drained exit */
#define ARENA_BLOCK (1u << 20)

/* --- ## Accepting ------------------------------------------------------- */

static void
resume_accept(struct af_worker *w)
{
    if (!w->draining && !w->accept_paused && w->listener)
        evconnlistener_enable(w->listener);
}

static void
pause_accept(struct af_worker *w, int why)
{
    w->accept_paused |= why;
    if (w->listener)
        evconnlistener_disable(w->listener);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct af_worker *w = arg;
    w->accept_paused &= ~PAUSE_EMFILE;
    resume_accept(w);
}

/* accept() failed for a reason other than "try again": most likely out of
 * descriptors.  The listening socket stays readable, so without a pause the
 * loop would spin; wait for connections to close instead. */
static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
    struct af_worker *w = arg;
    int e = EVUTIL_SOCKET_ERROR();
    af_log(AF_LOG_LEVEL_WARN, "http",
           "worker %u: accept failed (%s); pausing accepts for 100 ms",
           w->index, evutil_socket_error_to_string(e));
    pause_accept(w, PAUSE_EMFILE);
    struct timeval tv = {0, 100000};
    evtimer_add(w->resume_ev, &tv);
}

/* --- ## Connections and in-flight requests ------------------------------ */

static void
on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct af_worker *w = arg;
    /* A reply still pending here was cut off (client gone, write error):
     * libevent frees such a request without its completion callback. */
    uint32_t pending = af_conntab_remove(&w->conns, evcon);
    w->in_flight -= pending < w->in_flight ? pending : w->in_flight;
    atomic_store_explicit(&w->open_conns, (uint32_t)w->conns.count,
                          memory_order_relaxed);
    if ((w->accept_paused & PAUSE_FULL) && w->conns.count < w->conns.max) {
        w->accept_paused &= ~PAUSE_FULL;
        resume_accept(w);
    }
}

static void
on_reply_done(struct evhttp_request *req, void *arg)
{
    struct af_worker *w = arg;
    struct af_conn *c =
        af_conntab_find(&w->conns, evhttp_request_get_connection(req));
    if (!c || c->pending == 0)
        return;
    c->pending--;
    if (w->in_flight)
        w->in_flight--;
    if (w->draining)
        atomic_store_explicit(
            &w->drained,
            atomic_load_explicit(&w->drained, memory_order_relaxed) + 1,
            memory_order_relaxed);
}

int
af_worker_admit(struct af_worker *w, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct af_conn *c = af_conntab_find(&w->conns, evcon);
    if (!c) {
        c = af_conntab_add(&w->conns, evcon);
        if (!c) {
            atomic_store_explicit(
                &w->rejected,
                atomic_load_explicit(&w->rejected, memory_order_relaxed) + 1,
                memory_order_relaxed);
            pause_accept(w, PAUSE_FULL);
            return -1;
        }
        atomic_store_explicit(&w->open_conns, (uint32_t)w->conns.count,
                              memory_order_relaxed);
        if (w->conns.count >= w->conns.max)
            pause_accept(w, PAUSE_FULL);
    }
    /* Set on every request, not only the first: two stores, and an entry
     * can then never outlive its connection unnoticed. */
    evhttp_connection_set_closecb(evcon, on_conn_close, w);
    c->pending++;
    w->in_flight++;
    w->last_dispatch_ns = af_server_now_ns();
    evhttp_request_set_on_complete_cb(req, on_reply_done, w);
    return 0;
}

/* --- ## Generations ----------------------------------------------------- */

void
af_worker_repin(struct af_worker *w)
{
    struct af_server *s = w->srv;
    if (atomic_load_explicit(&s->gen_seq, memory_order_acquire) == w->gen_seq &&
        w->gen)
        return;
    pthread_mutex_lock(&s->gen_lock);
    af_generation *g = s->gen, *canary = s->canary;
    af_generation_ref(g);
    if (canary)
        af_generation_ref(canary);
    w->canary_ppm = s->canary_ppm;
    uint64_t seq = atomic_load_explicit(&s->gen_seq, memory_order_relaxed);
    pthread_mutex_unlock(&s->gen_lock);
    af_generation *old = w->gen, *old_canary = w->canary;
    w->gen = g;
    w->canary = canary;
    w->gen_seq = seq;
    /* Outside the lock.  The server's retired list keeps replaced
     * generations alive, so these are not the last references (the serving
     * thread destroys them) -- except at shutdown. */
    if (old)
        af_generation_unref(old);
    if (old_canary)
        af_generation_unref(old_canary);
}

/* --- ## Drain ----------------------------------------------------------- */

static void
on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct af_worker *w = arg;
    uint64_t now = af_server_now_ns();
    if (w->in_flight == 0 && now - w->last_dispatch_ns >= DRAIN_SETTLE_NS) {
        event_base_loopexit(w->base, NULL);
    } else if (now >= w->drain_deadline_ns) {
        atomic_store_explicit(&w->abandoned, w->in_flight,
                              memory_order_relaxed);
        event_base_loopexit(w->base, NULL);
    }
}

static void
begin_drain(struct af_worker *w)
{
    w->draining = 1;
    if (w->listener)
        evconnlistener_disable(w->listener);
    event_del(w->resume_ev);
    atomic_store_explicit(&w->accept_stopped, 1, memory_order_release);
    uint64_t now = af_server_now_ns();
    w->drain_deadline_ns = now + (uint64_t)(w->srv->drain_timeout_s * 1e9);
    /* Requests whose bytes are already on the wire get the settle time to
     * arrive before the worker may call itself idle. */
    w->last_dispatch_ns = now;
    struct timeval tv = {0, DRAIN_TICK_US};
    event_add(w->drain_ev, &tv);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct af_worker *w = arg;
    uint64_t v;
    while (read(w->wake_fd, &v, sizeof v) > 0)
        ;
    af_worker_repin(w);
    if (!w->draining &&
        atomic_load_explicit(&w->srv->stop_requested, memory_order_acquire))
        begin_drain(w);
}

/* An idle worker would otherwise hold an old generation until its next
 * request. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    af_worker_repin(arg);
}

void
af_worker_notify(struct af_worker *w)
{
    uint64_t one = 1;
    /* A full counter (EAGAIN) already means "woken". */
    ssize_t n = write(w->wake_fd, &one, sizeof one);
    (void)n;
}

/* --- ## Lifetime -------------------------------------------------------- */

static int
fail(char *err, size_t errlen, int code, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return code;
}

static int
setup_http(struct af_worker *w, char *err, size_t errlen)
{
    struct af_server *s = w->srv;
    w->http = evhttp_new(w->base);
    if (!w->http)
        return fail(err, errlen, AF_ENOMEM, "evhttp_new failed");
    evhttp_set_gencb(w->http, af_http_dispatch, w);
    /* Every method reaches the dispatcher, which answers 405 itself. */
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS |
                                            EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(w->http, (ev_ssize_t)s->max_body);
    evhttp_set_max_headers_size(w->http, 16384);
    evhttp_set_timeout(w->http, s->idle_timeout_s);
    /* Read (and discard) the rest of an oversized body before closing, so
     * the client sees the 413 instead of a connection reset. */
    evhttp_set_flags(w->http, EVHTTP_SERVER_LINGERING_CLOSE);
    w->listener = evconnlistener_new(w->base, NULL, NULL,
                                     LEV_OPT_CLOSE_ON_EXEC, 0,
                                     s->listen_fd[w->index]);
    if (!w->listener)
        return fail(err, errlen, AF_EIO, "cannot listen on the socket");
    if (!evhttp_bind_listener(w->http, w->listener)) {
        evconnlistener_free(w->listener);
        w->listener = NULL;
        return fail(err, errlen, AF_ENOMEM, "evhttp_bind_listener failed");
    }
    evconnlistener_set_error_cb(w->listener, on_accept_error);
    return AF_OK;
}

static int
setup_events(struct af_worker *w, char *err, size_t errlen)
{
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0)
        return fail(err, errlen, AF_EIO, strerror(errno));
    w->wake_ev = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST, on_wake,
                           w);
    w->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
    w->drain_ev = event_new(w->base, -1, EV_PERSIST, on_drain_tick, w);
    w->resume_ev = evtimer_new(w->base, on_resume, w);
    if (!w->wake_ev || !w->tick_ev || !w->drain_ev || !w->resume_ev)
        return fail(err, errlen, AF_ENOMEM, "event_new failed");
    struct timeval sec = {1, 0};
    event_add(w->wake_ev, NULL);
    event_add(w->tick_ev, &sec);
    return AF_OK;
}

static int
setup_memory(struct af_worker *w, char *err, size_t errlen)
{
    struct af_server *s = w->srv;
    w->arena = af_arena_create(ARENA_BLOCK, s->arena_limit);
    w->pb_cap = af_pb_rank_max_size() > af_pb_error_max_size()
                    ? af_pb_rank_max_size()
                    : af_pb_error_max_size();
    w->pb = malloc(w->pb_cap);
    w->metrics = af_metrics_shard_of(s->metrics, w->index);
    if (!w->arena || !w->pb || !w->metrics ||
        af_conntab_init(&w->conns, s->max_conns) != AF_OK)
        return fail(err, errlen, AF_ENOMEM, "out of memory");
    af_buf_init(&w->text);
    return AF_OK;
}

int
af_worker_init(struct af_worker *w, struct af_server *s, unsigned index,
               char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->srv = s;
    w->index = index;
    w->wake_fd = -1;
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return fail(err, errlen, AF_ENOMEM, "out of memory");
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!w->base)
        return fail(err, errlen, AF_EIO, "cannot create an event base");
    int rc = setup_http(w, err, errlen);
    if (rc == AF_OK)
        rc = setup_events(w, err, errlen);
    if (rc == AF_OK)
        rc = setup_memory(w, err, errlen);
    if (rc == AF_OK)
        af_worker_repin(w);
    return rc;
}

static void *
worker_main(void *arg)
{
    struct af_worker *w = arg;
    af_json_use_arena(w->arena);
    event_base_dispatch(w->base);
    af_json_use_arena(NULL);
    atomic_store_explicit(&w->accept_stopped, 1, memory_order_release);
    atomic_store_explicit(&w->exited, 1, memory_order_release);
    return NULL;
}

int
af_worker_start(struct af_worker *w)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return AF_EIO;
    w->started = 1;
    return AF_OK;
}

void
af_worker_join(struct af_worker *w)
{
    if (w->started) {
        pthread_join(w->thread, NULL);
        w->started = 0;
    }
}

void
af_worker_destroy(struct af_worker *w)
{
    /* Connections closed by evhttp_free call on_conn_close: it must not
     * re-enable the listener that evhttp_free has already freed. */
    w->draining = 1;
    if (w->http)
        evhttp_free(w->http); /* frees the bound listener too */
    w->listener = NULL;
    struct event *evs[] = {w->wake_ev, w->tick_ev, w->drain_ev, w->resume_ev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    if (w->base)
        event_base_free(w->base);
    af_arena_destroy(w->arena);
    free(w->pb);
    af_buf_free(&w->text);
    af_conntab_free(&w->conns);
    if (w->gen)
        af_generation_unref(w->gen);
    if (w->canary)
        af_generation_unref(w->canary);
    memset(w, 0, sizeof *w);
    w->wake_fd = -1;
}
