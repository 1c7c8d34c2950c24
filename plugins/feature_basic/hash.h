/*
 * hash.h -- the feature-hashing function of the basic extractor.
 *
 * fid = af_hash_field(field_index, value): the splitmix64 finalizer applied to
 * ((uint64_t)field_index << 56) ^ value, truncated to its lower 32 bits.
 * This is THE project-wide convention (docs: notes/common.md "Feature
 * hashing"); models reduce fid % n_buckets.  A model file is only valid for
 * the hash it was trained with, so any tool that computes feature ids outside
 * the serving pipeline must use exactly this function (the world's LR fit
 * runs this plugin through the pipeline, so it does not need a copy).
 */
#ifndef AF_PLUGIN_FEATURE_HASH_H
#define AF_PLUGIN_FEATURE_HASH_H

#include <stdint.h>

static inline uint32_t
af_hash_field(uint32_t field_index, uint64_t value)
{
    uint64_t z = ((uint64_t)field_index << 56) ^ value;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (uint32_t)z;
}

#endif
