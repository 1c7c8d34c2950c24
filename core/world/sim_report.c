/*
 * sim_report.c -- the simulation's results: a summary on stdout, a JSON
 * report (jansson) and SVG plots written as plain text.
 *
 * Definitions (docs/simulation.md gives the reasoning):
 *   ctr                clicks / impressions
 *   revenue            spend charged: CPC prices of clicks + CPM prices / 1000
 *   regret             sum over requests of (optimum - value shown), both in
 *                      expected advertiser value (sim_truth.c)
 *   new-ad estimate    (clicks + s * prior) / (impressions + s), prior = the
 *                      new ad's prior_ctr in the served catalog, s =
 *                      est_strength; its truth = the mean true p of the
 *                      impressions it got; "reached +-20%" = within 20% of
 *                      the truth at the end and ever since impression k:
 *                      k is its "impressions to +-20%"
 *   pacing, per day    a campaign's spend over the day against its target,
 *                      the budget (or budget x curve share at the end of a
 *                      partial day); "over demand" campaigns are those whose
 *                      spend in the demand pipeline (--demand-pipeline, run
 *                      without pacing) reached the budget; deviation from the
 *                      curve = max over 15-minute samples of |spend / budget
 *                      - curve share|
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "world/sim_int.h"
#include "world/wfile.h"

static int
dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorted in place); NAN when n = 0. */
static double
median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, dcmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A JSON number, or null for NaN/inf. */
static json_t *
jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* --- ## New ads --- */

struct new_stats {
    uint32_t count, shown, reached;
    double median_imps, mean_imps, median_hours, median_imps_per_ad;
    double
        mean_rel_error; /* |estimate - truth| / truth at the end, shown ads */
};

static struct new_stats
new_ad_stats(const struct sim_world *sw, const struct sim_run *run)
{
    struct new_stats s = {.count = sw->n_new};
    double *imps = malloc((sw->n_new + 1) * sizeof *imps);
    double *hours = malloc((sw->n_new + 1) * sizeof *hours);
    double *per_ad = malloc((sw->n_new + 1) * sizeof *per_ad);
    s.median_imps = s.mean_imps = s.median_hours = s.median_imps_per_ad = NAN;
    s.mean_rel_error = NAN;
    if (!imps || !hours || !per_ad)
        goto out;
    double sum = 0, err_sum = 0;
    for (uint32_t k = 0; k < sw->n_new; k++) {
        const struct sim_new_ad *a = &run->new_ads[k];
        uint32_t row = sw->new_rows[k];
        per_ad[k] = (double)a->n;
        if (a->n == 0)
            continue;
        s.shown++;
        double est = (a->c + sw->est_strength * sw->sim_prior[row]) /
                     (a->n + sw->est_strength);
        double truth = a->p_sum / a->n;
        err_sum += fabs(est - truth) / truth;
        if (a->reached_s < 0)
            continue;
        imps[s.reached] = (double)(a->last_out + 1);
        hours[s.reached] =
            (double)(a->reached_s - sw->avail_from[row]) / 3600.0;
        sum += imps[s.reached];
        s.reached++;
    }
    if (s.shown)
        s.mean_rel_error = err_sum / s.shown;
    if (s.reached)
        s.mean_imps = sum / s.reached;
    s.median_imps = median(imps, s.reached);
    s.median_hours = median(hours, s.reached);
    s.median_imps_per_ad = median(per_ad, sw->n_new);
out:
    free(imps);
    free(hours);
    free(per_ad);
    return s;
}

/* --- ## Pacing --- */

struct pacing_day {
    int64_t day;          /* index from the start */
    double covered;       /* share of the day's curve inside the span */
    uint32_t campaigns;   /* with a budget */
    uint32_t over_demand; /* -1 (UINT32_MAX) when no demand pipeline */
    uint32_t within5;     /* over-demand (or all) campaigns within 5% */
    double min_ratio, median_ratio, max_ratio; /* spend / target */
    double max_over_prices;   /* max (spend - budget) / max price, >= 0 */
    double max_dev, mean_dev; /* deviation from the curve (of budget), over
                                 the campaigns with no late-arriving ads */
    uint32_t late;            /* campaigns left out of the deviation: some
                                 of their ads arrived during the run, so
                                 they could not follow the curve before */
};

