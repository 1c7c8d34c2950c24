/*
 * sampling.h -- negative downsampling of encoded examples: keep every
 * positive and each negative with probability w (seeded).  A model trained
 * on the result predicts p_s; p = p_s / (p_s + (1 - p_s) / w) undoes the
 * sampling (the trainers store w so that predict and serving apply it).
 */
#ifndef AF_CORE_SAMPLING_H
#define AF_CORE_SAMPLING_H

#include <stdint.h>

#include "learn/examples.h"

/* dst is initialized here (free with af_examples_free); it borrows src's
 * field_offset.  0 or AF_ENOMEM. */
int af_examples_downsample(const struct af_examples *src, double w,
                           uint64_t seed, struct af_examples *dst);

#endif
