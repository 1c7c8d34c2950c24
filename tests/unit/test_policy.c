/*
 * test_policy.c -- the policy filter (blocked categories per surface, ads
 * or campaigns a user hid) and the availability filter (flight dates read
 * from a TSV; how the world simulator makes ads arrive).
 */
#include <unistd.h>

#include "state_fixture.h"

static const af_loaded *policy, *avail;

static int
group_setup(void **state)
{
    policy = load_shipped("filter_policy.so");
    avail = load_shipped("filter_availability.so");
    return 0;
}

static int
group_teardown(void **state)
{
    af_loader_close((af_loaded *)policy);
    af_loader_close((af_loaded *)avail);
    return 0;
}

/* Four rows: categories 0, 1, 2, 3 (tc_init: category = row % 4); rows 0
 * and 1 share campaign 200. */
struct pol {
    struct test_catalog cat;
    struct test_request tr;
    struct af_batch b;
    af_state *st;
    struct af_instance in;
};

static struct pol *
pol_new(const af_loaded *p, af_config *cfg, af_state *st)
{
    struct pol *f = calloc(1, sizeof *f);
    tc_init(&f->cat, 4);
    f->cat.campaign_id[1] = 200;
    treq_init(&f->tr, &f->cat.view);
    batch_new(&f->tr, &f->b, 8);
    for (uint32_t r = 0; r < 4; r++)
        batch_add(&f->b, &f->cat.view, r);
    f->st = st ? st : af_state_embedded_new(256);
    sf_instance(p, cfg, &f->cat.view, f->st, &f->in);
    f->tr.req.time_s = SF_DAY0;
    return f;
}

static void
pol_free(struct pol *f, int own)
{
    af_instance_destroy(&f->in);
    if (own)
        af_state_free(f->st);
    treq_free(&f->tr);
    free(f);
}

static uint32_t
run_filter(struct pol *f)
{
    sf_clear_drops(&f->b);
    assert_int_equal(sf_filter(&f->in, &f->tr, &f->b), AF_OK);
    return sf_kept(&f->b);
}

static void
test_blocked_categories(void **unused)
{
    struct pol *f = pol_new(policy, cfg_nums("blocked_categories.1", 1.0,
                                             "blocked_categories.2", 3.0,
                                             NULL),
                            NULL);
    assert_int_equal(run_filter(f), 0x5); /* categories 1 and 3 dropped */
    pol_free(f, 1);
    f = pol_new(policy, af_config_new(), NULL);
    assert_int_equal(run_filter(f), 0xf); /* nothing blocked */
    pol_free(f, 1);
}

static void
test_hidden(void **unused)
{
    af_config *c = af_config_new();
    af_config_set_str(c, "hidden", "ad");
    struct pol *f = pol_new(policy, c, NULL);
    f->tr.req.user.id = 7;
    sf_record(f->st, &f->cat.view, AF_EV_HIDE, 7, 0, 1, SF_DAY0 - 1000);
    assert_int_equal(run_filter(f), 0xe); /* ad of row 0 hidden */
    f->tr.req.user.id = 8;
    assert_int_equal(run_filter(f), 0xf); /* another user */
    pol_free(f, 1);

    c = af_config_new();
    af_config_set_str(c, "hidden", "campaign");
    f = pol_new(policy, c, NULL);
    f->tr.req.user.id = 7;
    sf_record(f->st, &f->cat.view, AF_EV_HIDE, 7, 0, 1, SF_DAY0 - 1000);
    assert_int_equal(run_filter(f), 0xc); /* campaign 200: rows 0, 1 */
    pol_free(f, 1);

    c = af_config_new();
    af_config_set_str(c, "hidden", "ad");
    f = pol_new(policy, c, sf_failing_state());
    f->tr.req.user.id = 7;
    assert_int_equal(sf_filter(&f->in, &f->tr, &f->b), AF_EIO);
    assert_int_equal(sf_kept(&f->b), 0); /* closed */
    pol_free(f, 0);
}

static void
test_policy_bad_parameters(void **unused)
{
    sf_create_error(policy, cfg_nums("blocked_categories", 3.0, NULL),
                    "blocked_categories must be a list of category ids");
    sf_create_error(policy, cfg_nums("blocked_categories.1", 64.0, NULL),
                    "blocked_categories.1 must be an integer in 0..63, got 64");
    sf_create_error(policy, cfg_str("hidden", "all"),
                    "hidden must be \"none\", \"ad\" or \"campaign\"");
    sf_create_error(policy, cfg_nums("blocked", 1.0, NULL),
                    "unknown parameter \"blocked\"");
}

/* --- availability --- */

static const char *
write_tmp(char *path, size_t n, const char *text)
{
    snprintf(path, n, "/tmp/af-avail-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void
test_availability(void **unused)
{
    char path[64];
    /* ad 1001 from 10:00; ad 1002 from 10:00 until 12:00; columns in any
     * order; ad 1003 empty until. */
    write_tmp(path, sizeof path,
              "available_from\tad_id\tavailable_until\n"
              "1767607200\t1001\t\n"
              "1767607200\t1002\t1767614400\n"
              "0\t1003\t\n");
    struct pol *f = pol_new(avail, cfg_str("file", path), NULL);
    f->tr.req.time_s = SF_DAY0 + 10 * SF_HOUR - 1;
    assert_int_equal(run_filter(f), 0x9);
    f->tr.req.time_s = SF_DAY0 + 10 * SF_HOUR;
    assert_int_equal(run_filter(f), 0xf);
    f->tr.req.time_s = SF_DAY0 + 12 * SF_HOUR;
    assert_int_equal(run_filter(f), 0xb);
    pol_free(f, 1);
    unlink(path);
}

static void
avail_error(const char *text, const char *msg)
{
    char path[64];
    write_tmp(path, sizeof path, text);
    sf_create_error(avail, cfg_str("file", path), msg);
    unlink(path);
}

static void
test_availability_errors(void **unused)
{
    avail_error("ad_id\tavailable_from\n9999\t5\n",
                ":2: ad 9999 is not in the catalog");
    avail_error("ad_id\tavailable_from\n1001\tsoon\n",
                ":2: available_from \"soon\" is not unix seconds");
    avail_error("ad_id\twhen\n", ":1: unknown column \"when\"");
    avail_error("ad_id\n", ":1: the header must name ad_id and available_from");
    avail_error("ad_id\tavailable_from\n1001\n", ":2: 1 fields, the header has 2");
    avail_error("", "empty file");
    sf_create_error(avail, af_config_new(), "file is required");
    sf_create_error(avail, cfg_str("file", "/nonexistent/x.tsv"),
                    "/nonexistent/x.tsv: No such file or directory");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_categories),
        cmocka_unit_test(test_hidden),
        cmocka_unit_test(test_policy_bad_parameters),
        cmocka_unit_test(test_availability),
        cmocka_unit_test(test_availability_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