static int
day_count(const struct sim_world *sw)
{
    int64_t days =
        (sw->start_s + sw->span_s - 1) / 86400 - sw->start_s / 86400 + 1;
    return (int)(days > SIM_MAX_DAYS ? SIM_MAX_DAYS : days);
}

static struct pacing_day
pacing_day(const struct sim_world *sw, const struct sim_run *run,
           const struct sim_run *demand, int d)
{
    struct pacing_day p = {.day = d};
    uint32_t nc = sw->n_campaigns;
    int64_t day0 = (sw->start_s / 86400 + d) * 86400;
    int64_t from = day0 > sw->start_s ? day0 : sw->start_s;
    int64_t to = day0 + 86400 < sw->start_s + sw->span_s
                     ? day0 + 86400
                     : sw->start_s + sw->span_s;
    double f_from = from == day0 ? 0 : sim_curve_at(&run->info, from);
    double f_to = to == day0 + 86400 ? 1.0 : sim_curve_at(&run->info, to);
    p.covered = f_to - f_from;
    p.over_demand = demand ? 0 : UINT32_MAX;
    double *ratio = malloc((nc + 1) * sizeof *ratio);
    if (!ratio)
        return p;
    uint32_t nr = 0;
    double dev_sum = 0;
    p.min_ratio = INFINITY;
    p.max_ratio = -INFINITY;
    for (uint32_t c = 0; c < nc; c++) {
        double b = sw->camp_budget[c];
        if (!(b > 0))
            continue;
        p.campaigns++;
        double spend = run->day_spend[(size_t)d * nc + c];
        if (demand) {
            if (demand->day_spend[(size_t)d * nc + c] < b * p.covered)
                continue;
            p.over_demand++;
        }
        double target = b * p.covered;
        double r = target > 0 ? spend / target : NAN;
        ratio[nr++] = r;
        p.within5 += fabs(r - 1) <= 0.05;
        p.min_ratio = r < p.min_ratio ? r : p.min_ratio;
        p.max_ratio = r > p.max_ratio ? r : p.max_ratio;
        if (run->max_price[c] > 0 && spend > b) {
            double over = (spend - b) / run->max_price[c];
            p.max_over_prices =
                over > p.max_over_prices ? over : p.max_over_prices;
        }
        if (sw->camp_has_new[c]) {
            p.late++;
            continue;
        }
        double dev = 0;
        for (uint32_t s = 0; s < sw->n_samples; s++) {
            /* The last sample is the end of the span and belongs to the day
             * it ends; a sample at 00:00 otherwise starts the new day. */
            int last = s == sw->n_samples - 1;
            int64_t t = last ? sw->start_s + sw->span_s
                             : sw->start_s + (int64_t)s * SIM_SAMPLE_S;
            if ((t - last) / 86400 != day0 / 86400)
                continue;
            double f = t == day0 + 86400 ? 1.0 : sim_curve_at(&run->info, t);
            double x =
                fabs(run->samples[(size_t)s * nc + c] / b - (f - f_from));
            dev = x > dev ? x : dev;
        }
        dev_sum += dev;
        p.max_dev = dev > p.max_dev ? dev : p.max_dev;
    }
    p.mean_dev = nr > p.late ? dev_sum / (nr - p.late) : NAN;
    p.median_ratio = median(ratio, nr);
    if (nr == 0)
        p.min_ratio = p.max_ratio = NAN;
    free(ratio);
    return p;
}

/* --- ## SVG --- */

struct series {
    const char *name;
    const double *x, *y;
    uint32_t n;
    int dashed;
};

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                     "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                     "#bcbd22", "#17becf"};

static void
svg_escape(FILE *f, const char *s)
{
    for (; *s; s++)
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
}

