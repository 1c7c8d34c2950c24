/*
 * test_world.c -- the simulated world: generation is deterministic, the
 * ground truth gives probabilities in (0, 1) with the documented base CTR
 * and a decreasing position effect, a damaged truth file is refused with
 * file:line, and fit-lr writes a model file the lr plugin's layout reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "../../plugins/model_lr/lr_format.h"
#include "adfunnel/af_errno.h"
#include "model/modelfile.h"
#include "store/catalog.h"
#include "world/wrand.h"
#include "world_fixture.h"

static const char *const world_files[] = {"ads.tsv", "users.tsv", "truth.tsv",
                                          "world.json"};

/* The whole file, NUL-terminated; *n = its size. */
static char *
slurp(const char *dir, const char *name, size_t *n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    *n = fread(buf, 1, (size_t)size, f);
    buf[*n] = '\0';
    fclose(f);
    return buf;
}

static int
same_file(const char *a, const char *b, const char *name)
{
    size_t na, nb;
    char *x = slurp(a, name, &na), *y = slurp(b, name, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static int
gen(struct fixture *fx, uint64_t seed, uint32_t ads, uint32_t users)
{
    snprintf(fx->dir, sizeof fx->dir, "/tmp/af-test-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    struct af_world_gen_params p = {.seed = seed, .n_ads = ads,
                                    .n_users = users};
    char err[512];
    int rc = af_world_generate(fx->dir, &p, err, sizeof err);
    if (rc != AF_OK)
        fprintf(stderr, "gen: %s\n", err);
    return rc;
}

static void
test_same_seed_same_bytes(void **state)
{
    struct fixture a, b, c;
    assert_int_equal(gen(&a, 5, 3000, 2000), AF_OK);
    assert_int_equal(gen(&b, 5, 3000, 2000), AF_OK);
    assert_int_equal(gen(&c, 6, 3000, 2000), AF_OK);
    for (size_t i = 0; i < 4; i++) {
        if (!same_file(a.dir, b.dir, world_files[i]))
            fail_msg("%s differs between two runs with seed 5",
                     world_files[i]);
        if (same_file(a.dir, c.dir, world_files[i]))
            fail_msg("%s identical for seeds 5 and 6", world_files[i]);
    }
    /* Generating again over an existing world replaces it identically. */
    struct af_world_gen_params p = {.seed = 5, .n_ads = 3000, .n_users = 2000};
    char err[512];
    assert_int_equal(af_world_generate(c.dir, &p, err, sizeof err), AF_OK);
    for (size_t i = 0; i < 4; i++)
        assert_true(same_file(a.dir, c.dir, world_files[i]));
    fx_cleanup(&a);
    fx_cleanup(&b);
    fx_cleanup(&c);
}

static void
test_counts_and_json(void **state)
{
    struct fixture fx;
    assert_int_equal(gen(&fx, 9, 1000, 700), AF_OK);
    char path[400];
    snprintf(path, sizeof path, "%s/world.json", fx.dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    assert_non_null(j);
    json_t *counts = json_object_get(j, "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "ads")), 1000);
    assert_int_equal(json_integer_value(json_object_get(counts, "users")), 700);
    assert_int_equal(json_integer_value(json_object_get(counts, "advertisers")),
                     20);
    json_int_t camps = json_integer_value(json_object_get(counts, "campaigns"));
    assert_true(camps >= 20 && camps <= 100);
    assert_int_equal(json_integer_value(json_object_get(j, "seed")), 9);
    json_decref(j);

    char err[512];
    af_world *w = af_world_load(fx.dir, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    assert_int_equal(af_world_seed(w), 9);
    const struct af_catalog *c = af_catalog_view(af_world_catalog(w));
    uint32_t cpc = 0, broad = 0;
    for (uint32_t i = 0; i < c->n_ads; i++) {
        cpc += c->bid_type[i] == AF_BID_CPC;
        broad += !c->geo_mask[i] && !c->age_mask[i] && !c->device_mask[i] &&
                 !c->interest_mask[i];
        assert_true(c->advertiser_id[i] >= 1 && c->advertiser_id[i] <= 20);
        assert_true(c->prior_ctr[i] > 0 && c->prior_ctr[i] < 0.5f);
    }
    assert_true(cpc > c->n_ads * 8 / 10);       /* a few CPM / CPA       */
    assert_true(broad > c->n_ads / 3);          /* most target broadly   */
    assert_true(broad < c->n_ads * 9 / 10);     /* some narrow           */
    af_world_free(w);
    fx_cleanup(&fx);
}

static void
test_truth_probabilities(void **state)
{
    struct fixture fx;
    assert_int_equal(gen(&fx, 11, 4000, 3000), AF_OK);
    char err[512];
    af_world *w = af_world_load(fx.dir, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    const struct af_catalog *c = af_catalog_view(af_world_catalog(w));
    const af_user_store *us = af_world_users(w);
    struct af_wrand r;
    af_wrand_seed(&r, 1, 2);

    assert_true(af_world_exam(w, 0) == 1.0);
    for (uint32_t pos = 1; pos < 10; pos++)
        assert_true(af_world_exam(w, pos) < af_world_exam(w, pos - 1));
    assert_true(fabs(af_world_exam(w, 1) - 1 / 1.35) < 1e-12);

    double sum = 0;
    uint32_t pairs = 0;
    while (pairs < 20000) {
        uint32_t ui = af_wrand_below(&r, af_users_count(us));
        uint32_t row = af_wrand_below(&r, c->n_ads);
        struct af_user u;
        af_users_at(us, ui, &u);
        if (!af_world_targets(c, row, &u))
            continue;
        double p0 = af_world_p_click(w, ui, row, 0);
        assert_true(p0 > 0 && p0 < 1);
        for (uint32_t pos = 1; pos < 5; pos++) {
            double p = af_world_p_click(w, ui, row, pos);
            assert_true(p > 0 && p < af_world_p_click(w, ui, row, pos - 1));
        }
        /* The profile form with the stored profile agrees. */
        assert_true(fabs(af_world_p_click_profile(w, &u, ui, row, 3) -
                         af_world_p_click(w, ui, row, 3)) < 1e-12);
        sum += p0;
        pairs++;
    }
    double base = sum / pairs;
    /* docs/world.md: base CTR (position 0, targeted pairs) 1%..5%. */
    if (base < 0.01 || base > 0.05)
        fail_msg("base CTR %.4f outside 1%%..5%%", base);

    /* An unknown user (no latent, no propensity) still gets a valid p;
     * interest in the ad's category raises it. */
    struct af_user anon = {.id = 0, .geo = -1, .age_band = -1, .device = -1,
                           .gender = -1, .interests = 0};
    uint32_t row = 0;
    while (row < c->n_ads && (c->geo_mask[row] || c->age_mask[row] ||
                              c->device_mask[row] || c->interest_mask[row]))
        row++;
    assert_true(row < c->n_ads);
    assert_true(af_world_targets(c, row, &anon));
    double p_plain = af_world_p_click_profile(w, &anon, -1, row, 0);
    anon.interests = 1ull << c->category[row];
    double p_int = af_world_p_click_profile(w, &anon, -1, row, 0);
    assert_true(p_plain > 0 && p_plain < p_int && p_int < 1);
    af_world_free(w);
    fx_cleanup(&fx);
}

static void
test_targets(void **state)
{
    uint32_t geo[2] = {0, 1u << 3};
    uint8_t age[2] = {0, 0x6}, dev[2] = {0, 0x1};
    uint64_t interest[2] = {0, 1ull << 40};
    struct af_catalog c = {.n_ads = 2, .geo_mask = geo, .age_mask = age,
                           .device_mask = dev, .interest_mask = interest};
    struct af_user u = {.geo = 3, .age_band = 1, .device = 0,
                        .interests = 1ull << 40};
    assert_true(af_world_targets(&c, 0, &u));
    assert_true(af_world_targets(&c, 1, &u));
    u.geo = 4;
    assert_false(af_world_targets(&c, 1, &u));
    u.geo = 40; /* beyond the mask's width: no bit */
    assert_false(af_world_targets(&c, 1, &u));
    u.geo = -1; /* unknown matches any mask, as the targeting filter rules */
    assert_true(af_world_targets(&c, 1, &u));
    assert_true(af_world_targets(&c, 0, &u));
    u.geo = 3;
    u.age_band = 3;
    assert_false(af_world_targets(&c, 1, &u));
    u.age_band = 2;
    u.device = 1;
    assert_false(af_world_targets(&c, 1, &u));
    u.device = 0;
    u.interests = 1;
    assert_false(af_world_targets(&c, 1, &u));
}

static void
test_bad_truth_and_params(void **state)
{
    struct fixture fx;
    assert_int_equal(gen(&fx, 2, 50, 40), AF_OK);
    char path[400], err[512];
    snprintf(path, sizeof path, "%s/truth.tsv", fx.dir);
    size_t n;
    char *good = slurp(fx.dir, "truth.tsv", &n);

    /* A line for an ad the catalog does not have. */
    FILE *f = fopen(path, "a");
    fputs("ad\t9999\t0\t0\t0\t0\t0\t0\t0\t0\t0\n", f);
    fclose(f);
    assert_null(af_world_load(fx.dir, err, sizeof err));
    char want[500];
    snprintf(want, sizeof want, "%s:92: ad 9999 is not in ads.tsv", path);
    assert_string_equal(err, want);

    /* A missing user line. */
    char *cut = strstr(good, "\nuser\t40\t");
    assert_non_null(cut);
    cut[1] = '\0';
    fx_write(path, good);
    assert_null(af_world_load(fx.dir, err, sizeof err));
    assert_non_null(strstr(err, "truth.tsv: no truth line for some users"));

    /* A bad number. */
    strcpy(cut + 1, "user\t40\tx\t0\t0\t0\t0\t0\t0\t0\t0\n");
    fx_write(path, good);
    assert_null(af_world_load(fx.dir, err, sizeof err));
    assert_non_null(strstr(err, "truth.tsv:91: bias: 'x' is not a finite number"));
    free(good);

    struct af_world_gen_params p = {.seed = 1, .n_ads = 0, .n_users = 10};
    assert_int_equal(af_world_generate(fx.dir, &p, err, sizeof err), AF_EINVAL);
    p.n_ads = 10;
    p.seed = UINT64_MAX;
    assert_int_equal(af_world_generate(fx.dir, &p, err, sizeof err), AF_EINVAL);
    p.seed = 1;
    assert_int_equal(af_world_generate("/proc/af-no-such/world", &p, err,
                                       sizeof err), AF_EIO);
    assert_non_null(strstr(err, "/proc/af-no-such"));
    fx_cleanup(&fx);
}

/* fit-lr on a small world writes an lr model for the pipeline's features. */
static void
test_fit_lr_writes_model(void **state)
{
    const char *plugins = getenv("AF_PLUGIN_DIR");
    const char *src = getenv("AF_SOURCE_DIR");
    if (!plugins || !src)
        skip();
    struct fixture fx;
    assert_int_equal(gen(&fx, 4, 3000, 2000), AF_OK);
    char pipeline[512], out[400], err[1024];
    snprintf(pipeline, sizeof pipeline, "%s/pipelines/home_feed.lua", src);
    snprintf(out, sizeof out, "%s/models/lr.afm", fx.dir);
    const char *dirs[2] = {plugins, NULL};
    struct af_fit_opts o = {
        .data_dir = fx.dir, .pipeline = pipeline, .plugin_dirs = dirs,
        .out = out, .impressions = 20000, .epochs = 2, .use_world_seed = 1,
        .n_buckets = 1u << 12, .lr = 0.05, .l2 = 1e-6, .pool = 200};
    if (af_world_fit_lr(&o, err, sizeof err) != AF_OK)
        fail_msg("fit-lr: %s", err);

    struct af_model_blob b;
    if (af_modelfile_open(out, "lr", 0, &b, err, sizeof err) != AF_OK)
        fail_msg("open: %s", err);
    assert_string_equal(b.kind, "lr");
    assert_string_equal(b.version, "lr-world-4");
    assert_true(b.fingerprint != 0);
    struct af_lr_payload_header h;
    assert_true(b.size >= sizeof h);
    memcpy(&h, b.data, sizeof h);
    assert_int_equal(h.n_buckets, 1u << 12);
    assert_int_equal(h.n_dense, 3);
    assert_int_equal(b.size, sizeof h + 4 * ((size_t)h.n_buckets + h.n_dense));
    assert_true(h.bias < 0); /* CTR of a few percent */
    af_modelfile_close(&b);
    fx_cleanup(&fx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_counts_and_json),
        cmocka_unit_test(test_truth_probabilities),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_bad_truth_and_params),
        cmocka_unit_test(test_fit_lr_writes_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
