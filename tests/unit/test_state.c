/*
 * test_state.c -- the embedded online-state backend (core/state/embedded.c):
 * every entity family counts what state.h says; windows 1h/6h/24h/day/all
 * roll over with virtual time exactly to the hour; concurrent writers and
 * readers (pthreads) end with exact totals and readers never see a total go
 * down; a full family stops counting new keys but keeps the old ones; bad
 * input is refused.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "adfunnel/af_errno.h"
#include "state/state.h"

/* Monday 2026-01-05 00:00:00 UTC. */
#define DAY0 INT64_C(1767571200)
#define H 3600
#define T0 (DAY0 + 10 * H + 15 * 60) /* 10:15 */

static double
read1(af_state *s, int ent, int ev, int win, int64_t now, uint64_t key)
{
    double v = -1;
    assert_int_equal(af_state_read(s, ent, ev, win, now, &key, 1, &v), AF_OK);
    return v;
}

static void
record(af_state *s, int type, uint64_t user, uint64_t ad, uint32_t campaign,
       uint32_t advertiser, double value, int64_t t)
{
    struct af_state_event ev = {.type = type, .user_id = user, .ad_id = ad,
                                .campaign_id = campaign,
                                .advertiser_id = advertiser, .value = value,
                                .time_s = t};
    assert_int_equal(af_state_record(s, &ev), AF_OK);
}

/* --- families --- */

static void
test_families(void **unused)
{
    af_state *s = af_state_embedded_new(1000);
    assert_non_null(s);
    record(s, AF_EV_IMPRESSION, 7, 100, 10, 1, 1, T0);
    record(s, AF_EV_IMPRESSION, 7, 101, 10, 1, 1, T0);
    record(s, AF_EV_IMPRESSION, 8, 100, 10, 1, 1, T0);
    record(s, AF_EV_CLICK, 7, 100, 10, 1, 1, T0);
    record(s, AF_EV_SPEND, 7, 100, 10, 1, 0.25, T0);
    record(s, AF_EV_SPEND, 7, 101, 10, 1, 1.5, T0);

    int W = AF_WIN_ALL;
    assert_float_equal(read1(s, AF_ENT_AD, AF_EV_IMPRESSION, W, T0, 100), 2, 0);
    assert_float_equal(read1(s, AF_ENT_AD, AF_EV_IMPRESSION, W, T0, 101), 1, 0);
    assert_float_equal(read1(s, AF_ENT_CAMPAIGN, AF_EV_IMPRESSION, W, T0, 10), 3, 0);
    assert_float_equal(read1(s, AF_ENT_ADVERTISER, AF_EV_IMPRESSION, W, T0, 1), 3, 0);
    assert_float_equal(read1(s, AF_ENT_USER, AF_EV_IMPRESSION, W, T0, 7), 2, 0);
    assert_float_equal(read1(s, AF_ENT_USER_AD, AF_EV_IMPRESSION, W, T0,
                             af_state_key2(7, 100)), 1, 0);
    assert_float_equal(read1(s, AF_ENT_USER_AD, AF_EV_IMPRESSION, W, T0,
                             af_state_key2(8, 100)), 1, 0);
    assert_float_equal(read1(s, AF_ENT_USER_CAMPAIGN, AF_EV_IMPRESSION, W, T0,
                             af_state_key2(7, 10)), 2, 0);
    assert_float_equal(read1(s, AF_ENT_AD, AF_EV_CLICK, W, T0, 100), 1, 0);
    assert_float_equal(read1(s, AF_ENT_AD, AF_EV_CLICK, W, T0, 101), 0, 0);
    /* Spend is summed for ad, campaign, advertiser, never for users. */
    assert_float_equal(read1(s, AF_ENT_AD, AF_EV_SPEND, W, T0, 100), 0.25, 0);
    assert_float_equal(read1(s, AF_ENT_CAMPAIGN, AF_EV_SPEND, W, T0, 10), 1.75, 0);
    assert_float_equal(read1(s, AF_ENT_ADVERTISER, AF_EV_SPEND, W, T0, 1), 1.75, 0);
    assert_float_equal(read1(s, AF_ENT_USER, AF_EV_SPEND, W, T0, 7), 0, 0);
    /* Unknown keys read 0; key 0 is a key like any other. */
    assert_float_equal(read1(s, AF_ENT_AD, AF_EV_IMPRESSION, W, T0, 999), 0, 0);
    record(s, AF_EV_HIDE, 0, 0, 0, 0, 1, T0);
    assert_float_equal(read1(s, AF_ENT_AD, AF_EV_HIDE, W, T0, 0), 1, 0);
    assert_float_equal(read1(s, AF_ENT_USER, AF_EV_HIDE, W, T0, 0), 1, 0);

    /* Batched read: out[i] for keys[i]. */
    uint64_t keys[3] = {101, 999, 100};
    double out[3];
    assert_int_equal(af_state_read(s, AF_ENT_AD, AF_EV_IMPRESSION, W, T0, keys,
                                   3, out), AF_OK);
    assert_float_equal(out[0], 1, 0);
    assert_float_equal(out[1], 0, 0);
    assert_float_equal(out[2], 2, 0);
    af_state_free(s);
}

