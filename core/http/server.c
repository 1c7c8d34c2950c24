/*
 * server.c -- the server's lifecycle: build the generation, bind, start the
 * workers, wait for a stop, drain, and publish new generations.
 */
#include "http/server.h"

#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "adfunnel/af_errno.h"
#include "http/codec.h"
#include "http/server_int.h"
#include "util/listener.h"
#include "util/log.h"

#define DEFAULT_MAX_BODY (64u * 1024)
#define DEFAULT_MAX_CONNS 1024
#define DEFAULT_DRAIN_S 5.0
#define DEFAULT_IDLE_S 30
#define DEFAULT_ARENA_LIMIT ((size_t)64 << 20)
#define DEFAULT_MAX_RESPONSE ((size_t)1 << 20)
#define LISTEN_BACKLOG 1024
#define WAIT_TICK_NS 100000000L

uint64_t
af_server_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- ## Listening socket ------------------------------------------------ */

/* Worker 0's socket picks the port (an ephemeral one for port 0); the
 * others join it. */
static int
open_listeners(af_server *s, int port, char *err, size_t errlen)
{
    int reuse = s->n_workers > 1;
    for (unsigned i = 0; i < s->n_workers; i++) {
        int p = i == 0 ? port : s->port;
        s->listen_fd[i] = af_listen_tcp(s->host, p, LISTEN_BACKLOG, reuse,
                                        &s->port, err, errlen);
        if (s->listen_fd[i] < 0)
            return AF_EIO;
    }
    return AF_OK;
}

static void
close_listeners(af_server *s)
{
    for (unsigned i = 0; i < MAX_WORKERS; i++) {
        if (s->listen_fd[i] >= 0)
            close(s->listen_fd[i]);
        s->listen_fd[i] = -1;
    }
}

/* --- ## Creation -------------------------------------------------------- */

static void
apply_defaults(af_server *s, const struct af_server_opts *o)
{
    snprintf(s->host, sizeof s->host, "%s", o->host ? o->host : "127.0.0.1");
    s->max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
    s->max_conns = o->max_connections ? o->max_connections : DEFAULT_MAX_CONNS;
    s->drain_timeout_s = o->drain_timeout_s > 0 ? o->drain_timeout_s
                                                : DEFAULT_DRAIN_S;
    s->idle_timeout_s = o->idle_timeout_s > 0 ? o->idle_timeout_s
                                              : DEFAULT_IDLE_S;
    s->arena_limit = o->arena_limit ? o->arena_limit : DEFAULT_ARENA_LIMIT;
    s->max_response = o->max_response ? o->max_response : DEFAULT_MAX_RESPONSE;
    long n = o->workers > 0 ? o->workers : sysconf(_SC_NPROCESSORS_ONLN);
    s->n_workers = (unsigned)(n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : n);
}

static int
create_workers(af_server *s, char *err, size_t errlen)
{
    s->metrics = af_metrics_create(s->n_workers);
    s->workers = calloc(s->n_workers, sizeof *s->workers);
    if (!s->metrics || !s->workers) {
        snprintf(err, errlen, "out of memory");
        return AF_ENOMEM;
    }
    for (unsigned i = 0; i < s->n_workers; i++)
        s->workers[i].wake_fd = -1;
    for (unsigned i = 0; i < s->n_workers; i++) {
        char why[256];
        int rc = af_worker_init(&s->workers[i], s, i, why, sizeof why);
        if (rc != AF_OK) {
            snprintf(err, errlen, "worker %u: %s", i, why);
            return rc;
        }
    }
    return AF_OK;
}

af_server *
af_server_create(const struct af_server_opts *o, char *err, size_t errlen)
{
    if (!o || !o->gen) {
        snprintf(err, errlen, "no generation configuration given");
        return NULL;
    }
    af_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->opts = o;
    for (unsigned i = 0; i < MAX_WORKERS; i++)
        s->listen_fd[i] = -1;
    pthread_mutex_init(&s->gen_lock, NULL);
    apply_defaults(s, o);
    af_json_install_allocator();
    char why[1024];
    s->gen = af_generation_build(o->gen, why, sizeof why);
    if (!s->gen) {
        snprintf(err, errlen, "%s", why);
        af_server_destroy(s);
        return NULL;
    }
    atomic_store(&s->gen_seq, 1);
    if (open_listeners(s, o->port, err, errlen) != AF_OK ||
        create_workers(s, err, errlen) != AF_OK) {
        af_server_destroy(s);
        return NULL;
    }
    return s;
}

int
af_server_port(const af_server *s)
{
    return s->port;
}

/* --- ## Serving and shutdown -------------------------------------------- */

