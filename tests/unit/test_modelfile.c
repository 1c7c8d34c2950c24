/*
 * test_modelfile.c -- the .afm model file: a written file reads back
 * identically, and every kind of damage or mismatch is refused with a
 * message "path: reason" that names expected and found values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "adfunnel/af_errno.h"
#include "model/modelfile.h"

#define FP 0x0123456789abcdefULL

/* Each test gets a fresh directory holding one good model "m.afm". */
struct fixture {
    char dir[256];
    char path[300];
    float payload[64];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/af_modelfile_XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/m.afm", f->dir);
    for (int i = 0; i < 64; i++)
        f->payload[i] = (float)i * 0.5f - 3.0f;
    struct af_modelfile_meta m = {.kind = "lr", .version = "lr-test-1",
                                  .fingerprint = FP, .summary = "auc 0.7"};
    char err[512];
    if (af_modelfile_write(f->path, &m, f->payload, sizeof f->payload, err,
                           sizeof err) != AF_OK) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[600];
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* --- helpers: damage the file in place --- */

static void
patch(const char *path, long off, const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

static void
flip_byte(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* Rewrite the header checksum after a deliberate header edit, so the test
 * reaches the check behind it. */
static void
reseal_header(const char *path)
{
    unsigned char h[AF_MODELFILE_HEADER];
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, h, sizeof h, 0), (ssize_t)sizeof h);
    uint32_t crc = (uint32_t)crc32(0, h, 252);
    unsigned char le[4] = {(unsigned char)crc, (unsigned char)(crc >> 8),
                           (unsigned char)(crc >> 16),
                           (unsigned char)(crc >> 24)};
    assert_int_equal(pwrite(fd, le, 4, 252), 4);
    close(fd);
}

/* Opening must fail with `code`, leave the blob empty, and say path+why. */
static void
expect_refusal(const char *path, const char *kind, uint64_t fp, int code,
               const char *reason)
{
    struct af_model_blob b;
    char err[512] = "";
    int rc = af_modelfile_open(path, kind, fp, &b, err, sizeof err);
    if (rc != code || strstr(err, path) != err || !strstr(err, reason))
        fail_msg("open %s: got %s \"%s\", want %s with \"%s\"", path,
                 af_err_name(rc), err, af_err_name(code), reason);
    assert_null(b.data);
    assert_null(b.host_handle);
}

/* --- tests --- */

static void
test_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct af_model_blob b;
    char err[512] = "";
    assert_int_equal(af_modelfile_open(f->path, "lr", FP, &b, err, sizeof err),
                     AF_OK);
    assert_int_equal(b.size, sizeof f->payload);
    assert_memory_equal(b.data, f->payload, sizeof f->payload);
    assert_string_equal(b.kind, "lr");
    assert_string_equal(b.version, "lr-test-1");
    assert_true(b.fingerprint == FP);
    af_modelfile_close(&b);
    assert_null(b.data);

    /* fingerprint 0 = "any", kind NULL = "any" */
    assert_int_equal(af_modelfile_open(f->path, NULL, 0, &b, err, sizeof err),
                     AF_OK);
    af_modelfile_close(&b);
}

static void
test_empty_payload_and_overwrite(void **state)
{
    struct fixture *f = *state;
    struct af_modelfile_meta m = {.kind = "lr", .version = "v2"};
    char err[512];
    assert_int_equal(af_modelfile_write(f->path, &m, NULL, 0, err, sizeof err),
                     AF_OK);
    struct af_model_blob b;
    assert_int_equal(af_modelfile_open(f->path, "lr", 0, &b, err, sizeof err),
                     AF_OK);
    assert_int_equal(b.size, 0);
    assert_string_equal(b.version, "v2");
    af_modelfile_close(&b);
}

static void
test_no_temp_files_left(void **state)
{
    struct fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') {
            assert_string_equal(de->d_name, "m.afm");
            n++;
        }
    closedir(d);
    assert_int_equal(n, 1);
}

static void
test_truncated_payload(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(truncate(f->path, AF_MODELFILE_HEADER + 100), 0);
    expect_refusal(f->path, "lr", FP, AF_ECORRUPT,
                   "truncated: header says payload is 256 bytes, file holds 100");
}

