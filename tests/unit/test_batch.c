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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compact_keeps_order),
        cmocka_unit_test(keep_top_orders_by_key),
        cmocka_unit_test(ties_break_by_catalog_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
