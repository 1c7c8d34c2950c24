/*
 * codec_json.c -- JSON RankRequest decoding (jansson) and RankResponse
 * encoding (written directly: a response is a fixed shape, so building a
 * jansson tree first would only add allocations).
 */
#include "http/codec.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "http/utf8.h"
#include "mem/arena.h"
#include "util/strbuf.h"

/* --- ## Allocation: jansson on the request arena ----------------------- */

/*
 * jansson's allocator hook is process-wide and takes no context argument, so
 * the only way to give each worker its own arena is thread-local state.  These
 * two are the justified mutable globals of this file: per-thread, written only
 * by their own thread.  Outside a decode window every allocation goes to
 * malloc/free, so other jansson users are unaffected.
 */
static _Thread_local af_arena *tl_arena;
static _Thread_local int tl_in_decode;
static _Thread_local int tl_alloc_failed; /* jansson's own report of an
                                             allocation failure is not
                                             reliable (line -1, no text) */

static void *
json_alloc(size_t n)
{
    void *p = tl_in_decode && tl_arena ? af_arena_alloc(tl_arena, n)
                                       : malloc(n);
    if (!p)
        tl_alloc_failed = 1;
    return p;
}

/* Inside a decode window everything jansson frees came from the arena (the
 * window starts and ends with no live jansson object of this thread), and the
 * arena is reset after the request. */
static void
json_dealloc(void *p)
{
    if (tl_in_decode && tl_arena)
        return;
    free(p);
}

static pthread_once_t alloc_once = PTHREAD_ONCE_INIT;

static void
install_alloc(void)
{
    json_set_alloc_funcs(json_alloc, json_dealloc);
}

void
af_json_install_allocator(void)
{
    pthread_once(&alloc_once, install_alloc);
}

void
af_json_use_arena(af_arena *arena)
{
    tl_arena = arena;
}

/* --- ## Decoding -------------------------------------------------------- */

static const char *
type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

static int
type_error(char *err, size_t errlen, const char *field, const char *want,
           const json_t *v)
{
    snprintf(err, errlen, "%s must be %s (got %s)", field, want, type_name(v));
    return AF_EINVAL;
}

static int
unknown_key(char *err, size_t errlen, const char *where, const char *key,
            const char *expected)
{
    snprintf(err, errlen, "unknown field \"%s%s\" (expected %s)", where, key,
             expected);
    return AF_EINVAL;
}

/* An integer within [lo, hi]; reals, booleans and strings are refused. */
static int
get_int(const json_t *v, const char *field, long long lo, long long hi,
        long long *out, char *err, size_t errlen)
{
    if (!json_is_integer(v)) {
        char want[64];
        snprintf(want, sizeof want, "an integer in %lld..%lld", lo, hi);
        return type_error(err, errlen, field, want, v);
    }
    long long x = json_integer_value(v);
    int rc = af_req_check_int(field, x, lo, hi, err, errlen);
    if (rc == AF_OK)
        *out = x;
    return rc;
}

static int
get_string(const json_t *v, const char *field, char *dst, size_t cap,
           char *err, size_t errlen)
{
    if (!json_is_string(v))
        return type_error(err, errlen, field, "a string", v);
    size_t n = json_string_length(v);
    if (n >= cap) {
        snprintf(err, errlen, "%s is too long (%zu bytes, at most %zu)", field,
                 n, cap - 1);
        return AF_EINVAL;
    }
    memcpy(dst, json_string_value(v), n + 1);
    return AF_OK;
}

static int
decode_interests(const json_t *v, struct af_user *u, char *err, size_t errlen)
{
    if (!json_is_array(v))
        return type_error(err, errlen, "user.interests",
                          "an array of interest ids", v);
    size_t n = json_array_size(v);
    if (n > AF_MAX_INTERESTS) {
        snprintf(err, errlen, "too many user.interests (%zu, at most %d)", n,
                 AF_MAX_INTERESTS);
        return AF_EINVAL;
    }
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        long long x;
        int rc = get_int(json_array_get(v, i), "user.interests[]", 0,
                         AF_REQ_MAX_INTEREST, &x, err, errlen);
        if (rc != AF_OK)
            return rc;
        bits |= (uint64_t)1 << x;
    }
    u->interests = bits;
    return AF_OK;
}