/* Spend is fixed point in 1e-4 units: sums of prices are exact to 1e-4. */
static void
test_spend_precision(void **unused)
{
    af_state *s = af_state_embedded_new(16);
    for (int i = 0; i < 1000; i++)
        record(s, AF_EV_SPEND, 1, 1, 1, 1, 0.1234, T0);
    assert_float_equal(read1(s, AF_ENT_CAMPAIGN, AF_EV_SPEND, AF_WIN_DAY, T0, 1),
                       123.4, 1e-9);
    record(s, AF_EV_SPEND, 1, 2, 2, 2, 0.12346, T0); /* rounds to 0.1235 */
    assert_float_equal(read1(s, AF_ENT_AD, AF_EV_SPEND, AF_WIN_ALL, T0, 2),
                       0.1235, 1e-12);
    af_state_free(s);
}

/* --- windows and virtual time --- */

static void
expect_windows(af_state *s, int64_t now, double w1, double w6, double w24,
               double wday, double wall)
{
    const double want[AF_WIN_N] = {w1, w6, w24, wday, wall};
    for (int w = 0; w < AF_WIN_N; w++) {
        double got = read1(s, AF_ENT_AD, AF_EV_IMPRESSION, w, now, 5);
        if (got != want[w])
            fail_msg("now = day0 + %.2f h, window %d: got %g, want %g",
                     (double)(now - DAY0) / H, w, got, want[w]);
    }
}

static void
test_windows_roll_over(void **unused)
{
    af_state *s = af_state_embedded_new(16);
    record(s, AF_EV_IMPRESSION, 1, 5, 1, 1, 1, T0); /* 10:15 */
    expect_windows(s, T0, 1, 1, 1, 1, 1);
    expect_windows(s, DAY0 + 10 * H, 1, 1, 1, 1, 1);     /* 10:00, same hour */
    expect_windows(s, DAY0 + 11 * H - 1, 1, 1, 1, 1, 1); /* 10:59:59 */
    expect_windows(s, DAY0 + 11 * H, 0, 1, 1, 1, 1);     /* 11:00 */
    expect_windows(s, DAY0 + 15 * H + 59 * 60, 0, 1, 1, 1, 1); /* 15:59 */
    expect_windows(s, DAY0 + 16 * H, 0, 0, 1, 1, 1);     /* 16:00 */
    expect_windows(s, DAY0 + 24 * H - 1, 0, 0, 1, 1, 1); /* 23:59:59 */
    expect_windows(s, DAY0 + 24 * H, 0, 0, 1, 0, 1);     /* next day 00:00 */
    expect_windows(s, DAY0 + 34 * H - 1, 0, 0, 1, 0, 1); /* next 09:59:59 */
    expect_windows(s, DAY0 + 34 * H, 0, 0, 0, 0, 1);     /* next 10:00 */

    /* Hour 10 of the next day reuses the bucket of hour 10: it rolls over. */
    record(s, AF_EV_IMPRESSION, 1, 5, 1, 1, 1, DAY0 + 34 * H + 5);
    record(s, AF_EV_IMPRESSION, 1, 5, 1, 1, 1, DAY0 + 34 * H + 6);
    expect_windows(s, DAY0 + 34 * H + 10, 2, 2, 2, 2, 3);
    /* Reading the past through a bucket that moved on gives 0, not a mix. */
    expect_windows(s, T0, 0, 0, 0, 0, 3);

    /* An event older than its bucket's hour counts in all only. */
    record(s, AF_EV_IMPRESSION, 1, 5, 1, 1, 1, T0);
    expect_windows(s, DAY0 + 34 * H + 10, 2, 2, 2, 2, 4);

    /* Several hours add up in 6h and 24h. */
    af_state *t = af_state_embedded_new(16);
    for (int h = 0; h < 30; h++)
        record(t, AF_EV_IMPRESSION, 1, 5, 1, 1, h + 1, DAY0 + h * H + 30);
    /* now = day 1, 05:30: 1h = hour 29 (30), 6h = hours 24..29, 24h = 6..29 */
    double six = 0, day = 0, all = 0, d24 = 0;
    for (int h = 0; h < 30; h++) {
        all += h + 1;
        if (h >= 24)
            six += h + 1, day += h + 1;
        if (h >= 6)
            d24 += h + 1;
    }
    af_state *tmp = s;
    s = t;
    expect_windows(s, DAY0 + 29 * H + 1800, 30, six, d24, day, all);
    s = tmp;
    af_state_free(t);
    af_state_free(s);
}

