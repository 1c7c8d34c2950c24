/* test_codec_json.c -- the JSON request decoder and response encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>

#include "adfunnel/af_errno.h"
#include "http/codec.h"
#include "mem/arena.h"
#include "util/strbuf.h"

static int
decode(const char *body, struct af_rank_req *req, char *err, size_t errlen)
{
    return af_json_decode_rank(body, strlen(body), req, err, errlen);
}

/* --- ## Valid requests ------------------------------------------------- */

static void
full_request(void **state)
{
    (void)state;
    const char *body =
        "{\"surface\": \"home_feed\", \"request_id\": \"r-1\", \"explain\": "
        "true, \"user\": {\"id\": 123, \"geo\": 3, \"age_band\": 2, "
        "\"device\": 1, \"gender\": 0, \"interests\": [1, 5, 63], "
        "\"history\": [10, 20]}, \"context\": {\"hour\": 13, "
        "\"day_of_week\": 2}}";
    struct af_rank_req r;
    char err[256] = "";
    assert_int_equal(decode(body, &r, err, sizeof err), AF_OK);
    assert_string_equal(r.surface, "home_feed");
    assert_string_equal(r.request_id, "r-1");
    assert_int_equal(r.explain, 1);
    assert_int_equal(r.user.id, 123);
    assert_int_equal(r.user.geo, 3);
    assert_int_equal(r.user.age_band, 2);
    assert_int_equal(r.user.device, 1);
    assert_int_equal(r.user.gender, 0);
    assert_true(r.user.interests ==
                ((1ull << 1) | (1ull << 5) | (1ull << 63)));
    assert_int_equal(r.user.n_history, 2);
    assert_int_equal(r.user.history[0], 10);
    assert_int_equal(r.user.history[1], 20);
    assert_int_equal(r.user_has,
                     AF_USER_HAS_GEO | AF_USER_HAS_AGE | AF_USER_HAS_DEVICE |
                         AF_USER_HAS_GENDER | AF_USER_HAS_INTERESTS |
                         AF_USER_HAS_HISTORY);
    assert_int_equal(r.context.hour, 13);
    assert_int_equal(r.context.day_of_week, 2);
    assert_int_equal(r.context.position, 0);
}

static void
minimal_request_defaults(void **state)
{
    (void)state;
    struct af_rank_req r;
    char err[256] = "";
    assert_int_equal(decode("{\"surface\":\"s\"}", &r, err, sizeof err),
                     AF_OK);
    assert_string_equal(r.surface, "s");
    assert_string_equal(r.request_id, "");
    assert_int_equal(r.explain, 0);
    assert_int_equal(r.user_has, 0);
    assert_int_equal(r.user.id, 0);
    assert_int_equal(r.user.geo, -1);
    assert_int_equal(r.user.age_band, -1);
    assert_int_equal(r.user.device, -1);
    assert_int_equal(r.user.gender, -1);
    assert_int_equal(r.context.hour, -1);
    assert_int_equal(r.context.day_of_week, -1);
    assert_int_equal(r.context.position, 0);

    /* null means "not given"; an empty interest list is given. */
    assert_int_equal(
        decode("{\"surface\":\"s\",\"request_id\":null,\"user\":{\"geo\":null,"
               "\"interests\":[]},\"context\":null,\"explain\":null}",
               &r, err, sizeof err),
        AF_OK);
    assert_int_equal(r.user.geo, -1);
    assert_int_equal(r.user_has, AF_USER_HAS_INTERESTS);
    assert_true(r.user.interests == 0);
}

/* --- ## Invalid requests ----------------------------------------------- */

struct bad_case {
    const char *body;
    const char *expect; /* substring of the error message */
};

