/*
 * examples.c -- growable CSR storage for encoded examples (see examples.h).
 *
 * Ownership: af_examples_init() allocates every array with malloc and
 * af_examples_free() releases them; a view made by af_examples_view() borrows
 * its source's arrays and must not be freed.  `weight` and `time` are
 * allocated lazily: `weight` the first time a row with weight != 1 is
 * pushed (earlier rows get 1), `time` the first time a row with time != 0 is
 * pushed (earlier rows get 0, "unknown").  So a set whose rows all have
 * weight 1 keeps weight == NULL, which trainers read as "all 1".
 */
#include "learn/examples.h"

#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"

/* Resize *p to `want` elements of `size` bytes. */
static int
grow(void **p, size_t size, size_t want)
{
    void *q = realloc(*p, want * size);
    if (q == NULL)
        return AF_ENOMEM;
    *p = q;
    return 0;
}

int
af_examples_init(struct af_examples *e, uint32_t n_fields, uint32_t n_dense,
                 const uint32_t *field_offset, uint32_t cap,
                 uint64_t cap_entries)
{
    memset(e, 0, sizeof *e);
    if (cap == 0)
        cap = 1;
    if (cap_entries == 0)
        cap_entries = (uint64_t)cap * (n_fields ? n_fields : 1);
    e->n_fields = n_fields;
    e->n_dense = n_dense;
    e->field_offset = field_offset;
    e->n_index = field_offset != NULL ? field_offset[n_fields] : 0;
    e->cap = cap;
    e->cap_entries = cap_entries;
    e->start = malloc(((size_t)cap * n_fields + 1) * sizeof *e->start);
    e->gidx = malloc(cap_entries * sizeof *e->gidx);
    e->val = malloc(cap_entries * sizeof *e->val);
    e->label = malloc((size_t)cap * sizeof *e->label);
    if (n_dense > 0)
        e->dense = malloc((size_t)cap * n_dense * sizeof *e->dense);
    if (e->start == NULL || e->gidx == NULL || e->val == NULL ||
        e->label == NULL || (n_dense > 0 && e->dense == NULL)) {
        af_examples_free(e);
        return AF_ENOMEM;
    }
    e->start[0] = 0;
    return 0;
}

void
af_examples_free(struct af_examples *e)
{
    if (e == NULL)
        return;
    free(e->start);
    free(e->gidx);
    free(e->val);
    free(e->dense);
    free(e->label);
    free(e->weight);
    free(e->time);
    memset(e, 0, sizeof *e);
}

void
af_examples_clear(struct af_examples *e)
{
    e->n = 0;
    e->n_entries = 0;
    if (e->start != NULL)
        e->start[0] = 0;
}

/* Make room for one more row. */
static int
reserve_row(struct af_examples *e)
{
    if (e->n < e->cap)
        return 0;
    uint64_t want64 = (uint64_t)e->cap * 2;
    if (want64 > UINT32_MAX)
        want64 = UINT32_MAX;
    if (want64 <= e->cap)
        return AF_ENOMEM;
    size_t want = (size_t)want64;
    if (grow((void **)&e->start, sizeof *e->start,
             want * e->n_fields + 1) != 0 ||
        grow((void **)&e->label, sizeof *e->label, want) != 0)
        return AF_ENOMEM;
    if (e->n_dense > 0 &&
        grow((void **)&e->dense, sizeof *e->dense, want * e->n_dense) != 0)
        return AF_ENOMEM;
    if (e->weight != NULL &&
        grow((void **)&e->weight, sizeof *e->weight, want) != 0)
        return AF_ENOMEM;
    if (e->time != NULL && grow((void **)&e->time, sizeof *e->time, want) != 0)
        return AF_ENOMEM;
    e->cap = (uint32_t)want;
    return 0;
}

