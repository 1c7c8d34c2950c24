/*
 * sim_setup.c -- everything the simulation needs before its first request:
 * the new ads and their arrival, the data directory the pipelines serve,
 * the requests, and what each pipeline declares (caps, diversity, pacing
 * curve, exploration budget).
 *
 * New ads.  The catalog is immutable within a generation, so ads cannot be
 * added while the pipelines run.  Instead `new_ads_per_hour` x (hours in
 * the run) CPC ads of the world are drawn (seeded) to be the new ones, each
 * with an arrival time uniform within its hour, in order.  The simulation's
 * data directory then holds
 *   ads.tsv           the world's ads, except that a new ad's prior_ctr is
 *                     what a system would know of a new ad -- the mean
 *                     prior_ctr of the other (old) ads of its campaign, else
 *                     of its advertiser, else of all old CPC ads -- and every
 *                     daily_budget is multiplied by budget_scale;
 *   availability.tsv  ad_id, available_from: the arrival of each new ad,
 *                     which the `availability` filter of the sim pipelines
 *                     enforces (an ad is not served before it arrives);
 *   users.tsv, world.json, truth.tsv, models/   links to the world's.
 * The pipelines' models were fitted on the world before the run: the lr
 * model saw the new ads' ids in its simulated training log like any other
 * ad's (about three impressions each, docs/world.md); their prior_ctr
 * feature is the campaign mean above.
 *
 * Requests.  User i of the run is uniform over the world's users and its
 * time follows the traffic shape (af_sim_traffic_shape, or even): times are
 * the (i + 0.5) / N quantiles of the shape over the simulated span, so every
 * pipeline sees the same users at the same times.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adfunnel/af_errno.h"
#include "config/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"
#include "store/catalog.h"
#include "world/sim_int.h"
#include "world/wfile.h"
#include "world/wrand.h"

/* Streams of the seed (world/wrand.h). */
enum { STREAM_NEW_ADS = 101, STREAM_USERS = 102 };

/* Hourly weights of simulated traffic, UTC hours 0..23: low at night, a
 * morning rise, an evening peak. */
const double af_sim_traffic_shape[24] = {
    0.40, 0.30, 0.25, 0.25, 0.30, 0.45, 0.70, 0.90, 1.00, 1.05, 1.10, 1.15,
    1.20, 1.15, 1.10, 1.10, 1.15, 1.25, 1.40, 1.50, 1.45, 1.20, 0.90, 0.60,
};

/* --- ## Campaigns --- */

struct id_row {
    uint32_t id, row;
};

static int
id_row_cmp(const void *a, const void *b)
{
    const struct id_row *x = a, *y = b;
    if (x->id != y->id)
        return (x->id > y->id) - (x->id < y->id);
    return (x->row > y->row) - (x->row < y->row);
}

/* Dense campaign indices, ordered by campaign id. */
static int
index_campaigns(struct sim_world *sw, double budget_scale)
{
    const struct af_catalog *cat = sw->cat;
    uint32_t n = cat->n_ads;
    struct id_row *v = malloc((n + 1) * sizeof *v);
    sw->camp_of_row = malloc((n + 1) * sizeof *sw->camp_of_row);
    sw->camp_id = malloc((n + 1) * sizeof *sw->camp_id);
    sw->camp_budget = malloc((n + 1) * sizeof *sw->camp_budget);
    if (!v || !sw->camp_of_row || !sw->camp_id || !sw->camp_budget) {
        free(v);
        return AF_ENOMEM;
    }
    for (uint32_t r = 0; r < n; r++)
        v[r] = (struct id_row){cat->campaign_id[r], r};
    qsort(v, n, sizeof *v, id_row_cmp);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i == 0 || v[i].id != v[i - 1].id) {
            sw->camp_id[k] = v[i].id;
            sw->camp_budget[k] =
                (double)(float)(cat->daily_budget[v[i].row] * budget_scale);
            k++;
        }
        sw->camp_of_row[v[i].row] = k - 1;
    }
    sw->n_campaigns = k;
    free(v);
    return AF_OK;
}

