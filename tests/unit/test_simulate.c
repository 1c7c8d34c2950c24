/*
 * test_simulate.c -- `adfunnel world simulate` (core/world/simulate.c and
 * its parts) on a small generated world:
 *
 *   - two pipelines (greedy and thompson, with caps, pacing, diversity, new
 *     ads) run to completion; the report says 0 cap, diversity and budget
 *     violations, regret >= 0, explored shares within the budgets, new ads
 *     arriving and shown, the SVG plots written;
 *   - the same options give the same report (wall-clock fields aside);
 *   - the comparator's optimum equals a brute force over assignments;
 *   - the cap checker counts violations in a hand-made impression log;
 *   - bad options are refused with clear messages.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "adfunnel/af_errno.h"
#include "world/sim_int.h"
#include "world/simulate.h"
#include "world_fixture.h"

#define REQUESTS 3000

/* Self-contained copies of the sim pipelines' shape, without a model (the
 * test world has none): pCTR is the catalog prior. */
#define PIPELINE(NAME, EXPLORE)                                                \
    "surface \"" NAME "\" {\n"                                                 \
    "  deadline_ms = 10000, slots = 4,\n"                                      \
    "  retrieve = { { \"popular\", k = 200 },\n"                               \
    "               { \"fresh\", k = 20, file = \"availability.tsv\",\n"       \
    "                 boost = 100 }, deadline_ms = 10000 },\n"                 \
    "  filter = { \"targeting\", { \"availability\", file = "                  \
    "\"availability.tsv\" },\n"                                                \
    "    { \"frequency_cap\", caps = {\n"                                      \
    "        { max = 2, units = 1, time_unit = \"day\", per = \"ad\" },\n"    \
    "        { max = 3, units = 3, time_unit = \"hour\", per = \"campaign\" "  \
    "} } },\n"                                                                 \
    "    { \"budget_pacing\", curve = \"even\" }, keep = 100 },\n"             \
    "  auction = { \"gsp\", reserve = 0.05, quality = false,\n"                \
    "              max_per_advertiser = 1, no_adjacent_advertiser = true },\n" \
    "  explore = " EXPLORE ",\n"                                               \
    "}\n"

static const char greedy_lua[] = PIPELINE("greedy", "{ \"greedy\" }");
static const char thompson_lua[] = PIPELINE(
    "thompson",
    "{ \"thompson\", budget = 0.5, reserve = 0.05, quality = false, "
    "max_per_advertiser = 1, no_adjacent_advertiser = true }");

struct sfx {
    struct fixture fx;
    char greedy[300], thompson[300], out[300], svg[300];
};

static int
setup(void **state)
{
    struct sfx *s = calloc(1, sizeof *s);
    if (!s || fx_world(&s->fx, 400, 300) != 0)
        return -1;
    fx_file(&s->fx, "greedy.lua", greedy_lua, s->greedy, sizeof s->greedy);
    fx_file(&s->fx, "thompson.lua", thompson_lua, s->thompson,
            sizeof s->thompson);
    snprintf(s->out, sizeof s->out, "%s/report.json", s->fx.dir);
    snprintf(s->svg, sizeof s->svg, "%s/svg", s->fx.dir);
    *state = s;
    return 0;
}

static int
teardown(void **state)
{
    struct sfx *s = *state;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/svg' '%s/work'", s->fx.dir,
             s->fx.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not clean %s\n", s->fx.dir);
    fx_cleanup(&s->fx);
    free(s);
    return 0;
}

static void
options(struct sfx *s, struct af_sim_opts *o, const char **dirs)
{
    af_sim_defaults(o);
    dirs[0] = getenv("AF_PLUGIN_DIR");
    dirs[1] = NULL;
    if (!dirs[0])
        fail_msg("AF_PLUGIN_DIR is not set (see tests/CMakeLists.txt)");
    o->data_dir = s->fx.dir;
    o->pipelines[0] = s->greedy;
    o->pipelines[1] = s->thompson;
    o->n_pipelines = 2;
    o->plugin_dirs = dirs;
    o->requests = REQUESTS;
    o->seed = 5;
    o->new_ads_per_hour = 1;
    o->budget_scale = 0.02; /* demand exceeds most budgets */
    o->quiet = 1;
    o->out = s->out;
}

static json_t *
load_report(const char *path)
{
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    if (!r)
        fail_msg("%s: %s", path, je.text);
    return r;
}

static double
num(json_t *o, const char *path)
{
    /* "a.b.c" through nested objects */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, "."))
        v = json_object_get(v, tok);
    if (!json_is_number(v))
        fail_msg("report: %s is not a number", path);
    return json_number_value(v);
}

/* Drop the fields that measure wall-clock time. */
static void
strip_timing(json_t *r)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(r, "pipelines"), i, p)
        json_object_del(p, "wall_seconds");
}

