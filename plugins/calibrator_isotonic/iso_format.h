/*
 * iso_format.h -- payload of an "isotonic" calibrator file (kind
 * "isotonic" in the .afm header, core/model/modelfile.h), and the one
 * interpolation both the plugin and `adfunnel eval` use.
 *
 * Little-endian, no padding:
 *
 *   struct af_iso_header   16 bytes
 *   float x[n]             knots: raw scores, strictly increasing
 *   float y[n]             calibrated probabilities, non-decreasing, in [0, 1]
 *
 * Interpolation (mode): AF_ISO_LINEAR joins the knots with straight lines;
 * AF_ISO_STEP takes the y of the last knot at or below the score.  Below
 * the first knot the first y applies, above the last the last y.  Both are
 * monotone non-decreasing in the score.
 */
#ifndef AF_PLUGIN_ISO_FORMAT_H
#define AF_PLUGIN_ISO_FORMAT_H

#include <stdint.h>

#define AF_ISO_KIND "isotonic"
#define AF_ISO_MAGIC 0x314f5349u /* "ISO1" */

enum { AF_ISO_LINEAR = 0, AF_ISO_STEP = 1 };

struct af_iso_header {
    uint32_t magic;
    uint32_t n;      /* knots, >= 1                                       */
    uint32_t mode;   /* AF_ISO_LINEAR or AF_ISO_STEP                      */
    uint32_t reserved;
};

_Static_assert(sizeof(struct af_iso_header) == 16,
               "the isotonic header is 16 bytes on disk");

/* Calibrated value of score s (x, y: n knots as above). */
static inline double
af_iso_apply(const float *x, const float *y, uint32_t n, uint32_t mode,
             double s)
{
    if (!(s > x[0])) /* also NaN */
        return y[0];
    if (s >= x[n - 1])
        return y[n - 1];
    uint32_t lo = 0, hi = n - 1; /* x[lo] < s < x[hi] */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (x[mid] <= s)
            lo = mid;
        else
            hi = mid;
    }
    if (mode == AF_ISO_STEP)
        return y[lo];
    double t = (s - x[lo]) / ((double)x[hi] - x[lo]);
    return y[lo] + t * ((double)y[hi] - y[lo]);
}

#endif
