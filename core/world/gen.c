/*
 * gen.c -- `adfunnel world gen`: a deterministic ad world from a seed.
 *
 * Order of construction (each step draws from its own random stream):
 *   1. world parameters: category popularity, category latent centres, the
 *      age x category affinity table;
 *   2. advertisers (a home category each) and their 1-5 campaigns (daily
 *      budget and targeting, which their ads inherit);
 *   3. ads: category, bid type and bid, quality, truth (intercept, latent);
 *   4. users: demographics, interests (drawn towards categories their age
 *      band likes), truth (propensity, latent near their interests);
 *   5. prior_ctr: a noisy estimate of each ad's true CTR at position 0 over
 *      a reference sample of the users it targets;
 *   6. histories: ads each user likely clicked;
 *   7. summary statistics, then the files.
 * Every number written is rounded first and the rounded value is what the
 * generator itself uses, so a loaded world computes the same probabilities.
 */
#include "world/world.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "adfunnel/af_errno.h"
#include "world/click.h"
#include "world/wfile.h"
#include "world/wrand.h"

enum stream {
    S_PARAMS = 1, S_ADVERTISERS, S_ADS, S_USERS, S_PRIOR, S_HISTORY, S_STATS
};

/* Generator constants (recorded in world.json, explained in docs/world.md). */
#define ADS_PER_ADVERTISER 50
#define BROAD_CAMPAIGN_SHARE 0.6
#define HOME_CATEGORY_SHARE 0.8
#define CPM_SHARE 0.06
#define CPA_SHARE 0.02
#define CPC_BID_MEDIAN 1.0
#define CPC_BID_SIGMA 0.35
#define CPM_BID_MEDIAN 25.0
#define CPA_BID_MEDIAN 20.0
#define OTHER_BID_SIGMA 0.4
#define BUDGET_MEDIAN 300.0
#define BUDGET_SIGMA 0.8
#define QUALITY_MU 1.0
#define QUALITY_SIGMA 0.8
#define CAT_VEC_SD 0.25
#define AD_LAT_SD 0.2
#define USER_LAT_SD 0.2
#define AD_INTERCEPT_SD 0.4
#define USER_PROPENSITY_SD 0.5
#define PRIOR_NOISE_SD 0.25
#define PRIOR_SAMPLE 128
#define PRIOR_MIN_MATCHES 4
#define HISTORY_MAX 8
#define HISTORY_DRAWS 6
#define STATS_PAIRS 20000

static const double age_w[AF_WORLD_AGE_BANDS] = {0.10, 0.22, 0.25,
                                                 0.19, 0.14, 0.10};
static const double device_w[AF_WORLD_DEVICES] = {0.58, 0.32, 0.10};
/* Category interests per user: 0..4 with these weights. */
static const double n_interest_w[5] = {0.05, 0.30, 0.33, 0.22, 0.10};

struct gen {
    const struct af_world_gen_params *p;
    struct af_click_model m;
    double cat_w[AF_WORLD_CATEGORIES];
    double geo_w[AF_WORLD_GEOS];
    float cat_vec[AF_WORLD_CATEGORIES][AF_WORLD_LATENT];

    uint32_t n_adv;
    uint16_t *adv_cat;
    uint32_t *adv_camp0; /* first campaign index                          */
    uint8_t *adv_ncamp;

    uint32_t n_camp;
    float *camp_budget;
    uint32_t *camp_geo;
    uint8_t *camp_age, *camp_dev;
    uint64_t *camp_int;

    uint32_t n_ads;
    uint32_t *ad_adv, *ad_camp; /* indices (ids are index + 1)            */
    uint16_t *ad_cat;
    uint8_t *ad_bt;
    float *ad_bid, *ad_q, *ad_prior, *ad_int, *ad_lat;
    uint32_t cat_start[AF_WORLD_CATEGORIES + 1]; /* ads grouped by category */
    uint32_t *cat_rows;

    uint32_t n_users;
    struct af_user *users;
    float *u_prop, *u_lat;

    double mean_p0, mean_p04, targeted_share;
};

/* Round to a decimal grid so the value written is the value used. */
static float
grid(double x, double scale)
{
    return (float)(round(x * scale) / scale);
}

