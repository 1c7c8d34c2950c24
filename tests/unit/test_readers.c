/*
 * test_readers.c -- the data readers (core/learn/reader.h) through the
 * data-set loader: every format reads its good lines, skips malformed ones,
 * counts them and reports them as file:line: reason -- never crashing, also
 * on overlong lines, NUL bytes and a truncated last line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "adfunnel/af_errno.h"
#include "learn/dataset.h"
#include "learn/featspec.h"
#include "learn/reader.h"

struct fx {
    char dir[64];
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/af_readers_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void
put(const struct fx *f, const char *name, const char *text, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    fclose(fp);
}

#define PUT(f, name, text) put(f, name, text, strlen(text))

/* Load spec file `spec` (in f's dir) with the data root f->dir. */
static int
load(const struct fx *f, const char *spec, struct af_dataset *d, char *err,
     size_t errlen)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", f->dir, spec);
    struct af_featspec *s = af_featspec_load(path, err, errlen);
    if (s == NULL)
        return -100;
    struct af_dataset_opts o = {.root = f->dir};
    int rc = af_dataset_load(s, &o, d, err, errlen);
    af_featspec_free(s);
    return rc;
}

static void
test_tsv(void **state)
{
    struct fx *f = *state;
    PUT(f, "a.tsv", "1\tx\t5\n0\ty\n1\tx\t7\t9\n0\t\t3\n2\tz\t1\nabc\tz\t1\n1\tq\t3");
    PUT(f, "a.lua", "features 'a' { data = { format = 'tsv', file = 'a.tsv', "
                    "columns = { 'label', 'c', 'n' } }, label = 'label', "
                    "split = '8/1/1', fields = { { 'c' }, { 'n', transform = 'int' } } }");
    struct af_dataset d;
    char err[512];
    assert_int_equal(load(f, "a.lua", &d, err, sizeof err), 0);
    assert_int_equal(d.rows, 3);     /* lines 1, 4 and 7 (no final newline) */
    assert_int_equal(d.rejected, 4); /* 2, 3: columns; 5, 6: label */
    assert_non_null(strstr(d.report, "a.tsv:2: expected 3 columns, got 2"));
    assert_non_null(strstr(d.report, "a.tsv:3: expected 3 columns, got more than 3"));
    assert_non_null(strstr(d.report, "a.tsv:5: label \"2\" is not 0 or 1"));
    assert_non_null(strstr(d.report, "a.tsv:6: label \"abc\" is not a number"));
    af_dataset_free(&d);

    /* a transform failure rejects the row, naming field and value */
    PUT(f, "b.tsv", "1\tx\tfive\n0\ty\t4\n0\ty\t5\n");
    PUT(f, "b.lua", "features 'b' { data = { format = 'tsv', file = 'b.tsv', "
                    "columns = { 'label', 'c', 'n' } }, label = 'label', "
                    "fields = { { 'c' }, { 'n', transform = 'int' } } }");
    assert_int_equal(load(f, "b.lua", &d, err, sizeof err), 0);
    assert_int_equal(d.rows, 2);
    assert_non_null(strstr(d.report, "b.tsv:1: field n: \"five\" does not fit "
                                     "transform int"));
    af_dataset_free(&d);
}

static void
test_csv_header_and_bytes(void **state)
{
    struct fx *f = *state;
    /* a NUL byte inside a line and an overlong line must not crash */
    char *big = malloc(AF_READER_MAX_LINE + 100);
    size_t n = 0;
    n += (size_t)sprintf(big + n, "click,site,hour\n1,a,14102100\n0,b");
    big[n++] = '\0';
    n += (size_t)sprintf(big + n, "x,14102101\n");
    memset(big + n, 'z', AF_READER_MAX_LINE + 10);
    n += AF_READER_MAX_LINE + 10;
    big[n++] = '\n';
    n += (size_t)sprintf(big + n, "0,c,14102123\n");
    put(f, "c.csv", big, n);
    free(big);
    PUT(f, "c.lua", "features 'c' { data = { format = 'csv', file = 'c.csv' }, "
                    "label = 'click', fields = { { 'site' }, "
                    "{ 'hh', source = 'hour', transform = { 'int', { 'mod', 100 } } } } }");
    struct af_dataset d;
    char err[512];
    assert_int_equal(load(f, "c.lua", &d, err, sizeof err), 0);
    assert_int_equal(d.rows, 2);
    assert_int_equal(d.rejected, 2);
    assert_non_null(strstr(d.report, "c.csv:3: expected 3 columns, got 2"));
    assert_non_null(strstr(d.report, "c.csv:4: line longer than"));
    af_dataset_free(&d);

    /* a source that is not a column: a clear error, no rows */
    PUT(f, "d.lua", "features 'd' { data = { format = 'csv', file = 'c.csv' }, "
                    "label = 'click', fields = { { 'nope' } } }");
    assert_int_equal(load(f, "d.lua", &d, err, sizeof err), AF_EINVAL);
    assert_non_null(strstr(err, "source \"nope\" is not a column"));
    /* a missing file */
    PUT(f, "e.lua", "features 'e' { data = { format = 'csv', file = 'none.csv' }, "
                    "label = 'click', fields = { { 'x' } } }");
    assert_true(load(f, "e.lua", &d, err, sizeof err) < 0);
    assert_non_null(strstr(err, "none.csv: cannot open"));
}

