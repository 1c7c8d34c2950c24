/*
 * targeting.h -- does an ad's targeting admit a user?
 *
 * Shared by the targeting filter and the popular retriever (which includes
 * this header from here, so both apply exactly one rule).  Header-only and
 * dependent on the public ABI types only.
 *
 * The rule, per dimension, for catalog row `row`:
 *   - a mask of 0 targets everyone;
 *   - a user value of -1 (unknown) matches any mask;
 *   - otherwise the user matches when bit <value> of the mask is set (a value
 *     beyond the mask's width matches no bit).
 * Interests are a set, not a value: a non-zero interest mask matches when the
 * user shares at least one interest with it ((interests & mask) != 0), so a
 * user with no known interests sees only ads that do not target interests.
 */
#ifndef AF_PLUGIN_TARGETING_H
#define AF_PLUGIN_TARGETING_H

#include <stdint.h>
#include <adfunnel/af_types.h>

/* Which dimensions to check (all 1 = the full rule). */
struct targeting_checks {
    int geo, age, device, interests;
};

/* Does bit `value` of `mask` (of `width` bits) admit the user's value? */
static inline int
targeting_bit_matches(uint64_t mask, int32_t value, unsigned width)
{
    if (mask == 0 || value < 0)
        return 1;
    if ((unsigned)value >= width)
        return 0;
    return (int)((mask >> value) & 1u);
}

/* 1 when catalog row `row` may be shown to user `u`. */
static inline int
targeting_matches(const struct af_catalog *cat, uint32_t row,
                  const struct af_user *u, const struct targeting_checks *c)
{
    if (c->geo && !targeting_bit_matches(cat->geo_mask[row], u->geo, 32))
        return 0;
    if (c->age && !targeting_bit_matches(cat->age_mask[row], u->age_band, 8))
        return 0;
    if (c->device &&
        !targeting_bit_matches(cat->device_mask[row], u->device, 8))
        return 0;
    if (c->interests && cat->interest_mask[row] != 0 &&
        (u->interests & cat->interest_mask[row]) == 0)
        return 0;
    return 1;
}

/* All four dimensions, from masks the caller already holds (retrievers keep
 * them next to their own ordering to scan sequentially). */
static inline int
targeting_masks_match(uint32_t geo_mask, uint8_t age_mask, uint8_t device_mask,
                      uint64_t interest_mask, const struct af_user *u)
{
    return targeting_bit_matches(geo_mask, u->geo, 32) &&
           targeting_bit_matches(age_mask, u->age_band, 8) &&
           targeting_bit_matches(device_mask, u->device, 8) &&
           (interest_mask == 0 || (u->interests & interest_mask) != 0);
}

#endif
