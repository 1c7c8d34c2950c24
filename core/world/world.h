/*
 * world.h -- the simulated ad world: its file formats, its generator and its
 * hidden ground-truth click model (docs/world.md explains the model).
 *
 * A world directory holds:
 *
 *   ads.tsv    one ad per line.  Columns (header line first, any order):
 *                ad_id advertiser_id campaign_id category bid_type bid
 *                quality prior_ctr daily_budget geo_mask age_mask
 *                device_mask interest_mask
 *              ids are unsigned decimal integers; category < 32; bid_type is
 *              cpc, cpm or cpa; bid > 0; quality in (0, 1]; prior_ctr in
 *              [0, 1]; daily_budget >= 0; the four masks are hexadecimal
 *              (optional 0x) with bits below 16 (geo), 6 (age), 3 (device)
 *              and 64 (interest); a mask of 0 means "everyone".
 *   users.tsv  one user per line.  Columns:
 *                user_id geo age_band device gender interests history
 *              geo < 16, age_band < 6, device < 3, gender < 2; interests is a
 *              hexadecimal mask of interest ids (bit k: interest k, k < 64;
 *              interest c < 32 is "the" interest of category c); history is
 *              a comma-separated list of at most 32 ad ids, newest first, and
 *              may be empty.
 *   truth.tsv  the hidden ground truth, one line per ad and per user:
 *                kind id bias lat0 .. lat7
 *              kind is "ad" (bias = the ad's intercept) or "user" (bias = the
 *              user's propensity); lat* is the latent vector.
 *   world.json the generator's parameters, seed, counts and the click model
 *              (coefficients, examination curve and the age x category
 *              affinity table) that af_world_load reads back.
 *   models/    model files fitted on the world (models/lr.afm).
 *
 * The true click probability of user u on ad a shown at 0-based position pos:
 *
 *   p = exam(pos) * sigmoid(b0 + w_int*[u interested in a.category]
 *                           + w_q*log(a.quality)
 *                           + w_aff*aff[u.age_band][a.category]
 *                           + dot(lat_u, lat_a) + a.intercept + u.propensity)
 *   exam(pos) = 1 / (1 + exam_alpha * pos)
 */
#ifndef AF_CORE_WORLD_H
#define AF_CORE_WORLD_H

#include <stddef.h>
#include <stdint.h>
#include "adfunnel/af_types.h"
#include "store/catalog.h"

/* Dimensions of every world (the store validates against them). */
#define AF_WORLD_CATEGORIES 32
#define AF_WORLD_INTERESTS 64
#define AF_WORLD_GEOS 16
#define AF_WORLD_AGE_BANDS 6
#define AF_WORLD_DEVICES 3
#define AF_WORLD_GENDERS 2
#define AF_WORLD_LATENT 8

/* ------------------------------------------------------------------------ */
/* ## Generating                                                             */
/* ------------------------------------------------------------------------ */

struct af_world_gen_params {
    uint64_t seed;
    uint32_t n_ads;   /* >= 1 */
    uint32_t n_users; /* >= 1 */
};

/*
 * Write a world into `dir` (created when missing, files replaced).  The same
 * parameters always produce byte-identical files.  0, or a negative AF_E*
 * with the reason in err.
 */
int af_world_generate(const char *dir, const struct af_world_gen_params *p,
                      char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* ## Loading and the ground truth                                           */
/* ------------------------------------------------------------------------ */

typedef struct af_world af_world;

/* The click model's coefficients, as read from world.json. */
struct af_click_model {
    double b0, w_int, w_q, w_aff;
    double exam_alpha;
    float aff[AF_WORLD_AGE_BANDS][AF_WORLD_CATEGORIES];
};

/*
 * Load a world directory: the catalog and users through the stores, the
 * truth and the click model.  Every ad and user must have exactly one truth
 * line.  NULL on failure with "file[:line]: reason" in err.  The world owns
 * everything it returns; it is read-only, so threads may share it.
 */
af_world *af_world_load(const char *dir, char *err, size_t errlen);
void af_world_free(af_world *w);

const af_catalog_store *af_world_catalog(const af_world *w);
const af_user_store *af_world_users(const af_world *w);
const struct af_click_model *af_world_model(const af_world *w);
/* The seed recorded in world.json. */
uint64_t af_world_seed(const af_world *w);

/* Examination probability of 0-based position pos (1 at pos 0). */
double af_world_exam(const af_world *w, uint32_t pos);

/*
 * True click probability of the stored user with index `user_index`
 * (0 <= index < af_users_count) on catalog row `ad_row` at position `pos`.
 */
double af_world_p_click(const af_world *w, uint32_t user_index,
                        uint32_t ad_row, uint32_t pos);

/*
 * Same for a profile that may differ from the stored one (a request that
 * overrides fields): interests and age band come from *u; the latent vector
 * and propensity from the stored user `user_index`, or zero when it is -1
 * (an unknown user).  A negative or out-of-range age band contributes no
 * affinity.
 */
double af_world_p_click_profile(const af_world *w, const struct af_user *u,
                                int64_t user_index, uint32_t ad_row,
                                uint32_t pos);

/* 1 when ad row `row` targets user *u: the serving rule of the targeting
 * filter (mask 0 = everyone; an unknown user field, -1, matches any mask;
 * interests match when the user shares one with a non-zero mask). */
int af_world_targets(const struct af_catalog *c, uint32_t row,
                     const struct af_user *u);

/* ------------------------------------------------------------------------ */
/* ## Tools (adfunnel world traffic | fit-lr)                                */
/* ------------------------------------------------------------------------ */

struct af_traffic_opts {
    const char *url;     /* http://host:port                                 */
    const char *data_dir;
    const char *surface;
    uint64_t requests;
    uint32_t concurrency;
    uint64_t seed;
    int proto;           /* send application/x-protobuf instead of JSON     */
    double explicit_frac; /* share of requests that also send profile fields */
};

/* Drive a running server and print a report to stdout.  0 when every request
 * got a 200, 1 when some failed, a negative AF_E* (err set) when the run
 * could not start. */
int af_world_traffic(const struct af_traffic_opts *o, char *err,
                     size_t errlen);

struct af_fit_opts {
    const char *data_dir;
    const char *pipeline;
    const char *surface;          /* NULL: the pipeline's only surface       */
    const char *const *plugin_dirs; /* NULL-terminated                       */
    const char *out;              /* model path                              */
    uint64_t impressions;
    uint32_t epochs;
    uint64_t seed;
    int use_world_seed;           /* ignore seed, use the world's           */
    uint32_t n_buckets;           /* hashed ids are reduced % n_buckets     */
    double lr;                    /* Adagrad step size                       */
    double l2;
    uint32_t pool;                /* popular ads an impression draws from    */
};

/* Simulate logged impressions, fit LR, write the model, print a report.
 * 0 or a negative AF_E* with the reason in err. */
int af_world_fit_lr(const struct af_fit_opts *o, char *err, size_t errlen);

#endif
