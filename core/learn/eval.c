/* eval.c -- offline metrics (eval.h). */
#include "learn/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"

struct scored {
    double p;
    float y;
};

static int
cmp_p(const void *a, const void *b)
{
    double x = ((const struct scored *)a)->p, y = ((const struct scored *)b)->p;
    return (x > y) - (x < y);
}

static struct scored *
sorted_copy(const float *label, const double *p, size_t n)
{
    struct scored *v = malloc((n ? n : 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        v[i].p = p[i];
        v[i].y = label[i];
    }
    qsort(v, n, sizeof *v, cmp_p);
    return v;
}

/* Mann-Whitney U: sum of positive ranks, tied groups at their mean rank. */
static double
auc_sorted(const struct scored *v, size_t n)
{
    double pos = 0, rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double npos = 0;
        while (j < n && v[j].p == v[i].p)
            npos += v[j++].y > 0.5f;
        rank_sum += npos * ((double)(i + 1) + (double)j) / 2.0;
        pos += npos;
        i = j;
    }
    double neg = (double)n - pos;
    if (pos == 0 || neg == 0)
        return NAN;
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}

double
af_eval_auc(const float *label, const double *p, size_t n)
{
    struct scored *v = sorted_copy(label, p, n);
    if (v == NULL)
        return NAN;
    double a = auc_sorted(v, n);
    free(v);
    return a;
}

/* Walk thresholds from the highest score down: AP = sum over thresholds
 * of (recall step) * precision at that threshold. */
static double
ap_sorted(const struct scored *v, size_t n)
{
    double pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += v[i].y > 0.5f;
    if (pos == 0)
        return NAN;
    double tp = 0, seen = 0, ap = 0;
    for (size_t i = n; i > 0;) {
        size_t j = i;
        double gtp = 0, g = 0;
        while (j > 0 && v[j - 1].p == v[i - 1].p) {
            gtp += v[j - 1].y > 0.5f;
            g++;
            j--;
        }
        tp += gtp;
        seen += g;
        ap += (gtp / pos) * (tp / seen);
        i = j;
    }
    return ap;
}

double
af_eval_pr_auc(const float *label, const double *p, size_t n)
{
    struct scored *v = sorted_copy(label, p, n);
    if (v == NULL)
        return NAN;
    double a = ap_sorted(v, n);
    free(v);
    return a;
}

double
af_eval_logloss(const float *label, const double *p, const float *weight,
                size_t n)
{
    double s = 0, ws = 0;
    for (size_t i = 0; i < n; i++) {
        double q = p[i];
        if (!(q >= AF_EVAL_LOGLOSS_EPS))
            q = AF_EVAL_LOGLOSS_EPS;
        if (q > 1.0 - AF_EVAL_LOGLOSS_EPS)
            q = 1.0 - AF_EVAL_LOGLOSS_EPS;
        double y = label[i], w = weight ? weight[i] : 1.0;
        s += -w * (y * log(q) + (1.0 - y) * log(1.0 - q));
        ws += w;
    }
    return ws > 0 ? s / ws : NAN;
}

static void
bin_add(struct af_eval_bin *b, double p, float y)
{
    b->n++;
    b->mean_p += p;
    b->rate += y;
}

/* Turn sums into means; return the bins' ECE contribution. */
static double
bins_finish(struct af_eval_bin *b, uint32_t nb, uint64_t n)
{
    double ece = 0;
    for (uint32_t k = 0; k < nb; k++) {
        if (b[k].n == 0)
            continue;
        b[k].mean_p /= (double)b[k].n;
        b[k].rate /= (double)b[k].n;
        ece += (double)b[k].n / (double)n * fabs(b[k].mean_p - b[k].rate);
    }
    return ece;
}

int
af_eval_compute(const float *label, const double *p, size_t n, uint32_t bins,
                struct af_eval *out)
{
    memset(out, 0, sizeof *out);
    if (bins == 0 || bins > AF_EVAL_MAX_BINS)
        return AF_EINVAL;
    struct scored *v = sorted_copy(label, p, n);
    if (v == NULL)
        return AF_ENOMEM;
    out->n = n;
    out->bins = bins;
    double sp = 0;
    for (size_t i = 0; i < n; i++) {
        out->positives += label[i] > 0.5f;
        sp += p[i];
    }
    out->auc = auc_sorted(v, n);
    out->pr_auc = ap_sorted(v, n);
    out->logloss = af_eval_logloss(label, p, NULL, n);
    out->mean_p = n ? sp / (double)n : NAN;
    out->rate = n ? out->positives / (double)n : NAN;
    out->ratio = out->rate > 0 ? out->mean_p / out->rate : NAN;
    double r = out->rate;
    double h = (r > 0 && r < 1) ? -(r * log(r) + (1 - r) * log(1 - r)) : NAN;
    out->ne = out->logloss / h;
    for (uint32_t k = 0; k < bins; k++) {
        out->bin[k].lo = (double)k / bins;
        out->bin[k].hi = (double)(k + 1) / bins;
    }
    for (size_t i = 0; i < n; i++) {
        double q = v[i].p;
        uint32_t k = q >= 1.0 ? bins - 1 : q <= 0.0 ? 0 : (uint32_t)(q * bins);
        bin_add(&out->bin[k], q, v[i].y);
        uint32_t m = (uint32_t)((uint64_t)i * bins / (n ? n : 1));
        bin_add(&out->bin_mass[m], q, v[i].y);
    }
    for (uint32_t k = 0; k < bins && n > 0; k++) {
        uint64_t a = (uint64_t)n * k / bins, b = (uint64_t)n * (k + 1) / bins;
        out->bin_mass[k].lo = b > a ? v[a].p : NAN;
        out->bin_mass[k].hi = b > a ? v[b - 1].p : NAN;
    }
    out->ece = n ? bins_finish(out->bin, bins, n) : NAN;
    out->ece_mass = n ? bins_finish(out->bin_mass, bins, n) : NAN;
    free(v);
    return 0;
}
