/*
 * batch.c -- allocation, compaction and truncation of the columnar batch.
 *
 * Row moves go column by column so each pass is a sequential copy.  Top-k
 * selection sorts an index array (k is small next to n and n is a few
 * thousand, so a full sort of indices is cheap and keeps the code simple),
 * then permutes every column once through the arena.
 */
#include "engine/batch.h"

#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"

int
af_batch_init(struct af_batch *b, af_arena *a, uint32_t cap)
{
    memset(b, 0, sizeof *b);
    b->struct_size = sizeof *b;
    b->cap = cap;
    if (cap == 0)
        cap = 1;
    b->ad = af_arena_alloc(a, cap * sizeof *b->ad);
    b->source = af_arena_alloc(a, cap * sizeof *b->source);
    b->bid = af_arena_alloc(a, cap * sizeof(float));
    b->retrieval_score = af_arena_alloc(a, cap * sizeof(float));
    b->prerank = af_arena_alloc(a, cap * sizeof(float));
    b->pctr = af_arena_alloc(a, cap * sizeof(float));
    b->pcvr = af_arena_alloc(a, cap * sizeof(float));
    b->pneg = af_arena_alloc(a, cap * sizeof(float));
    b->score = af_arena_alloc(a, cap * sizeof(float));
    b->drop = af_arena_calloc(a, cap, 1);
    b->fid = af_arena_alloc(a, (size_t)cap * AF_MAX_FIELDS * sizeof(uint32_t));
    b->dense = af_arena_alloc(a, (size_t)cap * AF_MAX_DENSE * sizeof(float));
    if (!b->ad || !b->source || !b->bid || !b->retrieval_score ||
        !b->prerank || !b->pctr || !b->pcvr || !b->pneg || !b->score ||
        !b->drop || !b->fid || !b->dense)
        return AF_ENOMEM;
    return AF_OK;
}

/* Apply a row map: new row j takes old row idx[j], for j < m. Columns are
 * permuted through one scratch buffer. */
#define PERMUTE(col, type)                                                     \
    do {                                                                       \
        type *tmp_ = (type *)scratch;                                          \
        for (uint32_t j_ = 0; j_ < m; j_++)                                    \
            tmp_[j_] = (col)[idx[j_]];                                         \
        memcpy((col), tmp_, m * sizeof(type));                                 \
    } while (0)

static void
apply_map(struct af_batch *b, const uint32_t *idx, uint32_t m, void *scratch)
{
    PERMUTE(b->ad, uint32_t);
    PERMUTE(b->source, uint16_t);
    PERMUTE(b->bid, float);
    PERMUTE(b->retrieval_score, float);
    PERMUTE(b->prerank, float);
    PERMUTE(b->pctr, float);
    PERMUTE(b->pcvr, float);
    PERMUTE(b->pneg, float);
    PERMUTE(b->score, float);
    for (uint32_t f = 0; f < b->n_fields; f++) {
        uint32_t *col = af_batch_field(b, f);
        PERMUTE(col, uint32_t);
    }
    if (b->n_dense) {
        float *tmp = scratch;
        for (uint32_t j = 0; j < m; j++)
            memcpy(tmp + (size_t)j * AF_MAX_DENSE,
                   b->dense + (size_t)idx[j] * AF_MAX_DENSE,
                   b->n_dense * sizeof(float));
        for (uint32_t j = 0; j < m; j++)
            memcpy(b->dense + (size_t)j * AF_MAX_DENSE,
                   tmp + (size_t)j * AF_MAX_DENSE, b->n_dense * sizeof(float));
    }
    b->n = m;
    memset(b->drop, 0, b->cap);
}

