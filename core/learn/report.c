/*
 * report.c -- eval outputs (report.h).  SVG is written by hand: two small
 * charts with axes, no scripts, so the HTML page is self-contained.
 */
#include "learn/report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adfunnel/af_errno.h"
#include "util/strbuf.h"

#define W 420
#define H 320
#define PAD 48

/* NaN and infinities are not JSON numbers: write null. */
static json_t *
num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *
bins_json(const struct af_eval_bin *b, uint32_t n)
{
    json_t *a = json_array();
    for (uint32_t k = 0; a && k < n; k++)
        json_array_append_new(a, json_pack("{s:o,s:o,s:I,s:o,s:o}", "lo",
                                           num(b[k].lo), "hi", num(b[k].hi), "n",
                                           (json_int_t)b[k].n, "mean_p",
                                           num(b[k].n ? b[k].mean_p : NAN),
                                           "rate", num(b[k].n ? b[k].rate : NAN)));
    return a;
}

void *
af_eval_json(const struct af_eval *e)
{
    return json_pack("{s:I,s:f,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:i,s:o,s:o,s:o,s:o}",
                     "rows", (json_int_t)e->n, "positives", e->positives,
                     "auc", num(e->auc), "pr_auc", num(e->pr_auc),
                     "logloss", num(e->logloss), "normalized_entropy", num(e->ne),
                     "mean_p", num(e->mean_p), "positive_rate", num(e->rate),
                     "predicted_over_observed", num(e->ratio),
                     "ece_bins", (int)e->bins, "ece", num(e->ece),
                     "ece_equal_count", num(e->ece_mass),
                     "reliability", bins_json(e->bin, e->bins),
                     "reliability_equal_count", bins_json(e->bin_mass, e->bins));
}

/* --- ## SVG --- */

static double
sx(double x, double lo, double hi)
{
    return PAD + (hi > lo ? (x - lo) / (hi - lo) : 0.5) * (W - 2 * PAD);
}

static double
sy(double y, double lo, double hi)
{
    return H - PAD - (hi > lo ? (y - lo) / (hi - lo) : 0.5) * (H - 2 * PAD);
}

static void
axes(af_buf *b, const char *title, const char *xl, const char *yl, double x0,
     double x1, double y0, double y1)
{
    af_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                  "height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                  "<text x=\"%d\" y=\"18\" font-size=\"13\">%s</text>\n",
                  W, H, PAD, title);
    af_buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                  "stroke=\"black\"/>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
                  "y2=\"%d\" stroke=\"black\"/>\n", PAD, H - PAD, W - PAD,
                  H - PAD, PAD, PAD, PAD, H - PAD);
    for (int i = 0; i <= 4; i++) {
        double fx = x0 + (x1 - x0) * i / 4, fy = y0 + (y1 - y0) * i / 4;
        af_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
                      "%.3g</text>\n", sx(fx, x0, x1), H - PAD + 14, fx);
        af_buf_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g"
                      "</text>\n", PAD - 4, sy(fy, y0, y1) + 4, fy);
    }
    af_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n"
                  "<text x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" "
                  "text-anchor=\"middle\">%s</text>\n", W / 2, H - 10, xl,
                  H / 2, H / 2, yl);
}

static void
polyline(af_buf *b, const double *x, const double *y, uint32_t n, double x0,
         double x1, double y0, double y1, const char *color, int dots)
{
    af_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                  "points=\"", color);
    for (uint32_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i]))
            af_buf_printf(b, "%.1f,%.1f ", sx(x[i], x0, x1), sy(y[i], y0, y1));
    af_buf_printf(b, "\"/>\n");
    for (uint32_t i = 0; dots && i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i]))
            af_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                          "fill=\"%s\"/>\n", sx(x[i], x0, x1), sy(y[i], y0, y1),
                          color);
}

/* Reliability: mean prediction vs observed rate per equal-count bin (they
 * stay informative when predictions crowd near 0), raw and calibrated. */
