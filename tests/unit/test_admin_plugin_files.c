/*
 * test_admin_plugin_files.c -- where plugins may be loaded from
 * (core/admin/plugin_path.h) and the content-addressed copies that are
 * actually loaded (core/admin/plugin_cache.h).
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
#include "admin/plugin_cache.h"
#include "admin/plugin_path.h"

static char root[] = "/tmp/af-test-pfiles-XXXXXX";
static char plugins[300], other[300];

static void
put(const char *dir, const char *name, const char *text, mode_t mode)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(p, mode);
}

static int
setup(void **state)
{
    if (!mkdtemp(root))
        return -1;
    snprintf(plugins, sizeof plugins, "%s/plugins", root);
    snprintf(other, sizeof other, "%s/other", root);
    mkdir(plugins, 0755);
    mkdir(other, 0755);
    put(plugins, "model_a.so", "A", 0644);
    put(plugins, "open.so", "O", 0646);
    put(plugins, "notes.txt", "T", 0644);
    put(other, "evil.so", "E", 0644);
    char link[400], target[400];
    snprintf(link, sizeof link, "%s/link.so", plugins);
    snprintf(target, sizeof target, "%s/evil.so", other);
    return symlink(target, link);
}

static int
teardown(void **state)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd);
}

static void
expect(const char *path, int code, const char *needle)
{
    const char *dirs[] = {plugins, NULL};
    char resolved[4096], err[1024] = "";
    int rc = af_plugin_path_check(dirs, path, resolved, sizeof resolved, err,
                                  sizeof err);
    if (rc != code || (needle && !strstr(err, needle)))
        fail_msg("%s: rc %d (want %d), \"%s\" (want ...%s...)", path, rc,
                 code, err, needle ? needle : "");
}

static void
test_allowed(void **state)
{
    const char *dirs[] = {other, plugins, NULL};
    char resolved[4096], err[1024], want[400], abs[400];
    snprintf(want, sizeof want, "%s/model_a.so", plugins);
    char *real = realpath(want, NULL);
    assert_int_equal(af_plugin_path_check(dirs, "model_a", resolved,
                                          sizeof resolved, err, sizeof err),
                     AF_OK);
    assert_string_equal(resolved, real);
    assert_int_equal(af_plugin_path_check(dirs, "model_a.so", resolved,
                                          sizeof resolved, err, sizeof err),
                     AF_OK);
    snprintf(abs, sizeof abs, "%s/../plugins/model_a.so", plugins);
    assert_int_equal(af_plugin_path_check(dirs, abs, resolved,
                                          sizeof resolved, err, sizeof err),
                     AF_OK);
    assert_string_equal(resolved, real);
    free(real);
}

static void
test_refused(void **state)
{
    char p[400];
    expect("../other/evil.so", AF_EINVAL, "outside the plugin directory");
    expect("link.so", AF_EINVAL, "outside the plugin directory");
    snprintf(p, sizeof p, "%s/evil.so", other);
    expect(p, AF_EINVAL, "plugins load only from");
    expect("/etc/passwd", AF_EINVAL, "not in a plugin directory");
    expect("open.so", AF_EINVAL, "world-writable");
    expect("./notes.txt", AF_EINVAL, "named *.so");
    expect("notes.txt", AF_ENOENT, "no such plugin file");
    expect("missing", AF_ENOENT, "no such plugin file");
    expect("", AF_EINVAL, "no plugin path");
    char err[512];
    chmod(plugins, 0757);
    const char *dirs[] = {plugins, NULL};
    char resolved[4096];
    int rc = af_plugin_path_check(dirs, "model_a.so", resolved,
                                  sizeof resolved, err, sizeof err);
    chmod(plugins, 0755);
    assert_int_equal(rc, AF_EINVAL);
    assert_non_null(strstr(err, "world-writable"));
}

static void
test_cache_copies(void **state)
{
    char err[512], sha1[65], sha2[65], path1[4096], path2[4096], src[400];
    af_plugin_cache *c = af_plugin_cache_create(root, err, sizeof err);
    assert_non_null(c);
    struct stat st;
    assert_int_equal(stat(af_plugin_cache_dir(c), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(src, sizeof src, "%s/model_a.so", plugins);
    assert_int_equal(af_plugin_cache_acquire(c, src, sha1, path1,
                                             sizeof path1, err, sizeof err),
                     AF_OK);
    /* sha256("A") */
    assert_string_equal(sha1, "559aead08264d5795d3909718cdd05abd49572e84fe55590"
                              "eef31a88a08fdffd");
    assert_non_null(strstr(path1, sha1));
    /* Same bytes: same copy, one more reference. */
    assert_int_equal(af_plugin_cache_acquire(c, src, sha2, path2,
                                             sizeof path2, err, sizeof err),
                     AF_OK);
    assert_string_equal(path1, path2);
    assert_int_equal(af_plugin_cache_count(c), 1);
    /* The original changes: a new copy; the old one is untouched. */
    put(plugins, "model_a.so", "B", 0644);
    assert_int_equal(af_plugin_cache_acquire(c, src, sha2, path2,
                                             sizeof path2, err, sizeof err),
                     AF_OK);
    assert_string_not_equal(sha1, sha2);
    assert_int_equal(af_plugin_cache_count(c), 2);
    FILE *f = fopen(path1, "r");
    assert_non_null(f);
    assert_int_equal(fgetc(f), 'A');
    fclose(f);
    /* Retain by hash; the copy goes with its last reference. */
    char p3[4096];
    assert_int_equal(af_plugin_cache_retain(c, sha1, p3, sizeof p3), AF_OK);
    af_plugin_cache_release(c, sha1);
    af_plugin_cache_release(c, sha1);
    assert_int_equal(access(path1, F_OK), 0);
    af_plugin_cache_release(c, sha1);
    assert_int_not_equal(access(path1, F_OK), 0);
    assert_int_equal(af_plugin_cache_retain(c, sha1, p3, sizeof p3),
                     AF_ENOENT);
    char missing[400];
    snprintf(missing, sizeof missing, "%s/none.so", plugins);
    assert_int_equal(af_plugin_cache_acquire(c, missing, sha1, path1,
                                             sizeof path1, err, sizeof err),
                     AF_ENOENT);
    assert_non_null(strstr(err, missing));
    char dirname[4096];
    snprintf(dirname, sizeof dirname, "%s", af_plugin_cache_dir(c));
    af_plugin_cache_free(c);
    assert_int_not_equal(access(dirname, F_OK), 0);
    put(plugins, "model_a.so", "A", 0644);
}

static void
test_cache_parent_checked(void **state)
{
    char err[512], p[400];
    snprintf(p, sizeof p, "%s/wide", root);
    mkdir(p, 0777);
    chmod(p, 0777);
    assert_null(af_plugin_cache_create(p, err, sizeof err));
    assert_non_null(strstr(err, "writable by others"));
    chmod(p, 01777); /* sticky, like /tmp: fine */
    af_plugin_cache *c = af_plugin_cache_create(p, err, sizeof err);
    assert_non_null(c);
    af_plugin_cache_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_cache_copies),
        cmocka_unit_test(test_cache_parent_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