static int
decode_history(const json_t *v, struct af_user *u, char *err, size_t errlen)
{
    if (!json_is_array(v))
        return type_error(err, errlen, "user.history", "an array of ad ids",
                          v);
    size_t n = json_array_size(v);
    if (n > AF_MAX_HISTORY) {
        snprintf(err, errlen, "too many user.history entries (%zu, at most %d)",
                 n, AF_MAX_HISTORY);
        return AF_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        long long x;
        int rc = get_int(json_array_get(v, i), "user.history[]", 0, LLONG_MAX,
                         &x, err, errlen);
        if (rc != AF_OK)
            return rc;
        u->history[i] = (uint64_t)x;
    }
    u->n_history = (uint32_t)n;
    return AF_OK;
}

/* One of the small optional int fields of "user": value, has-bit, range. */
struct user_int {
    const char *key;
    const char *field;
    uint32_t has;
    long long max;
};

static const struct user_int user_ints[] = {
    {"geo", "user.geo", AF_USER_HAS_GEO, AF_REQ_MAX_GEO},
    {"age_band", "user.age_band", AF_USER_HAS_AGE, AF_REQ_MAX_SMALL},
    {"device", "user.device", AF_USER_HAS_DEVICE, AF_REQ_MAX_SMALL},
    {"gender", "user.gender", AF_USER_HAS_GENDER, AF_REQ_MAX_SMALL},
};

static int32_t *
user_int_slot(struct af_user *u, uint32_t has)
{
    switch (has) {
    case AF_USER_HAS_GEO: return &u->geo;
    case AF_USER_HAS_AGE: return &u->age_band;
    case AF_USER_HAS_DEVICE: return &u->device;
    default: return &u->gender;
    }
}

static int
decode_user_field(const char *key, const json_t *v, struct af_rank_req *req,
                  char *err, size_t errlen)
{
    struct af_user *u = &req->user;
    long long x;
    int rc;
    if (strcmp(key, "id") == 0) {
        rc = get_int(v, "user.id", 0, LLONG_MAX, &x, err, errlen);
        if (rc == AF_OK)
            u->id = (uint64_t)x;
        return rc;
    }
    for (size_t i = 0; i < sizeof user_ints / sizeof user_ints[0]; i++) {
        const struct user_int *f = &user_ints[i];
        if (strcmp(key, f->key) != 0)
            continue;
        rc = get_int(v, f->field, 0, f->max, &x, err, errlen);
        if (rc == AF_OK) {
            *user_int_slot(u, f->has) = (int32_t)x;
            req->user_has |= f->has;
        }
        return rc;
    }
    if (strcmp(key, "interests") == 0) {
        rc = decode_interests(v, u, err, errlen);
        if (rc == AF_OK)
            req->user_has |= AF_USER_HAS_INTERESTS;
        return rc;
    }
    if (strcmp(key, "history") == 0) {
        rc = decode_history(v, u, err, errlen);
        if (rc == AF_OK)
            req->user_has |= AF_USER_HAS_HISTORY;
        return rc;
    }
    return unknown_key(err, errlen, "user.", key,
                       "id, geo, age_band, device, gender, interests, "
                       "history");
}

static int
decode_user(const json_t *obj, struct af_rank_req *req, char *err,
            size_t errlen)
{
    if (!json_is_object(obj))
        return type_error(err, errlen, "user", "an object", obj);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (json_is_null(v))
            continue;
        int rc = decode_user_field(key, v, req, err, errlen);
        if (rc != AF_OK)
            return rc;
    }
    return AF_OK;
}

static int
decode_context(const json_t *obj, struct af_context *c, char *err,
               size_t errlen)
{
    if (!json_is_object(obj))
        return type_error(err, errlen, "context", "an object", obj);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (json_is_null(v))
            continue;
        long long x;
        int rc;
        if (strcmp(key, "hour") == 0) {
            rc = get_int(v, "context.hour", 0, AF_REQ_MAX_HOUR, &x, err,
                         errlen);
            if (rc == AF_OK)
                c->hour = (int32_t)x;
        } else if (strcmp(key, "day_of_week") == 0) {
            rc = get_int(v, "context.day_of_week", 0, AF_REQ_MAX_DAY, &x, err,
                         errlen);
            if (rc == AF_OK)
                c->day_of_week = (int32_t)x;
        } else {
            rc = unknown_key(err, errlen, "context.", key,
                             "hour, day_of_week");
        }
        if (rc != AF_OK)
            return rc;
    }
    return AF_OK;
}

