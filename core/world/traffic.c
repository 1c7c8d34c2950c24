/*
 * traffic.c -- `adfunnel world traffic`: drive a running server with
 * /v1/rank requests for the world's users.
 *
 * One libevent loop, `concurrency` keep-alive connections, each with exactly
 * one request in flight: when a reply arrives the next request goes out on
 * the same connection (a closed-loop load generator, like wrk).  Users are
 * drawn uniformly from users.tsv with a seeded generator, so a run is
 * reproducible.  Most requests carry only the user id (the server fills the
 * profile from its user store); a share also send the profile fields and
 * the time of day explicitly, as a client that knows them would.
 */
#include "world/world.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "adfunnel.pb.h"
#include "adfunnel/af_errno.h"
#include "world/wrand.h"

#define MAX_STATUS 600

struct traffic;

struct slot {
    struct traffic *t;
    struct evhttp_connection *conn;
    uint64_t start_ns;
};

struct traffic {
    const struct af_traffic_opts *o;
    struct event_base *base;
    const af_user_store *users;
    struct af_wrand rng;
    char host[256];
    int port;
    struct slot *slots;
    uint64_t issued, done;
    uint64_t status[MAX_STATUS]; /* 0: no response (connection error)    */
    uint32_t *lat_us;
    char last_error[256];        /* one failed reply's body, for the report */
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Request bodies                                                            */
/* ------------------------------------------------------------------------ */

struct draw {
    struct af_user u;
    int explicit_fields;
    int hour, day;
};

static void
draw_request(struct traffic *t, struct draw *d)
{
    uint32_t i = af_wrand_below(&t->rng, af_users_count(t->users));
    af_users_at(t->users, i, &d->u);
    d->explicit_fields = af_wrand_unit(&t->rng) < t->o->explicit_frac;
    d->hour = (int)af_wrand_below(&t->rng, 24);
    d->day = (int)af_wrand_below(&t->rng, 7);
}

static void
json_body(struct traffic *t, const struct draw *d, struct evbuffer *out)
{
    evbuffer_add_printf(out, "{\"surface\":\"%s\",\"user\":{\"id\":%llu",
                        t->o->surface, (unsigned long long)d->u.id);
    if (d->explicit_fields) {
        evbuffer_add_printf(out, ",\"geo\":%d,\"device\":%d,\"interests\":[",
                            d->u.geo, d->u.device);
        int first = 1;
        for (uint32_t k = 0; k < AF_WORLD_INTERESTS; k++)
            if ((d->u.interests >> k) & 1u) {
                evbuffer_add_printf(out, first ? "%u" : ",%u", k);
                first = 0;
            }
        evbuffer_add_printf(out, "]},\"context\":{\"hour\":%d,"
                            "\"day_of_week\":%d}}", d->hour, d->day);
    } else {
        evbuffer_add(out, "}}", 2);
    }
}

/* Cannot fail in practice (the buffer has nanopb's maximum size); an
 * encoding failure counts the request as failed. */
static int
proto_body(struct traffic *t, const struct draw *d, struct evbuffer *out)
{
    adfunnel_v1_RankRequest r = adfunnel_v1_RankRequest_init_zero;
    snprintf(r.surface, sizeof r.surface, "%s", t->o->surface);
    r.has_user = true;
    r.user.id = d->u.id;
    if (d->explicit_fields) {
        r.user.has_geo = r.user.has_device = true;
        r.user.geo = d->u.geo;
        r.user.device = d->u.device;
        for (uint32_t k = 0; k < AF_WORLD_INTERESTS; k++)
            if ((d->u.interests >> k) & 1u)
                r.user.interests[r.user.interests_count++] = k;
        r.has_context = true;
        r.context.has_hour = r.context.has_day_of_week = true;
        r.context.hour = d->hour;
        r.context.day_of_week = d->day;
    }
    uint8_t buf[adfunnel_v1_RankRequest_size];
    pb_ostream_t s = pb_ostream_from_buffer(buf, sizeof buf);
    if (!pb_encode(&s, adfunnel_v1_RankRequest_fields, &r))
        return AF_EINVAL;
    evbuffer_add(out, buf, s.bytes_written);
    return AF_OK;
}

/* ------------------------------------------------------------------------ */
/* The loop                                                                  */
/* ------------------------------------------------------------------------ */

static void on_reply(struct evhttp_request *req, void *arg);

static void
fail_unsent(struct traffic *t)
{
    t->status[0]++;
    t->lat_us[t->done++] = 0;
}

/* Send the next request on s; a request that cannot even be sent counts
 * as failed and the next one is tried, so the run always ends. */
static void
issue(struct slot *s)
{
    struct traffic *t = s->t;
    while (t->issued < t->o->requests) {
        t->issued++;
        struct evhttp_request *req = evhttp_request_new(on_reply, s);
        if (!req) {
            fail_unsent(t);
            continue;
        }
        struct draw d;
        draw_request(t, &d);
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Host", t->host);
        evhttp_add_header(h, "Content-Type", t->o->proto
                                                 ? "application/x-protobuf"
                                                 : "application/json");
        struct evbuffer *body = evhttp_request_get_output_buffer(req);
        if (t->o->proto && proto_body(t, &d, body) != AF_OK) {
            evhttp_request_free(req);
            fail_unsent(t);
            continue;
        }
        if (!t->o->proto)
            json_body(t, &d, body);
        s->start_ns = now_ns();
        /* On failure libevent has freed req and will not call back. */
        if (evhttp_make_request(s->conn, req, EVHTTP_REQ_POST, "/v1/rank") ==
            0)
            return;
        fail_unsent(t);
    }
    if (t->done >= t->o->requests)
        event_base_loopexit(t->base, NULL);
}

static void
keep_error_body(struct traffic *t, struct evhttp_request *req, int code)
{
    if (t->last_error[0] != '\0')
        return;
    char body[200] = "";
    struct evbuffer *in = req ? evhttp_request_get_input_buffer(req) : NULL;
    if (in) {
        ev_ssize_t n = evbuffer_copyout(in, body, sizeof body - 1);
        n = n > 0 ? n : 0;
        while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r'))
            n--;
        body[n] = '\0';
    }
    snprintf(t->last_error, sizeof t->last_error, "status %d: %s", code,
             code ? body : "connection failed or timed out");
}

static void
on_reply(struct evhttp_request *req, void *arg)
{
    struct slot *s = arg;
    struct traffic *t = s->t;
    uint64_t us = (now_ns() - s->start_ns) / 1000;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code < 0 || code >= MAX_STATUS)
        code = 0;
    if (code != 200)
        keep_error_body(t, req, code);
    t->status[code]++;
    t->lat_us[t->done++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    issue(s);
}

/* ------------------------------------------------------------------------ */
/* Report                                                                    */
/* ------------------------------------------------------------------------ */

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double
pct_ms(const uint32_t *sorted, uint64_t n, double q)
{
    if (n == 0)
        return 0;
    uint64_t i = (uint64_t)(q * (double)(n - 1) + 0.5);
    return sorted[i] / 1000.0;
}

static int
report(struct traffic *t, double seconds)
{
    uint64_t n = t->done, ok = t->status[200];
    qsort(t->lat_us, n, sizeof *t->lat_us, cmp_u32);
    printf("requests   %llu to %s/v1/rank (%s, surface %s, concurrency %u)\n",
           (unsigned long long)n, t->o->url, t->o->proto ? "protobuf" : "json",
           t->o->surface, t->o->concurrency);
    printf("ok         %llu\n", (unsigned long long)ok);
    printf("errors     %llu\n", (unsigned long long)(n - ok));
    if (t->status[0])
        printf("  no response: %llu\n", (unsigned long long)t->status[0]);
    for (int c = 1; c < MAX_STATUS; c++)
        if (c != 200 && t->status[c])
            printf("  status %d: %llu\n", c, (unsigned long long)t->status[c]);
    if (t->last_error[0])
        printf("  first error: %s\n", t->last_error);
    printf("elapsed    %.3f s\n", seconds);
    printf("qps        %.1f\n", seconds > 0 ? n / seconds : 0.0);
    printf("latency ms p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n",
           pct_ms(t->lat_us, n, 0.50), pct_ms(t->lat_us, n, 0.90),
           pct_ms(t->lat_us, n, 0.99), n ? t->lat_us[n - 1] / 1000.0 : 0.0);
    return ok == n ? 0 : 1;
}

static int
parse_url(struct traffic *t, char *err, size_t errlen)
{
    struct evhttp_uri *u = evhttp_uri_parse(t->o->url);
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    int rc = AF_OK;
    if (!u || !scheme || strcmp(scheme, "http") != 0 || !host || !*host) {
        snprintf(err, errlen, "--url %s: expected http://HOST:PORT",
                 t->o->url);
        rc = AF_EINVAL;
    } else {
        snprintf(t->host, sizeof t->host, "%s", host);
        t->port = evhttp_uri_get_port(u);
        if (t->port <= 0)
            t->port = 80;
    }
    if (u)
        evhttp_uri_free(u);
    return rc;
}

static void
traffic_free(struct traffic *t)
{
    for (uint32_t i = 0; t->slots && i < t->o->concurrency; i++)
        if (t->slots[i].conn)
            evhttp_connection_free(t->slots[i].conn);
    free(t->slots);
    free(t->lat_us);
    if (t->base)
        event_base_free(t->base);
    af_users_free((af_user_store *)t->users);
}

int
af_world_traffic(const struct af_traffic_opts *o, char *err, size_t errlen)
{
    if (o->requests == 0 || o->concurrency == 0 || o->concurrency > 4096) {
        snprintf(err, errlen, "--requests must be > 0 and --concurrency in "
                              "1..4096");
        return AF_EINVAL;
    }
    struct traffic t;
    memset(&t, 0, sizeof t);
    t.o = o;
    af_wrand_seed(&t.rng, o->seed, 0x7472616666696355ull);
    int rc = parse_url(&t, err, errlen);
    if (rc != AF_OK)
        return rc;
    if (!(t.users = af_users_load(o->data_dir, err, errlen)))
        return AF_EINVAL;
    t.base = event_base_new();
    t.slots = calloc(o->concurrency, sizeof *t.slots);
    t.lat_us = malloc(o->requests * sizeof *t.lat_us);
    if (!t.base || !t.slots || !t.lat_us) {
        snprintf(err, errlen, "out of memory for %llu requests",
                 (unsigned long long)o->requests);
        traffic_free(&t);
        return AF_ENOMEM;
    }
    for (uint32_t i = 0; i < o->concurrency; i++) {
        struct slot *s = &t.slots[i];
        s->t = &t;
        s->conn = evhttp_connection_base_new(t.base, NULL, t.host,
                                             (ev_uint16_t)t.port);
        if (!s->conn) {
            snprintf(err, errlen, "cannot create a connection to %s:%d",
                     t.host, t.port);
            traffic_free(&t);
            return AF_EIO;
        }
        evhttp_connection_set_timeout(s->conn, 30);
    }
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < o->concurrency && t.issued < o->requests; i++)
        issue(&t.slots[i]);
    if (t.done < o->requests)
        event_base_dispatch(t.base);
    double seconds = (double)(now_ns() - t0) / 1e9;
    rc = report(&t, seconds);
    traffic_free(&t);
    return rc;
}