static void
reliability_svg(af_buf *b, const struct af_eval *raw, const struct af_eval *cal)
{
    double hi = 0;
    const struct af_eval *ev[2] = {raw, cal};
    for (int s = 0; s < 2; s++)
        for (uint32_t k = 0; ev[s] && k < ev[s]->bins; k++)
            if (ev[s]->bin_mass[k].n) {
                hi = fmax(hi, ev[s]->bin_mass[k].mean_p);
                hi = fmax(hi, ev[s]->bin_mass[k].rate);
            }
    hi = hi > 0 ? fmin(1.0, hi * 1.05) : 1.0;
    axes(b, "Reliability (equal-count bins)", "mean predicted p",
         "observed positive rate", 0, hi, 0, hi);
    af_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n", sx(0, 0, hi),
                  sy(0, 0, hi), sx(hi, 0, hi), sy(hi, 0, hi));
    static const char *const color[2] = {"#d62728", "#1f77b4"};
    for (int s = 0; s < 2; s++) {
        if (!ev[s])
            continue;
        double x[AF_EVAL_MAX_BINS], y[AF_EVAL_MAX_BINS];
        uint32_t n = 0;
        for (uint32_t k = 0; k < ev[s]->bins; k++)
            if (ev[s]->bin_mass[k].n) {
                x[n] = ev[s]->bin_mass[k].mean_p;
                y[n++] = ev[s]->bin_mass[k].rate;
            }
        polyline(b, x, y, n, 0, hi, 0, hi, color[s], 1);
        af_buf_printf(b, "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s (ECE %.4f)"
                      "</text>\n", PAD + 8, PAD + 14 + 14 * s, color[s],
                      s ? "calibrated" : "model", ev[s]->ece);
    }
    af_buf_puts(b, "</svg>\n");
}

static void
curves_svg(af_buf *b, const struct af_train_epoch *h, uint32_t n,
           uint32_t best)
{
    /* Zeroed: gcc -O2 cannot see that n <= AF_TRAIN_MAX_EPOCHS bounds the
     * reads below by the writes. */
    double x[AF_TRAIN_MAX_EPOCHS] = {0}, tl[AF_TRAIN_MAX_EPOCHS] = {0},
           vl[AF_TRAIN_MAX_EPOCHS] = {0}, va[AF_TRAIN_MAX_EPOCHS] = {0};
    double lo = INFINITY, hi = -INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        x[i] = h[i].epoch;
        tl[i] = h[i].train_loss;
        vl[i] = h[i].valid_loss;
        va[i] = h[i].valid_auc;
        if (isfinite(tl[i]))
            lo = fmin(lo, tl[i]), hi = fmax(hi, tl[i]);
        if (isfinite(vl[i]))
            lo = fmin(lo, vl[i]), hi = fmax(hi, vl[i]);
    }
    if (!(hi > lo))
        lo = 0, hi = 1;
    double x1 = n > 1 ? n : 2;
    axes(b, "Training curves", "epoch", "logloss", 1, x1, lo, hi);
    polyline(b, x, tl, n, 1, x1, lo, hi, "#2ca02c", 1);
    polyline(b, x, vl, n, 1, x1, lo, hi, "#d62728", 1);
    /* valid AUC on its own scale, right-hand labels */
    double alo = INFINITY, ahi = -INFINITY;
    for (uint32_t i = 0; i < n; i++)
        if (isfinite(va[i]))
            alo = fmin(alo, va[i]), ahi = fmax(ahi, va[i]);
    if (ahi >= alo) {
        if (!(ahi > alo))
            alo -= 0.01, ahi += 0.01;
        polyline(b, x, va, n, 1, x1, alo, ahi, "#1f77b4", 1);
        af_buf_printf(b, "<text x=\"%d\" y=\"%d\" fill=\"#1f77b4\">valid AUC "
                      "(%.4f .. %.4f)</text>\n", PAD + 8, PAD + 42, alo, ahi);
    }
    if (best >= 1 && best <= n)
        af_buf_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                      "stroke=\"#999\" stroke-dasharray=\"3 3\"/>\n",
                      sx(best, 1, x1), PAD, sx(best, 1, x1), H - PAD);
    af_buf_printf(b, "<text x=\"%d\" y=\"%d\" fill=\"#2ca02c\">train logloss"
                  "</text>\n<text x=\"%d\" y=\"%d\" fill=\"#d62728\">valid "
                  "logloss</text>\n</svg>\n", PAD + 8, PAD + 14, PAD + 8, PAD + 28);
}