static const struct bad_case bad_cases[] = {
    {"", "invalid JSON at line 1"},
    {"{\"surface\":", "invalid JSON at line 1, column"},
    {"{\"surface\": \"a\",\n \"user\": {]}", "invalid JSON at line 2"},
    {"[1, 2]", "must be a JSON object (got an array)"},
    {"{}", "missing \"surface\""},
    {"{\"surface\": \"\"}", "missing \"surface\""},
    {"{\"surface\": 3}", "surface must be a string (got an integer)"},
    {"{\"surface\": null}", "surface must be a string (got null)"},
    {"{\"surface\": "
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
     "surface is too long (64 bytes, at most 63)"},
    {"{\"surface\": \"home feed\"}", "surface must be printable ASCII"},
    {"{\"surface\": \"a\", \"surfcae\": 1}", "unknown field \"surfcae\""},
    {"{\"surface\": \"a\", \"user\": {\"goe\": 1}}",
     "unknown field \"user.goe\""},
    {"{\"surface\": \"a\", \"context\": {\"minute\": 1}}",
     "unknown field \"context.minute\""},
    {"{\"surface\": \"a\", \"user\": 5}", "user must be an object"},
    {"{\"surface\": \"a\", \"context\": []}", "context must be an object"},
    {"{\"surface\": \"a\", \"user\": {\"geo\": \"x\"}}",
     "user.geo must be an integer in 0..31 (got a string)"},
    {"{\"surface\": \"a\", \"user\": {\"geo\": 1.5}}",
     "user.geo must be an integer in 0..31 (got a real number)"},
    {"{\"surface\": \"a\", \"user\": {\"geo\": true}}",
     "(got a boolean)"},
    {"{\"surface\": \"a\", \"user\": {\"geo\": 32}}",
     "user.geo must be in 0..31 (got 32)"},
    {"{\"surface\": \"a\", \"user\": {\"geo\": -1}}",
     "user.geo must be in 0..31 (got -1)"},
    {"{\"surface\": \"a\", \"user\": {\"age_band\": 8}}",
     "user.age_band must be in 0..7"},
    {"{\"surface\": \"a\", \"user\": {\"device\": 9}}",
     "user.device must be in 0..7"},
    {"{\"surface\": \"a\", \"user\": {\"gender\": 100}}",
     "user.gender must be in 0..7"},
    {"{\"surface\": \"a\", \"user\": {\"id\": -5}}",
     "user.id must be a non-negative integer (got -5)"},
    {"{\"surface\": \"a\", \"user\": {\"id\": \"7\"}}",
     "user.id must be an integer"},
    {"{\"surface\": \"a\", \"user\": {\"interests\": 3}}",
     "user.interests must be an array"},
    {"{\"surface\": \"a\", \"user\": {\"interests\": [1, 64]}}",
     "user.interests[] must be in 0..63 (got 64)"},
    {"{\"surface\": \"a\", \"user\": {\"interests\": [\"x\"]}}",
     "user.interests[] must be an integer"},
    {"{\"surface\": \"a\", \"user\": {\"history\": [1, -2]}}",
     "user.history[] must be a non-negative integer (got -2)"},
    {"{\"surface\": \"a\", \"user\": {\"history\": {}}}",
     "user.history must be an array"},
    {"{\"surface\": \"a\", \"context\": {\"hour\": 24}}",
     "context.hour must be in 0..23 (got 24)"},
    {"{\"surface\": \"a\", \"context\": {\"day_of_week\": 7}}",
     "context.day_of_week must be in 0..6 (got 7)"},
    {"{\"surface\": \"a\", \"explain\": \"yes\"}",
     "explain must be a boolean (got a string)"},
    {"{\"surface\": \"a\", \"request_id\": \"has space\"}",
     "request_id must be printable ASCII"},
    {"{\"surface\": \"a\", \"request_id\": 12}",
     "request_id must be a string"},
    {"{\"surface\": \"a\", \"surface\": \"b\"}", "duplicate object key"},
    {"{\"surface\": \"\xff\"}", "unable to decode byte 0xff"},
    {"{\"surface\": \"a\\u0000b\"}", "invalid JSON"},
    {"{\"surface\": \"a\", \"user\": {\"id\": 99999999999999999999}}",
     "too big"},
};

static void
bad_inputs_have_clear_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct af_rank_req r;
        char err[256] = "";
        int rc = decode(bad_cases[i].body, &r, err, sizeof err);
        if (rc != AF_EINVAL || !strstr(err, bad_cases[i].expect)) {
            print_error("case %zu: body %s\n  rc %d, message \"%s\"\n  "
                        "expected \"%s\"\n",
                        i, bad_cases[i].body, rc, err, bad_cases[i].expect);
            fail();
        }
        /* A failed decode leaves the "nothing given" request. */
        assert_int_equal(r.surface[0], 0);
        assert_int_equal(r.user_has, 0);
    }
}

static void
too_many_values(void **state)
{
    (void)state;
    char body[4096];
    int n = snprintf(body, sizeof body,
                     "{\"surface\":\"a\",\"user\":{\"interests\":[");
    for (int i = 0; i < AF_MAX_INTERESTS + 1; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%s%d", i ? "," : "",
                      i % 64);
    snprintf(body + n, sizeof body - (size_t)n, "]}}");
    struct af_rank_req r;
    char err[256];
    assert_int_equal(decode(body, &r, err, sizeof err), AF_EINVAL);
    assert_non_null(strstr(err, "too many user.interests (65, at most 64)"));

    n = snprintf(body, sizeof body, "{\"surface\":\"a\",\"user\":{\"history\":[");
    for (int i = 0; i < AF_MAX_HISTORY + 1; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%s%d", i ? "," : "",
                      i);
    snprintf(body + n, sizeof body - (size_t)n, "]}}");
    assert_int_equal(decode(body, &r, err, sizeof err), AF_EINVAL);
    assert_non_null(strstr(err, "too many user.history entries (33, at most "
                                "32)"));
}

