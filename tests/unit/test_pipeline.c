/*
 * test_pipeline.c -- Lua pipeline files: what compiles, and that every kind
 * of mistake is refused with file:line and a useful reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pipeline/pipeline.h"
#include "pipeline/stage.h"
#include <sys/stat.h>

#include "world_fixture.h"

static struct fixture fx;

static int
setup(void **state)
{
    (void)state;
    return fx_world(&fx, 300, 100);
}

static int
teardown(void **state)
{
    (void)state;
    fx_cleanup(&fx);
    return 0;
}

/* Build `text` as a pipeline; returns the generation or NULL with err. */
static af_generation *
build(const char *text, char *err, size_t n)
{
    char path[512];
    fx_file(&fx, "p.lua", text, path, sizeof path);
    err[0] = '\0';
    return fx_generation(&fx, path, 0, err, n);
}

/* The pipeline must be refused with an error containing every needle. */
static void
refused(const char *text, const char *const *needles)
{
    char err[2048];
    af_generation *g = build(text, err, sizeof err);
    if (g) {
        af_generation_unref(g);
        fail_msg("pipeline was accepted:\n%s", text);
    }
    for (const char *const *q = needles; *q; q++)
        if (!strstr(err, *q))
            fail_msg("error \"%s\" lacks \"%s\"", err, *q);
}

#define REFUSED(text, ...)                                                     \
    do {                                                                       \
        const char *needles_[] = {__VA_ARGS__, NULL};                          \
        refused(text, needles_);                                               \
    } while (0)

static const char *const minimal =
    "surface \"s\" {\n"
    "  retrieve = { { \"popular\", k = 100 } },\n"
    "  filter = { \"targeting\", keep = 50 },\n"
    "  features = { \"basic\" },\n"
    "  auction = { \"gsp\", reserve = 0.01, slots = 3 },\n"
    "  explore = \"greedy\",\n"
    "}\n";

static void
compiles_stage_graph(void **state)
{
    (void)state;
    char err[2048];
    af_generation *g = build(minimal, err, sizeof err);
    assert_non_null(g);
    const struct af_pipeline *p = af_generation_surface(g, "s");
    assert_non_null(p);
    assert_int_equal(p->slots, 3);
    assert_int_equal(p->max_candidates, 100);
    assert_int_equal(p->n_arms, 1);
    const struct af_arm *arm = &p->arm[0];
    assert_non_null(arm->stage[AF_STAGE_RETRIEVE]);
    assert_int_equal(arm->stage[AF_STAGE_FILTER]->keep, 50);
    assert_null(arm->stage[AF_STAGE_RANK]);
    assert_string_equal(arm->stage[AF_STAGE_AUCTION]->label, "gsp");
    assert_true(af_pipeline_fingerprint(p) != 0);
    assert_non_null(strstr(af_pipeline_version(p), "s@"));
    af_generation_unref(g);
}

static void
syntax_error_has_line(void **state)
{
    (void)state;
    REFUSED("surface \"s\" {\n  retrieve = { \"popular\" \n  auction = 1\n}\n",
            "p.lua:3:");
}

static void
unknown_plugin_has_line(void **state)
{
    (void)state;
    REFUSED("surface \"s\" {\n"
            "  retrieve = { { \"popular\", k = 10 } },\n"
            "\n"
            "  auction = { \"gspp\" },\n"
            "}\n",
            "p.lua:4:", "unknown plugin \"gspp\"", "gsp");
}

static void
wrong_kind_is_refused(void **state)
{
    (void)state;
    REFUSED("surface \"s\" {\n"
            "  retrieve = { \"popular\" },\n"
            "  auction = { \"targeting\" },\n"
            "}\n",
            "p.lua:3:", "is a filter", "needs a auction");
}

static void
misspelt_key_gets_suggestion(void **state)
{
    (void)state;
    REFUSED("surface \"s\" {\n"
            "  retreive = { \"popular\" },\n"
            "  auction = \"gsp\",\n"
            "}\n",
            "p.lua:2:", "retreive", "did you mean \"retrieve\"");
}

static void
missing_stages_are_refused(void **state)
{
    (void)state;
    REFUSED("surface \"s\" { auction = \"gsp\" }\n", "p.lua:1:", "no retrieve");
    REFUSED("surface \"s\" { retrieve = \"popular\" }\n", "no auction");
    REFUSED("local x = 1\n", "exactly one surface");
}

static void
bad_parameters_are_refused(void **state)
{
    (void)state;
    REFUSED("surface \"s\" {\n  retrieve = { { \"popular\", k = -5 } },\n"
            "  auction = \"gsp\" }\n",
            "p.lua:2:", "k must be an integer");
    REFUSED("surface \"s\" {\n  retrieve = \"popular\",\n"
            "  auction = { \"gsp\", reserve = -1 } }\n",
            "p.lua:3:", "gsp");
    REFUSED("surface \"s\" {\n  retrieve = \"popular\",\n  slots = 0,\n"
            "  auction = \"gsp\" }\n",
            "p.lua:3:", "slots");
    REFUSED("surface \"s\" {\n  retrieve = { \"popular\", depth = 3 },\n"
            "  auction = \"gsp\" }\n",
            "p.lua:2:", "unknown parameter \"depth\"");
    REFUSED("surface \"s\" {\n  retrieve = { { \"popular\", k = 60000 },\n"
            "    { \"first_rows\", k = 60000 } },\n  auction = \"gsp\" }\n",
            "p.lua:2:", "120000 candidates");
    REFUSED("surface \"s\" {\n  retrieve = \"popular\",\n"
            "  auction = { \"gsp\", f = function() end } }\n",
            "p.lua:3:", "parameter \"f\" is a function");
}