/* --- ## New ads --- */

static int
arrival_cmp(const void *a, const void *b, void *ctx)
{
    const int64_t *t = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (t[x] != t[y])
        return (t[x] > t[y]) - (t[x] < t[y]);
    return (x > y) - (x < y);
}

/* Mean prior_ctr of the old ads in each group (campaign or advertiser):
 * sums and counts per key, found by sorting.  out[r] = the mean of row r's
 * group, or -1 when the group has no old ad. */
static int
group_means(const struct sim_world *sw, const uint32_t *key, double *out)
{
    const struct af_catalog *cat = sw->cat;
    uint32_t n = cat->n_ads;
    struct id_row *v = malloc((n + 1) * sizeof *v);
    if (!v)
        return AF_ENOMEM;
    for (uint32_t r = 0; r < n; r++)
        v[r] = (struct id_row){key[r], r};
    qsort(v, n, sizeof *v, id_row_cmp);
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        double sum = 0;
        uint32_t cnt = 0;
        for (; j < n && v[j].id == v[i].id; j++)
            if (!sw->is_new[v[j].row]) {
                sum += cat->prior_ctr[v[j].row];
                cnt++;
            }
        for (uint32_t q = i; q < j; q++)
            out[v[q].row] = cnt ? sum / cnt : -1;
        i = j;
    }
    free(v);
    return AF_OK;
}

/* What a system knows of a new ad's CTR: see the top of the file. */
static int
new_priors(struct sim_world *sw)
{
    const struct af_catalog *cat = sw->cat;
    uint32_t n = cat->n_ads;
    double *by_camp = malloc((n + 1) * sizeof *by_camp);
    double *by_adv = malloc((n + 1) * sizeof *by_adv);
    sw->sim_prior = malloc((n + 1) * sizeof *sw->sim_prior);
    int rc = AF_ENOMEM;
    if (by_camp && by_adv && sw->sim_prior &&
        (rc = group_means(sw, cat->campaign_id, by_camp)) == AF_OK &&
        (rc = group_means(sw, cat->advertiser_id, by_adv)) == AF_OK) {
        double sum = 0;
        uint32_t cnt = 0;
        for (uint32_t r = 0; r < n; r++)
            if (!sw->is_new[r] && cat->bid_type[r] == AF_BID_CPC) {
                sum += cat->prior_ctr[r];
                cnt++;
            }
        double global = cnt ? sum / cnt : 0.02;
        for (uint32_t r = 0; r < n; r++)
            sw->sim_prior[r] = !sw->is_new[r]    ? cat->prior_ctr[r]
                               : by_camp[r] >= 0 ? (float)by_camp[r]
                               : by_adv[r] >= 0  ? (float)by_adv[r]
                                                 : (float)global;
    }
    free(by_camp);
    free(by_adv);
    return rc;
}

