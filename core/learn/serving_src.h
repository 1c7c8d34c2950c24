/*
 * serving_src.h -- the raw text of a serving source ("user.geo",
 * "ad.bid", ...) for a request and a catalog row.  The spec feature stage
 * formats a request with it and the world's impression log
 * (`adfunnel world log`) writes its columns with it, so a model trained on
 * the log reads exactly the strings serving produces.
 *
 * Integers are decimal; user.interests is the ascending list of set
 * interest ids joined by ","; floats are "%.9g" of the float (exact round
 * trip); unknown values (-1, no interests) are missing (NULL).
 */
#ifndef AF_CORE_SERVING_SRC_H
#define AF_CORE_SERVING_SRC_H

#include <stddef.h>
#include <stdint.h>

#include "adfunnel/af_types.h"

#define AF_SERVING_VALUE_MAX 256 /* enough for 64 interest ids */

/* Text of source `src` (enum af_serving_src) into buf (n >=
 * AF_SERVING_VALUE_MAX); returns buf, or NULL when the value is missing.
 * Ad sources read catalog row `row` (ignored for user / context ones). */
const char *af_serving_value(int src, const struct af_user *u,
                             const struct af_context *c,
                             const struct af_catalog *cat, uint32_t row,
                             char *buf, size_t n);

#endif