static void
missing_model_file_is_refused(void **state)
{
    (void)state;
    REFUSED("surface \"s\" {\n  retrieve = \"popular\",\n"
            "  features = { \"basic\" },\n"
            "  rank = { \"lr\", model = \"models/none.afm\" },\n"
            "  auction = \"gsp\" }\n",
            "p.lua:4:", "none.afm");
}

static void
sandbox_has_no_io_os_or_loaders(void **state)
{
    (void)state;
    REFUSED("io.open('/etc/passwd')\n", "p.lua:1:", "io");
    REFUSED("os.execute('true')\n", "p.lua:1:", "os");
    REFUSED("dofile('/etc/passwd')\n", "p.lua:1:", "dofile");
    REFUSED("loadfile('/etc/passwd')\n", "p.lua:1:", "loadfile");
    REFUSED("load('return 1')\n", "p.lua:1:", "load");
    REFUSED("debug.getinfo(1)\n", "p.lua:1:", "debug");
    REFUSED("package.loadlib('x', 'y')\n", "p.lua:1:", "package");
    REFUSED("require('../etc/passwd')\n", "p.lua:1:", "invalid module name");
    REFUSED("require('nonexistent.module')\n", "p.lua:1:", "cannot open");
}

static void
sandbox_limits(void **state)
{
    (void)state;
    REFUSED("while true do end\n", "instruction limit");
    REFUSED("local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end\n",
            "memory limit");
}

static void
require_loads_shared_modules(void **state)
{
    (void)state;
    char path[512], err[2048];
    char dir[300];
    snprintf(dir, sizeof dir, "%s/features", fx.dir);
    mkdir(dir, 0755);
    fx_file(&fx, "features/v1.lua", "return { \"basic\" }\n", path, sizeof path);
    af_generation *g = build("local f = require \"features.v1\"\n"
                             "surface \"s\" { retrieve = \"popular\",\n"
                             "  features = f, auction = \"gsp\" }\n",
                             err, sizeof err);
    if (!g)
        fail_msg("%s", err);
    af_generation_unref(g);
}

static void
experiments_split_users(void **state)
{
    (void)state;
    char err[2048];
    af_generation *g = build(
        "surface \"s\" {\n"
        "  retrieve = { { \"popular\", k = 50 } },\n"
        "  auction = { \"gsp\" },\n"
        "  experiments = { salt = \"x1\",\n"
        "    { name = \"big\", weight = 0.3,\n"
        "      retrieve = { { \"popular\", k = 200 } } },\n"
        "  },\n"
        "}\n",
        err, sizeof err);
    if (!g)
        fail_msg("%s", err);
    const struct af_pipeline *p = af_generation_surface(g, "s");
    assert_int_equal(p->n_arms, 2);
    assert_int_equal(p->max_candidates, 200);
    uint32_t in_arm = 0;
    for (uint64_t u = 0; u < 10000; u++) {
        const struct af_arm *a = af_pipeline_arm(p, u);
        assert_ptr_equal(a, af_pipeline_arm(p, u)); /* deterministic */
        in_arm += strcmp(a->name, "big") == 0;
    }
    assert_true(in_arm > 2700 && in_arm < 3300);
    /* The arm shares control's auction stage and has its own retrieval. */
    assert_ptr_equal(p->arm[1].stage[AF_STAGE_AUCTION], p->arm[0].stage[AF_STAGE_AUCTION]);
    assert_ptr_not_equal(p->arm[1].stage[AF_STAGE_RETRIEVE], p->arm[0].stage[AF_STAGE_RETRIEVE]);
    af_generation_unref(g);

    REFUSED("surface \"s\" { retrieve = \"popular\", auction = \"gsp\",\n"
            "  experiments = { { name = \"a\", weight = 0.7 },\n"
            "                  { name = \"b\", weight = 0.7 } } }\n",
            "add up to more than 1");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compiles_stage_graph),
        cmocka_unit_test(syntax_error_has_line),
        cmocka_unit_test(unknown_plugin_has_line),
        cmocka_unit_test(wrong_kind_is_refused),
        cmocka_unit_test(misspelt_key_gets_suggestion),
        cmocka_unit_test(missing_stages_are_refused),
        cmocka_unit_test(bad_parameters_are_refused),
        cmocka_unit_test(missing_model_file_is_refused),
        cmocka_unit_test(sandbox_has_no_io_os_or_loaders),
        cmocka_unit_test(sandbox_limits),
        cmocka_unit_test(require_loads_shared_modules),
        cmocka_unit_test(experiments_split_users),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