static void
print_banner(const af_server *s)
{
    const af_generation *g = s->gen;
    char host[300], surfaces[512] = "";
    snprintf(host, sizeof host, strchr(s->host, ':') ? "[%s]" : "%s",
             s->host);
    size_t n = 0;
    uint32_t count = af_generation_surface_count(g);
    for (uint32_t i = 0; i < count && n < sizeof surfaces; i++)
        n += (size_t)snprintf(surfaces + n, sizeof surfaces - n, "%s%s",
                              i ? ", " : "", af_generation_surface_name(g, i));
    printf("adfunnel listening on http://%s:%d (%u workers, surfaces: %s)\n",
           host, s->port, s->n_workers, count ? surfaces : "none");
    printf("try: curl -s http://%s:%d/v1/rank -H 'Content-Type: "
           "application/json' -d '{\"surface\": \"%s\", \"user\": {\"id\": "
           "1}}'\n",
           host, s->port, count ? af_generation_surface_name(g, 0) : "");
    fflush(stdout);
}

static const char *
signal_name(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal";
}

/* --- ## Retired generations --------------------------------------------- */

/* Destroy the retired generations no worker pins any more (the retired list
 * holds the only reference).  Runs on the serving thread, so the cost of a
 * teardown -- freeing models, dlclose -- never lands on a request. */
static void
reap(af_server *s)
{
    af_generation *dead[64];
    unsigned n_dead = 0;
    pthread_mutex_lock(&s->gen_lock);
    for (unsigned i = 0; i < s->n_retired && n_dead < 64;) {
        if (af_generation_refs(s->retired[i]) == 1) {
            dead[n_dead++] = s->retired[i];
            s->retired[i] = s->retired[--s->n_retired];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s->gen_lock);
    for (unsigned i = 0; i < n_dead; i++)
        af_generation_unref(dead[i]);
    /* A generation frees megabytes (models, indexes); give them back to the
     * system instead of letting the heap grow with every swap. */
    if (n_dead)
        malloc_trim(0);
}

/* Put g on the retired list (lock held).  Returns g when the caller must
 * release its reference itself: the list already holds g, or cannot grow. */
static af_generation *
retire_locked(af_server *s, af_generation *g)
{
    if (!g)
        return NULL;
    /* Already there (a rollback re-published it): the list keeps one
     * reference; the caller drops this one. */
    for (unsigned i = 0; i < s->n_retired; i++)
        if (s->retired[i] == g)
            return g;
    if (s->n_retired == s->cap_retired) {
        unsigned cap = s->cap_retired ? s->cap_retired * 2 : 8;
        af_generation **nr = realloc(s->retired, cap * sizeof *nr);
        if (!nr)
            return g;
        s->retired = nr;
        s->cap_retired = cap;
    }
    s->retired[s->n_retired++] = g;
    return NULL;
}

static void
on_sighup(af_server *s)
{
    if (s->opts->on_sighup) {
        af_log(AF_LOG_LEVEL_INFO, "http", "SIGHUP: reloading pipelines");
        s->opts->on_sighup(s->opts->hook_arg);
    } else {
        af_log(AF_LOG_LEVEL_WARN, "http", "SIGHUP ignored: no reload handler");
    }
}

/* Block until a stop signal, af_server_stop, or a worker dying; reap
 * retired generations and answer SIGHUP meanwhile. */
static void
wait_for_stop(af_server *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        struct timespec tick = {0, WAIT_TICK_NS};
        int sig = sigtimedwait(&set, NULL, &tick);
        reap(s);
        if (sig == SIGHUP) {
            on_sighup(s);
            continue;
        }
        if (sig > 0) {
            af_log(AF_LOG_LEVEL_INFO, "http",
                   "%s: stopped accepting, draining in-flight requests "
                   "(timeout %.1f s)",
                   signal_name(sig), s->drain_timeout_s);
            return;
        }
        if (atomic_load(&s->stop_requested)) {
            af_log(AF_LOG_LEVEL_INFO, "http",
                   "stop requested: draining in-flight requests");
            return;
        }
        for (unsigned i = 0; i < s->n_workers; i++)
            if (atomic_load(&s->workers[i].exited)) {
                af_log(AF_LOG_LEVEL_ERROR, "http",
                       "worker %u stopped unexpectedly; shutting down", i);
                return;
            }
    }
}

/* Tell the workers to drain, refuse new connections as soon as every
 * worker has stopped accepting, and wait for them. */