void
af_batch_compact(struct af_batch *b)
{
    /* In-place forward copy: row j <= i, so reads never see overwritten rows. */
    uint32_t m = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->drop[i])
            continue;
        if (m != i) {
            b->ad[m] = b->ad[i];
            b->source[m] = b->source[i];
            b->bid[m] = b->bid[i];
            b->retrieval_score[m] = b->retrieval_score[i];
            b->prerank[m] = b->prerank[i];
            b->pctr[m] = b->pctr[i];
            b->pcvr[m] = b->pcvr[i];
            b->pneg[m] = b->pneg[i];
            b->score[m] = b->score[i];
            for (uint32_t f = 0; f < b->n_fields; f++)
                af_batch_field(b, f)[m] = af_batch_field(b, f)[i];
            if (b->n_dense)
                memcpy(b->dense + (size_t)m * AF_MAX_DENSE,
                       b->dense + (size_t)i * AF_MAX_DENSE,
                       b->n_dense * sizeof(float));
        }
        m++;
    }
    memset(b->drop, 0, b->n);
    b->n = m;
}

/* A row's sort key: descending by key, then ascending by catalog row, folded
 * into one integer so ordering needs no callback and no float compares.
 * The float maps to an unsigned integer in the same order (NaN lowest). */
struct rank_key {
    uint64_t k;
    uint32_t idx;
};

static uint64_t
make_key(float f, uint32_t ad)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if (f != f)
        u = 0;
    else
        u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ((uint64_t)u << 32) | (uint32_t)~ad;
}

static int
cmp_key_desc(const void *pa, const void *pb)
{
    uint64_t a = ((const struct rank_key *)pa)->k;
    uint64_t b = ((const struct rank_key *)pb)->k;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* Move the k largest keys to the front (Hoare quickselect, median of
 * three), in O(n) on average; their order is left to the caller. */
static void
select_top(struct rank_key *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        uint64_t x = a[lo].k, y = a[lo + (hi - lo) / 2].k, z = a[hi].k;
        uint64_t pivot = x > y ? (y > z ? y : (x > z ? z : x))
                               : (x > z ? x : (y > z ? z : y));
        int64_t i = lo, j = hi;
        while (i <= j) { /* descending: larger keys to the left */
            while (a[i].k > pivot)
                i++;
            while (a[j].k < pivot)
                j--;
            if (i <= j) {
                struct rank_key t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        /* Now a[lo..j] >= pivot >= a[i..hi], j < i. */
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            return;
    }
}

static void
order_rows(struct af_batch *b, const float *key, uint32_t k, af_arena *a)
{
    if (b->n == 0)
        return;
    if (k > b->n)
        k = b->n;
    /* Most stages hand over rows already in order (retrievers walk sorted
     * lists, filters keep order): then keeping the top k is a truncation. */
    int sorted = 1;
    uint64_t prev = make_key(key[0], b->ad[0]);
    for (uint32_t i = 1; i < b->n && sorted; i++) {
        uint64_t cur = make_key(key[i], b->ad[i]);
        sorted = cur <= prev;
        prev = cur;
    }
    if (sorted) {
        b->n = k;
        return;
    }
    struct rank_key *rk = af_arena_alloc(a, b->n * sizeof *rk);
    uint32_t *idx = af_arena_alloc(a, k * sizeof *idx);
    void *scratch = af_arena_alloc(a, (size_t)k * AF_MAX_DENSE * sizeof(float));
    if (!rk || !idx || !scratch) {
        /* Out of arena: keep order, truncate only (still a valid response,
         * just not ranked); the arena limit is what to raise. */
        b->n = k;
        return;
    }
    for (uint32_t i = 0; i < b->n; i++) {
        rk[i].k = make_key(key[i], b->ad[i]);
        rk[i].idx = i;
    }
    if (k < b->n)
        select_top(rk, b->n, k);
    qsort(rk, k, sizeof *rk, cmp_key_desc);
    for (uint32_t j = 0; j < k; j++)
        idx[j] = rk[j].idx;
    apply_map(b, idx, k, scratch);
}

void
af_batch_keep_top(struct af_batch *b, const float *key, uint32_t k,
                  af_arena *a)
{
    order_rows(b, key, k, a);
}

void
af_batch_sort(struct af_batch *b, const float *key, af_arena *a)
{
    order_rows(b, key, b->n, a);
}
