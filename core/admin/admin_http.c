/*
 * admin_http.c -- the admin API listener (see admin_http.h).
 *
 * One thread, one event base, requests handled one at a time: a change is
 * a build of a whole generation, and serialising them is what we want.  The
 * thread runs at a lower CPU priority (nice +10) so that a build competes
 * as little as possible with the serving workers for the cores (nice
 * value from the options; serve's default is 10).
 */
#include "admin/admin_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "adfunnel/af_errno.h"
#include "admin/audit.h"
#include "admin/token.h"
#include "util/listener.h"
#include "util/log.h"

#define DEFAULT_MAX_BODY (64u * 1024)
#define ADMIN_TIMEOUT_S 30

struct af_admin_server {
    af_control *control;
    af_tokens *tokens;
    int fd;
    int port;
    struct event_base *base;
    struct evhttp *http;
    int stop_fd;
    struct event *stop_ev;
    pthread_t thread;
    int started;
    int nice;
};

/* --- ## Addresses --- */

static int
is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

int
af_admin_host_is_loopback(const char *host, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, "0", &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host,
                 gai_strerror(gai));
        return -1;
    }
    int all = res != NULL;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        all &= is_loopback(ai->ai_addr);
    freeaddrinfo(res);
    return all;
}

static int
bind_admin(af_admin_server *a, const char *host, int port, char *err,
           size_t errlen)
{
    char why[512];
    a->fd = af_listen_tcp(host, port, 64, 0, &a->port, why, sizeof why);
    if (a->fd < 0)
        snprintf(err, errlen, "admin: %s", why);
    return a->fd < 0 ? -1 : 0;
}

/* --- ## Replies --- */

static void
reply_json(struct evhttp_request *req, int status, json_t *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    char *text = body ? json_dumps(body, JSON_INDENT(2)) : NULL;
    if (text) {
        evbuffer_add(evhttp_request_get_output_buffer(req), text,
                     strlen(text));
        evbuffer_add(evhttp_request_get_output_buffer(req), "\n", 1);
    } else {
        evbuffer_add_printf(evhttp_request_get_output_buffer(req),
                            "{\"error\": \"out of memory\"}\n");
        status = 500;
    }
    free(text);
    json_decref(body);
    evhttp_send_reply(req, status, NULL, NULL);
}

static void
reply_error(struct evhttp_request *req, int status, const char *msg)
{
    reply_json(req, status, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

/* --- ## Authentication --- */

/* The token id of the request's bearer token, or NULL. */
static const char *
authenticate(af_admin_server *a, struct evhttp_request *req)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    size_t n = strlen(tok);
    while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
        n--;
    return af_tokens_check(a->tokens, tok, n);
}

static void
peer_of(struct evhttp_request *req, char *out, size_t n)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (evcon)
        evhttp_connection_get_peer(evcon, &addr, &port);
    snprintf(out, n, "%s:%u", addr ? addr : "?", (unsigned)port);
}

/* --- ## Request bodies --- */

/* The JSON object of the body ({} when empty), keys checked against
 * `allowed`.  NULL after answering 400. */
static json_t *
body_object(struct evhttp_request *req, const char *const *allowed)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_t *j;
    if (len == 0) {
        j = json_object();
    } else {
        json_error_t je;
        const char *body = (const char *)evbuffer_pullup(in, -1);
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
        if (!j) {
            char msg[300];
            snprintf(msg, sizeof msg, "invalid JSON at line %d column %d: %s",
                     je.line, je.column, je.text);
            reply_error(req, 400, msg);
            return NULL;
        }
    }
    if (!json_is_object(j)) {
        json_decref(j);
        reply_error(req, 400, "the body must be a JSON object");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        int ok = 0;
        for (const char *const *k = allowed; *k; k++)
            ok |= strcmp(key, *k) == 0;
        if (!ok) {
            char msg[400], list[160] = "";
            size_t n = 0;
            for (const char *const *k = allowed; *k && n < sizeof list; k++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s",
                                      n ? ", " : "", *k);
            snprintf(msg, sizeof msg, "unknown key \"%.40s\" (keys: %s)", key,
                     n ? list : "none");
            json_decref(j);
            reply_error(req, 400, msg);
            return NULL;
        }
    }
    return j;
}

/* A string member: its value (borrowed), NULL when absent or null.  Sets
 * *bad when it is present with another type. */
