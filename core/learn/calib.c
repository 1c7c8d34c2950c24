/* calib.c -- Platt and isotonic calibration (calib.h). */
#include "learn/calib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/calibrator_isotonic/iso_format.h"
#include "../../plugins/calibrator_platt/platt_format.h"
#include "adfunnel/af_errno.h"
#include "model/modelfile.h"

#define P_MIN 1e-7
#define NEWTON_ITERS 100

static double
clamped_logit(double p)
{
    if (!(p >= P_MIN))
        p = P_MIN;
    if (p > 1.0 - P_MIN)
        p = 1.0 - P_MIN;
    return log(p / (1.0 - p));
}

static double
sigmoid(double z)
{
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* --- ## Platt --- */

int
af_platt_fit(const float *label, const double *p, size_t n,
             struct af_platt *out)
{
    if (n == 0)
        return AF_EINVAL;
    double npos = 0;
    for (size_t i = 0; i < n; i++)
        npos += label[i] > 0.5f;
    double nneg = (double)n - npos;
    double tpos = (npos + 1) / (npos + 2), tneg = 1 / (nneg + 2);
    double a = 1.0, b = 0.0;
    for (int it = 0; it < NEWTON_ITERS; it++) {
        /* Gradient and Hessian of the mean negative log-likelihood, with a
         * tiny ridge so a separable set stays well-posed. */
        double ga = 1e-9 * a, gb = 0, haa = 1e-9, hab = 0, hbb = 1e-12;
        for (size_t i = 0; i < n; i++) {
            double z = clamped_logit(p[i]);
            double q = sigmoid(a * z + b);
            double t = label[i] > 0.5f ? tpos : tneg;
            double d = q - t, s = q * (1 - q);
            ga += d * z / n;
            gb += d / n;
            haa += s * z * z / n;
            hab += s * z / n;
            hbb += s / n;
        }
        double det = haa * hbb - hab * hab;
        if (!(det > 0))
            break;
        double da = (hbb * ga - hab * gb) / det;
        double db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if (fabs(da) < 1e-12 && fabs(db) < 1e-12)
            break;
    }
    if (!isfinite(a) || !isfinite(b))
        return AF_EINVAL;
    out->a = a;
    out->b = b;
    return 0;
}

double
af_platt_apply(const struct af_platt *c, double p)
{
    return sigmoid(c->a * clamped_logit(p) + c->b);
}

/* --- ## Isotonic --- */

int
af_pav(const double *y, const double *w, size_t n, double *out)
{
    /* Blocks on a stack: value, weight, length. */
    double *bv = malloc((n ? n : 1) * sizeof *bv);
    double *bw = malloc((n ? n : 1) * sizeof *bw);
    size_t *bl = malloc((n ? n : 1) * sizeof *bl);
    if (!bv || !bw || !bl) {
        free(bv);
        free(bw);
        free(bl);
        return AF_ENOMEM;
    }
    size_t top = 0;
    for (size_t i = 0; i < n; i++) {
        bv[top] = y[i];
        bw[top] = w ? w[i] : 1.0;
        bl[top] = 1;
        top++;
        while (top > 1 && bv[top - 2] > bv[top - 1]) {
            double ww = bw[top - 2] + bw[top - 1];
            bv[top - 2] = ww > 0 ? (bv[top - 2] * bw[top - 2] +
                                    bv[top - 1] * bw[top - 1]) / ww
                                 : (bv[top - 2] + bv[top - 1]) / 2;
            bw[top - 2] = ww;
            bl[top - 2] += bl[top - 1];
            top--;
        }
    }
    size_t k = 0;
    for (size_t b = 0; b < top; b++)
        for (size_t j = 0; j < bl[b]; j++)
            out[k++] = bv[b];
    free(bv);
    free(bw);
    free(bl);
    return 0;
}

struct pl {
    double p;
    float y;
};

static int
cmp_pl(const void *a, const void *b)
{
    double x = ((const struct pl *)a)->p, y = ((const struct pl *)b)->p;
    return (x > y) - (x < y);
}

int
af_isotonic_fit(const float *label, const double *p, size_t n, uint32_t bins,
                uint32_t mode, struct af_isotonic *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || bins < 2 || (mode != AF_ISO_LINEAR && mode != AF_ISO_STEP))
        return AF_EINVAL;
    struct pl *v = malloc(n * sizeof *v);
    double *bx = malloc(bins * sizeof *bx), *by = malloc(bins * sizeof *by);
    double *bw = malloc(bins * sizeof *bw), *blo = malloc(bins * sizeof *blo);
    double *fit = malloc(bins * sizeof *fit);
    int rc = (!v || !bx || !by || !bw || !blo || !fit) ? AF_ENOMEM : 0;
    uint32_t nb = 0;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            v[i].p = isfinite(p[i]) ? p[i] : 0.0;
            v[i].y = label[i];
        }
        qsort(v, n, sizeof *v, cmp_pl);
        /* Equal-count bins, extended so tied scores share a bin. */
        for (size_t i = 0; i < n && nb < bins;) {
            size_t end = (size_t)((uint64_t)n * (nb + 1) / bins);
            if (end <= i)
                end = i + 1;
            while (end < n && v[end].p == v[end - 1].p)
                end++;
            if (nb == bins - 1)
                end = n;
            double sp = 0, sy = 0;
            for (size_t j = i; j < end; j++) {
                sp += v[j].p;
                sy += v[j].y;
            }
            bx[nb] = sp / (double)(end - i);
            by[nb] = sy / (double)(end - i);
            bw[nb] = (double)(end - i);
            blo[nb] = v[i].p;
            nb++;
            i = end;
        }
        rc = af_pav(by, bw, nb, fit);
    }
    if (rc == 0) {
        out->x = malloc(nb * sizeof *out->x);
        out->y = malloc(nb * sizeof *out->y);
        if (!out->x || !out->y)
            rc = AF_ENOMEM;
    }
    /* One knot per pooled block: at its weighted mean score (linear) or its
     * lowest score (step). */
    for (uint32_t i = 0; rc == 0 && i < nb;) {
        uint32_t j = i;
        double sx = 0, sw = 0;
        while (j < nb && fit[j] == fit[i]) {
            sx += bx[j] * bw[j];
            sw += bw[j];
            j++;
        }
        float x = (float)(mode == AF_ISO_STEP ? blo[i] : sx / sw);
        /* A block without positives (or negatives) would map to 0 (or 1):
         * keep half an observation away from them, so a calibrated score
         * never rules an ad out and logloss stays finite.  Clamping keeps
         * the map monotone. */
        double eps = 0.5 / (double)n;
        float y = (float)fmin(fmax(fit[i], eps), 1.0 - eps);
        if (out->n > 0 && !(x > out->x[out->n - 1])) {
            /* float rounding merged two knots: keep the later value */
            out->y[out->n - 1] = y;
        } else {
            out->x[out->n] = x;
            out->y[out->n] = y;
            out->n++;
        }
        i = j;
    }
    out->mode = mode;
    free(v);
    free(bx);
    free(by);
    free(bw);
    free(blo);
    free(fit);
    if (rc != 0)
        af_isotonic_free(out);
    return rc;
}

