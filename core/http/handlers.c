/*
 * handlers.c -- the routes: POST /v1/rank, GET /healthz, GET /metrics.
 *
 * The request path allocates nothing of its own: the body is decoded into a
 * stack struct (jansson allocates from the worker's arena, see codec_json.c),
 * the engine works in the arena, and the reply is encoded into buffers the
 * worker reuses, then copied into libevent's output buffer.  The arena is
 * reset once the reply is queued.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "adfunnel/af_errno.h"
#include "engine/engine.h"
#include "http/codec.h"
#include "http/server_int.h"

#define PATH_RANK "/v1/rank"
#define PATH_HEALTH "/healthz"
#define PATH_METRICS "/metrics"
#define PATH_OTHER "other"
#define ROUTES "POST /v1/rank, GET /healthz, GET /metrics"

#define CT_JSON "application/json"
#define CT_PB "application/x-protobuf"
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"

enum body_fmt { FMT_NONE, FMT_JSON, FMT_PB };

/* --- ## Replies --------------------------------------------------------- */

/* A request id for replies the engine did not name: worker and sequence. */
static const char *
make_request_id(struct af_worker *w, char *buf, size_t cap)
{
    snprintf(buf, cap, "w%u-%llx", w->index,
             (unsigned long long)++w->req_seq);
    return buf;
}

static void
send_body(struct af_worker *w, struct evhttp_request *req, int status,
          const char *ctype, const void *body, size_t len,
          const char *request_id)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    if (request_id && request_id[0])
        evhttp_add_header(h, "X-Request-Id", request_id);
    if (w->draining && !evhttp_find_header(h, "Connection"))
        evhttp_add_header(h, "Connection", "close");
    evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    evhttp_send_reply(req, status, NULL, NULL);
}

/* An error in the format the client speaks: {"error": msg} or an Error
 * message. */
static void
send_error(struct af_worker *w, struct evhttp_request *req, enum body_fmt fmt,
           int status, const char *msg, const char *request_id)
{
    char idbuf[32];
    if (!request_id || !request_id[0])
        request_id = make_request_id(w, idbuf, sizeof idbuf);
    size_t len;
    if (fmt == FMT_PB &&
        af_pb_encode_error(msg, w->pb, w->pb_cap, &len) == AF_OK) {
        send_body(w, req, status, CT_PB, w->pb, len, request_id);
        return;
    }
    w->text.len = 0;
    w->text.oom = 0;
    if (af_json_encode_error(msg, &w->text) != AF_OK) {
        static const char oom[] = "{\"error\":\"out of memory\"}\n";
        send_body(w, req, 500, CT_JSON, oom, sizeof oom - 1, request_id);
        return;
    }
    send_body(w, req, status, CT_JSON, w->text.data, w->text.len, request_id);
}

static void
finish(struct af_worker *w, const char *path, const char *surface, int status,
       uint64_t t0)
{
    double secs = (double)(af_server_now_ns() - t0) / 1e9;
    af_metrics_request(w->metrics, path, surface, status, secs);
    af_arena_reset(w->arena);
}

/* --- ## POST /v1/rank --------------------------------------------------- */

static enum body_fmt
request_format(struct evhttp_request *req)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req),
                                        "Content-Type");
    if (!ct)
        return FMT_NONE;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    if (n == strlen(CT_JSON) && strncasecmp(ct, CT_JSON, n) == 0)
        return FMT_JSON;
    if ((n == strlen(CT_PB) && strncasecmp(ct, CT_PB, n) == 0) ||
        (n == strlen("application/protobuf") &&
         strncasecmp(ct, "application/protobuf", n) == 0))
        return FMT_PB;
    return FMT_NONE;
}

static void
unknown_surface(const af_generation *g, const char *surface, char *err,
                size_t errlen)
{
    int n = snprintf(err, errlen, "unknown surface \"%s\"; served surfaces:",
                     surface);
    uint32_t count = af_generation_surface_count(g);
    for (uint32_t i = 0; i < count && n > 0 && (size_t)n < errlen; i++)
        n += snprintf(err + n, errlen - (size_t)n, "%s %s", i ? "," : "",
                      af_generation_surface_name(g, i));
}