static void
drain(af_server *s)
{
    atomic_store(&s->stop_requested, 1);
    for (unsigned i = 0; i < s->n_workers; i++)
        af_worker_notify(&s->workers[i]);
    uint64_t give_up = af_server_now_ns() + 1000000000ull;
    for (unsigned i = 0; i < s->n_workers; i++)
        while (!atomic_load(&s->workers[i].accept_stopped) &&
               af_server_now_ns() < give_up)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
    /* No worker polls a socket any more (their listeners are disabled),
     * so closing them here is safe, and new clients get "connection
     * refused" instead of waiting in a backlog nobody reads. */
    close_listeners(s);
    uint64_t drained = 0, abandoned = 0;
    for (unsigned i = 0; i < s->n_workers; i++) {
        af_worker_join(&s->workers[i]);
        drained += atomic_load(&s->workers[i].drained);
        abandoned += atomic_load(&s->workers[i].abandoned);
    }
    if (abandoned)
        af_log(AF_LOG_LEVEL_WARN, "http",
               "drained %llu requests; abandoned %llu at the %.1f s drain "
               "timeout",
               (unsigned long long)drained, (unsigned long long)abandoned,
               s->drain_timeout_s);
    else
        af_log(AF_LOG_LEVEL_INFO, "http", "drained %llu requests",
               (unsigned long long)drained);
}

int
af_server_serve(af_server *s)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    /* Workers inherit the mask: a write to a closed socket must return
     * EPIPE, not kill the process. */
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = AF_OK;
    for (unsigned i = 0; i < s->n_workers && rc == AF_OK; i++)
        rc = af_worker_start(&s->workers[i]);
    if (rc != AF_OK)
        af_log(AF_LOG_LEVEL_ERROR, "http", "cannot start worker threads");
    if (rc == AF_OK && s->opts->port_file &&
        af_port_file_write(s->opts->port_file, s->port) != 0) {
        af_log(AF_LOG_LEVEL_ERROR, "http", "cannot write port file %s: %s",
               s->opts->port_file, strerror(errno));
        rc = AF_EIO;
    }
    if (rc == AF_OK) {
        if (!s->opts->quiet)
            print_banner(s);
        wait_for_stop(s);
    }
    drain(s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void
af_server_stop(af_server *s)
{
    atomic_store(&s->stop_requested, 1);
}

static void
notify_all(af_server *s)
{
    /* Wake idle workers so they let go of the old generation now. */
    for (unsigned i = 0; s->workers && i < s->n_workers; i++)
        af_worker_notify(&s->workers[i]);
}

int
af_server_publish(af_server *s, af_generation *g)
{
    pthread_mutex_lock(&s->gen_lock);
    af_generation *old = s->gen;
    s->gen = g;
    atomic_fetch_add_explicit(&s->gen_seq, 1, memory_order_release);
    old = retire_locked(s, old);
    pthread_mutex_unlock(&s->gen_lock);
    notify_all(s);
    if (old)
        af_generation_unref(old);
    return AF_OK;
}

int
af_server_publish_canary(af_server *s, af_generation *g, uint32_t share_ppm)
{
    pthread_mutex_lock(&s->gen_lock);
    af_generation *old = s->canary == g ? NULL : s->canary;
    if (s->canary == g && g)
        af_generation_unref(g); /* same one: only the share changes */
    s->canary = g;
    s->canary_ppm = share_ppm > 1000000 ? 1000000 : share_ppm;
    atomic_fetch_add_explicit(&s->gen_seq, 1, memory_order_release);
    old = retire_locked(s, old);
    pthread_mutex_unlock(&s->gen_lock);
    notify_all(s);
    if (old)
        af_generation_unref(old);
    return AF_OK;
}

af_generation *
af_server_current(af_server *s)
{
    pthread_mutex_lock(&s->gen_lock);
    af_generation *g = s->gen;
    af_generation_ref(g);
    pthread_mutex_unlock(&s->gen_lock);
    return g;
}

unsigned
af_server_retired_count(af_server *s)
{
    pthread_mutex_lock(&s->gen_lock);
    unsigned n = s->n_retired;
    pthread_mutex_unlock(&s->gen_lock);
    return n;
}

void
af_server_destroy(af_server *s)
{
    if (!s)
        return;
    if (s->workers) {
        atomic_store(&s->stop_requested, 1);
        for (unsigned i = 0; i < s->n_workers; i++) {
            if (s->workers[i].started) {
                af_worker_notify(&s->workers[i]);
                af_worker_join(&s->workers[i]);
            }
            af_worker_destroy(&s->workers[i]);
        }
        free(s->workers);
    }
    close_listeners(s);
    for (unsigned i = 0; i < s->n_retired; i++)
        af_generation_unref(s->retired[i]);
    free(s->retired);
    if (s->canary)
        af_generation_unref(s->canary);
    if (s->gen)
        af_generation_unref(s->gen);
    af_metrics_free(s->metrics);
    pthread_mutex_destroy(&s->gen_lock);
    free(s);
}

int
af_server_run(const struct af_server_opts *o)
{
    char err[1024];
    af_server *s = af_server_create(o, err, sizeof err);
    if (!s) {
        af_log(AF_LOG_LEVEL_ERROR, "serve", "cannot start: %s", err);
        return 1;
    }
    int rc = af_server_serve(s);
    af_server_destroy(s);
    return rc == AF_OK ? 0 : 1;
}