/* A line chart of the series with axes from 0 to the data's maxima. */
static int
svg_chart(const char *path, const char *title, const char *xlabel,
          const char *ylabel, const struct series *s, uint32_t ns, char *err,
          size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write", path);
        return AF_EIO;
    }
    const double W = 760, H = 420, L = 70, R = 180, T = 40, B = 50;
    double xmax = 0, ymax = 0;
    for (uint32_t k = 0; k < ns; k++)
        for (uint32_t i = 0; i < s[k].n; i++) {
            if (isfinite(s[k].x[i]) && s[k].x[i] > xmax)
                xmax = s[k].x[i];
            if (isfinite(s[k].y[i]) && s[k].y[i] > ymax)
                ymax = s[k].y[i];
        }
    xmax = xmax > 0 ? xmax : 1;
    ymax = ymax > 0 ? ymax * 1.05 : 1;
    double pw = W - L - R, ph = H - T - B;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
            "height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\">", L);
    svg_escape(f, title);
    fprintf(f, "</text>\n");
    for (int k = 0; k <= 5; k++) { /* grid and tick labels */
        double gx = L + pw * k / 5, gy = T + ph - ph * k / 5;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/>\n",
                L, gy, L + pw, gy);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#eee\"/>\n",
                gx, T, gx, T + ph);
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
                L - 6, gy + 4, ymax * k / 5);
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.4g"
                "</text>\n",
                gx, T + ph + 16, xmax * k / 5);
    }
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
            "fill=\"none\" stroke=\"#444\"/>\n",
            L, T, pw, ph);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">",
            L + pw / 2, H - 10);
    svg_escape(f, xlabel);
    fprintf(f,
            "</text>\n<text transform=\"translate(16,%.0f) rotate(-90)\" "
            "text-anchor=\"middle\">",
            T + ph / 2);
    svg_escape(f, ylabel);
    fprintf(f, "</text>\n");
    for (uint32_t k = 0; k < ns; k++) {
        const char *col = colors[k % (sizeof colors / sizeof *colors)];
        fprintf(f,
                "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s "
                "points=\"",
                col, s[k].dashed ? " stroke-dasharray=\"6,4\"" : "");
        for (uint32_t i = 0; i < s[k].n; i++)
            if (isfinite(s[k].y[i]))
                fprintf(f, "%.1f,%.1f ", L + pw * s[k].x[i] / xmax,
                        T + ph - ph * s[k].y[i] / ymax);
        fprintf(f, "\"/>\n");
        double ly = T + 14 + 18 * k;
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
                "stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                L + pw + 10, ly, L + pw + 34, ly, col,
                s[k].dashed ? " stroke-dasharray=\"6,4\"" : "");
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">", L + pw + 40, ly + 4);
        svg_escape(f, s[k].name);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%s: write failed", path);
        return AF_EIO;
    }
    return AF_OK;
}

/* Cumulative curves of every pipeline against requests. */
static int
svg_curves(const char *dir, const struct sim_world *sw,
           const struct sim_run *runs, uint32_t n, char *err, size_t errlen)
{
    double x[SIM_CHECKPOINTS];
    for (int k = 0; k < SIM_CHECKPOINTS; k++)
        x[k] = (double)sw->n_req * (k + 1) / SIM_CHECKPOINTS;
    struct series s[AF_SIM_MAX_PIPELINES];
    static const struct {
        const char *file, *title, *ylabel;
    } charts[] = {
        {"regret.svg", "Cumulative regret against the ground-truth optimum",
         "regret (expected value)"},
        {"ctr.svg", "CTR so far", "clicks / impressions"},
        {"new_ads.svg", "Share of impressions to new ads so far", "share"},
    };
    for (int c = 0; c < 3; c++) {
        for (uint32_t i = 0; i < n; i++)
            s[i] = (struct series){runs[i].info.surface, x,
                                   c == 0   ? runs[i].regret_at
                                   : c == 1 ? runs[i].ctr_at
                                            : runs[i].new_share_at,
                                   SIM_CHECKPOINTS, 0};
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", dir, charts[c].file);
        int rc = svg_chart(path, charts[c].title, "requests", charts[c].ylabel,
                           s, n, err, errlen);
        if (rc != AF_OK)
            return rc;
    }
    return AF_OK;
}

/* Spend / budget through the span for up to 8 campaigns (the largest
 * budgets among those the demand pipeline shows over demand, else among
 * all), and the pacing curve. */