void
af_isotonic_free(struct af_isotonic *c)
{
    free(c->x);
    free(c->y);
    memset(c, 0, sizeof *c);
}

double
af_isotonic_apply(const struct af_isotonic *c, double p)
{
    return af_iso_apply(c->x, c->y, c->n, c->mode, p);
}

/* --- ## Files --- */

int
af_platt_save(const struct af_platt *c, const char *path, const char *summary,
              char *err, size_t errlen)
{
    struct af_platt_payload pl = {AF_PLATT_MAGIC, 0, c->a, c->b};
    struct af_modelfile_meta m = {.kind = AF_PLATT_KIND, .version = "platt",
                                  .fingerprint = 0, .summary = summary};
    return af_modelfile_write(path, &m, &pl, sizeof pl, err, errlen);
}

int
af_isotonic_save(const struct af_isotonic *c, const char *path,
                 const char *summary, char *err, size_t errlen)
{
    size_t size = sizeof(struct af_iso_header) + 8 * (size_t)c->n;
    unsigned char *buf = malloc(size);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return AF_ENOMEM;
    }
    struct af_iso_header h = {AF_ISO_MAGIC, c->n, c->mode, 0};
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, c->x, 4 * (size_t)c->n);
    memcpy(buf + sizeof h + 4 * (size_t)c->n, c->y, 4 * (size_t)c->n);
    struct af_modelfile_meta m = {.kind = AF_ISO_KIND, .version = "isotonic",
                                  .fingerprint = 0, .summary = summary};
    int rc = af_modelfile_write(path, &m, buf, size, err, errlen);
    free(buf);
    return rc;
}