static int
status_of(int rc)
{
    switch (rc) {
    case AF_OK: return 200;
    case AF_ENOENT: return 404;
    case AF_EINVAL: return 400;
    case AF_ENOMEM: return 503;
    default: return 500;
    }
}

/* A response over the limit is not sent (bounded by construction; this
 * guards against a plugin or a schema change making it unbounded). */
static int
too_large(struct af_worker *w, struct evhttp_request *req, enum body_fmt fmt,
          size_t len, const char *id)
{
    if (len <= w->srv->max_response)
        return 0;
    char msg[160];
    snprintf(msg, sizeof msg, "response of %zu bytes exceeds the %zu-byte "
             "limit", len, w->srv->max_response);
    send_error(w, req, fmt, 500, msg, id);
    return 1;
}

/* Encode and send a ranking; returns the HTTP status sent. */
static int
send_ranking(struct af_worker *w, struct evhttp_request *req,
             enum body_fmt fmt, const struct af_rank_req *rq,
             const struct af_rank_resp *resp)
{
    char idbuf[32];
    const char *id = resp->request_id && resp->request_id[0]
                         ? resp->request_id
                         : make_request_id(w, idbuf, sizeof idbuf);
    if (fmt == FMT_PB) {
        size_t len;
        if (af_pb_encode_rank(resp, rq->explain, w->pb, w->pb_cap, &len) !=
            AF_OK) {
            send_error(w, req, fmt, 500, "cannot encode the response", id);
            return 500;
        }
        if (too_large(w, req, fmt, len, id))
            return 500;
        send_body(w, req, 200, CT_PB, w->pb, len, id);
        return 200;
    }
    w->text.len = 0;
    w->text.oom = 0;
    if (af_json_encode_rank(resp, rq->explain, &w->text) != AF_OK) {
        send_error(w, req, fmt, 500, "out of memory encoding the response",
                   id);
        return 500;
    }
    if (too_large(w, req, fmt, w->text.len, id))
        return 500;
    send_body(w, req, 200, CT_JSON, w->text.data, w->text.len, id);
    return 200;
}

/* --- ## Version labels (stable / canary) -------------------------------- */

/* Users in [0, 1e6) by a hash independent of the experiment arms' (which
 * hash with the pipeline's salt), so canary and arms do not correlate. */
static uint32_t
user_ppm(uint64_t user_id)
{
    uint64_t z = user_id + 0x63616e6172790000ull; /* "canary" */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (uint32_t)(z % 1000000u);
}

/* The generation that ranks this request: 0 and *g set, or -1 after
 * answering 400 for an unknown label. */
static int
pick_generation(struct af_worker *w, struct evhttp_request *req,
                enum body_fmt fmt, const struct af_rank_req *rq,
                const af_generation **g, int *is_canary)
{
    const char *label = evhttp_find_header(
        evhttp_request_get_input_headers(req), "X-Version-Label");
    int want;
    if (!label)
        want = w->canary_ppm && rq->user.id &&
               user_ppm(rq->user.id) < w->canary_ppm;
    else if (strcasecmp(label, "canary") == 0)
        want = 1;
    else if (strcasecmp(label, "stable") == 0)
        want = 0;
    else {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown version label \"%.40s\" (labels: "
                 "stable, canary)", label);
        send_error(w, req, fmt, 400, msg, rq->request_id);
        return -1;
    }
    *is_canary = want && w->canary;
    *g = *is_canary ? w->canary : w->gen;
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)af_generation_id(*g));
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "X-Generation", id);
    evhttp_add_header(h, "X-Version-Label", *is_canary ? "canary" : "stable");
    return 0;
}