static void
test_run_and_report(void **state)
{
    struct sfx *s = *state;
    struct af_sim_opts o;
    const char *dirs[2];
    options(s, &o, dirs);
    o.svg_dir = s->svg;
    char err[1024] = "";
    int rc = af_world_simulate(&o, err, sizeof err);
    if (rc != AF_OK)
        fail_msg("simulate: %s", err);
    json_t *r = load_report(s->out);
    assert_int_equal(num(r, "new_ads"), 24);
    json_t *pipes = json_object_get(r, "pipelines");
    assert_int_equal(json_array_size(pipes), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *p = json_array_get(pipes, i);
        assert_int_equal(num(p, "requests"), REQUESTS);
        assert_true(num(p, "impressions") > REQUESTS);
        assert_int_equal(num(p, "checks.frequency_cap_violations"), 0);
        assert_int_equal(num(p, "checks.diversity_violations"), 0);
        assert_int_equal(num(p, "checks.budget_overruns"), 0);
        assert_int_equal(num(p, "checks.caps_checked"), 2);
        assert_int_equal(num(p, "degraded"), 0);
        assert_true(num(p, "regret") >= -1e-6);
        assert_true(num(p, "optimal_value") >= num(p, "value") - 1e-6);
        assert_true(num(p, "ctr") > 0 && num(p, "ctr") < 0.5);
        assert_true(num(p, "revenue") > 0);
        json_t *days = json_object_get(json_object_get(p, "pacing"), "days");
        assert_int_equal(json_array_size(days), 1);
    }
    /* thompson explores at most half of its requests (budget 0.5) and
     * shows new ads. */
    json_t *t = json_array_get(pipes, 1);
    assert_string_equal(json_string_value(json_object_get(t, "surface")),
                        "thompson");
    double share = num(t, "exploration.explored_request_share");
    assert_true(share > 0.05 && share < 0.5 + 0.03);
    assert_true(num(t, "new_ads.shown") > 0);
    assert_true(num(t, "new_ads.impression_share") > 0);
    json_decref(r);
    static const char *const svgs[] = {"regret.svg", "ctr.svg", "new_ads.svg",
                                       "spend_greedy.svg",
                                       "spend_thompson.svg"};
    for (size_t k = 0; k < sizeof svgs / sizeof *svgs; k++) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s", s->svg, svgs[k]);
        FILE *f = fopen(path, "r");
        if (!f)
            fail_msg("%s was not written", path);
        char head[5] = "";
        assert_int_equal(fread(head, 1, 4, f), 4);
        fclose(f);
        assert_memory_equal(head, "<svg", 4);
    }
}

static void
test_deterministic(void **state)
{
    struct sfx *s = *state;
    struct af_sim_opts o;
    const char *dirs[2];
    char err[1024] = "", work[300];
    json_t *r[2];
    for (int k = 0; k < 2; k++) {
        options(s, &o, dirs);
        o.requests = 1500;
        snprintf(work, sizeof work, "%s/work", s->fx.dir);
        o.work_dir = work; /* a kept directory works like a temporary one */
        if (af_world_simulate(&o, err, sizeof err) != AF_OK)
            fail_msg("simulate: %s", err);
        r[k] = load_report(s->out);
        strip_timing(r[k]);
    }
    if (!json_equal(r[0], r[1]))
        fail_msg("two runs with the same options gave different reports");
    json_decref(r[0]);
    json_decref(r[1]);
    char path[400];
    snprintf(path, sizeof path, "%s/availability.tsv", work);
    assert_int_equal(access(path, F_OK), 0);
}

/* --- ## The comparator against brute force --- */

static int
always(const struct sim_run *run, uint32_t user, uint32_t row, int64_t t)
{
    (void)run, (void)user, (void)t;
    return row % 3 != 0; /* a third of the ads are ineligible */
}

/* Brute force: every ordered choice of `slots` distinct eligible ads among
 * the best 10 CPC and best 10 CPM of the user (enough: an optimum uses at
 * most `slots` of each kind, the best ones). */
static double
brute(const struct sim_world *sw, uint32_t u, uint32_t slots)
{
    const struct af_catalog *c = sw->cat;
    struct af_user user;
    af_users_at(af_world_users(sw->w), u, &user);
    uint32_t cand[20], nc = 0;
    for (int kind = 0; kind < 2; kind++) {
        uint32_t best[10];
        double bv[10];
        uint32_t nb = 0;
        for (uint32_t r = 0; r < c->n_ads; r++) {
            int is_cpm = c->bid_type[r] == AF_BID_CPM;
            if (c->bid_type[r] == AF_BID_CPA || is_cpm != kind ||
                !af_world_targets(c, r, &user) || !always(NULL, u, r, 0))
                continue;
            double v = sim_value(sw, u, r, 0);
            uint32_t i = nb < 10 ? nb++ : 10;
            if (i == 10) {
                if (v <= bv[9])
                    continue;
                i = 9;
            }
            while (i > 0 && bv[i - 1] < v) {
                bv[i] = bv[i - 1];
                best[i] = best[i - 1];
                i--;
            }
            bv[i] = v;
            best[i] = r;
        }
        for (uint32_t i = 0; i < nb; i++)
            cand[nc++] = best[i];
    }
    double top = 0;
    assert_true(slots == 3);
    for (uint32_t a = 0; a < nc; a++)
        for (uint32_t b = 0; b < nc; b++)
            for (uint32_t d = 0; d < nc; d++) {
                if (a == b || a == d || b == d)
                    continue;
                double v = sim_value(sw, u, cand[a], 0) +
                           sim_value(sw, u, cand[b], 1) +
                           sim_value(sw, u, cand[d], 2);
                top = v > top ? v : top;
            }
    return top;
}