static int
choose_new_ads(struct sim_world *sw, const struct af_sim_opts *o, char *err,
               size_t errlen)
{
    const struct af_catalog *cat = sw->cat;
    uint32_t n = cat->n_ads, n_cpc = 0;
    sw->avail_from = malloc((n + 1) * sizeof *sw->avail_from);
    sw->is_new = calloc(n + 1, 1);
    sw->new_index = malloc((n + 1) * sizeof *sw->new_index);
    uint32_t *cpc = malloc((n + 1) * sizeof *cpc);
    if (!sw->avail_from || !sw->is_new || !sw->new_index || !cpc) {
        free(cpc);
        return AF_ENOMEM;
    }
    for (uint32_t r = 0; r < n; r++) {
        sw->avail_from[r] = INT64_MIN;
        sw->new_index[r] = -1;
        if (cat->bid_type[r] == AF_BID_CPC)
            cpc[n_cpc++] = r;
    }
    uint64_t hours = (uint64_t)(o->span_s + 3599) / 3600;
    uint64_t want = (uint64_t)o->new_ads_per_hour * hours;
    if (want > n_cpc / 2) {
        snprintf(err, errlen,
                 "--new-ads-per-hour %u over %llu hours asks for "
                 "%llu new ads; the world has %u CPC ads, at most half of "
                 "which can be new",
                 o->new_ads_per_hour, (unsigned long long)hours,
                 (unsigned long long)want, n_cpc);
        free(cpc);
        return AF_EINVAL;
    }
    struct af_wrand rnd;
    af_wrand_seed(&rnd, o->seed, STREAM_NEW_ADS);
    sw->n_new = (uint32_t)want;
    sw->new_rows = malloc((sw->n_new + 1) * sizeof *sw->new_rows);
    if (!sw->new_rows) {
        free(cpc);
        return AF_ENOMEM;
    }
    for (uint32_t k = 0; k < sw->n_new; k++) {
        /* Partial Fisher-Yates: the k-th pick among the rest. */
        uint32_t j = k + af_wrand_below(&rnd, n_cpc - k);
        uint32_t r = cpc[j];
        cpc[j] = cpc[k];
        cpc[k] = r;
        int64_t hour = k / o->new_ads_per_hour;
        int64_t t = o->start_s + hour * 3600 + af_wrand_below(&rnd, 3600);
        if (t >= o->start_s + o->span_s)
            t = o->start_s + o->span_s - 1;
        sw->new_rows[k] = r;
        sw->is_new[r] = 1;
        sw->avail_from[r] = t;
    }
    free(cpc);
    qsort_r(sw->new_rows, sw->n_new, sizeof *sw->new_rows, arrival_cmp,
            sw->avail_from);
    sw->camp_has_new = calloc(sw->n_campaigns + 1, 1);
    if (!sw->camp_has_new)
        return AF_ENOMEM;
    for (uint32_t k = 0; k < sw->n_new; k++)
        sw->camp_has_new[sw->camp_of_row[sw->new_rows[k]]] = 1;
    for (uint32_t k = 0; k < sw->n_new; k++)
        sw->new_index[sw->new_rows[k]] = (int32_t)k;
    return new_priors(sw);
}

/* --- ## The data directory --- */

static const char *
bid_type_str(int t)
{
    return t == AF_BID_CPM ? "cpm" : t == AF_BID_CPA ? "cpa" : "cpc";
}

static int
write_ads(const struct sim_world *sw, char *err, size_t errlen)
{
    const struct af_catalog *c = sw->cat;
    struct af_wfile f;
    int rc = af_wfile_open(&f, sw->dir, "ads.tsv", err, errlen);
    if (rc != AF_OK)
        return rc;
    fprintf(f.f, "ad_id\tadvertiser_id\tcampaign_id\tcategory\tbid_type\tbid\t"
                 "quality\tprior_ctr\tdaily_budget\tgeo_mask\tage_mask\t"
                 "device_mask\tinterest_mask\n");
    for (uint32_t r = 0; r < c->n_ads; r++)
        fprintf(f.f,
                "%llu\t%u\t%u\t%u\t%s\t%.9g\t%.9g\t%.9g\t%.9g\t%x\t%x\t%x\t"
                "%llx\n",
                (unsigned long long)c->ad_id[r], c->advertiser_id[r],
                c->campaign_id[r], c->category[r], bid_type_str(c->bid_type[r]),
                c->bid[r], c->quality[r], sw->sim_prior[r],
                sw->camp_budget[sw->camp_of_row[r]], c->geo_mask[r],
                c->age_mask[r], c->device_mask[r],
                (unsigned long long)c->interest_mask[r]);
    return af_wfile_commit(&f, err, errlen);
}

static int
write_availability(const struct sim_world *sw, char *err, size_t errlen)
{
    struct af_wfile f;
    int rc = af_wfile_open(&f, sw->dir, "availability.tsv", err, errlen);
    if (rc != AF_OK)
        return rc;
    fprintf(f.f, "ad_id\tavailable_from\n");
    for (uint32_t k = 0; k < sw->n_new; k++) {
        uint32_t r = sw->new_rows[k];
        fprintf(f.f, "%llu\t%lld\n", (unsigned long long)sw->cat->ad_id[r],
                (long long)sw->avail_from[r]);
    }
    return af_wfile_commit(&f, err, errlen);
}

