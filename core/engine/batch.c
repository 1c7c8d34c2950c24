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

struct sort_ctx {
    const float *key;
    const uint32_t *ad;
};

/* qsort has no context argument; qsort_r (glibc) does. */
static int
cmp_desc(const void *pa, const void *pb, void *arg)
{
    const struct sort_ctx *c = arg;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    float ka = c->key[a], kb = c->key[b];
    if (ka != kb) /* NaN sorts last */
        return (ka > kb || kb != kb) ? -1 : 1;
    return c->ad[a] < c->ad[b] ? -1 : c->ad[a] > c->ad[b];
}

static void
order_rows(struct af_batch *b, const float *key, uint32_t k, af_arena *a)
{
    if (b->n == 0)
        return;
    uint32_t *idx = af_arena_alloc(a, b->n * sizeof *idx);
    void *scratch = af_arena_alloc(a, (size_t)b->n * AF_MAX_DENSE * sizeof(float));
    if (!idx || !scratch) {
        /* Out of arena: keep order, truncate only (still correct, just not
         * ranked); the engine reports the arena limit separately. */
        if (k < b->n)
            b->n = k;
        return;
    }
    for (uint32_t i = 0; i < b->n; i++)
        idx[i] = i;
    struct sort_ctx c = {key, b->ad};
    qsort_r(idx, b->n, sizeof *idx, cmp_desc, &c);
    apply_map(b, idx, k < b->n ? k : b->n, scratch);
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