static int
svg_spend(const char *dir, const struct sim_world *sw,
          const struct sim_run *run, const struct sim_run *demand, char *err,
          size_t errlen)
{
    enum { PICK = 8 };
    uint32_t nc = sw->n_campaigns, pick[PICK], np = 0;
    for (uint32_t c = 0; c < nc; c++) {
        double b = sw->camp_budget[c];
        if (!(b > 0) || (demand && demand->spend_total[c] < b))
            continue;
        uint32_t i = np < PICK ? np++ : PICK;
        if (i == PICK) {
            if (b <= sw->camp_budget[pick[PICK - 1]])
                continue;
            i = PICK - 1;
        }
        while (i > 0 && sw->camp_budget[pick[i - 1]] < b) {
            pick[i] = pick[i - 1];
            i--;
        }
        pick[i] = c;
    }
    uint32_t ns = sw->n_samples;
    double *x = malloc((ns + 1) * sizeof *x);
    double *y = malloc(((size_t)(np + 1) * ns + 1) * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return AF_ENOMEM;
    }
    struct series s[PICK + 1];
    char names[PICK][64];
    for (uint32_t k = 0; k < ns; k++) {
        int last = k == ns - 1;
        int64_t t = last ? sw->start_s + sw->span_s
                         : sw->start_s + (int64_t)k * SIM_SAMPLE_S;
        x[k] = (double)(t - sw->start_s) / 3600.0;
        double f = last && t % 86400 == 0 ? 1.0 : sim_curve_at(&run->info, t);
        y[(size_t)np * ns + k] = f;
        for (uint32_t p = 0; p < np; p++)
            y[(size_t)p * ns + k] = run->samples[(size_t)k * nc + pick[p]] /
                                    sw->camp_budget[pick[p]];
    }
    for (uint32_t p = 0; p < np; p++) {
        snprintf(names[p], sizeof names[p], "campaign %u",
                 sw->camp_id[pick[p]]);
        s[p] = (struct series){names[p], x, y + (size_t)p * ns, ns, 0};
    }
    s[np] = (struct series){run->info.paced ? "target curve" : "even curve", x,
                            y + (size_t)np * ns, ns, 1};
    char path[PATH_MAX + 96], title[160];
    snprintf(path, sizeof path, "%s/spend_%s.svg", dir, run->info.surface);
    snprintf(title, sizeof title, "%s: spend today / daily budget",
             run->info.surface);
    int rc = svg_chart(path, title, "hours since start", "spend / budget", s,
                       np + 1, err, errlen);
    free(x);
    free(y);
    return rc;
}

/* --- ## JSON --- */

static json_t *
curves_json(const struct sim_world *sw, const struct sim_run *run)
{
    json_t *at = json_array(), *reg = json_array(), *ctr = json_array(),
           *ns = json_array();
    for (int k = 0; k < SIM_CHECKPOINTS; k++) {
        json_array_append_new(
            at, json_integer(
                    (json_int_t)((sw->n_req * (k + 1) + SIM_CHECKPOINTS - 1) /
                                 SIM_CHECKPOINTS)));
        json_array_append_new(reg, jnum(run->regret_at[k]));
        json_array_append_new(ctr, jnum(run->ctr_at[k]));
        json_array_append_new(ns, jnum(run->new_share_at[k]));
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "at_requests", at, "regret", reg,
                     "ctr", ctr, "new_ad_share", ns);
}

static json_t *
pacing_json(const struct sim_world *sw, const struct sim_run *run,
            const struct sim_run *demand)
{
    json_t *days = json_array();
    for (int d = 0; d < day_count(sw); d++) {
        struct pacing_day p = pacing_day(sw, run, demand, d);
        json_t *o = json_pack(
            "{s:i, s:o, s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I}",
            "day", d, "curve_share_covered", jnum(p.covered),
            "campaigns_with_budget", (json_int_t)p.campaigns, "over_demand",
            p.over_demand == UINT32_MAX ? json_null()
                                        : json_integer(p.over_demand),
            "within_5pct", (json_int_t)p.within5, "spend_over_target_min",
            jnum(p.min_ratio), "spend_over_target_median", jnum(p.median_ratio),
            "spend_over_target_max", jnum(p.max_ratio),
            "max_overspend_in_prices", jnum(p.max_over_prices),
            "max_curve_deviation", jnum(p.max_dev), "mean_curve_deviation",
            jnum(p.mean_dev), "deviation_excludes_late_campaigns",
            (json_int_t)p.late);
        json_array_append_new(days, o);
    }
    json_t *spend = json_array();
    for (uint32_t c = 0; c < sw->n_campaigns; c++)
        json_array_append_new(
            spend, json_pack("[i, f, f, f]", (json_int_t)sw->camp_id[c],
                             sw->camp_budget[c], run->spend_total[c],
                             demand ? demand->spend_total[c] : -1.0));
    const char *scope = demand ? "campaigns over demand" : "all campaigns";
    return json_pack(
        "{s:b, s:s, s:o, s:s, s:o}", "paced", run->info.paced, "scope", scope,
        "days", days, "per_campaign_columns",
        "campaign_id, daily_budget, spend, demand_pipeline_spend",
        "per_campaign", spend);
}