static const char *
get_str(json_t *j, const char *key, int *bad)
{
    json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

/* "label" and "share": publish as canary or stable.  -1 after a 400. */
static int
get_label(struct evhttp_request *req, json_t *j, struct af_admin_request *rq)
{
    int bad = 0;
    const char *label = get_str(j, "label", &bad);
    json_t *share = json_object_get(j, "share");
    if (bad || (label && strcmp(label, "stable") && strcmp(label, "canary"))) {
        reply_error(req, 400, "label must be \"stable\" or \"canary\"");
        return -1;
    }
    rq->canary = label && !strcmp(label, "canary");
    rq->share = -1;
    if (share) {
        if (!json_is_number(share) || !rq->canary ||
            !(json_number_value(share) >= 0 && json_number_value(share) <= 1)) {
            reply_error(req, 400, "share is a number in [0, 1], given with "
                                  "label \"canary\"");
            return -1;
        }
        rq->share = json_number_value(share);
    }
    return 0;
}

/* --- ## Routes --- */

struct ctx {
    af_admin_server *a;
    struct evhttp_request *req;
    const char *who;
    const char *peer;
};

static void
run_change(struct ctx *x, struct af_admin_request *rq)
{
    rq->who = x->who;
    rq->peer = x->peer;
    struct af_admin_result res;
    af_control_apply(x->a->control, rq, &res);
    json_t *out = json_pack(
        "{s:b, s:s, s:I, s:I, s:s, s:f, s:f, s:i, s:i, s:s}", "ok",
        res.status == 200, "action", af_admin_action_name(rq->action),
        "generation", (json_int_t)res.generation, "previous",
        (json_int_t)res.previous, "label", res.label ? res.label : "stable",
        "build_ms", res.build_ms, "warmup_ms", res.warmup_ms, "instances",
        (int)res.instances, "instances_kept", (int)res.shared,
        res.status == 200 ? "message" : "error", res.message);
    reply_json(x->req, res.status, out);
}

static void
route_plugin(struct ctx *x, enum af_admin_action action)
{
    static const char *const keys_load[] = {"path", "label", "share", NULL};
    static const char *const keys_name[] = {"name", "label", "share", NULL};
    json_t *j = body_object(x->req, action == AF_ADMIN_PLUGIN_LOAD ? keys_load
                                                                    : keys_name);
    if (!j)
        return;
    struct af_admin_request rq = {.action = action};
    int bad = 0;
    if (action == AF_ADMIN_PLUGIN_LOAD) {
        rq.change.kind = AF_GEN_LOAD_PLUGIN;
        rq.change.path = get_str(j, "path", &bad);
    } else {
        rq.change.kind = action == AF_ADMIN_PLUGIN_RELOAD
                             ? AF_GEN_RELOAD_PLUGIN
                             : AF_GEN_UNLOAD_PLUGIN;
        rq.change.name = get_str(j, "name", &bad);
    }
    if (bad || (!rq.change.path && !rq.change.name))
        reply_error(x->req, 400, action == AF_ADMIN_PLUGIN_LOAD
                                     ? "\"path\" (a string) is required"
                                     : "\"name\" (a string) is required");
    else if (get_label(x->req, j, &rq) == 0)
        run_change(x, &rq);
    json_decref(j);
}

static void
route_pipelines(struct ctx *x)
{
    static const char *const keys[] = {"surface", "label", "share", NULL};
    json_t *j = body_object(x->req, keys);
    if (!j)
        return;
    struct af_admin_request rq = {.action = AF_ADMIN_PIPELINE_RELOAD};
    int bad = 0;
    rq.change.kind = AF_GEN_RELOAD_PIPELINES;
    rq.change.surface = get_str(j, "surface", &bad);
    if (bad)
        reply_error(x->req, 400, "\"surface\" must be a string");
    else if (get_label(x->req, j, &rq) == 0)
        run_change(x, &rq);
    json_decref(j);
}

static void
route_deploy(struct ctx *x)
{
    static const char *const keys[] = {"surface", "stage", "arm", "model",
                                       "label", "share", NULL};
    json_t *j = body_object(x->req, keys);
    if (!j)
        return;
    struct af_admin_request rq = {.action = AF_ADMIN_MODEL_DEPLOY};
    int bad = 0;
    rq.change.kind = AF_GEN_DEPLOY_MODEL;
    rq.change.surface = get_str(j, "surface", &bad);
    rq.change.stage = get_str(j, "stage", &bad);
    rq.change.arm = get_str(j, "arm", &bad);
    rq.change.path = get_str(j, "model", &bad);
    json_t *model = json_object_get(j, "model");
    if (bad || !rq.change.surface || !model)
        reply_error(x->req, 400, "deploy needs \"surface\" and \"model\" (a "
                                 "model file, or null for the pipeline's "
                                 "own); \"stage\" and \"arm\" are strings");
    else if (get_label(x->req, j, &rq) == 0)
        run_change(x, &rq);
    json_decref(j);
}

static void
route_simple(struct ctx *x, enum af_admin_action action)
{
    static const char *const none[] = {NULL};
    static const char *const share[] = {"share", NULL};
    json_t *j = body_object(x->req, action == AF_ADMIN_CANARY_SHARE ? share
                                                                     : none);
    if (!j)
        return;
    struct af_admin_request rq = {.action = action, .share = -1};
    if (action == AF_ADMIN_CANARY_SHARE) {
        json_t *s = json_object_get(j, "share");
        if (!json_is_number(s)) {
            reply_error(x->req, 400, "\"share\" (a number in [0, 1]) is "
                                     "required");
            json_decref(j);
            return;
        }
        rq.share = json_number_value(s);
    }
    run_change(x, &rq);
    json_decref(j);
}

static unsigned
query_limit(struct evhttp_request *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    unsigned limit = 50;
    struct evkeyvalq params;
    if (q && evhttp_parse_query_str(q, &params) == 0) {
        const char *v = evhttp_find_header(&params, "limit");
        if (v) {
            long n = strtol(v, NULL, 10);
            limit = n > 0 && n <= AF_AUDIT_KEEP ? (unsigned)n : AF_AUDIT_KEEP;
        }
        evhttp_clear_headers(&params);
    }
    return limit;
}

struct route {
    const char *path;
    enum evhttp_cmd_type method;
    int action; /* enum af_admin_action, or -1 for a view */
};

static const struct route routes[] = {
    {"/admin/plugins", EVHTTP_REQ_GET, -1},
    {"/admin/plugins/load", EVHTTP_REQ_POST, AF_ADMIN_PLUGIN_LOAD},
    {"/admin/plugins/reload", EVHTTP_REQ_POST, AF_ADMIN_PLUGIN_RELOAD},
    {"/admin/plugins/unload", EVHTTP_REQ_POST, AF_ADMIN_PLUGIN_UNLOAD},
    {"/admin/pipelines/reload", EVHTTP_REQ_POST, AF_ADMIN_PIPELINE_RELOAD},
    {"/admin/models/deploy", EVHTTP_REQ_POST, AF_ADMIN_MODEL_DEPLOY},
    {"/admin/versions", EVHTTP_REQ_GET, -1},
    {"/admin/rollback", EVHTTP_REQ_POST, AF_ADMIN_ROLLBACK},
    {"/admin/canary/promote", EVHTTP_REQ_POST, AF_ADMIN_PROMOTE},
    {"/admin/canary/drop", EVHTTP_REQ_POST, AF_ADMIN_CANARY_DROP},
    {"/admin/canary/share", EVHTTP_REQ_POST, AF_ADMIN_CANARY_SHARE},
    {"/admin/audit", EVHTTP_REQ_GET, -1},
};

static void
dispatch(struct ctx *x, const struct route *r)
{
    switch (r->action) {
    case AF_ADMIN_PLUGIN_LOAD:
    case AF_ADMIN_PLUGIN_RELOAD:
    case AF_ADMIN_PLUGIN_UNLOAD:
        route_plugin(x, (enum af_admin_action)r->action);
        return;
    case AF_ADMIN_PIPELINE_RELOAD:
        route_pipelines(x);
        return;
    case AF_ADMIN_MODEL_DEPLOY:
        route_deploy(x);
        return;
    case AF_ADMIN_ROLLBACK:
    case AF_ADMIN_PROMOTE:
    case AF_ADMIN_CANARY_DROP:
    case AF_ADMIN_CANARY_SHARE:
        route_simple(x, (enum af_admin_action)r->action);
        return;
    }
    if (!strcmp(r->path, "/admin/plugins"))
        reply_json(x->req, 200, af_control_plugins_json(x->a->control));
    else if (!strcmp(r->path, "/admin/versions"))
        reply_json(x->req, 200, af_control_versions_json(x->a->control));
    else
        reply_json(x->req, 200,
                   json_pack("{s:o}", "entries",
                             af_control_audit_json(x->a->control,
                                                   query_limit(x->req))));
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    af_admin_server *a = arg;
    char peer[80];
    peer_of(req, peer, sizeof peer);
    const char *who = authenticate(a, req);
    if (!who) {
        af_control_auth_failure(a->control);
        af_log(AF_LOG_LEVEL_WARN, "admin", "401 for %s: missing or invalid "
               "bearer token", peer);
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "WWW-Authenticate", "Bearer realm=\"adfunnel-admin\"");
        reply_error(req, 401, "a valid bearer token is required "
                              "(Authorization: Bearer <token>)");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    struct ctx x = {a, req, who, peer};
    for (size_t i = 0; path && i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(path, routes[i].path) != 0)
            continue;
        if (m != routes[i].method) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                              routes[i].method == EVHTTP_REQ_GET ? "GET"
                                                                 : "POST");
            reply_error(req, 405, "method not allowed");
            return;
        }
        dispatch(&x, &routes[i]);
        return;
    }
    char msg[300];
    snprintf(msg, sizeof msg, "no admin route %.200s (see GET /admin/plugins, "
             "/admin/versions, /admin/audit)", path ? path : "");
    reply_error(req, 404, msg);
}

