/*
 * batch.h -- host-side operations on the columnar candidate batch.
 */
#ifndef AF_CORE_BATCH_H
#define AF_CORE_BATCH_H

#include <stdint.h>
#include "adfunnel/af_types.h"
#include "mem/arena.h"

/* Allocate every column for cap rows from the arena; n = 0.  0 or AF_ENOMEM. */
int af_batch_init(struct af_batch *b, af_arena *a, uint32_t cap);
/* Remove rows with drop[i] set, keeping order; clears drop. */
void af_batch_compact(struct af_batch *b);
/* Keep the k rows with the highest key[i] (key is one of b's columns),
 * ordered by key descending (ties by catalog row, for determinism). */
void af_batch_keep_top(struct af_batch *b, const float *key, uint32_t k,
                       af_arena *a);
/* Sort all rows by key descending (same tie rule). */
void af_batch_sort(struct af_batch *b, const float *key, af_arena *a);

#endif