static double
lognormal(struct af_wrand *r, double median, double sigma)
{
    return median * exp(sigma * af_wrand_normal(r));
}

static void
gen_params(struct gen *g)
{
    struct af_wrand r;
    af_wrand_seed(&r, g->p->seed, S_PARAMS);
    uint32_t rank[AF_WORLD_CATEGORIES];
    for (uint32_t c = 0; c < AF_WORLD_CATEGORIES; c++)
        rank[c] = c;
    for (uint32_t c = AF_WORLD_CATEGORIES - 1; c > 0; c--) {
        uint32_t j = af_wrand_below(&r, c + 1), t = rank[c];
        rank[c] = rank[j];
        rank[j] = t;
    }
    for (uint32_t c = 0; c < AF_WORLD_CATEGORIES; c++)
        g->cat_w[c] = 1.0 / pow(rank[c] + 1.0, 0.9);
    for (uint32_t k = 0; k < AF_WORLD_GEOS; k++)
        g->geo_w[k] = 1.0 / pow(k + 1.0, 0.7);
    for (uint32_t c = 0; c < AF_WORLD_CATEGORIES; c++)
        for (uint32_t k = 0; k < AF_WORLD_LATENT; k++)
            g->cat_vec[c][k] = (float)(CAT_VEC_SD * af_wrand_normal(&r));
    g->m.b0 = AF_CLICK_B0;
    g->m.w_int = AF_CLICK_W_INT;
    g->m.w_q = AF_CLICK_W_Q;
    g->m.w_aff = AF_CLICK_W_AFF;
    g->m.exam_alpha = AF_CLICK_EXAM_ALPHA;
    for (uint32_t a = 0; a < AF_WORLD_AGE_BANDS; a++)
        for (uint32_t c = 0; c < AF_WORLD_CATEGORIES; c++) {
            double v = af_wrand_normal(&r);
            v = v < -2.5 ? -2.5 : v > 2.5 ? 2.5 : v;
            g->m.aff[a][c] = grid(v, 1e3);
        }
}

/* A campaign's targeting: broad, or narrowed in one or more dimensions. */
static void
gen_targeting(struct gen *g, struct af_wrand *r, uint32_t home, uint32_t i)
{
    g->camp_geo[i] = 0;
    g->camp_age[i] = g->camp_dev[i] = 0;
    g->camp_int[i] = 0;
    if (af_wrand_unit(r) < BROAD_CAMPAIGN_SHARE)
        return;
    int narrowed = 0;
    if (af_wrand_unit(r) < 0.5) {
        uint32_t n = 1 + af_wrand_below(r, 4);
        for (uint32_t k = 0; k < n; k++)
            g->camp_geo[i] |= 1u << af_wrand_pick(r, g->geo_w, AF_WORLD_GEOS);
        narrowed = 1;
    }
    if (af_wrand_unit(r) < 0.45) {
        uint32_t start = af_wrand_below(r, AF_WORLD_AGE_BANDS);
        uint32_t len = 2 + af_wrand_below(r, 2);
        for (uint32_t a = start; a < start + len && a < AF_WORLD_AGE_BANDS; a++)
            g->camp_age[i] |= (uint8_t)(1u << a);
        narrowed = 1;
    }
    if (af_wrand_unit(r) < 0.25) {
        uint32_t d = af_wrand_below(r, AF_WORLD_DEVICES);
        g->camp_dev[i] = (uint8_t)(1u << d);
        if (af_wrand_unit(r) < 0.5)
            g->camp_dev[i] |= (uint8_t)(1u << ((d + 1) % AF_WORLD_DEVICES));
        narrowed = 1;
    }
    if (!narrowed || af_wrand_unit(r) < 0.35) {
        g->camp_int[i] = 1ull << home;
        if (af_wrand_unit(r) < 0.5)
            g->camp_int[i] |=
                1ull << af_wrand_pick(r, g->cat_w, AF_WORLD_CATEGORIES);
        if (af_wrand_unit(r) < 0.3)
            g->camp_int[i] |= 1ull << (32 + af_wrand_below(r, 32));
    }
}