static void
test_truncated_header(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(truncate(f->path, 100), 0);
    expect_refusal(f->path, "lr", FP, AF_ECORRUPT,
                   "truncated: file is 100 bytes, the header alone needs 256");
    assert_int_equal(truncate(f->path, 0), 0);
    expect_refusal(f->path, "lr", FP, AF_ECORRUPT, "file is 0 bytes");
}

static void
test_trailing_data(void **state)
{
    struct fixture *f = *state;
    patch(f->path, AF_MODELFILE_HEADER + 256, "xx", 2);
    expect_refusal(f->path, "lr", FP, AF_ECORRUPT, "trailing data");
}

static void
test_flipped_payload_byte(void **state)
{
    struct fixture *f = *state;
    flip_byte(f->path, AF_MODELFILE_HEADER + 17);
    expect_refusal(f->path, "lr", FP, AF_ECORRUPT, "payload checksum mismatch");
}

static void
test_flipped_header_byte(void **state)
{
    struct fixture *f = *state;
    flip_byte(f->path, 40); /* inside the version label */
    expect_refusal(f->path, "lr", FP, AF_ECORRUPT, "header checksum mismatch");
}

static void
test_wrong_kind(void **state)
{
    struct fixture *f = *state;
    expect_refusal(f->path, "deepfm", FP, AF_EMISMATCH,
                   "kind mismatch: expected \"deepfm\", found \"lr\"");
}

static void
test_wrong_fingerprint(void **state)
{
    struct fixture *f = *state;
    expect_refusal(f->path, "lr", 0x42, AF_EMISMATCH,
                   "feature fingerprint mismatch: expected 0000000000000042, "
                   "found 0123456789abcdef");
}

static void
test_bad_magic(void **state)
{
    struct fixture *f = *state;
    patch(f->path, 0, "GIF89a", 6);
    expect_refusal(f->path, "lr", FP, AF_ECORRUPT, "bad magic");
    expect_refusal(f->path, "lr", FP, AF_ECORRUPT, "found \"GIF89aL\\x00\"");
}

static void
test_unsupported_version(void **state)
{
    struct fixture *f = *state;
    unsigned char v2[4] = {2, 0, 0, 0};
    patch(f->path, 8, v2, 4);
    reseal_header(f->path);
    expect_refusal(f->path, "lr", FP, AF_EMISMATCH,
                   "unsupported format version: expected 1, found 2");
}

static void
test_missing_file(void **state)
{
    struct fixture *f = *state;
    char path[400];
    snprintf(path, sizeof path, "%s/nope.afm", f->dir);
    expect_refusal(path, "lr", FP, AF_ENOENT, "No such file");
}

static void
test_write_refuses_bad_meta(void **state)
{
    struct fixture *f = *state;
    char path[400], err[512] = "";
    snprintf(path, sizeof path, "%s/bad.afm", f->dir);
    struct af_modelfile_meta m = {.kind = "a-kind-name-that-is-too-long",
                                  .version = "v"};
    assert_int_equal(af_modelfile_write(path, &m, "x", 1, err, sizeof err),
                     AF_EINVAL);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "model kind must be 1..15 characters"));
    assert_int_equal(access(path, F_OK), -1); /* nothing was created */

    char dirpath[400];
    snprintf(dirpath, sizeof dirpath, "%s/no/such/dir/m.afm", f->dir);
    m.kind = "lr";
    assert_int_equal(af_modelfile_write(dirpath, &m, "x", 1, err, sizeof err),
                     AF_EIO);
    assert_non_null(strstr(err, dirpath));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_roundtrip),
        T(test_empty_payload_and_overwrite),
        T(test_no_temp_files_left),
        T(test_truncated_payload),
        T(test_truncated_header),
        T(test_trailing_data),
        T(test_flipped_payload_byte),
        T(test_flipped_header_byte),
        T(test_wrong_kind),
        T(test_wrong_fingerprint),
        T(test_bad_magic),
        T(test_unsupported_version),
        T(test_missing_file),
        T(test_write_refuses_bad_meta),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
