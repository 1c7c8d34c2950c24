/*
 * calib.h -- fitting calibrators on held-out predictions, their files, and
 * applying them (the same maps the calibrator plugins apply at serving).
 *
 * Platt: p' = sigmoid(a * logit(p) + b), (a, b) by Newton's method on the
 * log-likelihood with Platt's smoothed targets (N+ + 1)/(N+ + 2) and
 * 1/(N- + 2).  Isotonic: predictions sorted and grouped into at most `bins`
 * equal-count bins (tied predictions never split), pool-adjacent-violators
 * on the bins' positive rates weighted by their counts, one knot per pooled
 * block, its value kept within [0.5 / n, 1 - 0.5 / n] (n rows) so no score
 * maps to exactly 0 or 1; interpolation as
 * plugins/calibrator_isotonic/iso_format.h.
 */
#ifndef AF_CORE_CALIB_H
#define AF_CORE_CALIB_H

#include <stddef.h>
#include <stdint.h>

struct af_platt {
    double a, b;
};

struct af_isotonic {
    uint32_t n;       /* knots                                            */
    uint32_t mode;    /* AF_ISO_LINEAR or AF_ISO_STEP                     */
    float *x, *y;     /* malloc'd, n each                                 */
};

/* 0, or AF_EINVAL when n == 0. */
int af_platt_fit(const float *label, const double *p, size_t n,
                 struct af_platt *out);
double af_platt_apply(const struct af_platt *c, double p);

/*
 * Weighted pool-adjacent-violators: y (n values, weights w) in the given
 * order -> the non-decreasing sequence closest in weighted squared error,
 * written to out (n values).  No allocation beyond one scratch block
 * (AF_ENOMEM).
 */
int af_pav(const double *y, const double *w, size_t n, double *out);

/* Fit with at most `bins` bins (>= 2); mode AF_ISO_LINEAR / AF_ISO_STEP.
 * 0, AF_EINVAL, AF_ENOMEM.  Free with af_isotonic_free. */
int af_isotonic_fit(const float *label, const double *p, size_t n,
                    uint32_t bins, uint32_t mode, struct af_isotonic *out);
void af_isotonic_free(struct af_isotonic *c);
double af_isotonic_apply(const struct af_isotonic *c, double p);

/* Files: model files of kind "platt" / "isotonic" (atomic write; loading
 * checks kind, checksums and the payload).  0 or AF_E* with err. */
int af_platt_save(const struct af_platt *c, const char *path,
                  const char *summary, char *err, size_t errlen);
int af_isotonic_save(const struct af_isotonic *c, const char *path,
                     const char *summary, char *err, size_t errlen);

/* A calibrator of either kind read from a file (kind taken from the
 * header). */
struct af_calibrator {
    char kind[16];               /* "platt" or "isotonic"                 */
    struct af_platt platt;
    struct af_isotonic iso;
};
int af_calibrator_load(const char *path, struct af_calibrator *c, char *err,
                       size_t errlen);
void af_calibrator_free(struct af_calibrator *c);
double af_calibrator_apply(const struct af_calibrator *c, double p);

#endif