static void
body_need_not_be_terminated(void **state)
{
    (void)state;
    const char body[] = "{\"surface\":\"abc\"}GARBAGE";
    struct af_rank_req r;
    char err[256];
    assert_int_equal(af_json_decode_rank(body, 17, &r, err, sizeof err),
                     AF_OK);
    assert_string_equal(r.surface, "abc");
    /* NULL err is allowed. */
    assert_int_equal(af_json_decode_rank("{", 1, &r, NULL, 0), AF_EINVAL);
}

static void
decode_allocates_from_arena(void **state)
{
    (void)state;
    af_json_install_allocator();
    af_arena *a = af_arena_create(4096, 0);
    af_json_use_arena(a);
    struct af_rank_req r;
    char err[256];
    assert_int_equal(decode("{\"surface\":\"abc\",\"user\":{\"interests\":[1,"
                            "2,3]}}",
                            &r, err, sizeof err),
                     AF_OK);
    assert_true(af_arena_used(a) > 0);
    af_arena_reset(a);
    /* Outside a decode, jansson still uses malloc/free. */
    json_t *o = json_pack("{s:i}", "k", 1);
    assert_non_null(o);
    json_decref(o);
    assert_int_equal(af_arena_used(a), 0);
    /* An arena limit turns into AF_ENOMEM, not a crash. */
    af_arena *tiny = af_arena_create(4096, 64);
    af_json_use_arena(tiny);
    assert_int_equal(decode("{\"surface\":\"abc\",\"user\":{\"interests\":[1,"
                            "2,3]}}",
                            &r, err, sizeof err),
                     AF_ENOMEM);
    af_json_use_arena(NULL);
    af_arena_destroy(tiny);
    af_arena_destroy(a);
}

/* --- ## Encoding ------------------------------------------------------- */

static struct af_rank_ad test_ads[2] = {
    {.slot = 1, .ad_id = 4719, .advertiser_id = 31, .campaign_id = 95,
     .pctr = 0.05f, .pcvr = 0.0f, .bid = 84.37f, .price = 82.8f,
     .score = 0.0573f, .propensity = 1.0f, .explored = 0,
     .bid_type = AF_BID_CPM},
    {.slot = 2, .ad_id = 9007199254740993ull, .advertiser_id = 3,
     .campaign_id = 11, .pctr = 0.1f, .pcvr = 0.25f, .bid = 1.5f,
     .price = 1.25f, .score = 0.5f, .propensity = 0.9f, .explored = 1,
     .bid_type = AF_BID_CPC},
};
static struct af_model_info test_models[1] = {{"rank", "lr", "lr-world-7"}};
static struct af_stage_info test_stages[2] = {
    {"retrieve", "popular", 0, 2000, 194, 0, NULL},
    {"rank", "lr", 500, 50, 5001, 1, "deadline \"exceeded\"\n"},
};

static struct af_rank_resp
test_resp(void)
{
    struct af_rank_resp r = {
        .request_id = "abc",
        .surface = "home_feed",
        .pipeline_version = "home_feed@1234",
        .arm = "control",
        .degraded = 1,
        .n_ads = 2,
        .ads = test_ads,
        .n_models = 1,
        .models = test_models,
        .n_stages = 2,
        .stages = test_stages,
    };
    return r;
}

static json_t *
encode_and_parse(const struct af_rank_resp *r, int explain, af_buf *b)
{
    af_buf_init(b);
    assert_int_equal(af_json_encode_rank(r, explain, b), AF_OK);
    json_error_t e;
    json_t *root = json_loadb(b->data, b->len, 0, &e);
    if (!root)
        print_error("not JSON: %s\n%s\n", e.text, b->data);
    assert_non_null(root);
    return root;
}