static void
test_comparator(void **state)
{
    struct sfx *s = *state;
    struct af_sim_opts o;
    const char *dirs[2];
    options(s, &o, dirs);
    o.requests = 10;
    struct sim_world sw;
    char err[512];
    if (sim_world_open(&sw, &o, err, sizeof err) != AF_OK)
        fail_msg("open: %s", err);
    struct sim_run run = {.sw = &sw};
    for (uint32_t u = 0; u < 60; u++) {
        int scanned;
        double got = sim_truth_best(sw.truth, &run, u, 0, 3, always, &scanned);
        double want = brute(&sw, u, 3);
        if (fabs(got - want) > 1e-9 * (1 + want))
            fail_msg("user %u: comparator %.12g, brute force %.12g", u, got,
                     want);
    }
    sim_world_close(&sw);
}

/* --- ## The cap checker --- */

static void
test_cap_checker(void **state)
{
    struct sfx *s = *state;
    struct af_sim_opts o;
    const char *dirs[2];
    options(s, &o, dirs);
    o.requests = 10;
    struct sim_world sw;
    char err[512];
    if (sim_world_open(&sw, &o, err, sizeof err) != AF_OK)
        fail_msg("open: %s", err);
    struct sim_run run = {.sw = &sw};
    run.info.n_caps = 1;
    run.info.caps[0] = (struct sim_cap){.max = 2, .per_campaign = 0,
                                        .window = AF_WIN_6H};
    int64_t t = AF_SIM_DEFAULT_START + 10 * 3600; /* 10:00 */
    /* user 1, row 5: 08:10, 09:00, 10:30 -> the third breaks 2 per 6h */
    assert_int_equal(sim_log_impression(&run, 1, 5, t - 6600), AF_OK);
    assert_int_equal(sim_log_impression(&run, 1, 5, t - 3600), AF_OK);
    assert_int_equal(sim_log_impression(&run, 1, 5, t + 1800), AF_OK);
    /* 16:05: 6h window starts 11:00: fine */
    assert_int_equal(sim_log_impression(&run, 1, 5, t + 6 * 3600 + 300), AF_OK);
    /* another user, same ad: fine */
    assert_int_equal(sim_log_impression(&run, 2, 5, t), AF_OK);
    sim_check_caps(&run);
    assert_int_equal(run.cap_violations, 1);
    /* per day with max 3: four impressions on day 0 -> one violation */
    run.info.caps[0] = (struct sim_cap){.max = 3, .per_campaign = 0,
                                        .window = AF_WIN_DAY};
    sim_check_caps(&run);
    assert_int_equal(run.cap_violations, 1);
    /* per campaign, lifetime max 4: user 1 has four impressions of row 5's
     * campaign, so none breaks it */
    run.info.caps[0] = (struct sim_cap){.max = 4, .per_campaign = 1,
                                        .window = AF_WIN_ALL};
    sim_check_caps(&run);
    assert_int_equal(run.cap_violations, 0);
    free(run.imp);
    sim_world_close(&sw);
}

/* --- ## Bad options --- */

static void
test_bad_options(void **state)
{
    struct sfx *s = *state;
    struct af_sim_opts o;
    const char *dirs[2];
    char err[1024] = "";
    options(s, &o, dirs);
    o.n_pipelines = 0;
    assert_int_equal(af_world_simulate(&o, err, sizeof err), AF_EINVAL);
    assert_non_null(strstr(err, "1..8 pipelines"));
    options(s, &o, dirs);
    o.new_ads_per_hour = 1000;
    assert_int_equal(af_world_simulate(&o, err, sizeof err), AF_EINVAL);
    assert_non_null(strstr(err, "at most half of which can be new"));
    options(s, &o, dirs);
    o.data_dir = "/nonexistent/world";
    assert_int_not_equal(af_world_simulate(&o, err, sizeof err), AF_OK);
    assert_non_null(strstr(err, "/nonexistent/world"));
    options(s, &o, dirs);
    o.demand_pipeline = "nosuch";
    o.requests = 50;
    assert_int_equal(af_world_simulate(&o, err, sizeof err), AF_EINVAL);
    assert_non_null(strstr(err, "--demand-pipeline nosuch"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_and_report),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_comparator),
        cmocka_unit_test(test_cap_checker),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
