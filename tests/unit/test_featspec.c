/*
 * test_featspec.c -- the feature spec (core/learn/featspec.h), transforms
 * and encoder (encode.h) and vocabularies (vocab.h): file:line errors, the
 * anchors' token rules, first-appearance vocabularies with min_count and
 * OOV 0, mean pooling, fingerprints, and vocab files refused on mismatch.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "adfunnel/af_errno.h"
#include "learn/dataset.h"
#include "learn/encode.h"
#include "learn/featspec.h"
#include "learn/vocab.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/af_featspec_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *
put(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The spec error for text (NULL when it loads). */
static const char *
spec_error(const char *text)
{
    static char err[1024];
    struct af_featspec *s = af_featspec_load(put("e.lua", text), err, sizeof err);
    if (s != NULL) {
        af_featspec_free(s);
        return NULL;
    }
    const char *colon = strstr(err, "e.lua:");
    return colon ? colon : err;
}

static void
test_errors_located(void **state)
{
    (void)state;
    const char *e;
    e = spec_error("features 'x' {\n  fields = { { 'a' } },\n  mincount = 2,\n}\n");
    assert_non_null(e);
    assert_non_null(strstr(e, "e.lua:3: features: unknown key \"mincount\""));
    e = spec_error("features 'x' {\n fields = {\n  { 'a', transform = 'sqrt' },\n } }\n");
    assert_non_null(strstr(e, "e.lua:3: field \"a\": unknown transform \"sqrt\""));
    e = spec_error("features 'x' { split = '70/20/20', fields = { { 'a' } } }");
    assert_non_null(strstr(e, "split \"70/20/20\" must be"));
    e = spec_error("features 'x' {\n fields = { { 'a' },\n { 'a' } } }");
    assert_non_null(strstr(e, "field \"a\" declared twice"));
    e = spec_error("features 'x' { fields = {\n { 'c', source = 'ad.category' },\n"
                   " { 'g', source = 'user.geo' } } }");
    assert_non_null(strstr(e, "e.lua:3: field \"g\" is request-side"));
    e = spec_error("features 'x' { fields = { { 'z', source = 'user.zodiac' } } }");
    assert_non_null(strstr(e, "unknown serving source \"user.zodiac\""));
    e = spec_error("features 'x' { fields = { { 'c', cross = { 'a', 'b' }, "
                   "transform = 'int' } } }");
    assert_non_null(strstr(e, "a cross joins its sources as they are"));
    e = spec_error("features 'x' { fields = { { 'm', transform = { 'mod', 0 } } } }");
    assert_non_null(strstr(e, "invalid argument"));
    e = spec_error("features 'x' { fields = { { 'a', max_len = 3 } } }");
    assert_non_null(strstr(e, "apply to type = \"multi\" only"));
    e = spec_error("return 1");
    assert_non_null(strstr(e, "declares no spec"));
    e = spec_error("features 'x' { fields = { { 'a' } } } os.exit(1)");
    assert_non_null(e); /* the sandbox has no os */
    assert_null(spec_error("features 'x' { fields = { { 'a' } } }"));
}

/* Tokens of one field for one raw value. */
static const char *
token(struct af_featspec *s, uint32_t fi, const char *raw, uint32_t *n)
{
    static char out[256];
    const char *rawv[8] = {raw, raw, raw, raw, raw, raw, raw, raw};
    struct af_tok tok[8];
    char scratch[512], err[256];
    int k = af_field_tokens(s, fi, rawv, tok, 8, scratch, sizeof scratch, err,
                            sizeof err);
    if (k < 0)
        return NULL;
    *n = (uint32_t)k;
    size_t len = 0;
    for (int i = 0; i < k; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%.*s", i ? "|" : "",
                                (int)tok[i].len, tok[i].s);
    return out;
}