/* --- ## Files --- */

static int
write_file(const char *dir, const char *name, const af_buf *b, char *err,
           size_t errlen)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || (b->len && fwrite(b->data, 1, b->len, f) != b->len) ||
        fclose(f) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return AF_EIO;
    }
    return 0;
}

static json_t *
report_json(const struct af_report *r)
{
    json_t *j = json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:o}", "spec", r->spec,
                          "model", r->model, "vocab", r->vocab, "calibrator",
                          r->calibrator, "split", r->split, "model_output",
                          af_eval_json(r->raw));
    if (j && r->cal)
        json_object_set_new(j, "calibrated", af_eval_json(r->cal));
    if (j && r->segment_field) {
        json_t *s = json_array();
        for (uint32_t i = 0; s && i < r->n_seg; i++) {
            json_t *o = af_eval_json(&r->seg[i].ev);
            json_object_del(o, "reliability");
            json_object_del(o, "reliability_equal_count");
            json_object_set_new(o, "segment", json_string(r->seg[i].name));
            json_array_append_new(s, o);
        }
        json_object_set_new(j, "segment_field", json_string(r->segment_field));
        json_object_set_new(j, "segments", s);
    }
    return j;
}

static void
metric_row(af_buf *b, const char *name, const struct af_eval *e)
{
    af_buf_printf(b, "<tr><td>%s</td><td>%llu</td><td>%.0f</td><td>%.4f</td>"
                  "<td>%.4f</td><td>%.5f</td><td>%.4f</td><td>%.4f</td>"
                  "<td>%.4f</td></tr>\n", name, (unsigned long long)e->n,
                  e->positives, e->auc, e->pr_auc, e->logloss, e->ne, e->ece,
                  e->ratio);
}

static void
html(af_buf *b, const struct af_report *r, const af_buf *rel, const af_buf *cur)
{
    af_buf_printf(b, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
                  "<title>adfunnel eval: %s</title>\n<style>body{font-family:"
                  "sans-serif;max-width:900px;margin:2em auto}table{border-"
                  "collapse:collapse}td,th{border:1px solid #ccc;padding:3px "
                  "8px;text-align:right}td:first-child{text-align:left}"
                  "</style></head><body>\n<h1>adfunnel eval</h1>\n<p>model "
                  "<code>%s</code>, spec <code>%s</code>, split <b>%s</b>%s%s%s"
                  "</p>\n", r->model, r->model, r->spec, r->split,
                  r->calibrator ? ", calibrator <code>" : "",
                  r->calibrator ? r->calibrator : "", r->calibrator ? "</code>" : "");
    af_buf_puts(b, "<table><tr><th></th><th>rows</th><th>positives</th><th>AUC"
                   "</th><th>PR-AUC</th><th>logloss</th><th>NE</th><th>ECE"
                   "</th><th>pred/obs</th></tr>\n");
    metric_row(b, "model", r->raw);
    if (r->cal)
        metric_row(b, "calibrated", r->cal);
    af_buf_printf(b, "</table>\n<p>ECE over %u equal-width bins of p; the "
                  "diagram uses equal-count bins.</p>\n<div>%s%s</div>\n",
                  r->raw->bins, rel->data ? rel->data : "",
                  cur && cur->data ? cur->data : "");
    if (r->segment_field && r->n_seg) {
        af_buf_printf(b, "<h2>By %s</h2>\n<table><tr><th>segment</th><th>rows"
                      "</th><th>positives</th><th>AUC</th><th>PR-AUC</th>"
                      "<th>logloss</th><th>NE</th><th>ECE</th><th>pred/obs</th>"
                      "</tr>\n", r->segment_field);
        for (uint32_t i = 0; i < r->n_seg; i++)
            metric_row(b, r->seg[i].name, &r->seg[i].ev);
        af_buf_puts(b, "</table>\n");
    }
    af_buf_puts(b, "</body></html>\n");
}