/* --- concurrency --- */

#define WRITERS 4
#define READERS 2
#define EVENTS_PER_WRITER 200000
#define NKEYS 64

struct shared {
    af_state *s;
    _Atomic int writers_done;
    int bad; /* a reader saw a total decrease */
};

static void *
writer(void *arg)
{
    struct shared *sh = arg;
    for (uint64_t i = 0; i < EVENTS_PER_WRITER; i++) {
        uint64_t ad = i % NKEYS;
        struct af_state_event ev = {.type = AF_EV_IMPRESSION,
                                    .user_id = i % 7, .ad_id = ad,
                                    .campaign_id = (uint32_t)(ad % 8),
                                    .advertiser_id = 1, .value = 1,
                                    .time_s = T0 + (int64_t)(i % 3) * H};
        af_state_record(sh->s, &ev);
        ev.type = AF_EV_SPEND;
        ev.value = 0.5;
        af_state_record(sh->s, &ev);
    }
    atomic_fetch_add(&sh->writers_done, 1);
    return NULL;
}

static void *
reader(void *arg)
{
    struct shared *sh = arg;
    uint64_t keys[NKEYS];
    double last[NKEYS] = {0}, out[NKEYS];
    for (int i = 0; i < NKEYS; i++)
        keys[i] = (uint64_t)i;
    while (atomic_load(&sh->writers_done) < WRITERS) {
        af_state_read(sh->s, AF_ENT_AD, AF_EV_IMPRESSION, AF_WIN_ALL,
                      T0 + 2 * H, keys, NKEYS, out);
        for (int i = 0; i < NKEYS; i++) {
            if (out[i] < last[i])
                sh->bad = 1;
            last[i] = out[i];
        }
    }
    return NULL;
}

static void
test_concurrent_exact(void **unused)
{
    struct shared sh = {.s = af_state_embedded_new(4096)};
    assert_non_null(sh.s);
    pthread_t w[WRITERS], r[READERS];
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, &sh);
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&w[i], NULL, writer, &sh);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    assert_int_equal(sh.bad, 0);

    const double per_key = (double)WRITERS * EVENTS_PER_WRITER / NKEYS;
    double total_day = 0;
    for (uint64_t k = 0; k < NKEYS; k++) {
        double all = read1(sh.s, AF_ENT_AD, AF_EV_IMPRESSION, AF_WIN_ALL,
                           T0 + 2 * H, k);
        assert_float_equal(all, per_key, 0);
        total_day += read1(sh.s, AF_ENT_AD, AF_EV_IMPRESSION, AF_WIN_DAY,
                           T0 + 2 * H, k);
    }
    assert_float_equal(total_day, (double)WRITERS * EVENTS_PER_WRITER, 0);
    /* Events went to hours 10, 11, 12 in turn: the 1h window at 12:xx holds
     * a third of them (i % 3 == 2). */
    double h12 = 0;
    for (uint64_t k = 0; k < NKEYS; k++)
        h12 += read1(sh.s, AF_ENT_AD, AF_EV_IMPRESSION, AF_WIN_1H, T0 + 2 * H, k);
    double want = 0;
    for (uint64_t i = 0; i < EVENTS_PER_WRITER; i++)
        want += i % 3 == 2;
    assert_float_equal(h12, want * WRITERS, 0);
    /* Spend 0.5 per event, summed exactly. */
    assert_float_equal(read1(sh.s, AF_ENT_ADVERTISER, AF_EV_SPEND, AF_WIN_ALL,
                             T0, 1),
                       0.5 * WRITERS * EVENTS_PER_WRITER, 0);
    /* Users 0..6 share the writes; their sum is exact too. */
    double users = 0;
    for (uint64_t u = 0; u < 7; u++)
        users += read1(sh.s, AF_ENT_USER, AF_EV_IMPRESSION, AF_WIN_ALL, T0, u);
    assert_float_equal(users, (double)WRITERS * EVENTS_PER_WRITER, 0);
    af_state_free(sh.s);
}