static void
test_transforms(void **state)
{
    (void)state;
    char err[512];
    struct af_featspec *s = af_featspec_load(put("t.lua",
        "features 't' { fields = {\n"
        "  { 'crit', source = 'v', transform = 'criteo_int' },\n"
        "  { 'hh', source = 'v', transform = { 'int', { 'mod', 100 } } },\n"
        "  { 'dec', source = 'v', transform = { 'int', { 'div', 10 } } },\n"
        "  { 'sub', source = 'v', transform = { { 'substr', 12, 2 }, 'int' } },\n"
        "  { 'suf', source = 'v', transform = { 'suffix', 4 } },\n"
        "  { 'lb', source = 'v', transform = { 'log_bucket', 2 } },\n"
        "  { 'bk', source = 'v', transform = { 'buckets', 0.1, 0.5 } },\n"
        "  { 'mv', source = 'v', type = 'multi', max_len = 2 },\n"
        "} }"), err, sizeof err);
    assert_non_null(s);
    uint32_t n;
    /* the anchors' Criteo integers: 0, 1, 2 and negatives keep their value;
     * 3 and 4 -> 1, 5 -> 2; empty -> NA */
    const char *crit[][2] = {{"0", "0"}, {"1", "1"}, {"2", "2"}, {"-1", "-1"},
                             {"-2", "-2"}, {"3", "1"}, {"4", "1"}, {"5", "2"},
                             {"1382", "52"}, {"", "NA"}};
    for (size_t i = 0; i < sizeof crit / sizeof crit[0]; i++)
        assert_string_equal(token(s, 0, crit[i][0], &n), crit[i][1]);
    assert_null(token(s, 0, "1.5", &n)); /* not an integer */
    assert_string_equal(token(s, 1, "14102107", &n), "7");
    assert_string_equal(token(s, 1, "-3", &n), "97");  /* Python's modulo */
    assert_string_equal(token(s, 2, "73", &n), "7");
    assert_string_equal(token(s, 2, "-7", &n), "-1"); /* floor division */
    assert_string_equal(token(s, 3, "2017-11-07 09:30:38", &n), "9");
    assert_string_equal(token(s, 4, "01-Jan-1995", &n), "1995");
    assert_string_equal(token(s, 4, "95", &n), "95");
    assert_string_equal(token(s, 5, "7", &n), "3");   /* floor(log2(8)) */
    assert_string_equal(token(s, 5, "-7", &n), "-3");
    assert_string_equal(token(s, 6, "0.3", &n), "1");
    assert_string_equal(token(s, 6, "0.5", &n), "2");
    assert_string_equal(token(s, 7, "a,b,c", &n), "a|b"); /* max_len 2 */
    assert_string_equal(token(s, 7, "a,,c", &n), "a|NA");
    af_featspec_free(s);
}

/* Vocabularies from a small data set: first appearance in the train split,
 * min_count, OOV 0, offsets, mean pooling, fingerprint and the vocab file. */
