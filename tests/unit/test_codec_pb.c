/* test_codec_pb.c -- the protobuf request decoder and response encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pb_encode.h>

#include "adfunnel.pb.h"
#include "adfunnel/af_errno.h"
#include "http/codec.h"
#include "mem/arena.h"

/* Encode a RankRequest with nanopb directly (the reference encoder). */
static size_t
encode_req(const adfunnel_v1_RankRequest *m, uint8_t *buf, size_t cap)
{
    pb_ostream_t os = pb_ostream_from_buffer(buf, cap);
    assert_true(pb_encode(&os, adfunnel_v1_RankRequest_fields, m));
    return os.bytes_written;
}

static adfunnel_v1_RankRequest
full_msg(void)
{
    adfunnel_v1_RankRequest m = adfunnel_v1_RankRequest_init_zero;
    strcpy(m.surface, "home_feed");
    strcpy(m.request_id, "r-1");
    m.explain = true;
    m.has_user = true;
    m.user.id = 123;
    m.user.has_geo = true;
    m.user.geo = 3;
    m.user.has_age_band = true;
    m.user.age_band = 2;
    m.user.has_device = true;
    m.user.device = 1;
    m.user.has_gender = true;
    m.user.gender = 0;
    m.user.interests_count = 3;
    m.user.interests[0] = 1;
    m.user.interests[1] = 5;
    m.user.interests[2] = 63;
    m.user.history_count = 2;
    m.user.history[0] = 10;
    m.user.history[1] = 20;
    m.has_context = true;
    m.context.has_hour = true;
    m.context.hour = 13;
    m.context.has_day_of_week = true;
    m.context.day_of_week = 2;
    return m;
}

static void
json_and_pb_decode_identically(void **state)
{
    (void)state;
    uint8_t buf[1024];
    adfunnel_v1_RankRequest m = full_msg();
    size_t n = encode_req(&m, buf, sizeof buf);
    struct af_rank_req from_pb, from_json;
    char err[256] = "";
    assert_int_equal(af_pb_decode_rank(buf, n, &from_pb, err, sizeof err),
                     AF_OK);
    const char *json =
        "{\"surface\": \"home_feed\", \"request_id\": \"r-1\", \"explain\": "
        "true, \"user\": {\"id\": 123, \"geo\": 3, \"age_band\": 2, "
        "\"device\": 1, \"gender\": 0, \"interests\": [1, 5, 63], "
        "\"history\": [10, 20]}, \"context\": {\"hour\": 13, "
        "\"day_of_week\": 2}}";
    assert_int_equal(
        af_json_decode_rank(json, strlen(json), &from_json, err, sizeof err),
        AF_OK);
    assert_memory_equal(&from_pb, &from_json, sizeof from_pb);

    /* The minimal request too: nothing given is the same in both. */
    adfunnel_v1_RankRequest min = adfunnel_v1_RankRequest_init_zero;
    strcpy(min.surface, "s");
    n = encode_req(&min, buf, sizeof buf);
    assert_int_equal(af_pb_decode_rank(buf, n, &from_pb, err, sizeof err),
                     AF_OK);
    assert_int_equal(af_json_decode_rank("{\"surface\":\"s\"}", 15, &from_json,
                                         err, sizeof err),
                     AF_OK);
    assert_memory_equal(&from_pb, &from_json, sizeof from_pb);
    assert_int_equal(from_pb.user.geo, -1);
    assert_int_equal(from_pb.context.hour, -1);
}

/* A change to full_msg() and the message the decoder must give. */
struct bad_case {
    void (*mutate)(adfunnel_v1_RankRequest *m);
    const char *expect;
};

static void no_surface(adfunnel_v1_RankRequest *m) { m->surface[0] = 0; }
static void geo_32(adfunnel_v1_RankRequest *m) { m->user.geo = 32; }
static void geo_neg(adfunnel_v1_RankRequest *m) { m->user.geo = -3; }
static void age_9(adfunnel_v1_RankRequest *m) { m->user.age_band = 9; }
static void interest_64(adfunnel_v1_RankRequest *m) { m->user.interests[1] = 64; }
static void hour_neg(adfunnel_v1_RankRequest *m) { m->context.hour = -1; }
static void day_7(adfunnel_v1_RankRequest *m) { m->context.day_of_week = 7; }
static void id_space(adfunnel_v1_RankRequest *m) { strcpy(m->request_id, "a b"); }
static void surface_ctl(adfunnel_v1_RankRequest *m) { strcpy(m->surface, "a\tb"); }

