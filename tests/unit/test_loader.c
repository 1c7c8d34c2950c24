/*
 * test_loader.c -- the plugin loader against deliberately broken plugins
 * (built by tests/plugin/CMakeLists.txt into $AF_TEST_PLUGIN_DIR).
 *
 * Each broken .so must be refused with a message that starts with its path
 * and gives the specific reason; refusals must not disturb the plugins that
 * did load; a create() failure must reach the caller of af_instance_create
 * with the plugin's own message.
 */
#include "test_plugins_harness.h"

/* A broken plugin and the reason the loader must give. */
static const struct {
    const char *file;
    const char *reason;
} broken[] = {
    {"not_elf.so", "not a loadable shared object"},
    {"no_entry.so", "entry symbol af_plugin_entry() not found"},
    {"abi_major.so", "ABI major version 2, host has 1"},
    {"abi_minor.so", "built for ABI 1.1, newer than the host's 1.0"},
    {"bad_signature.so",
     "build signature \"af0-not-this-host\" is not binary compatible"},
    {"bad_kind.so", "unknown plugin kind 99"},
    {"null_ops.so", "has no calibrator operations"},
    {"null_desc.so", "af_plugin_entry() returned NULL"},
};
#define N_BROKEN (sizeof broken / sizeof broken[0])

/* err must start with the path of `file` and contain `reason`. */
static void
expect_message(const char *err, const char *path, const char *reason)
{
    if (strncmp(err, path, strlen(path)) != 0 || !strstr(err, reason))
        fail_msg("got \"%s\", want \"%s: ...%s...\"", err, path, reason);
}

static void
test_each_broken_plugin_refused(void **state)
{
    for (size_t i = 0; i < N_BROKEN; i++) {
        char path[4096], err[1024] = "";
        af_loaded *p = (af_loaded *)1;
        test_path("AF_TEST_PLUGIN_DIR", broken[i].file, path, sizeof path);
        int rc = af_loader_open(path, &p, err, sizeof err);
        if (rc >= 0)
            fail_msg("%s was loaded", broken[i].file);
        assert_null(p);
        expect_message(err, path, broken[i].reason);
    }
}

static void
test_missing_file_refused(void **state)
{
    char path[4096], err[1024] = "";
    af_loaded *p;
    test_path("AF_TEST_PLUGIN_DIR", "does_not_exist.so", path, sizeof path);
    assert_int_equal(af_loader_open(path, &p, err, sizeof err), AF_ENOENT);
    expect_message(err, path, "no such file");
}

static void
test_good_plugin_loads(void **state)
{
    char path[4096], err[1024] = "";
    af_loaded *p = NULL;
    test_path("AF_TEST_PLUGIN_DIR", "test_ok.so", path, sizeof path);
    if (af_loader_open(path, &p, err, sizeof err) != AF_OK)
        fail_msg("%s", err);
    assert_string_equal(p->desc->name, "test_ok");
    assert_int_equal(p->desc->kind, AF_KIND_CALIBRATOR);
    assert_int_equal(strlen(p->sha256), 64);
    assert_non_null(strstr(p->path, "/test_ok.so"));
    af_loader_close(p);
}

static void
test_duplicate_name_refused(void **state)
{
    char ok[4096], dup[4096], err[1024] = "";
    test_path("AF_TEST_PLUGIN_DIR", "test_ok.so", ok, sizeof ok);
    test_path("AF_TEST_PLUGIN_DIR", "dup_name.so", dup, sizeof dup);
    af_registry *r = af_registry_create();
    assert_int_equal(af_registry_load(r, ok, err, sizeof err), AF_OK);
    assert_int_equal(af_registry_load(r, dup, err, sizeof err), AF_EEXIST);
    expect_message(err, dup, "plugin name \"test_ok\" is already taken");
    assert_int_equal(af_registry_count(r), 1);
    assert_int_equal(af_registry_refused_count(r), 1);
    expect_message(af_registry_refused_at(r, 0), dup, "already taken");
    /* The first holder of the name is untouched. */
    const af_loaded *p = af_registry_find(r, "test_ok");
    assert_non_null(p);
    assert_non_null(strstr(p->path, "/test_ok.so"));
    af_registry_free(r);
}