static int
gen_advertisers(struct gen *g)
{
    struct af_wrand r;
    af_wrand_seed(&r, g->p->seed, S_ADVERTISERS);
    g->n_adv = g->p->n_ads / ADS_PER_ADVERTISER;
    if (g->n_adv == 0)
        g->n_adv = 1;
    g->adv_cat = malloc(g->n_adv * sizeof *g->adv_cat);
    g->adv_camp0 = malloc(g->n_adv * sizeof *g->adv_camp0);
    g->adv_ncamp = malloc(g->n_adv);
    size_t max_camp = (size_t)g->n_adv * 5;
    g->camp_budget = malloc(max_camp * sizeof *g->camp_budget);
    g->camp_geo = malloc(max_camp * sizeof *g->camp_geo);
    g->camp_age = malloc(max_camp);
    g->camp_dev = malloc(max_camp);
    g->camp_int = malloc(max_camp * sizeof *g->camp_int);
    if (!g->adv_cat || !g->adv_camp0 || !g->adv_ncamp || !g->camp_budget ||
        !g->camp_geo || !g->camp_age || !g->camp_dev || !g->camp_int)
        return AF_ENOMEM;
    g->n_camp = 0;
    for (uint32_t a = 0; a < g->n_adv; a++) {
        g->adv_cat[a] = (uint16_t)af_wrand_pick(&r, g->cat_w,
                                                AF_WORLD_CATEGORIES);
        g->adv_camp0[a] = g->n_camp;
        g->adv_ncamp[a] = (uint8_t)(1 + af_wrand_below(&r, 5));
        for (uint32_t k = 0; k < g->adv_ncamp[a]; k++) {
            uint32_t i = g->n_camp++;
            g->camp_budget[i] =
                grid(lognormal(&r, BUDGET_MEDIAN, BUDGET_SIGMA), 1e2);
            gen_targeting(g, &r, g->adv_cat[a], i);
        }
    }
    return AF_OK;
}

static void
gen_bid(struct af_wrand *r, uint8_t *type, float *bid)
{
    double u = af_wrand_unit(r), b;
    if (u < CPM_SHARE) {
        *type = AF_BID_CPM;
        b = lognormal(r, CPM_BID_MEDIAN, OTHER_BID_SIGMA);
    } else if (u < CPM_SHARE + CPA_SHARE) {
        *type = AF_BID_CPA;
        b = lognormal(r, CPA_BID_MEDIAN, OTHER_BID_SIGMA);
    } else {
        *type = AF_BID_CPC;
        b = lognormal(r, CPC_BID_MEDIAN, CPC_BID_SIGMA);
    }
    *bid = grid(b < 0.05 ? 0.05 : b, 1e2);
}

