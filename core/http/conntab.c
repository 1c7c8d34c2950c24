/*
 * conntab.c -- fixed-size open-addressing set of connections (see conntab.h).
 */
#include "http/conntab.h"

#include <stdlib.h>

#include "adfunnel/af_errno.h"

int
af_conntab_init(struct af_conntab *t, size_t max)
{
    if (max == 0)
        max = 1;
    /* At most half full keeps probe runs short. */
    size_t size = 16;
    while (size < 2 * max)
        size *= 2;
    t->slot = calloc(size, sizeof *t->slot);
    if (!t->slot)
        return AF_ENOMEM;
    t->mask = size - 1;
    t->count = 0;
    t->max = max;
    return AF_OK;
}

void
af_conntab_free(struct af_conntab *t)
{
    free(t->slot);
    t->slot = NULL;
    t->count = 0;
}

/* Pointers are 16-byte aligned heap addresses: drop the zero bits, then a
 * Fibonacci multiply spreads them over the table. */
static size_t
home(const struct af_conntab *t, const void *key)
{
    uint64_t h = ((uint64_t)(uintptr_t)key >> 4) * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & t->mask;
}

struct af_conn *
af_conntab_find(struct af_conntab *t, const void *key)
{
    for (size_t i = home(t, key);; i = (i + 1) & t->mask) {
        if (t->slot[i].key == key)
            return &t->slot[i];
        if (!t->slot[i].key)
            return NULL;
    }
}

struct af_conn *
af_conntab_add(struct af_conntab *t, const void *key)
{
    if (t->count >= t->max)
        return NULL;
    size_t i = home(t, key);
    while (t->slot[i].key)
        i = (i + 1) & t->mask;
    t->slot[i].key = key;
    t->slot[i].pending = 0;
    t->count++;
    return &t->slot[i];
}

/* Distance from an entry's home slot to slot i, along the probe order. */
static size_t
probe_dist(const struct af_conntab *t, size_t i)
{
    return (i - home(t, t->slot[i].key)) & t->mask;
}

uint32_t
af_conntab_remove(struct af_conntab *t, const void *key)
{
    struct af_conn *c = af_conntab_find(t, key);
    if (!c)
        return 0;
    uint32_t pending = c->pending;
    size_t hole = (size_t)(c - t->slot);
    /* Backward shift: pull later entries of the run into the hole when the
     * hole lies on their probe path, so lookups never need tombstones. */
    for (size_t i = (hole + 1) & t->mask; t->slot[i].key;
         i = (i + 1) & t->mask) {
        if (probe_dist(t, i) >= ((i - hole) & t->mask)) {
            t->slot[hole] = t->slot[i];
            hole = i;
        }
    }
    t->slot[hole].key = NULL;
    t->slot[hole].pending = 0;
    t->count--;
    return pending;
}