/* Index of the refusal that mentions `file`, or -1. */
static int
refusal_of(const af_registry *r, const char *file)
{
    for (uint32_t i = 0; i < af_registry_refused_count(r); i++) {
        const char *m = af_registry_refused_at(r, i);
        char needle[256];
        snprintf(needle, sizeof needle, "/%s: ", file);
        if (strstr(m, needle))
            return (int)i;
    }
    return -1;
}

static void
test_scan_keeps_the_good_ones(void **state)
{
    const char *dir = getenv("AF_TEST_PLUGIN_DIR");
    assert_non_null(dir);
    af_registry *r = af_registry_create();
    /* Loaded: dup_name.so (a copy of test_ok) and fail_create.so, whose
     * descriptor is valid (only its create() fails).  Files are scanned in
     * name order, so dup_name.so takes "test_ok" before test_ok.so comes. */
    assert_int_equal(af_registry_scan(r, dir), 2);
    assert_int_equal(af_registry_count(r), 2);
    const af_loaded *ok = af_registry_find(r, "test_ok");
    assert_non_null(ok);
    assert_non_null(strstr(ok->path, "/dup_name.so"));
    assert_string_equal(ok->desc->version, "2.0.0-copy");
    assert_non_null(af_registry_find(r, "fail_create"));
    assert_int_equal(af_registry_refused_count(r), N_BROKEN + 1);
    for (size_t i = 0; i < N_BROKEN; i++) {
        int k = refusal_of(r, broken[i].file);
        if (k < 0)
            fail_msg("no refusal recorded for %s", broken[i].file);
        assert_non_null(strstr(af_registry_refused_at(r, (uint32_t)k),
                               broken[i].reason));
    }
    int k = refusal_of(r, "test_ok.so");
    assert_true(k >= 0);
    assert_non_null(strstr(af_registry_refused_at(r, (uint32_t)k),
                           "is already taken by"));

    /* What loaded still works after all those refusals. */
    const af_loaded *p = ok;
    af_config *cfg = af_config_new();
    af_config_set_num(cfg, "scale", 2.0);
    struct af_instance in;
    must_instance(p, cfg, NULL, &in);
    float v[2] = {0.25f, 0.125f};
    const struct af_calibrator_ops *ops = in.ops;
    assert_int_equal(ops->calibrate(in.inst, NULL, v, 2), AF_OK);
    assert_float_equal(v[0], 0.5, 0);
    assert_float_equal(v[1], 0.25, 0);
    af_instance_destroy(&in);
    af_config_free(cfg);
    af_registry_free(r);
}

static void
test_scan_missing_dir(void **state)
{
    af_registry *r = af_registry_create();
    assert_true(af_registry_scan(r, "/nonexistent/plugins") < 0);
    assert_int_equal(af_registry_count(r), 0);
    af_registry_free(r);
}

static void
test_failing_create_reports_its_message(void **state)
{
    char path[4096], err[1024] = "";
    af_loaded *p = NULL;
    test_path("AF_TEST_PLUGIN_DIR", "fail_create.so", path, sizeof path);
    if (af_loader_open(path, &p, err, sizeof err) != AF_OK)
        fail_msg("%s", err);
    af_config *cfg = af_config_new();
    struct af_instance in;
    int rc = make_instance(p, cfg, NULL, 0, &in, err, sizeof err);
    assert_int_equal(rc, AF_EINVAL);
    assert_non_null(strstr(err, "fail_create"));
    assert_non_null(strstr(err, "deliberate failure"));
    assert_null(in.inst);
    af_config_free(cfg);
    af_loader_close(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_broken_plugin_refused),
        cmocka_unit_test(test_missing_file_refused),
        cmocka_unit_test(test_good_plugin_loads),
        cmocka_unit_test(test_duplicate_name_refused),
        cmocka_unit_test(test_scan_keeps_the_good_ones),
        cmocka_unit_test(test_scan_missing_dir),
        cmocka_unit_test(test_failing_create_reports_its_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