static int
gen_ads(struct gen *g)
{
    struct af_wrand r;
    af_wrand_seed(&r, g->p->seed, S_ADS);
    uint32_t n = g->n_ads = g->p->n_ads;
    g->ad_adv = malloc(n * sizeof *g->ad_adv);
    g->ad_camp = malloc(n * sizeof *g->ad_camp);
    g->ad_cat = malloc(n * sizeof *g->ad_cat);
    g->ad_bt = malloc(n);
    g->ad_bid = malloc(n * sizeof *g->ad_bid);
    g->ad_q = malloc(n * sizeof *g->ad_q);
    g->ad_prior = malloc(n * sizeof *g->ad_prior);
    g->ad_int = malloc(n * sizeof *g->ad_int);
    g->ad_lat = malloc((size_t)n * AF_WORLD_LATENT * sizeof *g->ad_lat);
    g->cat_rows = malloc(n * sizeof *g->cat_rows);
    if (!g->ad_adv || !g->ad_camp || !g->ad_cat || !g->ad_bt || !g->ad_bid ||
        !g->ad_q || !g->ad_prior || !g->ad_int || !g->ad_lat || !g->cat_rows)
        return AF_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = af_wrand_below(&r, g->n_adv);
        g->ad_adv[i] = a;
        g->ad_camp[i] = g->adv_camp0[a] + af_wrand_below(&r, g->adv_ncamp[a]);
        g->ad_cat[i] = af_wrand_unit(&r) < HOME_CATEGORY_SHARE
                           ? g->adv_cat[a]
                           : (uint16_t)af_wrand_pick(&r, g->cat_w,
                                                     AF_WORLD_CATEGORIES);
        gen_bid(&r, &g->ad_bt[i], &g->ad_bid[i]);
        float q = grid(af_sigmoid(QUALITY_MU + QUALITY_SIGMA *
                                               af_wrand_normal(&r)), 1e4);
        g->ad_q[i] = q < 0.01f ? 0.01f : q;
        g->ad_int[i] = grid(AD_INTERCEPT_SD * af_wrand_normal(&r), 1e4);
        float *lat = g->ad_lat + (size_t)i * AF_WORLD_LATENT;
        for (uint32_t k = 0; k < AF_WORLD_LATENT; k++)
            lat[k] = grid(g->cat_vec[g->ad_cat[i]][k] +
                              AD_LAT_SD * af_wrand_normal(&r), 1e4);
    }
    /* Group rows by category (counting sort) for the history draws. */
    memset(g->cat_start, 0, sizeof g->cat_start);
    for (uint32_t i = 0; i < n; i++)
        g->cat_start[g->ad_cat[i] + 1]++;
    for (uint32_t c = 0; c < AF_WORLD_CATEGORIES; c++)
        g->cat_start[c + 1] += g->cat_start[c];
    uint32_t fill[AF_WORLD_CATEGORIES];
    memcpy(fill, g->cat_start, sizeof fill);
    for (uint32_t i = 0; i < n; i++)
        g->cat_rows[fill[g->ad_cat[i]]++] = i;
    return AF_OK;
}

/* Category interests drawn without replacement, towards categories that are
 * popular and liked by the user's age band. */
static uint64_t
gen_interests(struct gen *g, struct af_wrand *r, int32_t age)
{
    double w[AF_WORLD_CATEGORIES];
    for (uint32_t c = 0; c < AF_WORLD_CATEGORIES; c++)
        w[c] = g->cat_w[c] * exp(g->m.aff[age][c]);
    uint64_t bits = 0;
    uint32_t k = af_wrand_pick(r, n_interest_w, 5);
    for (uint32_t i = 0; i < k; i++) {
        uint32_t c = af_wrand_pick(r, w, AF_WORLD_CATEGORIES);
        bits |= 1ull << c;
        w[c] = 0;
    }
    uint32_t extra = af_wrand_below(r, 4);
    for (uint32_t i = 0; i < extra; i++)
        bits |= 1ull << (32 + af_wrand_below(r, 32));
    return bits;
}

static int
gen_users(struct gen *g)
{
    struct af_wrand r;
    af_wrand_seed(&r, g->p->seed, S_USERS);
    uint32_t n = g->n_users = g->p->n_users;
    g->users = calloc(n, sizeof *g->users);
    g->u_prop = malloc(n * sizeof *g->u_prop);
    g->u_lat = malloc((size_t)n * AF_WORLD_LATENT * sizeof *g->u_lat);
    if (!g->users || !g->u_prop || !g->u_lat)
        return AF_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct af_user *u = &g->users[i];
        u->id = (uint64_t)i + 1;
        u->geo = (int32_t)af_wrand_pick(&r, g->geo_w, AF_WORLD_GEOS);
        u->age_band = (int32_t)af_wrand_pick(&r, age_w, AF_WORLD_AGE_BANDS);
        u->device = (int32_t)af_wrand_pick(&r, device_w, AF_WORLD_DEVICES);
        u->gender = (int32_t)af_wrand_below(&r, AF_WORLD_GENDERS);
        u->interests = gen_interests(g, &r, u->age_band);
        g->u_prop[i] = grid(USER_PROPENSITY_SD * af_wrand_normal(&r), 1e4);
        double centre[AF_WORLD_LATENT] = {0};
        uint32_t k = 0;
        for (uint32_t c = 0; c < AF_WORLD_CATEGORIES; c++) {
            if (!((u->interests >> c) & 1u))
                continue;
            for (uint32_t d = 0; d < AF_WORLD_LATENT; d++)
                centre[d] += g->cat_vec[c][d];
            k++;
        }
        float *lat = g->u_lat + (size_t)i * AF_WORLD_LATENT;
        for (uint32_t d = 0; d < AF_WORLD_LATENT; d++)
            lat[d] = grid((k ? centre[d] / k : 0) +
                              USER_LAT_SD * af_wrand_normal(&r), 1e4);
    }
    return AF_OK;
}

