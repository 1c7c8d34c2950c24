/* fnv.h -- FNV-1a 64-bit hashing (fingerprints, experiment buckets). */
#ifndef AF_CORE_FNV_H
#define AF_CORE_FNV_H

#include <stddef.h>
#include <stdint.h>

#define AF_FNV_OFFSET 0xcbf29ce484222325ULL
#define AF_FNV_PRIME 0x100000001b3ULL

static inline uint64_t
af_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= AF_FNV_PRIME;
    }
    return h;
}

#endif