/* --- ## Thread and lifetime --- */

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
    af_admin_server *a = arg;
    event_base_loopbreak(a->base);
}

static void *
admin_main(void *arg)
{
    af_admin_server *a = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    /* Linux nice values are per thread: only the admin thread yields. */
    if (a->nice > 0)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), a->nice);
    event_base_dispatch(a->base);
    return NULL;
}

static void
destroy(af_admin_server *a)
{
    if (a->http)
        evhttp_free(a->http);
    if (a->stop_ev)
        event_free(a->stop_ev);
    if (a->base)
        event_base_free(a->base);
    if (a->stop_fd >= 0)
        close(a->stop_fd);
    if (a->fd >= 0)
        close(a->fd);
    af_tokens_free(a->tokens);
    free(a);
}

static int
setup_events(af_admin_server *a, const struct af_admin_opts *o, char *err,
             size_t errlen)
{
    a->base = event_base_new();
    a->http = a->base ? evhttp_new(a->base) : NULL;
    a->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!a->http || a->stop_fd < 0) {
        snprintf(err, errlen, "admin: cannot set up the event loop");
        return -1;
    }
    a->stop_ev = event_new(a->base, a->stop_fd, EV_READ, on_stop, a);
    if (!a->stop_ev || event_add(a->stop_ev, NULL) != 0) {
        snprintf(err, errlen, "admin: cannot set up the event loop");
        return -1;
    }
    evhttp_set_gencb(a->http, on_request, a);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_HEAD);
    evhttp_set_max_body_size(a->http,
                             (ev_ssize_t)(o->max_body ? o->max_body
                                                      : DEFAULT_MAX_BODY));
    evhttp_set_max_headers_size(a->http, 16384);
    evhttp_set_timeout(a->http, ADMIN_TIMEOUT_S);
    if (evhttp_accept_socket(a->http, a->fd) != 0) {
        snprintf(err, errlen, "admin: cannot accept on the socket");
        return -1;
    }
    a->fd = -1; /* owned by evhttp now */
    return 0;
}