/* dir/name -> the world's file of the same name (absolute). */
static int
link_file(const struct sim_world *sw, const char *world_dir, const char *name,
          char *err, size_t errlen)
{
    char target[PATH_MAX], link[PATH_MAX + 64], abs_dir[PATH_MAX];
    if (!realpath(world_dir, abs_dir)) {
        snprintf(err, errlen, "%s: %s", world_dir, strerror(errno));
        return AF_EIO;
    }
    snprintf(target, sizeof target, "%.*s/%s", (int)(sizeof target - 64),
             abs_dir, name);
    snprintf(link, sizeof link, "%s/%s", sw->dir, name);
    unlink(link);
    if (access(target, F_OK) != 0)
        return AF_OK; /* e.g. no models/ yet: a pipeline needing it says so */
    if (symlink(target, link) != 0) {
        snprintf(err, errlen, "%s: %s", link, strerror(errno));
        return AF_EIO;
    }
    return AF_OK;
}

static int
make_dir(struct sim_world *sw, const struct af_sim_opts *o, char *err,
         size_t errlen)
{
    if (o->work_dir) {
        snprintf(sw->dir, sizeof sw->dir, "%s", o->work_dir);
        return af_mkdir_p(sw->dir, err, errlen);
    }
    snprintf(sw->dir, sizeof sw->dir, "/tmp/af-sim-XXXXXX");
    if (!mkdtemp(sw->dir)) {
        snprintf(err, errlen, "cannot create a temporary directory: %s",
                 strerror(errno));
        return AF_EIO;
    }
    sw->own_dir = 1;
    return AF_OK;
}

/* --- ## Requests --- */

static int
draw_requests(struct sim_world *sw, const struct af_sim_opts *o)
{
    uint64_t n = o->requests;
    sw->n_req = n;
    sw->req_user = malloc((n + 1) * sizeof *sw->req_user);
    sw->req_time = malloc((n + 1) * sizeof *sw->req_time);
    if (!sw->req_user || !sw->req_time)
        return AF_ENOMEM;
    struct af_wrand rnd;
    af_wrand_seed(&rnd, o->seed, STREAM_USERS);
    for (uint64_t i = 0; i < n; i++)
        sw->req_user[i] = af_wrand_below(&rnd, sw->n_users);
    /* Segments of the span cut at hour boundaries, weighted by the shape. */
    int64_t t0 = o->start_s, t1 = o->start_s + o->span_s;
    double total = 0;
    for (int64_t s = t0; s < t1;) {
        int64_t e = (s / 3600 + 1) * 3600;
        e = e < t1 ? e : t1;
        int h = (int)((s / 3600) % 24);
        total +=
            (double)(e - s) * (o->even_traffic ? 1.0 : af_sim_traffic_shape[h]);
        s = e;
    }
    int64_t s = t0;
    double before = 0; /* mass of the segments before s */
    for (uint64_t i = 0; i < n; i++) {
        double want = ((double)i + 0.5) / (double)n * total;
        for (;;) {
            int64_t e = (s / 3600 + 1) * 3600;
            e = e < t1 ? e : t1;
            int h = (int)((s / 3600) % 24);
            double w = o->even_traffic ? 1.0 : af_sim_traffic_shape[h];
            double mass = (double)(e - s) * w;
            if (want < before + mass || e >= t1) {
                int64_t t = s + (int64_t)((want - before) / w);
                sw->req_time[i] = t < e ? t : e - 1;
                break;
            }
            before += mass;
            s = e;
        }
    }
    return AF_OK;
}

/* --- ## Entry --- */

