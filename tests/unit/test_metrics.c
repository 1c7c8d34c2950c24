/* test_metrics.c -- metric shards and the Prometheus rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "adfunnel/af_errno.h"
#include "metrics/metrics.h"
#include "util/strbuf.h"

static char *
render(af_metrics *m, af_buf *b)
{
    af_buf_init(b);
    assert_int_equal(af_metrics_render(m, b), AF_OK);
    assert_non_null(b->data);
    return b->data;
}

static void
assert_line(const char *text, const char *line)
{
    char want[512];
    snprintf(want, sizeof want, "%s\n", line);
    if (!strstr(text, want)) {
        print_error("missing line: %s\n--- rendered:\n%s\n", line, text);
        fail();
    }
}

static void
requests_merge_across_shards(void **state)
{
    (void)state;
    af_metrics *m = af_metrics_create(2);
    af_metrics_shard *s0 = af_metrics_shard_of(m, 0);
    af_metrics_shard *s1 = af_metrics_shard_of(m, 1);
    assert_null(af_metrics_shard_of(m, 2));
    /* Different interning orders in the two shards. */
    af_metrics_request(s0, "/v1/rank", "home_feed", 200, 0.0003);
    af_metrics_request(s0, "/healthz", NULL, 200, 0.00001);
    af_metrics_request(s1, "/healthz", NULL, 200, 0.00002);
    af_metrics_request(s1, "/v1/rank", "home_feed", 200, 0.002);
    af_metrics_request(s1, "/v1/rank", "home_feed", 200, 2.0);
    af_metrics_request(s1, "/v1/rank", NULL, 400, 0.0001);
    af_buf b;
    const char *t = render(m, &b);
    assert_line(t, "# TYPE adfunnel_requests_total counter");
    assert_line(t, "adfunnel_requests_total{path=\"/v1/rank\",surface=\"home_"
                   "feed\",status=\"200\"} 3");
    assert_line(t, "adfunnel_requests_total{path=\"/healthz\",surface=\"\","
                   "status=\"200\"} 2");
    assert_line(t, "adfunnel_requests_total{path=\"/v1/rank\",surface=\"\","
                   "status=\"400\"} 1");
    /* Cumulative buckets; the 2 s request only in +Inf; count == +Inf. */
    assert_line(t, "# TYPE adfunnel_request_duration_seconds histogram");
    assert_line(t, "adfunnel_request_duration_seconds_bucket{path=\"/v1/"
                   "rank\",le=\"0.0001\"} 1");
    assert_line(t, "adfunnel_request_duration_seconds_bucket{path=\"/v1/"
                   "rank\",le=\"0.0005\"} 2");
    assert_line(t, "adfunnel_request_duration_seconds_bucket{path=\"/v1/"
                   "rank\",le=\"0.0025\"} 3");
    assert_line(t, "adfunnel_request_duration_seconds_bucket{path=\"/v1/"
                   "rank\",le=\"1\"} 3");
    assert_line(t, "adfunnel_request_duration_seconds_bucket{path=\"/v1/"
                   "rank\",le=\"+Inf\"} 4");
    assert_line(t, "adfunnel_request_duration_seconds_count{path=\"/v1/"
                   "rank\"} 4");
    assert_non_null(strstr(t, "adfunnel_request_duration_seconds_sum{path=\"/"
                              "v1/rank\"} 2.0024"));
    /* Nothing rendered for series never touched. */
    assert_null(strstr(t, "path=\"/metrics\""));
    af_buf_free(&b);
    af_metrics_free(m);
}

