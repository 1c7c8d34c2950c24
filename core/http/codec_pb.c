/*
 * codec_pb.c -- protobuf RankRequest decoding and RankResponse encoding with
 * nanopb.  Every field of the schema is statically sized (adfunnel.options),
 * so decoding allocates nothing and a hostile body can at most fill the
 * fixed arrays, which nanopb refuses to overflow.
 */
#include "http/codec.h"

#include <stdio.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "adfunnel.pb.h"
#include "adfunnel/af_errno.h"
#include "http/utf8.h"
#include "mem/arena.h"

/* The schema's limits must hold what the engine's types can carry. */
_Static_assert(sizeof(((adfunnel_v1_RankRequest *)0)->surface) ==
                   AF_SURFACE_MAX,
               "RankRequest.surface max_size must equal AF_SURFACE_MAX");
_Static_assert(sizeof(((adfunnel_v1_RankRequest *)0)->request_id) ==
                   AF_REQUEST_ID_MAX,
               "RankRequest.request_id max_size must equal AF_REQUEST_ID_MAX");
_Static_assert(sizeof(((adfunnel_v1_User *)0)->history) /
                       sizeof(uint64_t) ==
                   AF_MAX_HISTORY,
               "User.history max_count must equal AF_MAX_HISTORY");
_Static_assert(sizeof(((adfunnel_v1_User *)0)->interests) /
                       sizeof(uint32_t) ==
                   AF_MAX_INTERESTS,
               "User.interests max_count must equal AF_MAX_INTERESTS");

size_t
af_pb_rank_max_size(void)
{
    return adfunnel_v1_RankResponse_size;
}

size_t
af_pb_error_max_size(void)
{
    return adfunnel_v1_Error_size;
}

/* --- ## Decoding -------------------------------------------------------- */

/* nanopb's reasons are terse; say which limits "overflow" refers to. */
static void
wire_error(char *err, size_t errlen, const char *why)
{
    const char *hint = "";
    if (strcmp(why, "array overflow") == 0)
        hint = " (user.interests holds at most 64 values, user.history at "
               "most 32)";
    else if (strcmp(why, "string overflow") == 0)
        hint = " (surface and request_id hold at most 63 bytes)";
    snprintf(err, errlen, "invalid protobuf RankRequest: %s%s", why, hint);
}

static int
copy_user(const adfunnel_v1_User *m, struct af_rank_req *req, char *err,
          size_t errlen)
{
    struct af_user *u = &req->user;
    u->id = m->id;
    if (m->has_geo) {
        u->geo = m->geo;
        req->user_has |= AF_USER_HAS_GEO;
    }
    if (m->has_age_band) {
        u->age_band = m->age_band;
        req->user_has |= AF_USER_HAS_AGE;
    }
    if (m->has_device) {
        u->device = m->device;
        req->user_has |= AF_USER_HAS_DEVICE;
    }
    if (m->has_gender) {
        u->gender = m->gender;
        req->user_has |= AF_USER_HAS_GENDER;
    }
    /* proto3 cannot tell an empty repeated field from an absent one, so
     * "given" means "at least one value". */
    if (m->interests_count) {
        for (pb_size_t i = 0; i < m->interests_count; i++) {
            int rc = af_req_check_int("user.interests[]", m->interests[i], 0,
                                      AF_REQ_MAX_INTEREST, err, errlen);
            if (rc != AF_OK)
                return rc;
            u->interests |= (uint64_t)1 << m->interests[i];
        }
        req->user_has |= AF_USER_HAS_INTERESTS;
    }
    if (m->history_count) {
        memcpy(u->history, m->history, m->history_count * sizeof(uint64_t));
        u->n_history = m->history_count;
        req->user_has |= AF_USER_HAS_HISTORY;
    }
    return AF_OK;
}

static int
copy_context(const adfunnel_v1_Context *m, struct af_context *c, char *err,
             size_t errlen)
{
    int rc = AF_OK;
    if (m->has_hour) {
        rc = af_req_check_int("context.hour", m->hour, 0, AF_REQ_MAX_HOUR, err,
                              errlen);
        c->hour = m->hour;
    }
    if (rc == AF_OK && m->has_day_of_week) {
        rc = af_req_check_int("context.day_of_week", m->day_of_week, 0,
                              AF_REQ_MAX_DAY, err, errlen);
        c->day_of_week = m->day_of_week;
    }
    return rc;
}