int
sim_world_open(struct sim_world *sw, const struct af_sim_opts *o, char *err,
               size_t errlen)
{
    memset(sw, 0, sizeof *sw);
    sw->w = af_world_load(o->data_dir, err, errlen);
    if (!sw->w)
        return AF_EINVAL;
    sw->cat = af_catalog_view(af_world_catalog(sw->w));
    sw->n_users = af_users_count(af_world_users(sw->w));
    sw->start_s = o->start_s;
    sw->span_s = o->span_s;
    sw->n_samples = (uint32_t)(o->span_s / SIM_SAMPLE_S) + 1;
    sw->seed = o->seed;
    sw->est_strength = o->est_strength;
    if (sw->n_users == 0 || sw->cat->n_ads == 0) {
        snprintf(err, errlen, "%s: the world has no users or no ads",
                 o->data_dir);
        return AF_EINVAL;
    }
    int rc;
    if ((rc = index_campaigns(sw, o->budget_scale)) != AF_OK ||
        (rc = choose_new_ads(sw, o, err, errlen)) != AF_OK ||
        (rc = draw_requests(sw, o)) != AF_OK) {
        if (rc == AF_ENOMEM)
            snprintf(err, errlen, "out of memory");
        return rc;
    }
    static const char *const links[] = {"users.tsv", "world.json", "truth.tsv",
                                        "models", NULL};
    if ((rc = make_dir(sw, o, err, errlen)) != AF_OK ||
        (rc = write_ads(sw, err, errlen)) != AF_OK ||
        (rc = write_availability(sw, err, errlen)) != AF_OK)
        return rc;
    for (const char *const *l = links; *l; l++)
        if ((rc = link_file(sw, o->data_dir, *l, err, errlen)) != AF_OK)
            return rc;
    sw->truth = sim_truth_new(sw);
    if (!sw->truth) {
        snprintf(err, errlen, "out of memory (truth lists)");
        return AF_ENOMEM;
    }
    return AF_OK;
}

static void
remove_dir(const char *dir)
{
    static const char *const files[] = {
        "ads.tsv",   "availability.tsv", "users.tsv", "world.json",
        "truth.tsv", "models",           NULL};
    char path[PATH_MAX + 32];
    for (const char *const *f = files; *f; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, *f);
        unlink(path);
    }
    rmdir(dir);
}

void
sim_world_close(struct sim_world *sw)
{
    if (sw->own_dir && sw->dir[0])
        remove_dir(sw->dir);
    sim_truth_free(sw->truth);
    af_world_free(sw->w);
    free(sw->avail_from);
    free(sw->is_new);
    free(sw->new_rows);
    free(sw->new_index);
    free(sw->sim_prior);
    free(sw->camp_of_row);
    free(sw->camp_id);
    free(sw->camp_budget);
    free(sw->camp_has_new);
    free(sw->req_user);
    free(sw->req_time);
    memset(sw, 0, sizeof *sw);
}

/* --- ## What a pipeline declares --- */

/* The window the frequency_cap filter counts for `units` x `unit`
 * (restated from plugins/filter_frequency_cap: core cannot include plugin
 * sources; the filter refuses what returns -1 here). */
static int
cap_window(const char *unit, double units)
{
    if (!strcmp(unit, "hour") || !strcmp(unit, "hours"))
        return units <= 1 ? AF_WIN_1H : units <= 6 ? AF_WIN_6H : AF_WIN_24H;
    if (!strcmp(unit, "day") || !strcmp(unit, "days"))
        return AF_WIN_DAY;
    if (!strcmp(unit, "lifetime") || !strcmp(unit, "all"))
        return AF_WIN_ALL;
    return -1;
}

static int
read_caps(const af_config *c, struct sim_pipeline_info *pi, char *err,
          size_t errlen)
{
    for (uint32_t k = 1; k <= SIM_MAX_CAPS; k++) {
        char key[64];
        snprintf(key, sizeof key, "caps.%u.max", k);
        if (!af_config_has(c, key))
            break;
        struct sim_cap *cap = &pi->caps[pi->n_caps];
        cap->max = af_config_num(c, key, 0);
        snprintf(key, sizeof key, "caps.%u.units", k);
        double units = af_config_num(c, key, 1);
        snprintf(key, sizeof key, "caps.%u.time_unit", k);
        cap->window = cap_window(af_config_str(c, key, ""), units);
        snprintf(key, sizeof key, "caps.%u.per", k);
        cap->per_campaign = !strcmp(af_config_str(c, key, "ad"), "campaign");
        if (cap->window < 0) {
            snprintf(err, errlen,
                     "frequency_cap: caps[%u] has a time unit "
                     "the simulator does not know",
                     k);
            return AF_EINVAL;
        }
        pi->n_caps++;
    }
    return AF_OK;
}