static void
rank_stages(void **state)
{
    (void)state;
    af_metrics *m = af_metrics_create(1);
    af_metrics_shard *s = af_metrics_shard_of(m, 0);
    struct af_stage_info st[2] = {
        {"retrieve", "popular", 0, 2000, 150, 0, NULL},
        {"rank", "lr", 500, 50, 6000, 1, "timeout"},
    };
    struct af_rank_resp r = {.surface = "home_feed", .degraded = 1,
                             .n_stages = 2, .stages = st};
    af_metrics_rank(s, &r);
    st[1].candidates_out = 30;
    st[1].error = NULL;
    st[1].timed_out = 0;
    r.degraded = 0;
    af_metrics_rank(s, &r);
    af_buf b;
    const char *t = render(m, &b);
    assert_line(t, "adfunnel_stage_duration_seconds_bucket{surface=\"home_"
                   "feed\",stage=\"retrieve\",le=\"0.00025\"} 2");
    assert_line(t, "adfunnel_stage_duration_seconds_bucket{surface=\"home_"
                   "feed\",stage=\"rank\",le=\"0.005\"} 0");
    assert_line(t, "adfunnel_stage_duration_seconds_bucket{surface=\"home_"
                   "feed\",stage=\"rank\",le=\"0.01\"} 2");
    assert_line(t, "adfunnel_stage_duration_seconds_count{surface=\"home_"
                   "feed\",stage=\"rank\"} 2");
    assert_line(t, "# TYPE adfunnel_stage_candidates summary");
    assert_line(t, "adfunnel_stage_candidates_sum{surface=\"home_feed\","
                   "stage=\"retrieve\"} 4000");
    assert_line(t, "adfunnel_stage_candidates_sum{surface=\"home_feed\","
                   "stage=\"rank\"} 80");
    assert_line(t, "adfunnel_stage_candidates_count{surface=\"home_feed\","
                   "stage=\"rank\"} 2");
    assert_line(t, "adfunnel_stage_errors_total{surface=\"home_feed\","
                   "stage=\"rank\"} 1");
    assert_line(t, "adfunnel_stage_errors_total{surface=\"home_feed\","
                   "stage=\"retrieve\"} 0");
    assert_line(t, "adfunnel_stage_timeouts_total{surface=\"home_feed\","
                   "stage=\"rank\"} 1");
    assert_line(t, "adfunnel_degraded_total{surface=\"home_feed\"} 1");
    af_buf_free(&b);
    af_metrics_free(m);
}

static void
label_overflow_and_escaping(void **state)
{
    (void)state;
    af_metrics *m = af_metrics_create(1);
    af_metrics_shard *s = af_metrics_shard_of(m, 0);
    /* More surfaces than a shard interns: the rest count as "other". */
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof name, "surface_%02d", i);
        af_metrics_request(s, "/v1/rank", name, 200, 0.001);
    }
    af_metrics_request(s, "/v1/rank", "q\"uote\\back\nline", 200, 0.001);
    char longname[100];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    af_metrics_request(s, longname, NULL, 200, 0.001);
    af_buf b;
    const char *t = render(m, &b);
    assert_line(t, "adfunnel_requests_total{path=\"/v1/rank\",surface=\""
                   "surface_00\",status=\"200\"} 1");
    assert_null(strstr(t, "surface_39"));
    /* 16 interned (surface_00..15), 24 named ones + the odd one overflow. */
    assert_line(t, "adfunnel_requests_total{path=\"/v1/rank\",surface=\""
                   "other\",status=\"200\"} 25");
    /* Too long for a label slot: "other" path (and the surface table is
     * full, so "" is "other" too). */
    assert_line(t, "adfunnel_requests_total{path=\"other\",surface=\"other\","
                   "status=\"200\"} 1");
    af_buf_free(&b);

    af_metrics *m2 = af_metrics_create(1);
    af_metrics_request(af_metrics_shard_of(m2, 0), "/v1/rank",
                       "q\"uote\\back\nline", 503, 0.001);
    t = render(m2, &b);
    assert_line(t, "adfunnel_requests_total{path=\"/v1/rank\",surface=\"q\\\""
                   "uote\\\\back\\nline\",status=\"503\"} 1");
    af_buf_free(&b);
    af_metrics_free(m2);
    af_metrics_free(m);
}

static void
many_statuses(void **state)
{
    (void)state;
    af_metrics *m = af_metrics_create(3);
    for (int st = 200; st < 220; st++)
        af_metrics_request(af_metrics_shard_of(m, (unsigned)st % 3), "/p",
                           NULL, st, 0.0);
    af_buf b;
    const char *t = render(m, &b);
    assert_line(t, "adfunnel_requests_total{path=\"/p\",surface=\"\","
                   "status=\"200\"} 1");
    /* Each shard holds 16 codes; with 3 shards none overflows here. */
    assert_line(t, "adfunnel_requests_total{path=\"/p\",surface=\"\","
                   "status=\"219\"} 1");
    af_buf_free(&b);
    af_metrics_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(requests_merge_across_shards),
        cmocka_unit_test(rank_stages),
        cmocka_unit_test(label_overflow_and_escaping),
        cmocka_unit_test(many_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
