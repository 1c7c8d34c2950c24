/*
 * af_types.h -- the data that crosses the plugin boundary.
 *
 * Ownership words used below:
 *   borrowed          the pointer stays valid for the duration of the call only;
 *   owned by request  allocated from the request arena; valid until the reply
 *                     is sent, never freed by the plugin;
 *   owned by generation  read-only, valid as long as the plugin instance lives
 *                     (instances belong to one generation, see af_plugin.h).
 *
 * Threading: a plugin instance is shared by all worker threads.  Its kind
 * operations may run concurrently on different requests, so an instance must
 * treat its own state as read-only on the request path, or protect it.
 */
#ifndef ADFUNNEL_AF_TYPES_H
#define ADFUNNEL_AF_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Compile-time limits.  They enter the build signature (af_version.h). */
#define AF_MAX_FIELDS 32    /* hashed categorical fields per candidate     */
#define AF_MAX_DENSE 16     /* dense features per candidate                */
#define AF_MAX_INTERESTS 64 /* interest ids are bits of a uint64_t         */
#define AF_MAX_HISTORY 32   /* recent engagements carried by a request     */

/* Opaque host objects. */
typedef struct af_arena af_arena;           /* per-request bump allocator    */
typedef struct af_config af_config;         /* a plugin's parameters         */
typedef struct af_plugin_ctx af_plugin_ctx; /* host-side handle of instance  */
typedef struct af_counter af_counter;       /* metric registered by a plugin */
typedef struct af_histogram af_histogram;

/* Per-request pseudo-random generator (xoshiro128+ state), seeded by the host
 * from the request id so that a request replays identically. */
typedef struct af_rng {
    uint64_t s[2];
} af_rng;

/* ------------------------------------------------------------------------ */
/* ## The ad catalog                                                         */
/* ------------------------------------------------------------------------ */

/* How an advertiser pays. */
enum af_bid_type {
    AF_BID_CPC = 0, /* per click: the usual case                          */
    AF_BID_CPM = 1, /* per thousand impressions                           */
    AF_BID_CPA = 2, /* per conversion                                     */
};

/*
 * Every ad the generation knows, column by column (owned by generation).
 * Row i of every array describes the same ad.  A targeting mask of 0 means
 * "everyone"; otherwise a user matches when the bit of their value is set.
 */
struct af_catalog {
    uint32_t struct_size;
    uint32_t n_ads;
    const uint64_t *ad_id;
    const uint32_t *advertiser_id;
    const uint32_t *campaign_id;
    const uint16_t *category;      /* 0 .. n_categories-1                 */
    const uint8_t *bid_type;       /* enum af_bid_type                     */
    const float *bid;              /* in currency units per bid_type event */
    const float *quality;          /* creative quality score, (0, 1]       */
    const float *prior_ctr;        /* historical CTR estimate              */
    const float *daily_budget;     /* per campaign, repeated per ad        */
    const uint32_t *geo_mask;      /* bit g: geo g targeted                */
    const uint8_t *age_mask;       /* bit a: age band a targeted           */
    const uint8_t *device_mask;    /* bit d: device d targeted             */
    const uint64_t *interest_mask; /* bit k: interest k targeted           */
    uint32_t n_categories;
    uint32_t n_geos;      /* <= 32 */
    uint32_t n_age_bands; /* <= 8  */
    uint32_t n_devices;   /* <= 8  */
};

/* ------------------------------------------------------------------------ */
/* ## The request                                                            */
/* ------------------------------------------------------------------------ */

/* The user, as the request or the user store describes them.  -1 = unknown. */
struct af_user {
    uint64_t id;
    int32_t geo;
    int32_t age_band;
    int32_t device;
    int32_t gender;
    uint64_t interests; /* bit k set: interested in k                       */
    uint32_t n_history;
    uint64_t history[AF_MAX_HISTORY]; /* engaged ad ids, most recent first  */
};

/* Where the ads will be shown. */
struct af_context {
    int32_t hour;        /* 0..23, -1 unknown                               */
    int32_t day_of_week; /* 0..6, -1 unknown                                */
    int32_t position;    /* position feature at serving (fixed default)     */
};

/*
 * One ranking request as plugins see it (borrowed during each call).
 * Strings are NUL-terminated and owned by request.
 */
struct af_request {
    uint32_t struct_size;
    const char *request_id;
    const char *surface;
    const char *arm;          /* experiment arm, "control" when none       */
    struct af_user user;
    struct af_context context;
    uint64_t start_ns;        /* host clock (CLOCK_MONOTONIC) at arrival    */
    uint64_t deadline_ns;     /* whole-request deadline, same clock         */
    uint64_t stage_deadline_ns; /* deadline of the stage being run          */
    af_arena *arena;          /* per-request allocator                      */
    af_rng *rng;              /* per-request generator                      */
    const struct af_catalog *catalog; /* the generation's ads               */
    int64_t time_s;           /* wall-clock time of the request, unix
                                 seconds (simulations set virtual time);
                                 what budgets, caps and windows count by   */
};

