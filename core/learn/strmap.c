/* strmap.c -- see strmap.h. */
#include "learn/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "util/fnv.h"

void
af_strmap_init(struct af_strmap *m)
{
    memset(m, 0, sizeof *m);
}

void
af_strmap_free(struct af_strmap *m)
{
    free(m->slot);
    free(m->hash);
    free(m->key_at);
    free(m->key_len);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

uint64_t
af_strmap_hash(const char *key, size_t len)
{
    uint64_t h = af_fnv1a(AF_FNV_OFFSET, key, len);
    /* FNV's low bits mix poorly; fold the high half in before masking. */
    return h ^ (h >> 29);
}

uint32_t
af_strmap_find(const struct af_strmap *m, const char *key, size_t len)
{
    if (m->slot == NULL)
        return AF_STRMAP_NONE;
    uint64_t h = af_strmap_hash(key, len);
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        uint32_t s = m->slot[i];
        if (s == 0)
            return AF_STRMAP_NONE;
        uint32_t id = s - 1;
        if (m->hash[id] == h && m->key_len[id] == len &&
            memcmp(m->keys + m->key_at[id], key, len) == 0)
            return id;
    }
}

/* Double the slot table (load factor <= 1/2). */
static int
rehash(struct af_strmap *m)
{
    uint32_t slots = m->slot ? (m->mask + 1) * 2 : 64;
    uint32_t *ns = calloc(slots, sizeof *ns);
    if (ns == NULL)
        return -1;
    for (uint32_t id = 0; id < m->n; id++) {
        uint32_t i = (uint32_t)m->hash[id] & (slots - 1);
        while (ns[i])
            i = (i + 1) & (slots - 1);
        ns[i] = id + 1;
    }
    free(m->slot);
    m->slot = ns;
    m->mask = slots - 1;
    return 0;
}

static int
grow_ids(struct af_strmap *m)
{
    uint32_t cap = m->cap_ids ? m->cap_ids * 2 : 64;
    uint64_t *h = realloc(m->hash, cap * sizeof *h);
    if (h == NULL)
        return -1;
    m->hash = h;
    uint64_t *at = realloc(m->key_at, cap * sizeof *at);
    if (at == NULL)
        return -1;
    m->key_at = at;
    uint32_t *kl = realloc(m->key_len, cap * sizeof *kl);
    if (kl == NULL)
        return -1;
    m->key_len = kl;
    m->cap_ids = cap;
    return 0;
}

uint32_t
af_strmap_intern(struct af_strmap *m, const char *key, size_t len, int *added)
{
    if (added)
        *added = 0;
    uint32_t id = af_strmap_find(m, key, len);
    if (id != AF_STRMAP_NONE)
        return id;
    if (m->n == UINT32_MAX - 1 || len > UINT32_MAX)
        return AF_STRMAP_NONE;
    if ((m->slot == NULL || (uint64_t)(m->n + 1) * 2 > (uint64_t)m->mask + 1) &&
        rehash(m) != 0)
        return AF_STRMAP_NONE;
    if (m->n == m->cap_ids && grow_ids(m) != 0)
        return AF_STRMAP_NONE;
    if (m->keys_len + len + 1 > m->keys_cap) {
        size_t cap = m->keys_cap ? m->keys_cap * 2 : 4096;
        while (cap < m->keys_len + len + 1)
            cap *= 2;
        char *k = realloc(m->keys, cap);
        if (k == NULL)
            return AF_STRMAP_NONE;
        m->keys = k;
        m->keys_cap = cap;
    }
    id = m->n++;
    uint64_t h = af_strmap_hash(key, len);
    m->hash[id] = h;
    m->key_at[id] = m->keys_len;
    m->key_len[id] = (uint32_t)len;
    memcpy(m->keys + m->keys_len, key, len);
    m->keys[m->keys_len + len] = '\0';
    m->keys_len += len + 1;
    uint32_t i = (uint32_t)h & m->mask;
    while (m->slot[i])
        i = (i + 1) & m->mask;
    m->slot[i] = id + 1;
    if (added)
        *added = 1;
    return id;
}

const char *
af_strmap_key(const struct af_strmap *m, uint32_t id, uint32_t *len)
{
    if (len)
        *len = m->key_len[id];
    return m->keys + m->key_at[id];
}