static int
decode_top_field(const char *key, const json_t *v, struct af_rank_req *req,
                 char *err, size_t errlen)
{
    if (strcmp(key, "surface") == 0)
        return get_string(v, "surface", req->surface, sizeof req->surface, err,
                          errlen);
    if (json_is_null(v))
        return strcmp(key, "request_id") == 0 || strcmp(key, "explain") == 0 ||
                       strcmp(key, "user") == 0 || strcmp(key, "context") == 0
                   ? AF_OK
                   : unknown_key(err, errlen, "", key,
                                 "surface, request_id, explain, user, "
                                 "context");
    if (strcmp(key, "request_id") == 0)
        return get_string(v, "request_id", req->request_id,
                          sizeof req->request_id, err, errlen);
    if (strcmp(key, "explain") == 0) {
        if (!json_is_boolean(v))
            return type_error(err, errlen, "explain", "a boolean", v);
        req->explain = json_is_true(v);
        return AF_OK;
    }
    if (strcmp(key, "user") == 0)
        return decode_user(v, req, err, errlen);
    if (strcmp(key, "context") == 0)
        return decode_context(v, &req->context, err, errlen);
    return unknown_key(err, errlen, "", key,
                       "surface, request_id, explain, user, context");
}

static int
decode_root(const json_t *root, struct af_rank_req *out, char *err,
            size_t errlen)
{
    if (!json_is_object(root))
        return type_error(err, errlen, "the request body", "a JSON object",
                          root);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v) {
        int rc = decode_top_field(key, v, out, err, errlen);
        if (rc != AF_OK)
            return rc;
    }
    return af_rank_req_validate(out, err, errlen);
}

int
af_json_decode_rank(const char *body, size_t len, struct af_rank_req *out,
                    char *err, size_t errlen)
{
    char dummy[8];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    af_rank_req_init(out);
    json_error_t jerr;
    tl_in_decode = 1;
    tl_alloc_failed = 0;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc;
    if (!root) {
        if (tl_alloc_failed ||
            json_error_code(&jerr) == json_error_out_of_memory) {
            snprintf(err, errlen, "request too large to decode");
            rc = AF_ENOMEM;
        } else {
            snprintf(err, errlen, "invalid JSON at line %d, column %d: %s",
                     jerr.line, jerr.column, jerr.text);
            rc = AF_EINVAL;
        }
    } else {
        rc = decode_root(root, out, err, errlen);
        json_decref(root);
    }
    tl_in_decode = 0;
    if (rc != AF_OK)
        af_rank_req_init(out);
    return rc;
}

/* --- ## Encoding -------------------------------------------------------- */

int
af_json_append_string(af_buf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    af_buf_append(out, "\"", 1);
    if (s) {
        const unsigned char *p = (const unsigned char *)s;
        size_t n = strlen(s), run = 0, i = 0;
        /* Copy runs of plain bytes at once; escape the rest. */
        while (i < n) {
            unsigned c = p[i];
            size_t l = c < 0x80 ? 1 : af_utf8_seq_len(p + i, n - i);
            int plain = c >= 0x20 && c != '"' && c != '\\' && l != 0;
            if (plain) {
                i += l;
                run += l;
                continue;
            }
            af_buf_append(out, (const char *)p + i - run, run);
            run = 0;
            if (l == 0) {
                af_buf_append(out, "\\ufffd", 6);
            } else if (c == '"' || c == '\\') {
                char e[2] = {'\\', (char)c};
                af_buf_append(out, e, 2);
            } else {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                af_buf_append(out, e, 6);
            }
            i++;
        }
        af_buf_append(out, (const char *)p + n - run, run);
    }
    return af_buf_append(out, "\"", 1);
}

/* Shortest %g form that reads back as the same float ("0.05", not
 * "0.0500000007"); JSON has no NaN or infinity, so those become null. */
static void
put_float(af_buf *out, float f)
{
    char tmp[32];
    if (!isfinite(f)) {
        af_buf_append(out, "null", 4);
        return;
    }
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, (double)f);
        if (strtof(tmp, NULL) == f)
            break;
    }
    af_buf_append(out, tmp, (size_t)n);
}

static void
put_u64(af_buf *out, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    af_buf_append(out, tmp, (size_t)n);
}

static void
put_bool(af_buf *out, int v)
{
    if (v)
        af_buf_append(out, "true", 4);
    else
        af_buf_append(out, "false", 5);
}