static void
handle_rank(struct af_worker *w, struct evhttp_request *req, uint64_t t0)
{
    enum body_fmt fmt = request_format(req);
    if (fmt == FMT_NONE) {
        send_error(w, req, FMT_JSON, 415,
                   "Content-Type must be " CT_JSON " or " CT_PB, NULL);
        finish(w, PATH_RANK, NULL, 415, t0);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const unsigned char *body =
        len ? evbuffer_pullup(in, -1) : (const unsigned char *)"";
    struct af_rank_req rq;
    char err[512];
    int rc = fmt == FMT_JSON
                 ? af_json_decode_rank((const char *)body, len, &rq, err,
                                       sizeof err)
                 : af_pb_decode_rank(body, len, &rq, err, sizeof err);
    if (rc != AF_OK) {
        int status = rc == AF_ENOMEM ? 503 : 400;
        send_error(w, req, fmt, status, err, NULL);
        finish(w, PATH_RANK, NULL, status, t0);
        return;
    }
    const af_generation *g;
    int is_canary;
    if (pick_generation(w, req, fmt, &rq, &g, &is_canary) != 0) {
        finish(w, PATH_RANK, NULL, 400, t0);
        return;
    }
    struct af_rank_resp resp;
    memset(&resp, 0, sizeof resp);
    rc = af_engine_rank(g, &rq, w->arena, &resp, err, sizeof err);
    atomic_store_explicit(
        &w->served_label[is_canary],
        atomic_load_explicit(&w->served_label[is_canary],
                             memory_order_relaxed) + 1,
        memory_order_relaxed);
    int status = status_of(rc);
    if (rc == AF_OK) {
        status = send_ranking(w, req, fmt, &rq, &resp);
        af_metrics_rank(w->metrics, &resp);
    } else {
        if (rc == AF_ENOENT)
            unknown_surface(g, rq.surface, err, sizeof err);
        send_error(w, req, fmt, status, err, rq.request_id);
    }
    /* Only served surfaces become metric labels: a client must not be able
     * to fill the label tables with made-up names. */
    int known = rc != AF_ENOENT && af_generation_surface(g, rq.surface);
    finish(w, PATH_RANK, known ? rq.surface : NULL, status, t0);
}

/* --- ## GET /healthz, GET /metrics -------------------------------------- */

static void
handle_health(struct af_worker *w, struct evhttp_request *req, uint64_t t0)
{
    char gen[24];
    snprintf(gen, sizeof gen, "%llu",
             (unsigned long long)af_generation_id(w->gen));
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Generation",
                      gen);
    int status = w->draining ? 503 : 200;
    const char *body = w->draining ? "draining\n" : "ok\n";
    send_body(w, req, status, CT_TEXT, body, strlen(body), NULL);
    finish(w, PATH_HEALTH, NULL, status, t0);
}

/* Gauges of the HTTP layer itself, summed over workers. */
static void
render_server(struct af_worker *w, af_buf *b)
{
    struct af_server *s = w->srv;
    uint64_t open = 0, rejected = 0, served[2] = {0, 0};
    for (unsigned i = 0; i < s->n_workers; i++) {
        open += atomic_load_explicit(&s->workers[i].open_conns,
                                     memory_order_relaxed);
        rejected += atomic_load_explicit(&s->workers[i].rejected,
                                         memory_order_relaxed);
        for (int l = 0; l < 2; l++)
            served[l] += atomic_load_explicit(&s->workers[i].served_label[l],
                                              memory_order_relaxed);
    }
    af_buf_printf(b,
                  "# HELP adfunnel_version_requests_total Rankings by the "
                  "version label that served them.\n"
                  "# TYPE adfunnel_version_requests_total counter\n"
                  "adfunnel_version_requests_total{label=\"stable\"} %llu\n"
                  "adfunnel_version_requests_total{label=\"canary\"} %llu\n"
                  "# HELP adfunnel_canary_share_ppm Share of users the canary "
                  "serves, per million.\n"
                  "# TYPE adfunnel_canary_share_ppm gauge\n"
                  "adfunnel_canary_share_ppm %u\n",
                  (unsigned long long)served[0], (unsigned long long)served[1],
                  w->canary ? w->canary_ppm : 0);
    af_buf_printf(b,
                  "# HELP adfunnel_http_workers Worker threads serving.\n"
                  "# TYPE adfunnel_http_workers gauge\n"
                  "adfunnel_http_workers %u\n"
                  "# HELP adfunnel_http_open_connections Client connections "
                  "open.\n"
                  "# TYPE adfunnel_http_open_connections gauge\n"
                  "adfunnel_http_open_connections %llu\n"
                  "# HELP adfunnel_http_rejected_connections_total "
                  "Connections answered 503 at the per-worker cap.\n"
                  "# TYPE adfunnel_http_rejected_connections_total counter\n"
                  "adfunnel_http_rejected_connections_total %llu\n"
                  "# HELP adfunnel_generation_id Generation being served.\n"
                  "# TYPE adfunnel_generation_id gauge\n"
                  "adfunnel_generation_id %llu\n",
                  s->n_workers, (unsigned long long)open,
                  (unsigned long long)rejected,
                  (unsigned long long)af_generation_id(w->gen));
    /* Per worker: the kernel hands a shared listening socket's connections
     * to whichever worker wakes first, so balance is worth watching. */
    af_buf_printf(b, "# HELP adfunnel_http_worker_connections Client "
                     "connections open, per worker thread.\n"
                     "# TYPE adfunnel_http_worker_connections gauge\n");
    for (unsigned i = 0; i < s->n_workers; i++)
        af_buf_printf(b, "adfunnel_http_worker_connections{worker=\"%u\"} %u\n",
                      i, atomic_load_explicit(&s->workers[i].open_conns,
                                              memory_order_relaxed));
}

