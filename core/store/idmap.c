/* idmap.c -- open addressing with linear probing over a mixed id. */
#include "store/idmap.h"

#include <stdlib.h>
#include "adfunnel/af_errno.h"

/* splitmix64 finalizer: ids are often sequential, so they must be mixed
 * before masking or linear probing degenerates into long runs. */
static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

int
af_idmap_init(struct af_idmap *m, uint32_t n)
{
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2)
        cap <<= 1;
    m->key = malloc(cap * sizeof *m->key);
    m->val = calloc(cap, sizeof *m->val);
    m->mask = cap - 1;
    if (!m->key || !m->val) {
        af_idmap_free(m);
        return AF_ENOMEM;
    }
    return AF_OK;
}

void
af_idmap_free(struct af_idmap *m)
{
    free(m->key);
    free(m->val);
    m->key = NULL;
    m->val = NULL;
    m->mask = 0;
}

int
af_idmap_put(struct af_idmap *m, uint64_t id, uint32_t row)
{
    uint64_t i = mix64(id) & m->mask;
    while (m->val[i] != 0) {
        if (m->key[i] == id)
            return AF_EEXIST;
        i = (i + 1) & m->mask;
    }
    m->key[i] = id;
    m->val[i] = row + 1;
    return AF_OK;
}

int64_t
af_idmap_get(const struct af_idmap *m, uint64_t id)
{
    if (!m->val)
        return -1;
    uint64_t i = mix64(id) & m->mask;
    while (m->val[i] != 0) {
        if (m->key[i] == id)
            return (int64_t)m->val[i] - 1;
        i = (i + 1) & m->mask;
    }
    return -1;
}