/* ------------------------------------------------------------------------ */
/* ## The candidate batch (columnar)                                         */
/* ------------------------------------------------------------------------ */

/*
 * Candidates travel column by column so that a model scores the whole batch
 * with one matrix product.  All columns have room for `cap` rows and hold `n`;
 * all are owned by request.  Rows are compacted by the host between stages
 * (never by plugins), so a plugin may rely on row i meaning the same
 * candidate in every column during one call.
 *
 * Categorical features are 32-bit hashed ids.  Candidate-side fields are
 * stored field-major: field f of row i is fid[f * cap + i].  Request-side
 * fields (user, context) are stored once per request in req_fid, not per
 * candidate: models compute their user part once and broadcast it.
 */
struct af_batch {
    uint32_t struct_size;
    uint32_t n;   /* rows in use                                           */
    uint32_t cap; /* rows allocated                                        */

    uint32_t *ad;           /* catalog row of the candidate                  */
    uint16_t *source;       /* index of the retriever that produced it       */
    float *bid;             /* effective bid (catalog bid unless adjusted)   */
    float *retrieval_score; /* retriever's score, used to merge and truncate */
    float *prerank;         /* light model's score                           */
    float *pctr;            /* click probability (after calibration)         */
    float *pcvr;            /* conversion probability given click            */
    float *pneg;            /* negative-feedback probability                 */
    float *score;           /* auction score                                 */
    uint8_t *drop;          /* filters set 1 to drop; host compacts          */

    uint32_t n_fields;   /* candidate-side categorical fields in use       */
    uint32_t *fid;       /* AF_MAX_FIELDS columns of cap rows              */
    uint32_t n_dense;    /* candidate-side dense features in use           */
    float *dense;        /* row-major: dense[i * AF_MAX_DENSE + j]         */

    uint32_t n_req_fields;               /* request-side fields in use     */
    uint32_t req_fid[AF_MAX_FIELDS];
    uint32_t n_req_dense;
    float req_dense[AF_MAX_DENSE];
};

/* Field f of row i. */
static inline uint32_t *
af_batch_field(struct af_batch *b, uint32_t f)
{
    return b->fid + (size_t)f * b->cap;
}

/* One filled slot of the response, written by auction and exploration. */
struct af_slot {
    uint32_t row;       /* batch row                                        */
    float price;        /* charged per bid_type event                       */
    float score;        /* auction score that placed it                     */
    float propensity;   /* probability this policy shows it here (1 = deterministic) */
    uint8_t explored;   /* 1 when exploration placed it                     */
};

struct af_slots {
    uint32_t max; /* slots the surface offers                               */
    uint32_t n;   /* slots filled                                           */
    struct af_slot *slot; /* max entries, owned by request                   */
};

/* Score columns a model writes (NULL: not wanted by this stage). */
struct af_score_out {
    float *pctr;
    float *pcvr;
    float *pneg;
};

/* A model file opened and verified by the host (see host->model_open). */
struct af_model_blob {
    const void *data;      /* payload, after the header; owned by the host  */
    size_t size;           /* payload bytes                                 */
    char kind[16];         /* model kind recorded in the file               */
    char version[64];      /* version label recorded in the file            */
    uint64_t fingerprint;  /* feature-spec fingerprint recorded in the file */
    void *host_handle;     /* for host->model_close                         */
};

/* ------------------------------------------------------------------------ */
/* ## Online state: event counters                                           */
/* ------------------------------------------------------------------------ */

/* What the counters are kept for. */
enum af_entity {
    AF_ENT_AD = 0,        /* key: catalog ad id                              */
    AF_ENT_CAMPAIGN,      /* key: campaign id                                */
    AF_ENT_ADVERTISER,    /* key: advertiser id                              */
    AF_ENT_USER,          /* key: user id                                    */
    AF_ENT_USER_AD,       /* key: af_state_key2(user id, ad id)              */
    AF_ENT_USER_CAMPAIGN, /* key: af_state_key2(user id, campaign id)        */
    AF_ENT_N
};

/* What is counted.  SPEND sums the prices charged (an impression's price for
 * CPM, a click's for CPC, a conversion's for CPA). */
enum af_event_type {
    AF_EV_IMPRESSION = 0,
    AF_EV_CLICK,
    AF_EV_CONVERSION,
    AF_EV_HIDE,  /* negative feedback */
    AF_EV_SPEND,
    AF_EV_N
};

/* Over which time the counts are summed, relative to the request's time_s. */
enum af_window {
    AF_WIN_1H = 0,
    AF_WIN_6H,
    AF_WIN_24H,
    AF_WIN_DAY, /* since 00:00 UTC of the request's day (budgets, daily caps) */
    AF_WIN_ALL,
    AF_WIN_N
};

/* The key of a pair entity (user x ad, user x campaign). */
static inline uint64_t
af_state_key2(uint64_t a, uint64_t b)
{
    uint64_t z = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