static const struct bad_case bad_cases[] = {
    {no_surface, "missing \"surface\""},
    {geo_32, "user.geo must be in 0..31 (got 32)"},
    {geo_neg, "user.geo must be in 0..31 (got -3)"},
    {age_9, "user.age_band must be in 0..7 (got 9)"},
    {interest_64, "user.interests[] must be in 0..63 (got 64)"},
    {hour_neg, "context.hour must be in 0..23 (got -1)"},
    {day_7, "context.day_of_week must be in 0..6 (got 7)"},
    {id_space, "request_id must be printable ASCII"},
    {surface_ctl, "surface must be printable ASCII"},
};

static void
bad_fields_have_clear_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        adfunnel_v1_RankRequest m = full_msg();
        bad_cases[i].mutate(&m);
        uint8_t buf[1024];
        size_t n = encode_req(&m, buf, sizeof buf);
        struct af_rank_req r;
        char err[256] = "";
        int rc = af_pb_decode_rank(buf, n, &r, err, sizeof err);
        if (rc != AF_EINVAL || !strstr(err, bad_cases[i].expect)) {
            print_error("case %zu: rc %d, message \"%s\", expected \"%s\"\n",
                        i, rc, err, bad_cases[i].expect);
            fail();
        }
        assert_int_equal(r.surface[0], 0);
    }
}

/* Hand-made wire bytes the schema's static sizes refuse. */
static void
wire_errors(void **state)
{
    (void)state;
    struct af_rank_req r;
    char err[256];
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(af_pb_decode_rank(garbage, sizeof garbage, &r, err,
                                       sizeof err),
                     AF_EINVAL);
    assert_non_null(strstr(err, "invalid protobuf RankRequest: "));

    uint8_t buf[1024];
    adfunnel_v1_RankRequest m = full_msg();
    size_t n = encode_req(&m, buf, sizeof buf);
    assert_int_equal(af_pb_decode_rank(buf, n - 3, &r, err, sizeof err),
                     AF_EINVAL); /* truncated */
    assert_non_null(strstr(err, "invalid protobuf RankRequest"));

    /* surface (field 1, length-delimited) of 64 bytes: one too many. */
    uint8_t longs[2 + 64];
    longs[0] = 0x0a;
    longs[1] = 64;
    memset(longs + 2, 'a', 64);
    assert_int_equal(af_pb_decode_rank(longs, sizeof longs, &r, err,
                                       sizeof err),
                     AF_EINVAL);
    assert_non_null(strstr(err, "string overflow"));
    assert_non_null(strstr(err, "at most 63 bytes"));

    /* user (field 3) with 65 unpacked interests (field 6). */
    uint8_t many[6 + 65 * 2];
    size_t k = 0;
    many[k++] = 0x0a;
    many[k++] = 1;
    many[k++] = 'a';
    many[k++] = 0x1a;
    many[k++] = 0x82; /* varint 130 = 65 * 2 */
    many[k++] = 0x01;
    for (int i = 0; i < 65; i++) {
        many[k++] = 0x30;
        many[k++] = 1;
    }
    assert_int_equal(af_pb_decode_rank(many, k, &r, err, sizeof err),
                     AF_EINVAL);
    assert_non_null(strstr(err, "array overflow"));
    assert_non_null(strstr(err, "at most 64 values"));

    /* An empty body is a valid empty message: no surface. */
    assert_int_equal(af_pb_decode_rank(buf, 0, &r, err, sizeof err),
                     AF_EINVAL);
    assert_non_null(strstr(err, "missing \"surface\""));
}

/* --- ## Responses ------------------------------------------------------ */

static void
assert_ad_equal(const struct af_rank_ad *x, const struct af_rank_ad *y)
{
    assert_int_equal(x->slot, y->slot);
    assert_true(x->ad_id == y->ad_id);
    assert_int_equal(x->advertiser_id, y->advertiser_id);
    assert_int_equal(x->campaign_id, y->campaign_id);
    assert_true(x->pctr == y->pctr && x->pcvr == y->pcvr);
    assert_true(x->bid == y->bid && x->price == y->price);
    assert_true(x->score == y->score && x->propensity == y->propensity);
    assert_int_equal(x->explored, y->explored);
    assert_int_equal(x->bid_type, y->bid_type);
}