static void
encode_response(void **state)
{
    (void)state;
    struct af_rank_resp r = test_resp();
    af_buf b;
    json_t *root = encode_and_parse(&r, 1, &b);
    assert_string_equal(json_string_value(json_object_get(root, "request_id")),
                        "abc");
    assert_string_equal(json_string_value(json_object_get(root, "surface")),
                        "home_feed");
    assert_string_equal(
        json_string_value(json_object_get(root, "pipeline_version")),
        "home_feed@1234");
    assert_string_equal(json_string_value(json_object_get(root, "arm")),
                        "control");
    assert_true(json_is_true(json_object_get(root, "degraded")));
    json_t *ads = json_object_get(root, "ads");
    assert_int_equal(json_array_size(ads), 2);
    json_t *a0 = json_array_get(ads, 0);
    assert_int_equal(json_integer_value(json_object_get(a0, "slot")), 1);
    assert_int_equal(json_integer_value(json_object_get(a0, "ad_id")), 4719);
    assert_string_equal(json_string_value(json_object_get(a0, "bid_type")),
                        "cpm");
    assert_true((float)json_number_value(json_object_get(a0, "bid")) ==
                84.37f);
    assert_true(json_is_false(json_object_get(a0, "explored")));
    json_t *a1 = json_array_get(ads, 1);
    assert_true(json_is_true(json_object_get(a1, "explored")));
    /* Shortest round-trip forms. */
    assert_non_null(strstr(b.data, "\"pctr\":0.05,"));
    assert_non_null(strstr(b.data, "\"price\":82.8,"));
    /* 2^53+1: integers are written exactly, not through a double. */
    assert_non_null(strstr(b.data, "\"ad_id\":9007199254740993,"));
    json_t *m0 = json_array_get(json_object_get(root, "models"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "version")),
                        "lr-world-7");
    json_t *stages = json_object_get(root, "stages");
    assert_int_equal(json_array_size(stages), 2);
    json_t *s1 = json_array_get(stages, 1);
    assert_int_equal(json_integer_value(json_object_get(s1, "in")), 500);
    assert_int_equal(json_integer_value(json_object_get(s1, "out")), 50);
    assert_int_equal(json_integer_value(json_object_get(s1, "us")), 5001);
    assert_true(json_is_true(json_object_get(s1, "timed_out")));
    assert_string_equal(json_string_value(json_object_get(s1, "error")),
                        "deadline \"exceeded\"\n");
    assert_true(json_is_null(
        json_object_get(json_array_get(stages, 0), "error")));
    json_decref(root);
    af_buf_free(&b);

    root = encode_and_parse(&r, 0, &b);
    assert_null(json_object_get(root, "stages"));
    json_decref(root);
    af_buf_free(&b);
}

static void
encode_odd_values(void **state)
{
    (void)state;
    struct af_rank_ad ad = {.slot = 1, .pctr = NAN, .bid = INFINITY,
                            .price = 1e-7f};
    struct af_model_info m = {"rank", "a\xff\x01z", NULL};
    struct af_rank_resp r = {.n_ads = 1, .ads = &ad, .n_models = 1,
                             .models = &m};
    af_buf b;
    json_t *root = encode_and_parse(&r, 0, &b);
    json_t *a0 = json_array_get(json_object_get(root, "ads"), 0);
    assert_true(json_is_null(json_object_get(a0, "pctr")));
    assert_true(json_is_null(json_object_get(a0, "bid")));
    assert_true((float)json_number_value(json_object_get(a0, "price")) ==
                1e-7f);
    assert_true(json_is_null(json_object_get(root, "request_id")));
    json_t *m0 = json_array_get(json_object_get(root, "models"), 0);
    /* Invalid UTF-8 becomes U+FFFD, control characters \u00XX. */
    assert_string_equal(json_string_value(json_object_get(m0, "plugin")),
                        "a\xef\xbf\xbd\x01z");
    assert_non_null(strstr(b.data, "\\u0001"));
    assert_true(json_is_null(json_object_get(m0, "version")));
    json_decref(root);
    af_buf_free(&b);
}

static void
encode_full_u64(void **state)
{
    (void)state;
    struct af_rank_ad ad = {.slot = 1, .ad_id = UINT64_MAX};
    struct af_rank_resp r = {.n_ads = 1, .ads = &ad};
    af_buf b;
    af_buf_init(&b);
    assert_int_equal(af_json_encode_rank(&r, 0, &b), AF_OK);
    assert_non_null(strstr(b.data, "\"ad_id\":18446744073709551615,"));
    af_buf_free(&b);
}

static void
encode_error(void **state)
{
    (void)state;
    af_buf b;
    af_buf_init(&b);
    assert_int_equal(af_json_encode_error("bad \"x\"\\", &b), AF_OK);
    json_t *root = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "error")),
                        "bad \"x\"\\");
    json_decref(root);
    af_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_request),
        cmocka_unit_test(minimal_request_defaults),
        cmocka_unit_test(bad_inputs_have_clear_messages),
        cmocka_unit_test(too_many_values),
        cmocka_unit_test(body_need_not_be_terminated),
        cmocka_unit_test(decode_allocates_from_arena),
        cmocka_unit_test(encode_response),
        cmocka_unit_test(encode_odd_values),
        cmocka_unit_test(encode_full_u64),
        cmocka_unit_test(encode_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