af_admin_server *
af_admin_server_start(const struct af_admin_opts *o, af_control *c, char *err,
                      size_t errlen)
{
    const char *host = o->host && *o->host ? o->host : "127.0.0.1";
    if (!o->token_file || !*o->token_file) {
        snprintf(err, errlen, "admin: a token file is required "
                 "(--admin-token-file)");
        return NULL;
    }
    int lo = af_admin_host_is_loopback(host, err, errlen);
    if (lo < 0)
        return NULL;
    if (!lo && !o->allow_remote) {
        snprintf(err, errlen, "admin: %s is not a loopback address; the admin "
                 "API listens on other addresses only with "
                 "--admin-allow-remote", host);
        return NULL;
    }
    af_admin_server *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->control = c;
    a->fd = a->stop_fd = -1;
    a->nice = o->nice < 0 ? 0 : o->nice > 19 ? 19 : o->nice;
    if (!(a->tokens = af_tokens_load(o->token_file, err, errlen)) ||
        bind_admin(a, host, o->port, err, errlen) != 0 ||
        setup_events(a, o, err, errlen) != 0) {
        destroy(a);
        return NULL;
    }
    if (o->port_file && af_port_file_write(o->port_file, a->port) != 0) {
        snprintf(err, errlen, "admin: cannot write %s: %s", o->port_file,
                 strerror(errno));
        destroy(a);
        return NULL;
    }
    if (pthread_create(&a->thread, NULL, admin_main, a) != 0) {
        snprintf(err, errlen, "admin: cannot start the thread");
        destroy(a);
        return NULL;
    }
    a->started = 1;
    if (!lo)
        af_log(AF_LOG_LEVEL_WARN, "admin", "admin API on non-loopback %s:%d "
               "(--admin-allow-remote)", host, a->port);
    af_log(AF_LOG_LEVEL_INFO, "admin", "admin API on http://%s:%d/admin/",
           host, a->port);
    return a;
}

int
af_admin_server_port(const af_admin_server *a)
{
    return a->port;
}

void
af_admin_server_stop(af_admin_server *a)
{
    if (!a)
        return;
    if (a->started) {
        uint64_t one = 1;
        ssize_t n = write(a->stop_fd, &one, sizeof one);
        (void)n;
        pthread_join(a->thread, NULL);
    }
    destroy(a);
}