static void
response_roundtrip(void **state)
{
    (void)state;
    struct af_rank_ad ads[2] = {
        {1, 4719, 31, 95, 0.05f, 0.01f, 84.37f, 82.8f, 0.0573f, 1.0f, 0,
         AF_BID_CPM},
        {2, UINT64_MAX, 3, 11, 0.1f, 0.25f, 1.5f, 1.25f, 0.5f, 0.9f, 1,
         AF_BID_CPA},
    };
    struct af_model_info models[1] = {{"rank", "lr", "lr-world-7"}};
    struct af_stage_info stages[2] = {
        {"retrieve", "popular", 0, 2000, 194, 0, NULL},
        {"rank", "lr", 500, 50, 5001, 1, "deadline exceeded"},
    };
    struct af_rank_resp r = {"abc", "home_feed", "home_feed@1", "control", 1,
                             2, ads, 1, models, 2, stages};
    size_t cap = af_pb_rank_max_size(), len = 0;
    uint8_t *buf = malloc(cap);
    assert_int_equal(af_pb_encode_rank(&r, 1, buf, cap, &len), AF_OK);
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_rank_resp d;
    char err[256];
    assert_int_equal(af_pb_decode_rank_resp(buf, len, a, &d, err, sizeof err),
                     AF_OK);
    assert_string_equal(d.request_id, "abc");
    assert_string_equal(d.surface, "home_feed");
    assert_string_equal(d.pipeline_version, "home_feed@1");
    assert_string_equal(d.arm, "control");
    assert_int_equal(d.degraded, 1);
    assert_int_equal(d.n_ads, 2);
    for (int i = 0; i < 2; i++)
        assert_ad_equal(&d.ads[i], &ads[i]);
    assert_int_equal(d.n_models, 1);
    assert_string_equal(d.models[0].version, "lr-world-7");
    assert_int_equal(d.n_stages, 2);
    assert_string_equal(d.stages[1].stage, "rank");
    assert_int_equal(d.stages[1].candidates_in, 500);
    assert_int_equal(d.stages[1].candidates_out, 50);
    assert_int_equal(d.stages[1].micros, 5001);
    assert_int_equal(d.stages[1].timed_out, 1);
    assert_string_equal(d.stages[1].error, "deadline exceeded");
    assert_null(d.stages[0].error);

    /* Without explain there are no stages. */
    af_arena_reset(a);
    assert_int_equal(af_pb_encode_rank(&r, 0, buf, cap, &len), AF_OK);
    assert_int_equal(af_pb_decode_rank_resp(buf, len, a, &d, err, sizeof err),
                     AF_OK);
    assert_int_equal(d.n_stages, 0);
    assert_int_equal(d.n_ads, 2);

    /* Too small a buffer is an error, not an overflow. */
    assert_int_equal(af_pb_encode_rank(&r, 1, buf, 10, &len), AF_ELIMIT);
    af_arena_destroy(a);
    free(buf);
}

static void
response_limits(void **state)
{
    (void)state;
    /* 70 ads: the schema holds 64.  A 100-byte version with a multi-byte
     * character across the 63-byte cut. */
    struct af_rank_ad ads[70];
    memset(ads, 0, sizeof ads);
    for (int i = 0; i < 70; i++)
        ads[i].slot = (uint32_t)i + 1;
    char version[101];
    memset(version, 'v', 100);
    version[100] = 0;
    memcpy(version + 62, "\xc3\xa9", 2); /* é at bytes 62..63 */
    struct af_model_info m = {"rank", "lr", version};
    struct af_rank_resp r = {.request_id = "x\xff", .n_ads = 70, .ads = ads,
                             .n_models = 1, .models = &m};
    size_t cap = af_pb_rank_max_size(), len;
    uint8_t *buf = malloc(cap);
    assert_int_equal(af_pb_encode_rank(&r, 0, buf, cap, &len), AF_OK);
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_rank_resp d;
    assert_int_equal(af_pb_decode_rank_resp(buf, len, a, &d, NULL, 0), AF_OK);
    assert_int_equal(d.n_ads, 64);
    assert_int_equal(d.ads[63].slot, 64);
    assert_int_equal(strlen(d.models[0].version), 62); /* cut before é */
    assert_string_equal(d.request_id, "x?");
    af_arena_destroy(a);
    free(buf);
}

static void
error_message(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t len;
    assert_true(af_pb_error_max_size() <= sizeof buf);
    assert_int_equal(af_pb_encode_error("bad request", buf, sizeof buf, &len),
                     AF_OK);
    /* field 1, length 11, then the text */
    assert_int_equal(len, 13);
    assert_int_equal(buf[0], 0x0a);
    assert_int_equal(buf[1], 11);
    assert_memory_equal(buf + 2, "bad request", 11);
    char longmsg[400];
    memset(longmsg, 'e', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = 0;
    assert_int_equal(af_pb_encode_error(longmsg, buf, sizeof buf, &len),
                     AF_OK);
    assert_true(len <= af_pb_error_max_size());
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_and_pb_decode_identically),
        cmocka_unit_test(bad_fields_have_clear_messages),
        cmocka_unit_test(wire_errors),
        cmocka_unit_test(response_roundtrip),
        cmocka_unit_test(response_limits),
        cmocka_unit_test(error_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
