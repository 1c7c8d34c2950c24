/* test_config.c -- plugin parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"

static void
typed_access(void **state)
{
    (void)state;
    af_config *c = af_config_new();
    af_config_set_num(c, "k", 2000);
    af_config_set_num(c, "reserve", 0.05);
    af_config_set_bool(c, "quality", 1);
    af_config_set_str(c, "model", "models/lr.afm");
    af_config_set_str(c, "numeric_string", "12.5");
    assert_int_equal(af_config_count(c), 5);
    assert_int_equal(af_config_int(c, "k", 0), 2000);
    assert_string_equal(af_config_str(c, "k", NULL), "2000");
    assert_true(af_config_num(c, "reserve", 0) == 0.05);
    assert_true(af_config_bool(c, "quality", 0));
    assert_string_equal(af_config_str(c, "model", NULL), "models/lr.afm");
    assert_true(af_config_num(c, "numeric_string", 0) == 12.5);
    /* A non-numeric string read as a number gives the default. */
    assert_true(af_config_num(c, "model", 7) == 7);
    assert_int_equal(af_config_int(c, "absent", -1), -1);
    assert_false(af_config_has(c, "absent"));
    assert_string_equal(af_config_key(c, 0), "k");
    assert_null(af_config_key(c, 99));
    /* Overwrite keeps one entry. */
    af_config_set_num(c, "k", 10);
    assert_int_equal(af_config_count(c), 5);
    assert_int_equal(af_config_int(c, "k", 0), 10);
    af_config_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(typed_access)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