static int
targets(const struct gen *g, uint32_t ad, const struct af_user *u)
{
    uint32_t c = g->ad_camp[ad];
    return af_targets_raw(g->camp_geo[c], g->camp_age[c], g->camp_dev[c],
                          g->camp_int[c], u);
}

/* True p at position pos (the same formula af_world_p_click evaluates). */
static double
p_true(const struct gen *g, uint32_t ui, uint32_t ad, uint32_t pos)
{
    const struct af_user *u = &g->users[ui];
    double z = af_click_logit(&g->m, u->interests, u->age_band, g->ad_cat[ad],
                              g->ad_q[ad],
                              g->u_lat + (size_t)ui * AF_WORLD_LATENT,
                              g->ad_lat + (size_t)ad * AF_WORLD_LATENT,
                              g->ad_int[ad], g->u_prop[ui]);
    return af_click_exam(&g->m, pos) * af_sigmoid(z);
}

static void
gen_prior_ctr(struct gen *g)
{
    struct af_wrand r;
    af_wrand_seed(&r, g->p->seed, S_PRIOR);
    uint32_t ref[PRIOR_SAMPLE];
    for (uint32_t k = 0; k < PRIOR_SAMPLE; k++)
        ref[k] = af_wrand_below(&r, g->n_users);
    for (uint32_t i = 0; i < g->n_ads; i++) {
        double sum = 0, all = 0;
        uint32_t hits = 0;
        for (uint32_t k = 0; k < PRIOR_SAMPLE; k++) {
            double p = p_true(g, ref[k], i, 0);
            all += p;
            if (targets(g, i, &g->users[ref[k]])) {
                sum += p;
                hits++;
            }
        }
        double base = hits >= PRIOR_MIN_MATCHES ? sum / hits
                                                : all / PRIOR_SAMPLE;
        double est = base * exp(PRIOR_NOISE_SD * af_wrand_normal(&r));
        est = est > 1.0 ? 1.0 : est;
        /* Six significant digits, as written ("%.6g"). */
        char buf[32];
        snprintf(buf, sizeof buf, "%.6g", est);
        g->ad_prior[i] = (float)strtod(buf, NULL);
    }
}

static int
in_history(const struct af_user *u, uint64_t id)
{
    for (uint32_t k = 0; k < u->n_history; k++)
        if (u->history[k] == id)
            return 1;
    return 0;
}

/* A few ads each user likely clicked: of a handful of ads from one of their
 * categories, the targeted one with the highest true p. */
static void
gen_history(struct gen *g)
{
    struct af_wrand r;
    af_wrand_seed(&r, g->p->seed, S_HISTORY);
    for (uint32_t ui = 0; ui < g->n_users; ui++) {
        struct af_user *u = &g->users[ui];
        uint32_t cats[AF_WORLD_CATEGORIES], nc = 0;
        for (uint32_t c = 0; c < AF_WORLD_CATEGORIES; c++)
            if (((u->interests >> c) & 1u) &&
                g->cat_start[c + 1] > g->cat_start[c])
                cats[nc++] = c;
        uint32_t want = af_wrand_unit(&r) < 0.2
                            ? 0
                            : 1 + af_wrand_below(&r, HISTORY_MAX);
        for (uint32_t h = 0; h < want; h++) {
            uint32_t c = (nc && af_wrand_unit(&r) < 0.8)
                             ? cats[af_wrand_below(&r, nc)]
                             : g->ad_cat[af_wrand_below(&r, g->n_ads)];
            uint32_t lo = g->cat_start[c], span = g->cat_start[c + 1] - lo;
            double best = -1;
            uint32_t pick = 0;
            for (uint32_t d = 0; d < HISTORY_DRAWS; d++) {
                uint32_t ad = g->cat_rows[lo + af_wrand_below(&r, span)];
                double p = targets(g, ad, u) ? p_true(g, ui, ad, 0) : -1;
                if (p > best) {
                    best = p;
                    pick = ad;
                }
            }
            if (best >= 0 && !in_history(u, (uint64_t)pick + 1))
                u->history[u->n_history++] = (uint64_t)pick + 1;
        }
    }
}

