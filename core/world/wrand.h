/*
 * wrand.h -- the world's deterministic random numbers: xoshiro256** seeded
 * through splitmix64, plus the few distributions the generator and the
 * tools draw from.  Everything derives from (seed, stream) so that, e.g.,
 * the users drawn do not depend on how many random numbers the ads used.
 */
#ifndef AF_CORE_WRAND_H
#define AF_CORE_WRAND_H

#include <math.h>
#include <stdint.h>

struct af_wrand {
    uint64_t s[4];
};

static inline uint64_t
af_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A generator for one named purpose (`stream`) of a seed. */
static inline void
af_wrand_seed(struct af_wrand *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = af_splitmix64(&x);
}

static inline uint64_t
af_wrand_u64(struct af_wrand *r)
{
    uint64_t *s = r->s;
    uint64_t t = s[1] << 17;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform in [0, 1). */
static inline double
af_wrand_unit(struct af_wrand *r)
{
    return (double)(af_wrand_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply; the tiny bias at
 * n close to 2^32 does not matter for a simulation). */
static inline uint32_t
af_wrand_below(struct af_wrand *r, uint32_t n)
{
    return (uint32_t)(((af_wrand_u64(r) >> 32) * (uint64_t)n) >> 32);
}

/* Standard normal (Box-Muller; one value per call keeps the state simple). */
static inline double
af_wrand_normal(struct af_wrand *r)
{
    double u1 = 1.0 - af_wrand_unit(r); /* (0, 1]: log is finite */
    double u2 = af_wrand_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Index drawn with probability proportional to w[i] (w >= 0, some > 0). */
static inline uint32_t
af_wrand_pick(struct af_wrand *r, const double *w, uint32_t n)
{
    double total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += w[i];
    double x = af_wrand_unit(r) * total;
    for (uint32_t i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

#endif