/* ,"key": */
static void
put_key(af_buf *out, const char *key, int first)
{
    if (!first)
        af_buf_append(out, ",", 1);
    af_buf_append(out, "\"", 1);
    af_buf_puts(out, key);
    af_buf_append(out, "\":", 2);
}

static void
put_str_or_null(af_buf *out, const char *s)
{
    if (s)
        af_json_append_string(out, s);
    else
        af_buf_append(out, "null", 4);
}

static void
put_ad(af_buf *out, const struct af_rank_ad *a)
{
    put_key(out, "slot", 1);
    put_u64(out, a->slot);
    put_key(out, "ad_id", 0);
    put_u64(out, a->ad_id);
    put_key(out, "advertiser_id", 0);
    put_u64(out, a->advertiser_id);
    put_key(out, "campaign_id", 0);
    put_u64(out, a->campaign_id);
    put_key(out, "pctr", 0);
    put_float(out, a->pctr);
    put_key(out, "pcvr", 0);
    put_float(out, a->pcvr);
    put_key(out, "bid", 0);
    put_float(out, a->bid);
    put_key(out, "bid_type", 0);
    af_json_append_string(out, af_bid_type_name(a->bid_type));
    put_key(out, "price", 0);
    put_float(out, a->price);
    put_key(out, "score", 0);
    put_float(out, a->score);
    put_key(out, "propensity", 0);
    put_float(out, a->propensity);
    put_key(out, "explored", 0);
    put_bool(out, a->explored);
}

static void
put_model(af_buf *out, const struct af_model_info *m)
{
    put_key(out, "stage", 1);
    put_str_or_null(out, m->stage);
    put_key(out, "plugin", 0);
    put_str_or_null(out, m->plugin);
    put_key(out, "version", 0);
    put_str_or_null(out, m->version);
}

static void
put_stage(af_buf *out, const struct af_stage_info *s)
{
    put_key(out, "stage", 1);
    put_str_or_null(out, s->stage);
    put_key(out, "plugin", 0);
    put_str_or_null(out, s->plugin);
    put_key(out, "in", 0);
    put_u64(out, s->candidates_in);
    put_key(out, "out", 0);
    put_u64(out, s->candidates_out);
    put_key(out, "us", 0);
    put_u64(out, s->micros);
    put_key(out, "timed_out", 0);
    put_bool(out, s->timed_out);
    put_key(out, "error", 0);
    put_str_or_null(out, s->error);
}

int
af_json_encode_rank(const struct af_rank_resp *r, int explain, af_buf *out)
{
    af_buf_append(out, "{", 1);
    put_key(out, "request_id", 1);
    put_str_or_null(out, r->request_id);
    put_key(out, "surface", 0);
    put_str_or_null(out, r->surface);
    put_key(out, "pipeline_version", 0);
    put_str_or_null(out, r->pipeline_version);
    put_key(out, "arm", 0);
    put_str_or_null(out, r->arm);
    put_key(out, "degraded", 0);
    put_bool(out, r->degraded);
    put_key(out, "ads", 0);
    af_buf_append(out, "[", 1);
    for (uint32_t i = 0; i < r->n_ads; i++) {
        af_buf_append(out, i ? ",{" : "{", i ? 2 : 1);
        put_ad(out, &r->ads[i]);
        af_buf_append(out, "}", 1);
    }
    af_buf_append(out, "]", 1);
    put_key(out, "models", 0);
    af_buf_append(out, "[", 1);
    for (uint32_t i = 0; i < r->n_models; i++) {
        af_buf_append(out, i ? ",{" : "{", i ? 2 : 1);
        put_model(out, &r->models[i]);
        af_buf_append(out, "}", 1);
    }
    af_buf_append(out, "]", 1);
    if (explain) {
        put_key(out, "stages", 0);
        af_buf_append(out, "[", 1);
        for (uint32_t i = 0; i < r->n_stages; i++) {
            af_buf_append(out, i ? ",{" : "{", i ? 2 : 1);
            put_stage(out, &r->stages[i]);
            af_buf_append(out, "}", 1);
        }
        af_buf_append(out, "]", 1);
    }
    af_buf_append(out, "}\n", 2);
    return out->oom ? AF_ENOMEM : AF_OK;
}

int
af_json_encode_error(const char *msg, af_buf *out)
{
    af_buf_append(out, "{\"error\":", 9);
    af_json_append_string(out, msg);
    af_buf_append(out, "}\n", 2);
    return out->oom ? AF_ENOMEM : AF_OK;
}