/* Make room for `more` entries; the start offsets are 32-bit. */
static int
reserve_entries(struct af_examples *e, uint64_t more)
{
    uint64_t need = e->n_entries + more;
    if (need > UINT32_MAX)
        return AF_ENOMEM;
    if (need <= e->cap_entries)
        return 0;
    uint64_t want = e->cap_entries * 2;
    if (want < need)
        want = need;
    if (want > UINT32_MAX)
        want = UINT32_MAX;
    if (grow((void **)&e->gidx, sizeof *e->gidx, (size_t)want) != 0 ||
        grow((void **)&e->val, sizeof *e->val, (size_t)want) != 0)
        return AF_ENOMEM;
    e->cap_entries = want;
    return 0;
}

/* Allocate the lazy weight column (all earlier rows weigh 1). */
static int
ensure_weight(struct af_examples *e)
{
    if (e->weight != NULL)
        return 0;
    e->weight = malloc((size_t)e->cap * sizeof *e->weight);
    if (e->weight == NULL)
        return AF_ENOMEM;
    for (uint32_t i = 0; i < e->n; i++)
        e->weight[i] = 1.0f;
    return 0;
}

/* Allocate the lazy time column (all earlier rows unknown = 0). */
static int
ensure_time(struct af_examples *e)
{
    if (e->time != NULL)
        return 0;
    e->time = calloc(e->cap, sizeof *e->time);
    return e->time != NULL ? 0 : AF_ENOMEM;
}

int
af_examples_push(struct af_examples *e, const uint32_t *n_per_field,
                 const uint32_t *gidx, const float *val,
                 const float *dense, float label, float weight,
                 int64_t time)
{
    uint64_t total = 0;
    for (uint32_t f = 0; f < e->n_fields; f++)
        total += n_per_field[f];
    if (reserve_row(e) != 0 || reserve_entries(e, total) != 0)
        return AF_ENOMEM;
    if (weight != 1.0f && ensure_weight(e) != 0)
        return AF_ENOMEM;
    if (time != 0 && ensure_time(e) != 0)
        return AF_ENOMEM;

    uint32_t r = e->n;
    size_t base = (size_t)r * e->n_fields;
    uint32_t pos = (uint32_t)e->n_entries;
    if (total > 0) {
        memcpy(e->gidx + pos, gidx, total * sizeof *gidx);
        memcpy(e->val + pos, val, total * sizeof *val);
    }
    for (uint32_t f = 0; f < e->n_fields; f++) {
        pos += n_per_field[f];
        e->start[base + f + 1] = pos;
    }
    if (e->n_dense > 0) {
        float *d = e->dense + (size_t)r * e->n_dense;
        if (dense != NULL)
            memcpy(d, dense, e->n_dense * sizeof *d);
        else
            memset(d, 0, e->n_dense * sizeof *d);
    }
    e->label[r] = label;
    if (e->weight != NULL)
        e->weight[r] = weight;
    if (e->time != NULL)
        e->time[r] = time;
    e->n_entries += total;
    e->n = r + 1;
    return 0;
}

void
af_examples_view(const struct af_examples *src, uint32_t from, uint32_t n,
                 struct af_examples *view)
{
    if (from > src->n)
        from = src->n;
    if (n > src->n - from)
        n = src->n - from;
    memset(view, 0, sizeof *view);
    view->n = n;
    view->cap = n;
    view->n_fields = src->n_fields;
    view->n_dense = src->n_dense;
    view->n_index = src->n_index;
    view->field_offset = src->field_offset;
    /* start offsets stay absolute, so gidx/val are shared unshifted. */
    view->start = src->start + (size_t)from * src->n_fields;
    view->gidx = src->gidx;
    view->val = src->val;
    view->n_entries = view->start[(size_t)n * src->n_fields] - view->start[0];
    view->cap_entries = 0;
    view->dense = src->dense != NULL
                      ? src->dense + (size_t)from * src->n_dense : NULL;
    view->label = src->label + from;
    view->weight = src->weight != NULL ? src->weight + from : NULL;
    view->time = src->time != NULL ? src->time + from : NULL;
}