int
af_report_write(const struct af_report *r, const char *dir, char *err,
                size_t errlen)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
        return AF_EIO;
    }
    json_t *j = report_json(r);
    char *text = j ? json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return AF_ENOMEM;
    }
    af_buf js, rel, cur, page;
    af_buf_init(&js);
    af_buf_init(&rel);
    af_buf_init(&cur);
    af_buf_init(&page);
    af_buf_puts(&js, text);
    af_buf_puts(&js, "\n");
    free(text);
    reliability_svg(&rel, r->raw, r->cal);
    if (r->hist && r->n_hist)
        curves_svg(&cur, r->hist, r->n_hist, r->best_epoch);
    html(&page, r, &rel, r->n_hist ? &cur : NULL);
    int rc = (js.oom || rel.oom || cur.oom || page.oom) ? AF_ENOMEM : 0;
    if (rc != 0)
        snprintf(err, errlen, "out of memory");
    if (rc == 0)
        rc = write_file(dir, "eval.json", &js, err, errlen);
    if (rc == 0)
        rc = write_file(dir, "reliability.svg", &rel, err, errlen);
    if (rc == 0 && r->n_hist)
        rc = write_file(dir, "curves.svg", &cur, err, errlen);
    if (rc == 0)
        rc = write_file(dir, "report.html", &page, err, errlen);
    af_buf_free(&js);
    af_buf_free(&rel);
    af_buf_free(&cur);
    af_buf_free(&page);
    return rc;
}

int
af_history_write(const char *path, const struct af_model_out *m,
                 const char *kind, char *err, size_t errlen)
{
    json_t *ep = json_array();
    for (uint32_t i = 0; ep && i < m->n_epochs; i++)
        json_array_append_new(ep, json_pack("{s:i,s:o,s:o,s:o,s:o}", "epoch",
                                            (int)m->epoch[i].epoch, "train_loss",
                                            num(m->epoch[i].train_loss),
                                            "valid_loss", num(m->epoch[i].valid_loss),
                                            "valid_auc", num(m->epoch[i].valid_auc),
                                            "seconds", num(m->epoch[i].seconds)));
    json_t *j = json_pack("{s:s,s:i,s:s,s:o}", "kind", kind, "best_epoch",
                          (int)m->best_epoch, "summary", m->summary, "epochs", ep);
    int rc = j ? json_dump_file(j, path, JSON_INDENT(1)) : -1;
    json_decref(j);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot write the training history", path);
        return AF_EIO;
    }
    return 0;
}

static double
jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int
af_history_read(const char *path, struct af_train_epoch **hist, uint32_t *n,
                uint32_t *best, char *err, size_t errlen)
{
    json_error_t je;
    *hist = NULL;
    *n = *best = 0;
    json_t *j = json_load_file(path, 0, &je);
    if (j == NULL) {
        snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
        return AF_EINVAL;
    }
    json_t *ep = json_object_get(j, "epochs");
    size_t m = json_is_array(ep) ? json_array_size(ep) : 0;
    if (m > AF_TRAIN_MAX_EPOCHS)
        m = AF_TRAIN_MAX_EPOCHS;
    *hist = calloc(m ? m : 1, sizeof **hist);
    if (*hist == NULL) {
        json_decref(j);
        snprintf(err, errlen, "out of memory");
        return AF_ENOMEM;
    }
    for (size_t i = 0; i < m; i++) {
        json_t *e = json_array_get(ep, i);
        (*hist)[i].epoch = (uint32_t)jnum(e, "epoch");
        (*hist)[i].train_loss = jnum(e, "train_loss");
        (*hist)[i].valid_loss = jnum(e, "valid_loss");
        (*hist)[i].valid_auc = jnum(e, "valid_auc");
        (*hist)[i].seconds = jnum(e, "seconds");
    }
    *n = (uint32_t)m;
    double b = jnum(j, "best_epoch");
    *best = isfinite(b) && b >= 0 ? (uint32_t)b : 0;
    json_decref(j);
    return 0;
}
