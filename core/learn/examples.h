/*
 * examples.h -- encoded training examples: what every trainer reads and
 * what the feature spec produces (from a data file in `adfunnel train`, from
 * a request and candidates in /v1/rank: the same encoder, no skew).
 *
 * Categorical features are global indices into one index space:
 * index = field_offset[f] + local index within field f (local 0 is the
 * field's OOV / missing slot).  Each (row, field) holds zero or more
 * (index, value) entries -- one with value 1 for a single-valued field, k
 * with value 1/k for a multi-valued field (mean pooling) -- stored CSR-style.
 */
#ifndef AF_CORE_EXAMPLES_H
#define AF_CORE_EXAMPLES_H

#include <stddef.h>
#include <stdint.h>

struct af_examples {
    uint32_t n;          /* rows                                             */
    uint32_t cap;        /* rows allocated                                   */
    uint32_t n_fields;   /* categorical fields                               */
    uint32_t n_dense;    /* dense features                                   */
    uint64_t n_index;    /* size of the global index space                   */
    const uint32_t *field_offset; /* n_fields + 1 entries (borrowed)         */

    /* Entries of (row r, field f): [start[r*n_fields+f], start[r*n_fields+f+1]). */
    uint32_t *start;     /* cap * n_fields + 1                               */
    uint32_t *gidx;      /* global indices                                   */
    float *val;          /* their values                                     */
    uint64_t n_entries, cap_entries;

    float *dense;        /* row-major n x n_dense                            */
    float *label;        /* 0 or 1                                           */
    float *weight;       /* importance weight (negative downsampling: 1/w for
                            kept negatives when not corrected at serving),
                            NULL = all 1                                     */
    int64_t *time;       /* event time, unix seconds; NULL when unknown      */
};

/* Allocate for cap rows and cap_entries entries (malloc; not the request
 * path).  0 or AF_ENOMEM. */
int af_examples_init(struct af_examples *e, uint32_t n_fields, uint32_t n_dense,
                     const uint32_t *field_offset, uint32_t cap,
                     uint64_t cap_entries);
void af_examples_free(struct af_examples *e);
/* Empty it, keeping the allocations. */
void af_examples_clear(struct af_examples *e);

/* Append one row: entries for each field in order (n_per_field[f] of them
 * from gidx/val), its dense values, label, weight and time.  Grows the
 * storage as needed.  0 or AF_ENOMEM. */
int af_examples_push(struct af_examples *e, const uint32_t *n_per_field,
                     const uint32_t *gidx, const float *val,
                     const float *dense, float label, float weight,
                     int64_t time);

/* Rows [from, from + n) of src as a view sharing src's storage (for
 * mini-batches and splits); never freed itself. */
void af_examples_view(const struct af_examples *src, uint32_t from, uint32_t n,
                      struct af_examples *view);

/* The entries of (row, field); returns their count. */
static inline uint32_t
af_examples_entries(const struct af_examples *e, uint32_t row, uint32_t f,
                    const uint32_t **gidx, const float **val)
{
    uint32_t a = e->start[(size_t)row * e->n_fields + f];
    uint32_t b = e->start[(size_t)row * e->n_fields + f + 1];
    *gidx = e->gidx + a;
    *val = e->val + a;
    return b - a;
}

#endif
