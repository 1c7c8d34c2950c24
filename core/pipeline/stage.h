/*
 * stage.h -- the compiled stage graph of a pipeline (host-internal; the
 * engine walks it, the compiler builds it).
 */
#ifndef AF_CORE_STAGE_H
#define AF_CORE_STAGE_H

#include <stdint.h>
#include "config/config.h"
#include "engine/host.h"

/* The funnel's stages, in the order they run: id, Lua key, plugin kind,
 * whether several plugins may be listed. */
#define AF_STAGE_MAP(XX)                                                       \
    XX(RETRIEVE, "retrieve", AF_KIND_RETRIEVER, 1)                             \
    XX(FILTER, "filter", AF_KIND_FILTER, 1)                                    \
    XX(FEATURES, "features", AF_KIND_FEATURE, 1)                               \
    XX(PRERANK, "prerank", AF_KIND_MODEL, 0)                                   \
    XX(RANK, "rank", AF_KIND_MODEL, 0)                                         \
    XX(CALIBRATE, "calibrate", AF_KIND_CALIBRATOR, 0)                          \
    XX(AUCTION, "auction", AF_KIND_AUCTION, 0)                                 \
    XX(EXPLORE, "explore", AF_KIND_EXPLORATION, 0)

enum af_stage_id {
#define AF__STAGE_ENUM(id, key, kind, multi) AF_STAGE_##id,
    AF_STAGE_MAP(AF__STAGE_ENUM)
#undef AF__STAGE_ENUM
    AF_N_STAGES
};

/* What to do when a stage misses its deadline or fails. */
enum af_on_timeout {
    AF_TIMEOUT_USE_PREVIOUS, /* discard the stage's output, keep the order it
                                received; the response is marked degraded  */
    AF_TIMEOUT_KEEP,         /* keep what the stage produced (retrieval: the
                                candidates found so far), mark degraded     */
};

struct af_stage_plugin {
    struct af_instance in;
    af_config *cfg;
    uint32_t k;   /* retrievers: candidates asked for                    */
    int line;     /* where it is named in the pipeline file              */
    uint64_t files; /* identity (device, inode, size, mtime) of the files
                       its parameters name: a reused instance must have
                       seen the same files (see af_pipeline_env.reuse)   */
};

struct af_stage {
    enum af_stage_id id;
    const char *name;          /* "rank"                                   */
    char *label;               /* plugin names joined with '+'             */
    struct af_stage_plugin *p;
    uint32_t n;
    uint32_t keep;             /* rows kept after the stage; 0 = all       */
    uint64_t deadline_ns;      /* 0 = only the request deadline applies    */
    int on_timeout;            /* enum af_on_timeout                       */
};

/* An experiment arm: a share of users and the stages it runs. */
struct af_arm {
    char *name;
    double lo, hi; /* users with hash(user, salt) in [lo, hi)               */
    const struct af_stage *stage[AF_N_STAGES]; /* NULL: stage not run       */
};

#define AF_MAX_ARMS 16

struct af_pipeline {
    char *surface;
    char *file;
    char version[96];
    uint64_t deadline_ns;    /* whole request                              */
    uint32_t slots;
    uint32_t max_candidates; /* sum of retriever k: the batch capacity     */
    uint64_t fingerprint;    /* of the features stage                      */
    char *salt;              /* experiment hashing salt                    */
    /* Stages owned by the pipeline: the base ones and every arm's own. */
    struct af_stage *owned;
    uint32_t n_owned, cap_owned;
    struct af_arm arm[AF_MAX_ARMS]; /* arm[0] is "control"                  */
    uint32_t n_arms;
    struct af_hooks *hooks;  /* request-time Lua hooks, NULL when none    */
};

/* The arm a user falls in (deterministic in user id and salt). */
const struct af_arm *af_pipeline_arm(const struct af_pipeline *p,
                                     uint64_t user_id);

extern const char *const af_stage_names[AF_N_STAGES];

#endif
