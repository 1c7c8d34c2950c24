/*
 * worldlog.h -- a log of simulated impressions from the world's ground
 * truth, as training data for feature specs over serving sources
 * (`adfunnel world log`).
 *
 * Page views of random users, five ads each in shuffled positions 0..4,
 * drawn like `adfunnel world fit-lr` draws them (mostly the most popular
 * ads that target the user, else any targeting ad); click ~ Bernoulli(true
 * p).  The TSV has a header: time (virtual unix seconds, increasing),
 * label, p_true, then one column per serving source named as the source
 * ("user.geo", "ad.category", ...), each written by af_serving_value -- the
 * function the spec feature stage reads requests with.
 */
#ifndef AF_CORE_WORLDLOG_H
#define AF_CORE_WORLDLOG_H

#include <stddef.h>
#include <stdint.h>

struct af_worldlog_opts {
    const char *world_dir;  /* adfunnel world gen output                  */
    const char *out;        /* TSV path                                   */
    uint64_t impressions;
    uint64_t seed;
    uint32_t pool;          /* popular targeted ads a page draws from     */
    int64_t start_time;     /* time of the first page (unix seconds)      */
};

/* Write the log (atomically: temporary file + rename).  0 or AF_E* with
 * err. */
int af_worldlog_write(const struct af_worldlog_opts *o, char *err,
                      size_t errlen);

#endif
