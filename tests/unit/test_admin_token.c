/*
 * test_admin_token.c -- the admin token file (core/admin/token.h): format,
 * permission checks, matching, ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "adfunnel/af_errno.h"
#include "admin/token.h"

static char dir[] = "/tmp/af-test-token-XXXXXX";

static const char *
write_file(const char *name, const char *text, mode_t mode)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static void
test_ids_and_matching(void **state)
{
    char err[256];
    const char *path = write_file("ok", "# comment\n\n"
                                        "alice:0123456789abcdef0123\n"
                                        "  fedcba9876543210fedcba  \n"
                                        "ci-bot:zzzzzzzzzzzzzzzzzzzz:with:colons\n",
                                  0600);
    af_tokens *t = af_tokens_load(path, err, sizeof err);
    assert_non_null(t);
    const char *a = "0123456789abcdef0123";
    assert_string_equal(af_tokens_check(t, a, strlen(a)), "alice");
    const char *b = "fedcba9876543210fedcba";
    assert_string_equal(af_tokens_check(t, b, strlen(b)), "token4");
    const char *c = "zzzzzzzzzzzzzzzzzzzz:with:colons";
    assert_string_equal(af_tokens_check(t, c, strlen(c)), "ci-bot");
    /* A prefix, a longer string, another token, nothing: no match. */
    assert_null(af_tokens_check(t, a, strlen(a) - 1));
    assert_null(af_tokens_check(t, "0123456789abcdef01234", 21));
    assert_null(af_tokens_check(t, "alice:0123456789abcdef0123", 26));
    assert_null(af_tokens_check(t, "", 0));
    assert_null(af_tokens_check(t, NULL, 0));
    af_tokens_free(t);
}

static void
test_refusals(void **state)
{
    char err[256];
    assert_null(af_tokens_load(write_file("open", "0123456789abcdef0123\n",
                                          0644), err, sizeof err));
    assert_non_null(strstr(err, "chmod 600"));
    assert_null(af_tokens_load(write_file("short", "id:short\n", 0600), err,
                               sizeof err));
    assert_non_null(strstr(err, ":1: a token is 16..256"));
    assert_null(af_tokens_load(write_file("space", "a:0123456789 abcdef0123\n",
                                          0600), err, sizeof err));
    assert_null(af_tokens_load(write_file("empty", "# nothing\n", 0600), err,
                               sizeof err));
    assert_non_null(strstr(err, "no token"));
    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    assert_null(af_tokens_load(missing, err, sizeof err));
    assert_non_null(strstr(err, missing));
}

static void
test_read_one(void **state)
{
    char err[256], tok[AF_TOKEN_MAX_LEN + 1];
    const char *path = write_file("two", "a:aaaaaaaaaaaaaaaaaaaa\n"
                                         "b:bbbbbbbbbbbbbbbbbbbb\n", 0600);
    assert_int_equal(af_tokens_read_one(path, NULL, tok, sizeof tok, err,
                                        sizeof err), AF_OK);
    assert_string_equal(tok, "aaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(af_tokens_read_one(path, "b", tok, sizeof tok, err,
                                        sizeof err), AF_OK);
    assert_string_equal(tok, "bbbbbbbbbbbbbbbbbbbb");
    assert_int_equal(af_tokens_read_one(path, "c", tok, sizeof tok, err,
                                        sizeof err), AF_ENOENT);
    assert_non_null(strstr(err, "no token with id \"c\""));
}

static int
setup(void **state)
{
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    static const char *const names[] = {"ok", "open", "short", "space",
                                        "empty", "two"};
    char p[300];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    return rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_and_matching),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_read_one),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
