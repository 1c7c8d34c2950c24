/*
 * rank_types.h -- a ranking request and response, independent of the wire
 * format.  The JSON and protobuf codecs translate to and from these; the
 * engine reads the request and fills the response.  Everything a response
 * points to is owned by the request arena.
 */
#ifndef AF_CORE_RANK_TYPES_H
#define AF_CORE_RANK_TYPES_H

#include <stdint.h>
#include "adfunnel/af_types.h"

#define AF_SURFACE_MAX 64
#define AF_REQUEST_ID_MAX 64
#define AF_MAX_SLOTS 64

/* Which user fields the request set explicitly (the rest come from the
 * user store when the user id is known). */
enum af_user_has {
    AF_USER_HAS_GEO = 1u << 0,
    AF_USER_HAS_AGE = 1u << 1,
    AF_USER_HAS_DEVICE = 1u << 2,
    AF_USER_HAS_GENDER = 1u << 3,
    AF_USER_HAS_INTERESTS = 1u << 4,
    AF_USER_HAS_HISTORY = 1u << 5,
};

struct af_rank_req {
    char surface[AF_SURFACE_MAX];
    char request_id[AF_REQUEST_ID_MAX]; /* empty: the engine makes one     */
    int explain;                        /* include stage details           */
    uint32_t user_has;                  /* enum af_user_has bits           */
    struct af_user user;
    struct af_context context;          /* -1 where not given              */
    int64_t time_s;                     /* request time, unix seconds; 0 =
                                           now (simulations pass virtual time) */
};

struct af_rank_ad {
    uint32_t slot; /* 1-based */
    uint64_t ad_id;
    uint32_t advertiser_id;
    uint32_t campaign_id;
    float pctr, pcvr, bid, price, score, propensity;
    int explored;
    int bid_type; /* enum af_bid_type */
};

struct af_stage_info {
    const char *stage;  /* "retrieve", "filter", ...                     */
    const char *plugin; /* plugin name, or a list "a+b" for merged stages */
    uint32_t candidates_in;
    uint32_t candidates_out;
    uint32_t micros;
    int timed_out;
    const char *error; /* NULL when the stage succeeded                  */
};

struct af_model_info {
    const char *stage;
    const char *plugin;
    const char *version;
};

struct af_rank_resp {
    const char *request_id;
    const char *surface;
    const char *pipeline_version;
    const char *arm;
    int degraded;
    uint32_t n_ads;
    struct af_rank_ad *ads;
    uint32_t n_models;
    struct af_model_info *models;
    uint32_t n_stages; /* always filled (metrics use it); encoded only when
                          the request asked for explain */
    struct af_stage_info *stages;
};

/* Human-readable name of a bid type ("cpc", "cpm", "cpa"). */
static inline const char *
af_bid_type_name(int t)
{
    return t == AF_BID_CPM ? "cpm" : t == AF_BID_CPA ? "cpa" : "cpc";
}

#endif