static int
load_isotonic(const struct af_model_blob *b, const char *path,
              struct af_isotonic *c, char *err, size_t errlen)
{
    struct af_iso_header h;
    if (b->size < sizeof h) {
        snprintf(err, errlen, "%s: isotonic payload too short", path);
        return AF_ECORRUPT;
    }
    memcpy(&h, b->data, sizeof h);
    if (h.magic != AF_ISO_MAGIC || h.n == 0 ||
        (h.mode != AF_ISO_LINEAR && h.mode != AF_ISO_STEP) ||
        b->size != sizeof h + 8 * (uint64_t)h.n) {
        snprintf(err, errlen, "%s: malformed isotonic payload", path);
        return AF_ECORRUPT;
    }
    c->n = h.n;
    c->mode = h.mode;
    c->x = malloc(4 * (size_t)h.n);
    c->y = malloc(4 * (size_t)h.n);
    if (!c->x || !c->y) {
        snprintf(err, errlen, "%s: out of memory", path);
        return AF_ENOMEM;
    }
    memcpy(c->x, (const char *)b->data + sizeof h, 4 * (size_t)h.n);
    memcpy(c->y, (const char *)b->data + sizeof h + 4 * (size_t)h.n,
           4 * (size_t)h.n);
    for (uint32_t i = 0; i < h.n; i++) {
        int bad = !isfinite(c->x[i]) || !(c->y[i] >= 0 && c->y[i] <= 1) ||
                  (i > 0 && (!(c->x[i] > c->x[i - 1]) || c->y[i] < c->y[i - 1]));
        if (bad) {
            snprintf(err, errlen, "%s: isotonic knot %u is out of order or "
                     "out of range", path, i);
            return AF_ECORRUPT;
        }
    }
    return 0;
}

int
af_calibrator_load(const char *path, struct af_calibrator *c, char *err,
                   size_t errlen)
{
    memset(c, 0, sizeof *c);
    struct af_model_blob b;
    int rc = af_modelfile_open(path, NULL, 0, &b, err, errlen);
    if (rc != 0)
        return rc;
    snprintf(c->kind, sizeof c->kind, "%s", b.kind);
    if (strcmp(b.kind, AF_PLATT_KIND) == 0) {
        struct af_platt_payload pl;
        if (b.size != sizeof pl) {
            snprintf(err, errlen, "%s: platt payload is %zu bytes, expected "
                     "%zu", path, b.size, sizeof pl);
            rc = AF_ECORRUPT;
        } else {
            memcpy(&pl, b.data, sizeof pl);
            if (pl.magic != AF_PLATT_MAGIC || !isfinite(pl.a) || !isfinite(pl.b)) {
                snprintf(err, errlen, "%s: malformed platt payload", path);
                rc = AF_ECORRUPT;
            }
            c->platt.a = pl.a;
            c->platt.b = pl.b;
        }
    } else if (strcmp(b.kind, AF_ISO_KIND) == 0) {
        rc = load_isotonic(&b, path, &c->iso, err, errlen);
    } else {
        snprintf(err, errlen, "%s: kind \"%s\" is not a calibrator (platt, "
                 "isotonic)", path, b.kind);
        rc = AF_EMISMATCH;
    }
    af_modelfile_close(&b);
    if (rc != 0)
        af_calibrator_free(c);
    return rc;
}

void
af_calibrator_free(struct af_calibrator *c)
{
    af_isotonic_free(&c->iso);
}

double
af_calibrator_apply(const struct af_calibrator *c, double p)
{
    if (strcmp(c->kind, AF_PLATT_KIND) == 0)
        return af_platt_apply(&c->platt, p);
    return af_isotonic_apply(&c->iso, p);
}
