/*
 * click.h -- the ground-truth click model and targeting rule on raw values,
 * shared by the generator (before any file exists) and the loaded world.
 */
#ifndef AF_CORE_CLICK_H
#define AF_CORE_CLICK_H

#include <math.h>
#include <stdint.h>
#include "world/world.h"

/* The coefficients every generated world uses (recorded in world.json and
 * read back from there; docs/world.md explains the choice). */
#define AF_CLICK_B0 (-4.1)
#define AF_CLICK_W_INT 1.2
#define AF_CLICK_W_Q 0.8
#define AF_CLICK_W_AFF 0.5
#define AF_CLICK_EXAM_ALPHA 0.35

static inline double
af_sigmoid(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

/* The logit of the click model (everything inside the sigmoid). */
static inline double
af_click_logit(const struct af_click_model *m, uint64_t interests,
               int32_t age_band, uint32_t category, float quality,
               const float *lat_u, const float *lat_a, float ad_intercept,
               float user_propensity)
{
    double z = m->b0 + m->w_q * log((double)quality) + ad_intercept +
               user_propensity;
    if ((interests >> category) & 1u)
        z += m->w_int;
    if (age_band >= 0 && age_band < AF_WORLD_AGE_BANDS)
        z += m->w_aff * m->aff[age_band][category];
    if (lat_u) {
        double dot = 0;
        for (int k = 0; k < AF_WORLD_LATENT; k++)
            dot += (double)lat_u[k] * lat_a[k];
        z += dot;
    }
    return z;
}

static inline double
af_click_exam(const struct af_click_model *m, uint32_t pos)
{
    return 1.0 / (1.0 + m->exam_alpha * pos);
}

/* Does bit `value` of `mask` admit the user's value?  A mask of 0 admits
 * everyone and an unknown value (-1) matches any mask; a value beyond the
 * mask's width matches no bit. */
static inline int
af_target_bit(uint64_t mask, int32_t value, unsigned width)
{
    if (mask == 0 || value < 0)
        return 1;
    return (unsigned)value < width && ((mask >> value) & 1u);
}

/* The targeting rule of plugins/filter_targeting/targeting.h, which serving
 * applies, restated here because core code cannot include plugin sources:
 * every dimension must admit the user; interests are a set and match when
 * the user shares one with a non-zero mask. */
static inline int
af_targets_raw(uint32_t geo_mask, uint8_t age_mask, uint8_t device_mask,
               uint64_t interest_mask, const struct af_user *u)
{
    return af_target_bit(geo_mask, u->geo, 32) &&
           af_target_bit(age_mask, u->age_band, 8) &&
           af_target_bit(device_mask, u->device, 8) &&
           (interest_mask == 0 || (u->interests & interest_mask) != 0);
}

#endif