/* Many writers inserting the same new keys at once: each key is inserted
 * exactly once and no event is lost. */
#define RACE_KEYS 5000

static void *
racer(void *arg)
{
    af_state *s = arg;
    for (uint64_t k = 1; k <= RACE_KEYS; k++) {
        struct af_state_event ev = {.type = AF_EV_CLICK, .user_id = k,
                                    .ad_id = k * 1000003, .campaign_id = 1,
                                    .advertiser_id = 1, .value = 1,
                                    .time_s = T0};
        af_state_record(s, &ev);
    }
    return NULL;
}

static void
test_concurrent_insert(void **unused)
{
    af_state *s = af_state_embedded_new(RACE_KEYS);
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&t[i], NULL, racer, s);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    for (uint64_t k = 1; k <= RACE_KEYS; k++) {
        assert_float_equal(read1(s, AF_ENT_AD, AF_EV_CLICK, AF_WIN_ALL, T0,
                                 k * 1000003), WRITERS, 0);
        assert_float_equal(read1(s, AF_ENT_USER_AD, AF_EV_CLICK, AF_WIN_1H, T0,
                                 af_state_key2(k, k * 1000003)), WRITERS, 0);
    }
    af_state_free(s);
}

/* --- limits --- */

static void
test_full_family(void **unused)
{
    af_state *s = af_state_embedded_new(4);
    for (uint64_t ad = 1; ad <= 6; ad++)
        record(s, AF_EV_IMPRESSION, 9, ad, 1, 1, 1, T0);
    /* The first four ads are counted, the fifth and sixth are not. */
    for (uint64_t ad = 1; ad <= 4; ad++)
        assert_float_equal(read1(s, AF_ENT_AD, AF_EV_IMPRESSION, AF_WIN_ALL, T0,
                                 ad), 1, 0);
    for (uint64_t ad = 5; ad <= 6; ad++)
        assert_float_equal(read1(s, AF_ENT_AD, AF_EV_IMPRESSION, AF_WIN_ALL, T0,
                                 ad), 0, 0);
    /* Keys already present keep counting; other families are unaffected. */
    record(s, AF_EV_IMPRESSION, 9, 2, 1, 1, 1, T0);
    assert_float_equal(read1(s, AF_ENT_AD, AF_EV_IMPRESSION, AF_WIN_ALL, T0, 2),
                       2, 0);
    assert_float_equal(read1(s, AF_ENT_CAMPAIGN, AF_EV_IMPRESSION, AF_WIN_ALL,
                             T0, 1), 7, 0);
    af_state_free(s);
}

static void
test_bad_input(void **unused)
{
    assert_null(af_state_embedded_new(0));
    af_state *s = af_state_embedded_new(8);
    struct af_state_event ev = {.type = AF_EV_N, .value = 1, .time_s = T0};
    assert_int_equal(af_state_record(s, &ev), AF_EINVAL);
    ev.type = AF_EV_SPEND;
    ev.value = -1;
    assert_int_equal(af_state_record(s, &ev), AF_EINVAL);
    ev.value = NAN;
    assert_int_equal(af_state_record(s, &ev), AF_EINVAL);
    ev.value = 1;
    ev.time_s = -5;
    assert_int_equal(af_state_record(s, &ev), AF_EINVAL);
    uint64_t k = 1;
    double out;
    assert_int_equal(af_state_read(s, AF_ENT_N, 0, 0, T0, &k, 1, &out),
                     AF_EINVAL);
    assert_int_equal(af_state_read(s, 0, AF_EV_N, 0, T0, &k, 1, &out),
                     AF_EINVAL);
    assert_int_equal(af_state_read(s, 0, 0, AF_WIN_N, T0, &k, 1, &out),
                     AF_EINVAL);
    assert_int_equal(af_state_read(s, 0, 0, 0, T0, NULL, 1, &out), AF_EINVAL);
    assert_int_equal(af_state_read(s, 0, 0, 0, T0, NULL, 0, NULL), AF_OK);
    af_state_free(s);
    af_state_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families),
        cmocka_unit_test(test_spend_precision),
        cmocka_unit_test(test_windows_roll_over),
        cmocka_unit_test(test_concurrent_exact),
        cmocka_unit_test(test_concurrent_insert),
        cmocka_unit_test(test_full_family),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