/* Mean true p over random (user, targeted ad) pairs, at position 0 and over
 * positions 0..4: the "base CTR" docs/world.md quotes. */
static void
gen_stats(struct gen *g)
{
    struct af_wrand r;
    af_wrand_seed(&r, g->p->seed, S_STATS);
    double s0 = 0, s04 = 0;
    uint32_t pairs = 0, tries = 0;
    while (pairs < STATS_PAIRS && tries < STATS_PAIRS * 100) {
        uint32_t ui = af_wrand_below(&r, g->n_users);
        uint32_t ad = af_wrand_below(&r, g->n_ads);
        tries++;
        if (!targets(g, ad, &g->users[ui]))
            continue;
        double p0 = p_true(g, ui, ad, 0);
        s0 += p0;
        for (uint32_t pos = 0; pos < 5; pos++)
            s04 += p0 * af_click_exam(&g->m, pos) / 5;
        pairs++;
    }
    g->mean_p0 = pairs ? s0 / pairs : 0;
    g->mean_p04 = pairs ? s04 / pairs : 0;
    g->targeted_share = tries ? (double)pairs / tries : 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

static void
write_ads(const struct gen *g, FILE *f)
{
    fputs("ad_id\tadvertiser_id\tcampaign_id\tcategory\tbid_type\tbid\t"
          "quality\tprior_ctr\tdaily_budget\tgeo_mask\tage_mask\t"
          "device_mask\tinterest_mask\n",
          f);
    for (uint32_t i = 0; i < g->n_ads; i++) {
        uint32_t c = g->ad_camp[i];
        fprintf(f, "%u\t%u\t%u\t%u\t%s\t%.2f\t%.4f\t%.6g\t%.2f\t%x\t%x\t%x\t%llx\n",
                i + 1, g->ad_adv[i] + 1, c + 1, g->ad_cat[i],
                g->ad_bt[i] == AF_BID_CPM   ? "cpm"
                : g->ad_bt[i] == AF_BID_CPA ? "cpa"
                                            : "cpc",
                g->ad_bid[i], g->ad_q[i], g->ad_prior[i], g->camp_budget[c],
                g->camp_geo[c], g->camp_age[c], g->camp_dev[c],
                (unsigned long long)g->camp_int[c]);
    }
}

static void
write_users(const struct gen *g, FILE *f)
{
    fputs("user_id\tgeo\tage_band\tdevice\tgender\tinterests\thistory\n", f);
    for (uint32_t i = 0; i < g->n_users; i++) {
        const struct af_user *u = &g->users[i];
        fprintf(f, "%llu\t%d\t%d\t%d\t%d\t%llx\t", (unsigned long long)u->id,
                u->geo, u->age_band, u->device, u->gender,
                (unsigned long long)u->interests);
        for (uint32_t k = 0; k < u->n_history; k++)
            fprintf(f, k ? ",%llu" : "%llu",
                    (unsigned long long)u->history[k]);
        fputc('\n', f);
    }
}

static void
write_truth_row(FILE *f, const char *kind, uint64_t id, float bias,
                const float *lat)
{
    fprintf(f, "%s\t%llu\t%.4f", kind, (unsigned long long)id, bias);
    for (uint32_t k = 0; k < AF_WORLD_LATENT; k++)
        fprintf(f, "\t%.4f", lat[k]);
    fputc('\n', f);
}

static void
write_truth(const struct gen *g, FILE *f)
{
    fputs("kind\tid\tbias", f);
    for (uint32_t k = 0; k < AF_WORLD_LATENT; k++)
        fprintf(f, "\tlat%u", k);
    fputc('\n', f);
    for (uint32_t i = 0; i < g->n_ads; i++)
        write_truth_row(f, "ad", (uint64_t)i + 1, g->ad_int[i],
                        g->ad_lat + (size_t)i * AF_WORLD_LATENT);
    for (uint32_t i = 0; i < g->n_users; i++)
        write_truth_row(f, "user", g->users[i].id, g->u_prop[i],
                        g->u_lat + (size_t)i * AF_WORLD_LATENT);
}

static json_t *
json_reals(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static json_t *
json_generator(void)
{
    static const struct {
        const char *key;
        double value;
    } nums[] = {
        {"ads_per_advertiser", ADS_PER_ADVERTISER},
        {"broad_campaign_share", BROAD_CAMPAIGN_SHARE},
        {"home_category_share", HOME_CATEGORY_SHARE},
        {"cpm_share", CPM_SHARE},
        {"cpa_share", CPA_SHARE},
        {"cpc_bid_median", CPC_BID_MEDIAN},
        {"cpc_bid_sigma", CPC_BID_SIGMA},
        {"cpm_bid_median", CPM_BID_MEDIAN},
        {"cpa_bid_median", CPA_BID_MEDIAN},
        {"cpm_cpa_bid_sigma", OTHER_BID_SIGMA},
        {"budget_median", BUDGET_MEDIAN},
        {"budget_sigma", BUDGET_SIGMA},
        {"quality_logit_mu", QUALITY_MU},
        {"quality_logit_sigma", QUALITY_SIGMA},
        {"category_latent_sd", CAT_VEC_SD},
        {"ad_latent_sd", AD_LAT_SD},
        {"user_latent_sd", USER_LAT_SD},
        {"ad_intercept_sd", AD_INTERCEPT_SD},
        {"user_propensity_sd", USER_PROPENSITY_SD},
        {"prior_ctr_noise_sd", PRIOR_NOISE_SD},
        {"prior_ctr_sample_users", PRIOR_SAMPLE},
        {"prior_ctr_min_matches", PRIOR_MIN_MATCHES},
        {"history_max", HISTORY_MAX},
        {"history_draws", HISTORY_DRAWS},
    };
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        json_object_set_new(o, nums[i].key, json_real(nums[i].value));
    json_object_set_new(o, "age_band_weights",
                        json_reals(age_w, AF_WORLD_AGE_BANDS));
    json_object_set_new(o, "device_weights",
                        json_reals(device_w, AF_WORLD_DEVICES));
    json_object_set_new(o, "category_interests_weights",
                        json_reals(n_interest_w, 5));
    return o;
}

static json_t *
json_click_model(const struct gen *g)
{
    json_t *aff = json_array();
    for (uint32_t a = 0; a < AF_WORLD_AGE_BANDS; a++) {
        json_t *row = json_array();
        for (uint32_t c = 0; c < AF_WORLD_CATEGORIES; c++)
            json_array_append_new(row, json_real(g->m.aff[a][c]));
        json_array_append_new(aff, row);
    }
    return json_pack(
        "{s:s, s:f, s:f, s:f, s:f, s:{s:s, s:f}, s:i, s:o}",
        "formula",
        "p = exam(pos) * sigmoid(b0 + w_int*[user interested in ad.category]"
        " + w_q*log(ad.quality) + w_aff*affinity[user.age_band][ad.category]"
        " + dot(user.lat, ad.lat) + ad.intercept + user.propensity)",
        "b0", g->m.b0, "w_int", g->m.w_int, "w_q", g->m.w_q, "w_aff",
        g->m.w_aff, "exam", "formula", "1 / (1 + alpha * pos), pos 0-based",
        "alpha", g->m.exam_alpha, "latent_dim", AF_WORLD_LATENT,
        "affinity", aff);
}

static json_t *
json_world(const struct gen *g)
{
    return json_pack(
        "{s:i, s:I, s:{s:i, s:i, s:i, s:i}, s:{s:i, s:i, s:i, s:i, s:i, s:i},"
        " s:o, s:o, s:{s:f, s:f, s:f, s:i}, s:{s:s, s:s, s:s}}",
        "format", 1, "seed", (json_int_t)g->p->seed,
        "counts", "advertisers", (int)g->n_adv, "campaigns", (int)g->n_camp,
        "ads", (int)g->n_ads, "users", (int)g->n_users,
        "dims", "categories", AF_WORLD_CATEGORIES, "interests",
        AF_WORLD_INTERESTS, "geos", AF_WORLD_GEOS, "age_bands",
        AF_WORLD_AGE_BANDS, "devices", AF_WORLD_DEVICES, "genders",
        AF_WORLD_GENDERS,
        "generator", json_generator(), "click_model", json_click_model(g),
        "stats", "mean_p_pos0", g->mean_p0, "mean_p_pos0_4", g->mean_p04,
        "targeted_pair_share", g->targeted_share, "pairs", STATS_PAIRS,
        "files", "ads", "ads.tsv", "users", "users.tsv", "truth", "truth.tsv");
}

static int
write_json(const struct gen *g, FILE *f)
{
    json_t *j = json_world(g);
    if (!j)
        return AF_ENOMEM;
    int rc = json_dumpf(j, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', f);
    json_decref(j);
    return rc == 0 ? AF_OK : AF_EIO;
}

static void
gen_free(struct gen *g)
{
    free(g->adv_cat);
    free(g->adv_camp0);
    free(g->adv_ncamp);
    free(g->camp_budget);
    free(g->camp_geo);
    free(g->camp_age);
    free(g->camp_dev);
    free(g->camp_int);
    free(g->ad_adv);
    free(g->ad_camp);
    free(g->ad_cat);
    free(g->ad_bt);
    free(g->ad_bid);
    free(g->ad_q);
    free(g->ad_prior);
    free(g->ad_int);
    free(g->ad_lat);
    free(g->cat_rows);
    free(g->users);
    free(g->u_prop);
    free(g->u_lat);
}

static int
write_files(const struct gen *g, const char *dir, char *err, size_t errlen)
{
    struct af_wfile w;
    int rc;
    if ((rc = af_wfile_open(&w, dir, "ads.tsv", err, errlen)) != AF_OK)
        return rc;
    write_ads(g, w.f);
    if ((rc = af_wfile_commit(&w, err, errlen)) != AF_OK ||
        (rc = af_wfile_open(&w, dir, "users.tsv", err, errlen)) != AF_OK)
        return rc;
    write_users(g, w.f);
    if ((rc = af_wfile_commit(&w, err, errlen)) != AF_OK ||
        (rc = af_wfile_open(&w, dir, "truth.tsv", err, errlen)) != AF_OK)
        return rc;
    write_truth(g, w.f);
    if ((rc = af_wfile_commit(&w, err, errlen)) != AF_OK ||
        (rc = af_wfile_open(&w, dir, "world.json", err, errlen)) != AF_OK)
        return rc;
    if (write_json(g, w.f) != AF_OK) {
        af_wfile_abort(&w);
        snprintf(err, errlen, "%s/world.json: cannot encode", dir);
        return AF_EIO;
    }
    return af_wfile_commit(&w, err, errlen);
}

int
af_world_generate(const char *dir, const struct af_world_gen_params *p,
                  char *err, size_t errlen)
{
    if (p->n_ads == 0 || p->n_users == 0 || p->n_ads > 50000000 ||
        p->n_users > 50000000) {
        snprintf(err, errlen, "ads and users must be in 1..50000000");
        return AF_EINVAL;
    }
    if (p->seed > (uint64_t)INT64_MAX) {
        snprintf(err, errlen, "seed must be below 2^63");
        return AF_EINVAL;
    }
    int rc = af_mkdir_p(dir, err, errlen);
    if (rc != AF_OK)
        return rc;
    struct gen g;
    memset(&g, 0, sizeof g);
    g.p = p;
    gen_params(&g);
    if ((rc = gen_advertisers(&g)) == AF_OK && (rc = gen_ads(&g)) == AF_OK &&
        (rc = gen_users(&g)) == AF_OK) {
        gen_prior_ctr(&g);
        gen_history(&g);
        gen_stats(&g);
        rc = write_files(&g, dir, err, errlen);
    } else {
        snprintf(err, errlen, "out of memory generating the world");
    }
    gen_free(&g);
    return rc;
}