static void
test_vocab_rules(void **state)
{
    (void)state;
    put("v.tsv",
        "1\tb\tx,y\n0\ta\ty\n1\tb\tz,z\n0\tc\tx\n1\ta\ty,x\n0\tb\tq\n1\ta\tx\n"
        "0\tb\ty\n1\tc\tx\n0\td\tw,x\n");
    const char *spec = put("v.lua",
        "features 'v' { data = { format = 'tsv', file = 'v.tsv', columns = "
        "{ 'label', 'c', 'm' } }, label = 'label', split = '80/10/10', "
        "min_count = 2, fields = { { 'c' }, { 'm', type = 'multi', max_len = 4 } } }");
    char err[512];
    struct af_featspec *s = af_featspec_load(spec, err, sizeof err);
    assert_non_null(s);
    struct af_dataset d;
    struct af_dataset_opts o = {.root = dir};
    assert_int_equal(af_dataset_load(s, &o, &d, err, sizeof err), 0);
    assert_int_equal(d.part[0].n, 8);
    assert_int_equal(d.part[1].n, 1);
    assert_int_equal(d.part[2].n, 1);
    /* field c over train rows 1-8: b a b c a b a b -> counts b4 a3 c1:
     * kept b=1, a=2 (first appearance), c OOV.  m: x y z z y x q y... with
     * x:4 y:4 z:2 q:1 -> x=1 y=2 z=3. */
    assert_int_equal(d.vocab.size[0], 3);
    assert_int_equal(d.vocab.size[1], 4);
    assert_int_equal(d.vocab.offset[1], 3);
    assert_int_equal(d.vocab.n_index, 7);
    const uint32_t *g;
    const float *v;
    assert_int_equal(af_examples_entries(&d.part[0], 0, 0, &g, &v), 1);
    assert_int_equal(g[0], 1); /* b */
    assert_int_equal(af_examples_entries(&d.part[0], 3, 0, &g, &v), 1);
    assert_int_equal(g[0], 0); /* c: OOV */
    assert_int_equal(af_examples_entries(&d.part[0], 0, 1, &g, &v), 2);
    assert_true(g[0] == 4 && g[1] == 5 && v[0] == 0.5f && v[1] == 0.5f);
    /* "z,z": one index with the values added */
    assert_int_equal(af_examples_entries(&d.part[0], 2, 1, &g, &v), 1);
    assert_true(g[0] == 6 && v[0] == 1.0f);
    /* test row "d", "w,x": OOV in c; w OOV + x */
    assert_int_equal(af_examples_entries(&d.part[2], 0, 0, &g, &v), 1);
    assert_int_equal(g[0], 0);
    assert_int_equal(af_examples_entries(&d.part[2], 0, 1, &g, &v), 2);
    assert_true(g[0] == 3 && g[1] == 4 && v[0] == 0.5f);
    uint32_t f, len;
    const char *t = af_vocab_token(&d.vocab, 2, &f, &len);
    assert_true(f == 0 && len == 1 && t[0] == 'a');
    assert_null(af_vocab_token(&d.vocab, 3, &f, &len));

    /* the vocab file round-trips, keeps the fingerprint ... */
    char path[128];
    snprintf(path, sizeof path, "%s/v.vocab.afm", dir);
    assert_int_equal(af_vocab_save(&d.vocab, path, err, sizeof err), 0);
    struct af_vocab back;
    assert_int_equal(af_vocab_load(&back, s, path, err, sizeof err), 0);
    assert_true(back.fingerprint == d.vocab.fingerprint);
    assert_int_equal(back.n_index, 7);
    assert_int_equal(af_vocab_local(&back, 1, "z", 1), 3);
    af_vocab_free(&back);
    /* ... and a changed spec no longer accepts it */
    struct af_featspec *s2 = af_featspec_load(put("v2.lua",
        "features 'v' { data = { format = 'tsv', file = 'v.tsv', columns = "
        "{ 'label', 'c', 'm' } }, label = 'label', min_count = 1, fields = "
        "{ { 'c' }, { 'm', type = 'multi', max_len = 4 } } }"), err, sizeof err);
    assert_non_null(s2);
    assert_int_equal(af_vocab_load(&back, s2, path, err, sizeof err), AF_EMISMATCH);
    assert_non_null(strstr(err, "the spec changed"));
    af_featspec_free(s2);
    /* min_count changes the sizes and so the fingerprint */
    uint64_t fp = d.vocab.fingerprint;
    af_dataset_free(&d);
    assert_int_equal(af_featspec_set_min_count(s, 1), 0);
    assert_int_equal(af_dataset_load(s, &o, &d, err, sizeof err), 0);
    assert_int_equal(d.vocab.size[0], 4);
    assert_true(d.vocab.fingerprint != fp);
    af_dataset_free(&d);
    af_featspec_free(s);
}

static void
test_hashed_field(void **state)
{
    (void)state;
    put("h.tsv", "1\tq\n0\tr\n1\ts\n0\tq\n1\tt\n0\tu\n1\tv\n0\tw\n1\tx\n0\tq\n");
    const char *spec = put("h.lua",
        "features 'h' { data = { format = 'tsv', file = 'h.tsv', columns = "
        "{ 'label', 'c' } }, label = 'label', fields = { { 'c', hash = 16 } } }");
    char err[512];
    struct af_featspec *s = af_featspec_load(spec, err, sizeof err);
    assert_non_null(s);
    struct af_dataset d;
    struct af_dataset_opts o = {.root = dir};
    assert_int_equal(af_dataset_load(s, &o, &d, err, sizeof err), 0);
    assert_int_equal(d.vocab.n_index, 17);
    const uint32_t *g;
    const float *v;
    for (uint32_t r = 0; r < d.part[0].n; r++) {
        assert_int_equal(af_examples_entries(&d.part[0], r, 0, &g, &v), 1);
        assert_true(g[0] >= 1 && g[0] <= 16);
    }
    /* same token, same index (rows 1 and 4 are both "q") */
    const uint32_t *g2;
    af_examples_entries(&d.part[0], 0, 0, &g, &v);
    af_examples_entries(&d.part[0], 3, 0, &g2, &v);
    assert_int_equal(g[0], g2[0]);
    af_dataset_free(&d);
    af_featspec_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_located),
        cmocka_unit_test(test_transforms),
        cmocka_unit_test(test_vocab_rules),
        cmocka_unit_test(test_hashed_field),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
