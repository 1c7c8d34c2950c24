/*
 * test_store.c -- the catalog and user stores: a generated world loads with
 * every id findable; every kind of malformed line is refused with
 * "file:line: reason"; headers may order columns freely.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "adfunnel/af_errno.h"
#include "store/catalog.h"
#include "world_fixture.h"

#define ADS_HEADER                                                             \
    "ad_id\tadvertiser_id\tcampaign_id\tcategory\tbid_type\tbid\tquality\t"    \
    "prior_ctr\tdaily_budget\tgeo_mask\tage_mask\tdevice_mask\t"               \
    "interest_mask\n"
#define AD1 "1\t1\t1\t3\tcpc\t1.25\t0.8\t0.02\t100\t0\t0\t0\t0\n"
#define AD2 "2\t1\t2\t4\tcpm\t20\t0.5\t0.01\t50\tff\t3\t1\t8000000000000001\n"
#define USERS_HEADER "user_id\tgeo\tage_band\tdevice\tgender\tinterests\thistory\n"
#define USER1 "10\t3\t2\t1\t0\t18\t1,2\n"

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/af-test-XXXXXX");
    if (!fx || !mkdtemp(fx->dir))
        return -1;
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_cleanup(*state);
    free(*state);
    return 0;
}

/* Load ads.tsv holding `text`; expect failure with err starting with
 * "<dir>/ads.tsv:<line>: " and containing `reason`. */
static void
expect_ads_error(struct fixture *fx, const char *text, int line,
                 const char *reason)
{
    char path[400], want[500], err[512] = "";
    fx_file(fx, "ads.tsv", text, path, sizeof path);
    af_catalog_store *c = af_catalog_load(fx->dir, err, sizeof err);
    if (c)
        fail_msg("accepted: %s", text);
    snprintf(want, sizeof want, "%s:%d: ", path, line);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, reason))
        fail_msg("error \"%s\" does not start with \"%s\" or lacks \"%s\"",
                 err, want, reason);
}

static void
expect_users_error(struct fixture *fx, const char *text, int line,
                   const char *reason)
{
    char path[400], want[500], err[512] = "";
    fx_file(fx, "users.tsv", text, path, sizeof path);
    af_user_store *u = af_users_load(fx->dir, err, sizeof err);
    if (u)
        fail_msg("accepted: %s", text);
    snprintf(want, sizeof want, "%s:%d: ", path, line);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, reason))
        fail_msg("error \"%s\" does not start with \"%s\" or lacks \"%s\"",
                 err, want, reason);
}

static void
test_generated_world_loads(void **state)
{
    struct fixture *fx = *state;
    struct af_world_gen_params p = {.seed = 3, .n_ads = 500, .n_users = 400};
    char err[512];
    assert_int_equal(af_world_generate(fx->dir, &p, err, sizeof err), AF_OK);

    af_catalog_store *c = af_catalog_load(fx->dir, err, sizeof err);
    assert_non_null(c);
    const struct af_catalog *v = af_catalog_view(c);
    assert_int_equal(v->n_ads, 500);
    assert_int_equal(v->n_categories, AF_WORLD_CATEGORIES);
    assert_int_equal(v->n_geos, AF_WORLD_GEOS);
    for (uint32_t i = 0; i < v->n_ads; i++) {
        assert_int_equal(af_catalog_find(c, v->ad_id[i]), i);
        assert_true(v->quality[i] > 0 && v->quality[i] <= 1);
        assert_true(v->bid[i] > 0);
        assert_true(v->category[i] < AF_WORLD_CATEGORIES);
    }
    assert_int_equal(af_catalog_find(c, 999999), -1);

    af_user_store *u = af_users_load(fx->dir, err, sizeof err);
    assert_non_null(u);
    assert_int_equal(af_users_count(u), 400);
    struct af_user a, b;
    for (uint32_t i = 0; i < af_users_count(u); i++) {
        assert_int_equal(af_users_at(u, i, &a), AF_OK);
        assert_int_equal(af_users_find(u, a.id), i);
        assert_int_equal(af_users_get(u, a.id, &b), AF_OK);
        assert_int_equal(a.id, b.id);
        assert_int_equal(a.geo, b.geo);
        assert_int_equal(a.age_band, b.age_band);
        assert_int_equal(a.device, b.device);
        assert_int_equal(a.gender, b.gender);
        assert_true(a.interests == b.interests);
        assert_int_equal(a.n_history, b.n_history);
        assert_memory_equal(a.history, b.history,
                            a.n_history * sizeof a.history[0]);
        assert_true(a.n_history <= AF_MAX_HISTORY);
        for (uint32_t k = 0; k < a.n_history; k++)
            assert_true(af_catalog_find(c, a.history[k]) >= 0);
    }
    assert_int_equal(af_users_get(u, 999999, &a), AF_ENOENT);
    assert_int_equal(af_users_at(u, 400, &a), AF_ENOENT);
    af_users_free(u);
    af_catalog_free(c);
}

