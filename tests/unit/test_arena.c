/* test_arena.c -- the per-request arena. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mem/arena.h"

static void
alignment_and_growth(void **state)
{
    (void)state;
    af_arena *a = af_arena_create(4096, 0);
    assert_non_null(a);
    for (int i = 1; i < 200; i++) {
        void *p = af_arena_alloc(a, (size_t)i * 7);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xab, (size_t)i * 7); /* ASan checks the bounds */
    }
    void *big = af_arena_alloc(a, 1 << 20); /* larger than a block */
    assert_non_null(big);
    memset(big, 1, 1 << 20);
    af_arena_destroy(a);
}

static void
reset_reuses_blocks(void **state)
{
    (void)state;
    af_arena *a = af_arena_create(4096, 0);
    for (int i = 0; i < 100; i++)
        assert_non_null(af_arena_alloc(a, 1000));
    size_t cap = af_arena_capacity(a);
    for (int round = 0; round < 10; round++) {
        af_arena_reset(a);
        assert_int_equal(af_arena_used(a), 0);
        for (int i = 0; i < 100; i++)
            assert_non_null(af_arena_alloc(a, 1000));
        /* Same workload after a reset: no new block. */
        assert_int_equal(af_arena_capacity(a), cap);
    }
    af_arena_destroy(a);
}

static void
limit_is_enforced(void **state)
{
    (void)state;
    af_arena *a = af_arena_create(4096, 10000);
    assert_non_null(af_arena_alloc(a, 8000));
    assert_null(af_arena_alloc(a, 4000));
    af_arena_reset(a);
    assert_non_null(af_arena_alloc(a, 4000));
    assert_null(af_arena_calloc(a, SIZE_MAX / 2, 4)); /* overflow */
    af_arena_destroy(a);
}

static void
strings(void **state)
{
    (void)state;
    af_arena *a = af_arena_create(4096, 0);
    assert_string_equal(af_arena_strdup(a, "hello"), "hello");
    assert_string_equal(af_arena_strndup(a, "hello", 3), "hel");
    assert_string_equal(af_arena_sprintf(a, "%d-%s", 42, "x"), "42-x");
    af_arena_destroy(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alignment_and_growth),
        cmocka_unit_test(reset_reuses_blocks),
        cmocka_unit_test(limit_is_enforced),
        cmocka_unit_test(strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