static void
handle_metrics(struct af_worker *w, struct evhttp_request *req, uint64_t t0)
{
    af_buf *b = &w->text;
    b->len = 0;
    b->oom = 0;
    af_metrics_render(w->srv->metrics, b);
    render_server(w, b);
    af_generation_metrics(w->gen, b);
    if (w->srv->opts->metrics_hook)
        w->srv->opts->metrics_hook(w->srv->opts->hook_arg, w->gen, w->canary,
                                   b);
    if (b->oom) {
        send_error(w, req, FMT_JSON, 503, "out of memory rendering metrics",
                   NULL);
        finish(w, PATH_METRICS, NULL, 503, t0);
        return;
    }
    send_body(w, req, 200, CT_PROM, b->data, b->len, NULL);
    finish(w, PATH_METRICS, NULL, 200, t0);
}

/* --- ## Dispatch -------------------------------------------------------- */

struct route {
    const char *path;
    unsigned methods; /* EVHTTP_REQ_* bits */
    const char *allow;
    void (*fn)(struct af_worker *, struct evhttp_request *, uint64_t);
};

static const struct route routes[] = {
    {PATH_RANK, EVHTTP_REQ_POST, "POST", handle_rank},
    {PATH_HEALTH, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET, HEAD",
     handle_health},
    {PATH_METRICS, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET, HEAD",
     handle_metrics},
};

static void
no_route(struct af_worker *w, struct evhttp_request *req, const char *path,
         uint64_t t0)
{
    char msg[320];
    snprintf(msg, sizeof msg, "no route for %.200s (routes: " ROUTES ")",
             path);
    send_error(w, req, FMT_JSON, 404, msg, NULL);
    finish(w, PATH_OTHER, NULL, 404, t0);
}

static void
wrong_method(struct af_worker *w, struct evhttp_request *req,
             const struct route *r, uint64_t t0)
{
    char msg[160];
    snprintf(msg, sizeof msg, "method not allowed on %s (allowed: %s)",
             r->path, r->allow);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                      r->allow);
    send_error(w, req, FMT_JSON, 405, msg, NULL);
    finish(w, r->path, NULL, 405, t0);
}

void
af_http_dispatch(struct evhttp_request *req, void *arg)
{
    struct af_worker *w = arg;
    uint64_t t0 = af_server_now_ns();
    if (af_worker_admit(w, req) != 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Connection", "close");
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Retry-After", "1");
        send_error(w, req, FMT_JSON, 503,
                   "server busy: too many open connections", NULL);
        finish(w, PATH_OTHER, NULL, 503, t0);
        return;
    }
    af_worker_repin(w);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path)
        path = "";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(path, routes[i].path) != 0)
            continue;
        if (evhttp_request_get_command(req) & routes[i].methods)
            routes[i].fn(w, req, t0);
        else
            wrong_method(w, req, &routes[i], t0);
        return;
    }
    no_route(w, req, path, t0);
}
