/*
 * strmap.h -- a string -> dense id map (open addressing, FNV-1a), for token
 * interning and vocabularies.  Ids are 0, 1, 2, ... in insertion order; the
 * keys are copied into the map's own storage.  Not thread-safe for writes;
 * lookups on a map nobody writes are safe from any thread and never
 * allocate (the serving path uses them).
 */
#ifndef AF_CORE_STRMAP_H
#define AF_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#define AF_STRMAP_NONE UINT32_MAX

struct af_strmap {
    uint32_t *slot;     /* id + 1 per slot, 0 = empty                    */
    uint64_t *hash;     /* hash of each id                               */
    uint64_t *key_at;   /* offset of each id's key in keys               */
    uint32_t *key_len;
    char *keys;
    size_t keys_len, keys_cap;
    uint32_t n, cap_ids;
    uint32_t mask;      /* slots - 1 (power of two)                      */
};

void af_strmap_init(struct af_strmap *m);
void af_strmap_free(struct af_strmap *m);
/* Id of key (added when new, *added set).  AF_STRMAP_NONE when out of
 * memory. */
uint32_t af_strmap_intern(struct af_strmap *m, const char *key, size_t len,
                          int *added);
/* Id of key or AF_STRMAP_NONE. */
uint32_t af_strmap_find(const struct af_strmap *m, const char *key,
                        size_t len);
/* The key of id (not NUL-terminated) and its length. */
const char *af_strmap_key(const struct af_strmap *m, uint32_t id,
                          uint32_t *len);
uint64_t af_strmap_hash(const char *key, size_t len);

#endif
