/* test_batch.c -- compaction and top-k on the columnar batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/batch.h"

static void
fill(struct af_batch *b, uint32_t n)
{
    b->n = n;
    b->n_fields = 2;
    b->n_dense = 1;
    for (uint32_t i = 0; i < n; i++) {
        b->ad[i] = 100 + i;
        b->bid[i] = (float)i;
        b->retrieval_score[i] = (float)((i * 7) % n);
        af_batch_field(b, 0)[i] = i;
        af_batch_field(b, 1)[i] = 1000 + i;
        b->dense[i * AF_MAX_DENSE] = (float)i / 2;
    }
}

/* Every column of row i still describes the same candidate. */
static void
assert_row_consistent(struct af_batch *b, uint32_t i)
{
    uint32_t orig = b->ad[i] - 100;
    assert_true(b->bid[i] == (float)orig);
    assert_int_equal(af_batch_field(b, 0)[i], orig);
    assert_int_equal(af_batch_field(b, 1)[i], 1000 + orig);
    assert_true(b->dense[i * AF_MAX_DENSE] == (float)orig / 2);
}

static void
compact_keeps_order(void **state)
{
    (void)state;
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_batch b;
    assert_int_equal(af_batch_init(&b, a, 100), 0);
    fill(&b, 100);
    for (uint32_t i = 0; i < 100; i += 3)
        b.drop[i] = 1;
    af_batch_compact(&b);
    assert_int_equal(b.n, 66);
    for (uint32_t i = 0; i < b.n; i++) {
        assert_row_consistent(&b, i);
        assert_true((b.ad[i] - 100) % 3 != 0);
        if (i)
            assert_true(b.ad[i] > b.ad[i - 1]);
        assert_int_equal(b.drop[i], 0);
    }
    af_arena_destroy(a);
}

static void
keep_top_orders_by_key(void **state)
{
    (void)state;
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_batch b;
    assert_int_equal(af_batch_init(&b, a, 101), 0);
    fill(&b, 101);
    af_batch_keep_top(&b, b.retrieval_score, 10, a);
    assert_int_equal(b.n, 10);
    for (uint32_t i = 0; i < b.n; i++) {
        assert_row_consistent(&b, i);
        assert_true(b.retrieval_score[i] == (float)(100 - i));
    }
    af_arena_destroy(a);
}

static void
ties_break_by_catalog_row(void **state)
{
    (void)state;
    af_arena *a = af_arena_create(1 << 16, 0);
    struct af_batch b;
    assert_int_equal(af_batch_init(&b, a, 8), 0);
    fill(&b, 8);
    for (uint32_t i = 0; i < 8; i++)
        b.score[i] = 1.0f;
    b.ad[3] = 1; /* smallest catalog row wins the tie */
    af_batch_sort(&b, b.score, a);
    assert_int_equal(b.ad[0], 1);
    assert_int_equal(b.n, 8);
    af_arena_destroy(a);
}

/* keep_top against a reference: sort everything, take k. */
static void
keep_top_matches_full_sort(void **state)
{
    (void)state;
    af_arena *a = af_arena_create(1 << 20, 0);
    uint64_t seed = 12345;
    for (int round = 0; round < 300; round++) {
        af_arena_reset(a);
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t n = 1 + (uint32_t)(seed >> 40) % 700;
        uint32_t k = 1 + (uint32_t)(seed >> 20) % (n + 5);
        struct af_batch b;
        assert_int_equal(af_batch_init(&b, a, n), 0);
        fill(&b, n);
        float ref[700];
        for (uint32_t i = 0; i < n; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            /* few distinct values: many ties */
            b.score[i] = (float)((seed >> 33) % 17) - 3.0f;
            ref[i] = b.score[i];
        }
        /* reference order: score desc, ad asc (ads are 100+i, unique) */
        uint32_t order[700];
        for (uint32_t i = 0; i < n; i++)
            order[i] = i;
        for (uint32_t i = 1; i < n; i++)
            for (uint32_t j = i; j > 0; j--) {
                uint32_t p = order[j - 1], q = order[j];
                if (ref[q] > ref[p] || (ref[q] == ref[p] && q < p)) {
                    order[j - 1] = q;
                    order[j] = p;
                } else {
                    break;
                }
            }
        af_batch_keep_top(&b, b.score, k, a);
        uint32_t want = k < n ? k : n;
        assert_int_equal(b.n, want);
        for (uint32_t i = 0; i < want; i++) {
            assert_int_equal(b.ad[i], 100 + order[i]);
            assert_row_consistent(&b, i);
        }
    }
    af_arena_destroy(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compact_keeps_order),
        cmocka_unit_test(keep_top_orders_by_key),
        cmocka_unit_test(ties_break_by_catalog_row),
        cmocka_unit_test(keep_top_matches_full_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