int
af_pb_decode_rank(const uint8_t *body, size_t len, struct af_rank_req *out,
                  char *err, size_t errlen)
{
    char dummy[8];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    af_rank_req_init(out);
    adfunnel_v1_RankRequest m;
    memset(&m, 0, sizeof m);
    pb_istream_t in = pb_istream_from_buffer(body, len);
    if (!pb_decode(&in, adfunnel_v1_RankRequest_fields, &m)) {
        wire_error(err, errlen, PB_GET_ERROR(&in));
        return AF_EINVAL;
    }
    memcpy(out->surface, m.surface, sizeof out->surface);
    memcpy(out->request_id, m.request_id, sizeof out->request_id);
    out->explain = m.explain;
    int rc = AF_OK;
    if (m.has_user)
        rc = copy_user(&m.user, out, err, errlen);
    if (rc == AF_OK && m.has_context)
        rc = copy_context(&m.context, &out->context, err, errlen);
    if (rc == AF_OK)
        rc = af_rank_req_validate(out, err, errlen);
    if (rc != AF_OK)
        af_rank_req_init(out);
    return rc;
}

/* --- ## Encoding -------------------------------------------------------- */

#define COPY_STR(dst, src) af_utf8_copy((dst), sizeof(dst), (src))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void
fill_ad(adfunnel_v1_Ad *m, const struct af_rank_ad *a)
{
    m->slot = a->slot;
    m->ad_id = a->ad_id;
    m->advertiser_id = a->advertiser_id;
    m->campaign_id = a->campaign_id;
    m->pctr = a->pctr;
    m->pcvr = a->pcvr;
    m->bid = a->bid;
    m->price = a->price;
    m->score = a->score;
    m->propensity = a->propensity;
    m->explored = a->explored != 0;
    COPY_STR(m->bid_type, af_bid_type_name(a->bid_type));
}

static void
fill_stage(adfunnel_v1_StageInfo *m, const struct af_stage_info *s)
{
    COPY_STR(m->stage, s->stage);
    COPY_STR(m->plugin, s->plugin);
    m->candidates_in = s->candidates_in;
    m->candidates_out = s->candidates_out;
    m->micros = s->micros;
    m->timed_out = s->timed_out != 0;
    COPY_STR(m->error, s->error);
}

static void
fill_response(adfunnel_v1_RankResponse *m, const struct af_rank_resp *r,
              int explain)
{
    COPY_STR(m->request_id, r->request_id);
    COPY_STR(m->surface, r->surface);
    COPY_STR(m->pipeline_version, r->pipeline_version);
    COPY_STR(m->arm, r->arm);
    m->degraded = r->degraded != 0;
    uint32_t n = r->n_ads < ARRAY_LEN(m->ads) ? r->n_ads : ARRAY_LEN(m->ads);
    for (uint32_t i = 0; i < n; i++)
        fill_ad(&m->ads[i], &r->ads[i]);
    m->ads_count = (pb_size_t)n;
    n = r->n_models < ARRAY_LEN(m->models) ? r->n_models
                                           : ARRAY_LEN(m->models);
    for (uint32_t i = 0; i < n; i++) {
        COPY_STR(m->models[i].stage, r->models[i].stage);
        COPY_STR(m->models[i].plugin, r->models[i].plugin);
        COPY_STR(m->models[i].version, r->models[i].version);
    }
    m->models_count = (pb_size_t)n;
    if (explain) {
        n = r->n_stages < ARRAY_LEN(m->stages) ? r->n_stages
                                               : ARRAY_LEN(m->stages);
        for (uint32_t i = 0; i < n; i++)
            fill_stage(&m->stages[i], &r->stages[i]);
        m->stages_count = (pb_size_t)n;
    }
}

int
af_pb_encode_rank(const struct af_rank_resp *r, int explain, uint8_t *buf,
                  size_t cap, size_t *len)
{
    /* ~15 KB: on the stack rather than the arena so the encoder stays usable
     * without one; worker threads have megabytes of stack. */
    adfunnel_v1_RankResponse m;
    memset(&m, 0, sizeof m);
    fill_response(&m, r, explain);
    pb_ostream_t os = pb_ostream_from_buffer(buf, cap);
    if (!pb_encode(&os, adfunnel_v1_RankResponse_fields, &m))
        return AF_ELIMIT;
    *len = os.bytes_written;
    return AF_OK;
}

