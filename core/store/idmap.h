/*
 * idmap.h -- a fixed-size open-addressing hash map from a 64-bit id to a
 * 32-bit row index, built once when a store loads and read-only afterwards
 * (so concurrent readers need no lock).
 */
#ifndef AF_CORE_IDMAP_H
#define AF_CORE_IDMAP_H

#include <stdint.h>

struct af_idmap {
    uint64_t *key;
    uint32_t *val;  /* row + 1; 0 marks an empty slot, so every id is usable */
    uint64_t mask;  /* capacity - 1 (capacity is a power of two)             */
};

/* Room for n ids at a load factor of at most 1/2.  0 or AF_ENOMEM. */
int af_idmap_init(struct af_idmap *m, uint32_t n);
void af_idmap_free(struct af_idmap *m);
/* Insert id -> row.  0, or AF_EEXIST when id is already present (the map is
 * unchanged). */
int af_idmap_put(struct af_idmap *m, uint64_t id, uint32_t row);
/* Row of id, or -1. */
int64_t af_idmap_get(const struct af_idmap *m, uint64_t id);

#endif