static json_t *
run_json(const struct sim_world *sw, const struct sim_run *r,
         const struct sim_run *demand)
{
    struct new_stats ns = new_ad_stats(sw, r);
    double imps = r->impressions ? (double)r->impressions : NAN;
    double reqs = r->requests ? (double)r->requests : NAN;
    json_t *expl = json_pack(
        "{s:s, s:o, s:o, s:o, s:I, s:I}", "plugin",
        r->info.explore[0] ? r->info.explore : "none", "budget",
        r->info.explore_budget >= 0 ? json_real(r->info.explore_budget)
                                    : json_null(),
        "explored_request_share", jnum(r->explored_requests / reqs),
        "explored_slot_share", jnum(r->explored_slots / imps),
        "explored_requests", (json_int_t)r->explored_requests, "explored_slots",
        (json_int_t)r->explored_slots);
    json_t *newj = json_pack(
        "{s:i, s:i, s:o, s:i, s:o, s:o, s:o, s:o, s:o}", "count", ns.count,
        "shown", ns.shown, "impression_share", jnum(r->new_impressions / imps),
        "reached_20pct", ns.reached, "median_impressions_to_20pct",
        jnum(ns.median_imps), "mean_impressions_to_20pct", jnum(ns.mean_imps),
        "median_hours_from_arrival_to_20pct", jnum(ns.median_hours),
        "median_impressions_per_new_ad", jnum(ns.median_imps_per_ad),
        "mean_relative_error_at_end", jnum(ns.mean_rel_error));
    json_t *checks = json_pack(
        "{s:I, s:I, s:I, s:i, s:i, s:b}", "frequency_cap_violations",
        (json_int_t)r->cap_violations, "diversity_violations",
        (json_int_t)r->diversity_violations, "budget_overruns",
        (json_int_t)r->budget_overruns, "caps_checked", r->info.n_caps,
        "max_per_advertiser", r->info.max_per_advertiser,
        "no_adjacent_advertiser", r->info.no_adjacent);
    return json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}",
        "file", r->file, "surface", r->info.surface, "requests",
        (json_int_t)r->requests, "served_requests",
        (json_int_t)r->served_requests, "impressions",
        (json_int_t)r->impressions, "clicks", (json_int_t)r->clicks, "ctr",
        jnum(r->clicks / imps), "expected_ctr", jnum(r->expected_clicks / imps),
        "revenue", jnum(r->revenue), "revenue_per_1000_requests",
        jnum(1000 * r->revenue / reqs), "value", jnum(r->value),
        "optimal_value", jnum(r->opt_value), "regret",
        jnum(r->opt_value - r->value), "regret_share",
        jnum((r->opt_value - r->value) / r->opt_value), "degraded",
        (json_int_t)r->degraded, "comparator_full_scans",
        (json_int_t)r->comparator_scans, "wall_seconds", jnum(r->wall_s),
        "exploration", expl, "new_ads", newj, "pacing",
        pacing_json(sw, r, demand), "checks", checks, "curves",
        curves_json(sw, r));
}

static int
write_json(const char *path, const struct sim_world *sw,
           const struct sim_run *runs, uint32_t n, const struct sim_run *demand,
           const struct af_sim_opts *o, char *err, size_t errlen)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(arr, run_json(sw, &runs[i], demand));
    json_t *root = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:i, s:i, s:f, s:s, s:f, s:o, s:s, s:o}",
        "world", o->data_dir, "seed", (json_int_t)o->seed, "requests",
        (json_int_t)o->requests, "start_s", (json_int_t)o->start_s, "span_s",
        (json_int_t)o->span_s, "new_ads", sw->n_new, "new_ads_per_hour",
        o->new_ads_per_hour, "budget_scale", o->budget_scale, "traffic",
        o->even_traffic ? "even" : "diurnal", "estimate_prior_strength",
        o->est_strength, "demand_pipeline",
        demand ? json_string(demand->info.surface) : json_null(), "comparator",
        "best assignment of distinct eligible ads (targeting, arrived, budget "
        "left, frequency caps) over the whole catalog by true p x bid",
        "pipelines", arr);
    int rc =
        json_dump_file(root, path, JSON_INDENT(1) | JSON_REAL_PRECISION(8));
    json_decref(root);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot write the report", path);
        return AF_EIO;
    }
    return AF_OK;
}