int
af_pb_encode_error(const char *msg, uint8_t *buf, size_t cap, size_t *len)
{
    adfunnel_v1_Error m;
    memset(&m, 0, sizeof m);
    COPY_STR(m.error, msg);
    pb_ostream_t os = pb_ostream_from_buffer(buf, cap);
    if (!pb_encode(&os, adfunnel_v1_Error_fields, &m))
        return AF_ELIMIT;
    *len = os.bytes_written;
    return AF_OK;
}

/* --- ## Response decoding (tests and tools) ----------------------------- */

static int
bid_type_of(const char *s)
{
    if (strcmp(s, "cpm") == 0)
        return AF_BID_CPM;
    if (strcmp(s, "cpa") == 0)
        return AF_BID_CPA;
    return AF_BID_CPC;
}

static void
read_ad(struct af_rank_ad *a, const adfunnel_v1_Ad *m)
{
    a->slot = m->slot;
    a->ad_id = m->ad_id;
    a->advertiser_id = m->advertiser_id;
    a->campaign_id = m->campaign_id;
    a->pctr = m->pctr;
    a->pcvr = m->pcvr;
    a->bid = m->bid;
    a->price = m->price;
    a->score = m->score;
    a->propensity = m->propensity;
    a->explored = m->explored;
    a->bid_type = bid_type_of(m->bid_type);
}

static int
read_lists(struct af_rank_resp *out, const adfunnel_v1_RankResponse *m,
           af_arena *arena)
{
    out->ads = af_arena_calloc(arena, m->ads_count + 1, sizeof *out->ads);
    out->models = af_arena_calloc(arena, m->models_count + 1,
                                  sizeof *out->models);
    out->stages = af_arena_calloc(arena, m->stages_count + 1,
                                  sizeof *out->stages);
    if (!out->ads || !out->models || !out->stages)
        return AF_ENOMEM;
    for (pb_size_t i = 0; i < m->ads_count; i++)
        read_ad(&out->ads[i], &m->ads[i]);
    out->n_ads = m->ads_count;
    for (pb_size_t i = 0; i < m->models_count; i++) {
        out->models[i].stage = af_arena_strdup(arena, m->models[i].stage);
        out->models[i].plugin = af_arena_strdup(arena, m->models[i].plugin);
        out->models[i].version = af_arena_strdup(arena, m->models[i].version);
        if (!out->models[i].version)
            return AF_ENOMEM;
    }
    out->n_models = m->models_count;
    for (pb_size_t i = 0; i < m->stages_count; i++) {
        const adfunnel_v1_StageInfo *s = &m->stages[i];
        struct af_stage_info *d = &out->stages[i];
        d->stage = af_arena_strdup(arena, s->stage);
        d->plugin = af_arena_strdup(arena, s->plugin);
        d->candidates_in = s->candidates_in;
        d->candidates_out = s->candidates_out;
        d->micros = s->micros;
        d->timed_out = s->timed_out;
        d->error = s->error[0] ? af_arena_strdup(arena, s->error) : NULL;
        if (!d->plugin)
            return AF_ENOMEM;
    }
    out->n_stages = m->stages_count;
    return AF_OK;
}

int
af_pb_decode_rank_resp(const uint8_t *body, size_t len, af_arena *arena,
                       struct af_rank_resp *out, char *err, size_t errlen)
{
    adfunnel_v1_RankResponse *m = af_arena_calloc(arena, 1, sizeof *m);
    if (!m)
        return AF_ENOMEM;
    memset(out, 0, sizeof *out);
    pb_istream_t in = pb_istream_from_buffer(body, len);
    if (!pb_decode(&in, adfunnel_v1_RankResponse_fields, m)) {
        if (err && errlen)
            snprintf(err, errlen, "invalid protobuf RankResponse: %s",
                     PB_GET_ERROR(&in));
        return AF_EINVAL;
    }
    out->request_id = af_arena_strdup(arena, m->request_id);
    out->surface = af_arena_strdup(arena, m->surface);
    out->pipeline_version = af_arena_strdup(arena, m->pipeline_version);
    out->arm = af_arena_strdup(arena, m->arm);
    out->degraded = m->degraded;
    if (!out->arm)
        return AF_ENOMEM;
    return read_lists(out, m, arena);
}