static void
read_curve(const af_config *c, struct sim_pipeline_info *pi)
{
    double w[24], sum = 0;
    int traffic = c && !strcmp(af_config_str(c, "curve", "even"), "traffic");
    for (int h = 0; h < 24; h++) {
        char key[32];
        snprintf(key, sizeof key, "traffic.%d", h + 1);
        w[h] = traffic ? af_config_num(c, key, 0) : 1.0;
        sum += w[h];
    }
    pi->curve_cum[0] = 0;
    for (int h = 0; h < 24; h++)
        pi->curve_cum[h + 1] =
            pi->curve_cum[h] + (sum > 0 ? w[h] / sum : 1.0 / 24);
    pi->curve_cum[24] = 1.0;
}

static double
default_budget(const char *explore)
{
    if (!strcmp(explore, "thompson") || !strcmp(explore, "ucb"))
        return 1.0;
    if (!strcmp(explore, "epsilon_greedy"))
        return 0.05;
    return -1;
}

int
sim_pipeline_info(const af_generation *g, struct sim_pipeline_info *pi,
                  char *err, size_t errlen)
{
    memset(pi, 0, sizeof *pi);
    if (af_generation_surface_count(g) != 1) {
        snprintf(err, errlen,
                 "a simulated pipeline file must define exactly "
                 "one surface, this one has %u",
                 af_generation_surface_count(g));
        return AF_EINVAL;
    }
    const char *name = af_generation_surface_name(g, 0);
    const struct af_pipeline *p = af_generation_surface(g, name);
    snprintf(pi->surface, sizeof pi->surface, "%s", name);
    pi->slots = p->slots;
    pi->explore_budget = -1;
    read_curve(NULL, pi); /* even, unless a pacing filter says otherwise */
    const struct af_arm *arm = &p->arm[0];
    if (p->n_arms > 1) {
        snprintf(err, errlen,
                 "surface %s has experiment arms; simulate one pipeline "
                 "per arm instead", name);
        return AF_EINVAL;
    }
    const struct af_stage *st = arm->stage[AF_STAGE_FILTER];
    for (uint32_t i = 0; st && i < st->n; i++) {
        const char *pn = st->p[i].in.plugin->desc->name;
        if (!strcmp(pn, "frequency_cap")) {
            int rc = read_caps(st->p[i].cfg, pi, err, errlen);
            if (rc != AF_OK)
                return rc;
        } else if (!strcmp(pn, "budget_pacing")) {
            pi->paced = 1;
            read_curve(st->p[i].cfg, pi);
        }
    }
    st = arm->stage[AF_STAGE_AUCTION];
    if (st) {
        pi->max_per_advertiser =
            (uint32_t)af_config_num(st->p[0].cfg, "max_per_advertiser", 0);
        pi->no_adjacent =
            af_config_bool(st->p[0].cfg, "no_adjacent_advertiser", 0);
    }
    st = arm->stage[AF_STAGE_EXPLORE];
    if (st) {
        snprintf(pi->explore, sizeof pi->explore, "%s",
                 st->p[0].in.plugin->desc->name);
        pi->explore_budget =
            af_config_num(st->p[0].cfg, "budget", default_budget(pi->explore));
    }
    return AF_OK;
}

double
sim_curve_at(const struct sim_pipeline_info *pi, int64_t t)
{
    int64_t s = t % 86400;
    if (s < 0)
        s += 86400;
    int h = (int)(s / 3600);
    double frac = (double)(s % 3600) / 3600.0;
    return pi->curve_cum[h] + (pi->curve_cum[h + 1] - pi->curve_cum[h]) * frac;
}