static void
test_ads_values_and_any_column_order(void **state)
{
    struct fixture *fx = *state;
    char path[400], err[512];
    /* Columns permuted, CRLF line ends, 0x prefix on a mask. */
    fx_file(fx, "ads.tsv",
            "bid\tad_id\tadvertiser_id\tcampaign_id\tcategory\tbid_type\t"
            "quality\tprior_ctr\tdaily_budget\tgeo_mask\tage_mask\t"
            "device_mask\tinterest_mask\r\n"
            "2.5\t77\t5\t6\t31\tcpa\t1\t0\t0\t0x8000\t20\t4\tffffffffffffffff\r\n",
            path, sizeof path);
    af_catalog_store *c = af_catalog_load(fx->dir, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    const struct af_catalog *v = af_catalog_view(c);
    assert_int_equal(v->n_ads, 1);
    assert_int_equal(v->ad_id[0], 77);
    assert_int_equal(v->advertiser_id[0], 5);
    assert_int_equal(v->campaign_id[0], 6);
    assert_int_equal(v->category[0], 31);
    assert_int_equal(v->bid_type[0], AF_BID_CPA);
    assert_true(v->bid[0] == 2.5f);
    assert_int_equal(v->geo_mask[0], 0x8000);
    assert_int_equal(v->age_mask[0], 0x20);
    assert_int_equal(v->device_mask[0], 4);
    assert_true(v->interest_mask[0] == UINT64_MAX);
    assert_int_equal(af_catalog_find(c, 77), 0);
    af_catalog_free(c);
}

static void
test_ads_malformed(void **state)
{
    struct fixture *fx = *state;
    expect_ads_error(fx, "", 1, "empty file");
    expect_ads_error(fx, "ad_id\tbid\n", 1, "missing column 'advertiser_id'");
    expect_ads_error(fx, "ad_id\tcolour\n", 1, "unknown column 'colour'");
    expect_ads_error(fx, "ad_id\tad_id\n", 1, "duplicate column 'ad_id'");
    expect_ads_error(fx, ADS_HEADER, 1, "no ads");
    expect_ads_error(fx, ADS_HEADER AD1 "2\t1\t1\t3\tcpc\t1.25\n", 3,
                     "6 fields, header has 13 columns");
    expect_ads_error(fx, ADS_HEADER AD1 "2\t1\t1\t3\tcpc\t1\t1\t0\t0\t0\t0\t0\t0\t9\n",
                     3, "too many fields");
    expect_ads_error(fx, ADS_HEADER "x1\t1\t1\t3\tcpc\t1\t1\t0\t0\t0\t0\t0\t0\n",
                     2, "ad_id: 'x1' is not an unsigned 64-bit integer");
    expect_ads_error(fx, ADS_HEADER "-1\t1\t1\t3\tcpc\t1\t1\t0\t0\t0\t0\t0\t0\n",
                     2, "ad_id");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\tabc\t1\t0\t0\t0\t0\t0\t0\n",
                     2, "bid: 'abc' is not a finite number");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\tnan\t1\t0\t0\t0\t0\t0\t0\n",
                     2, "bid: 'nan' is not a finite number");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t0\t1\t0\t0\t0\t0\t0\t0\n",
                     2, "bid: 0 out of range");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t32\tcpc\t1\t1\t0\t0\t0\t0\t0\t0\n",
                     2, "category: 32 out of range [0, 31]");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpx\t1\t1\t0\t0\t0\t0\t0\t0\n",
                     2, "bid_type: 'cpx' is not cpc, cpm or cpa");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t1\t0\t0\t0\t0\t0\t0\t0\n",
                     2, "quality: 0 out of range (0, 1]");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t1\t1.5\t0\t0\t0\t0\t0\t0\n",
                     2, "quality: 1.5 out of range");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t1\t1\t2\t0\t0\t0\t0\t0\n",
                     2, "prior_ctr: 2 out of range");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t1\t1\t0\t-5\t0\t0\t0\t0\n",
                     2, "daily_budget: -5 out of range");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t1\t1\t0\t0\t10000\t0\t0\t0\n",
                     2, "geo_mask: mask 10000 sets a bit at or above 16");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t1\t1\t0\t0\t0\t40\t0\t0\n",
                     2, "age_mask");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t1\t1\t0\t0\t0\t0\t8\t0\n",
                     2, "device_mask");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t1\t1\t0\t0\t0\t0\t0\tzz\n",
                     2, "interest_mask: 'zz' is not a 64-bit hexadecimal mask");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t1\t1\t0\t0\t0\t0\t0\t"
                     "10000000000000000\n",
                     2, "interest_mask");
    expect_ads_error(fx, ADS_HEADER "1\t1\t1\t3\tcpc\t1\t1\t0\t0\t0\t0\t0\t\n",
                     2, "interest_mask: empty mask");
    expect_ads_error(fx, ADS_HEADER AD1 AD2 AD1, 4, "ad_id: duplicate id 1");
    expect_ads_error(fx, ADS_HEADER AD1 "\n" AD2, 3, "1 fields");

    char err[512];
    assert_null(af_catalog_load("/nonexistent-af-dir", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-af-dir/ads.tsv: "));
}

static void
test_users_values(void **state)
{
    struct fixture *fx = *state;
    char path[400], err[512];
    fx_file(fx, "users.tsv", USERS_HEADER USER1 "11\t0\t0\t0\t1\t0\t\n", path,
            sizeof path);
    af_user_store *u = af_users_load(fx->dir, err, sizeof err);
    if (!u)
        fail_msg("%s", err);
    struct af_user a;
    assert_int_equal(af_users_get(u, 10, &a), AF_OK);
    assert_int_equal(a.geo, 3);
    assert_int_equal(a.age_band, 2);
    assert_int_equal(a.device, 1);
    assert_int_equal(a.gender, 0);
    assert_true(a.interests == 0x18);
    assert_int_equal(a.n_history, 2);
    assert_int_equal(a.history[0], 1);
    assert_int_equal(a.history[1], 2);
    assert_int_equal(af_users_get(u, 11, &a), AF_OK);
    assert_int_equal(a.n_history, 0);
    assert_int_equal(af_users_find(u, 11), 1);
    af_users_free(u);
}

static void
test_users_malformed(void **state)
{
    struct fixture *fx = *state;
    expect_users_error(fx, USERS_HEADER, 1, "no users");
    expect_users_error(fx, USERS_HEADER "1\t3\t2\t1\t0\t18\n", 2,
                       "6 fields, header has 7 columns");
    expect_users_error(fx, USERS_HEADER "1\t16\t2\t1\t0\t18\t\n", 2,
                       "geo: 16 out of range [0, 15]");
    expect_users_error(fx, USERS_HEADER "1\t-1\t2\t1\t0\t18\t\n", 2,
                       "geo: -1 out of range");
    expect_users_error(fx, USERS_HEADER "1\t1\t6\t1\t0\t18\t\n", 2,
                       "age_band: 6 out of range [0, 5]");
    expect_users_error(fx, USERS_HEADER "1\t1\t1\t3\t0\t18\t\n", 2,
                       "device: 3 out of range");
    expect_users_error(fx, USERS_HEADER "1\t1\t1\t1\t2\t18\t\n", 2,
                       "gender: 2 out of range");
    expect_users_error(fx, USERS_HEADER "1\t1\t1\t1\t1.5\t18\t\n", 2,
                       "gender: '1.5' is not an integer");
    expect_users_error(fx, USERS_HEADER "1\t1\t1\t1\t1\tg\t\n", 2,
                       "interests: 'g' is not a 64-bit hexadecimal mask");
    expect_users_error(fx, USERS_HEADER "1\t1\t1\t1\t1\t1\t1,,2\n", 2,
                       "history: bad ad id list");
    expect_users_error(fx, USERS_HEADER "1\t1\t1\t1\t1\t1\t1,2,\n", 2,
                       "history: trailing comma");
    expect_users_error(fx, USERS_HEADER "1\t1\t1\t1\t1\t1\t1,x\n", 2,
                       "history: 'x' is not an ad id");
    expect_users_error(fx, USERS_HEADER USER1 USER1, 3,
                       "user_id: duplicate id 10");
    char text[1024];
    int n = snprintf(text, sizeof text, "%s2\t1\t1\t1\t1\t1\t1", USERS_HEADER);
    for (int k = 0; k < AF_MAX_HISTORY; k++)
        n += snprintf(text + n, sizeof text - (size_t)n, ",%d", k + 2);
    snprintf(text + n, sizeof text - (size_t)n, "\n");
    expect_users_error(fx, text, 2, "history: more than 32 ad ids");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generated_world_loads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ads_values_and_any_column_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ads_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_malformed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