/* --- ## Summary --- */

static void
print_summary(const struct sim_world *sw, const struct sim_run *runs,
              uint32_t n, const struct sim_run *demand)
{
    printf("%-18s %8s %10s %12s %8s %9s %9s %7s %6s %6s\n", "pipeline", "ctr",
           "revenue", "regret", "regret%", "new_imp%", "explored%", "budget",
           "capv", "divv");
    for (uint32_t i = 0; i < n; i++) {
        const struct sim_run *r = &runs[i];
        double imps = r->impressions ? (double)r->impressions : 1;
        printf(
            "%-18s %8.5f %10.1f %12.2f %8.3f %9.3f %9.3f %7.3f %6llu %6llu\n",
            r->info.surface, r->clicks / imps, r->revenue,
            r->opt_value - r->value,
            100 * (r->opt_value - r->value) / (r->opt_value ? r->opt_value : 1),
            100 * r->new_impressions / imps,
            100.0 * r->explored_requests / (r->requests ? r->requests : 1),
            r->info.explore_budget, (unsigned long long)r->cap_violations,
            (unsigned long long)r->diversity_violations);
    }
    if (sw->n_new) {
        printf("\nnew ads (%u arriving): shown, reached +-20%%, median "
               "impressions to +-20%%, median hours from arrival\n",
               sw->n_new);
        for (uint32_t i = 0; i < n; i++) {
            struct new_stats s = new_ad_stats(sw, &runs[i]);
            printf("%-18s %6u %6u %10.0f %10.2f\n", runs[i].info.surface,
                   s.shown, s.reached, s.median_imps, s.median_hours);
        }
    }
    printf("\npacing (%s), per day: campaigns, within 5%% of target, spend/"
           "target min median max, max / mean curve deviation (campaigns "
           "without late ads), overruns\n",
           demand ? "campaigns over demand" : "all campaigns with a budget");
    for (uint32_t i = 0; i < n; i++)
        for (int d = 0; d < day_count(sw); d++) {
            struct pacing_day p = pacing_day(sw, &runs[i], demand, d);
            printf("%-18s day %d: %u, %u, %.3f %.3f %.3f, %.3f / %.3f, %llu\n",
                   runs[i].info.surface, d,
                   demand ? p.over_demand : p.campaigns, p.within5, p.min_ratio,
                   p.median_ratio, p.max_ratio, p.max_dev, p.mean_dev,
                   (unsigned long long)runs[i].budget_overruns);
        }
    for (uint32_t i = 0; i < n; i++)
        printf("%s: %llu requests in %.1f s (%.0f req/s), %llu degraded, %llu "
               "comparator full scans\n",
               runs[i].info.surface, (unsigned long long)runs[i].requests,
               runs[i].wall_s,
               runs[i].requests / (runs[i].wall_s > 0 ? runs[i].wall_s : 1),
               (unsigned long long)runs[i].degraded,
               (unsigned long long)runs[i].comparator_scans);
}

int
sim_report(const struct sim_world *sw, struct sim_run *runs, uint32_t n,
           const struct af_sim_opts *o, char *err, size_t errlen)
{
    const struct sim_run *demand = NULL;
    if (o->demand_pipeline) {
        for (uint32_t i = 0; i < n; i++)
            if (!strcmp(runs[i].info.surface, o->demand_pipeline))
                demand = &runs[i];
        if (!demand) {
            snprintf(err, errlen,
                     "--demand-pipeline %s: no simulated surface has that "
                     "name", o->demand_pipeline);
            return AF_EINVAL;
        }
    }
    print_summary(sw, runs, n, demand);
    int rc = AF_OK;
    if (o->out)
        rc = write_json(o->out, sw, runs, n, demand, o, err, errlen);
    if (rc == AF_OK && o->svg_dir) {
        rc = af_mkdir_p(o->svg_dir, err, errlen);
        if (rc == AF_OK)
            rc = svg_curves(o->svg_dir, sw, runs, n, err, errlen);
        for (uint32_t i = 0; i < n && rc == AF_OK; i++)
            rc = svg_spend(o->svg_dir, sw, &runs[i], demand, err, errlen);
    }
    return rc;
}
