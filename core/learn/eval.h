/*
 * eval.h -- offline metrics of click probabilities against 0/1 labels.
 *
 * All sums are in double.  AUC is exact with ties (tied scores share the
 * average rank, as sklearn.metrics.roc_auc_score); PR-AUC is average
 * precision with tied scores taken as one threshold (as
 * sklearn.metrics.average_precision_score); logloss clips p to
 * [1e-7, 1 - 1e-7] as the anchors do; normalized entropy is logloss over
 * the entropy of the observed positive rate; ECE is the count-weighted mean
 * of |mean p - positive rate| over equal-width bins of p (and, reported
 * beside it, over equal-count bins).
 */
#ifndef AF_CORE_EVAL_H
#define AF_CORE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#define AF_EVAL_LOGLOSS_EPS 1e-7
#define AF_EVAL_MAX_BINS 100

/* ROC AUC, exact with ties.  NaN when one class is absent.  Sorts a copy
 * (malloc; NaN also when that fails). */
double af_eval_auc(const float *label, const double *p, size_t n);

/* Average precision (area under the precision-recall curve). */
double af_eval_pr_auc(const float *label, const double *p, size_t n);

/* Mean clipped binary cross-entropy, natural log (weights may be NULL). */
double af_eval_logloss(const float *label, const double *p,
                       const float *weight, size_t n);

struct af_eval_bin {
    double lo, hi;      /* p range                                        */
    uint64_t n;
    double mean_p, rate; /* mean prediction and observed positive rate    */
};

struct af_eval {
    uint64_t n;
    double positives;
    double auc, pr_auc, logloss, ne;
    double mean_p, rate, ratio; /* ratio = mean_p / rate                  */
    uint32_t bins;
    double ece;                 /* equal-width bins                       */
    double ece_mass;            /* equal-count bins                       */
    struct af_eval_bin bin[AF_EVAL_MAX_BINS];      /* equal-width         */
    struct af_eval_bin bin_mass[AF_EVAL_MAX_BINS]; /* equal-count         */
};

/* Every metric at once (bins in 1..AF_EVAL_MAX_BINS).  0 or AF_ENOMEM /
 * AF_EINVAL. */
int af_eval_compute(const float *label, const double *p, size_t n,
                    uint32_t bins, struct af_eval *out);

#endif