static void
test_libsvm_libffm(void **state)
{
    struct fx *f = *state;
    PUT(f, "s.txt", "1 3:1  5:0.5\n0 bad\n\n0 7:1\n");
    PUT(f, "s.lua", "features 's' { data = { format = 'libsvm', file = 's.txt' }, "
                    "label = 'label', fields = { { 'features', type = 'multi', "
                    "sep = ' ', values = true } } }");
    struct af_dataset d;
    char err[512];
    assert_int_equal(load(f, "s.lua", &d, err, sizeof err), 0);
    assert_int_equal(d.rows, 2);
    assert_int_equal(d.rejected, 2);
    assert_non_null(strstr(d.report, "s.txt:2: field features: \"bad\" is not "
                                     "token:value"));
    assert_non_null(strstr(d.report, "s.txt:3: empty line"));
    const uint32_t *g;
    const float *v;
    assert_int_equal(af_examples_entries(&d.part[0], 0, 0, &g, &v), 2);
    assert_true(v[0] == 1.0f && v[1] == 0.5f);
    af_dataset_free(&d);

    PUT(f, "f.txt", "1 0:7:0.5 1:9:1\n0 0:7:1 5:2:1\n0 0:1\n1 1:4:1\n");
    PUT(f, "f.lua", "features 'f' { data = { format = 'libffm', file = 'f.txt', "
                    "columns = { 'label', '0', '1' } }, label = 'label', fields = "
                    "{ { 'f0', source = '0', type = 'multi', values = true }, "
                    "{ 'f1', source = '1', type = 'multi', values = true } } }");
    assert_int_equal(load(f, "f.lua", &d, err, sizeof err), 0);
    assert_int_equal(d.rows, 2);
    assert_non_null(strstr(d.report, "f.txt:2: field \"5\" is not in data.columns"));
    assert_non_null(strstr(d.report, "f.txt:3: item 1 \"0:1\" is not "
                                     "field:feature:value"));
    af_dataset_free(&d);
}

static void
test_movielens_and_ipinyou(void **state)
{
    struct fx *f = *state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/ml", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    PUT(f, "ml/u.user", "1|24|M|technician|85711\n2|53|F|other|\nbroken\n");
    PUT(f, "ml/u.item", "10|A (1995)|01-Jan-1995||http://x|0|0|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
                        "11|B|||http://y|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1\n");
    PUT(f, "ml/u.data", "1\t10\t5\t100\n3\t10\t4\t101\n2\t11\t2\t99\n2\t12\t5\t98\n1\t11\n");
    PUT(f, "m.lua", "features 'm' { data = { format = 'movielens', file = 'ml' }, "
                    "label = { 'rating', ge = 4 }, order = { 'timestamp', numeric = true }, "
                    "fields = { { 'user_id' }, { 'age', transform = { 'int', { 'div', 10 } } }, "
                    "{ 'zip', transform = { 'substr', 1, 1 } }, "
                    "{ 'year', source = 'release_date', transform = { 'suffix', 4 } }, "
                    "{ 'genres', type = 'multi' } } }");
    struct af_dataset d;
    char err[512];
    assert_int_equal(load(f, "m.lua", &d, err, sizeof err), 0);
    assert_int_equal(d.rows, 2);
    assert_int_equal(d.rejected, 4);
    assert_non_null(strstr(d.report, "u.user:3: expected 5 |-separated columns"));
    assert_non_null(strstr(d.report, "u.data:2: user id \"3\" is not in u.user"));
    assert_non_null(strstr(d.report, "u.data:4: item id \"12\" is not in u.item"));
    assert_non_null(strstr(d.report, "u.data:5: expected 4 tab-separated columns"));
    /* sorted by timestamp: user 2 (t=99, rating 2) is the train row, user
     * 1 (t=100, rating 5) the test row */
    assert_true(d.part[0].n == 1 && d.part[0].label[0] == 0.0f);
    assert_true(d.part[2].n == 1 && d.part[2].label[0] == 1.0f);
    af_dataset_free(&d);

    PUT(f, "fi.txt", "weekday:1\t0\nweekday:2\t1\nhour:3\t2\nhour:4\t3\nbad line\n");
    PUT(f, "ip.txt", "0 0:1 2:1\n1 1:1 3:1\n0 0:1 1:1\n1 9:1\n0 3:1\n");
    PUT(f, "ip.lua", "features 'ip' { data = { format = 'ipinyou', file = 'ip.txt', "
                     "featindex = 'fi.txt' }, label = 'label', "
                     "fields = { { 'weekday' }, { 'hour' } } }");
    assert_int_equal(load(f, "ip.lua", &d, err, sizeof err), 0);
    assert_int_equal(d.rows, 3); /* the last one has no weekday: NA */
    assert_non_null(strstr(d.report, "fi.txt:5: expected name<TAB>index"));
    assert_non_null(strstr(d.report, "ip.txt:3: two indices for field weekday"));
    assert_non_null(strstr(d.report, "ip.txt:4: item \"9:1\" is not index:value"));
    af_dataset_free(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tsv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_header_and_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_libsvm_libffm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_movielens_and_ipinyou, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
