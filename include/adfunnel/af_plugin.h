/*
 * af_plugin.h -- what a plugin is.
 *
 * A plugin is one shared object exporting one symbol,
 *
 *     const struct af_plugin *af_plugin_entry(void);
 *
 * which returns a pointer to a constant descriptor: ABI version, build
 * signature, kind, name, version, and the functions of its kind.  The host
 * never writes to the descriptor and never copies it.
 *
 * Lifetime.  The host calls create() once per use of the plugin in a pipeline
 * (an "instance", with that use's parameters), from a non-request thread,
 * while it builds a generation.  The instance serves requests from every
 * worker thread until the generation is retired, then destroy() is called,
 * once, after the last request using it has finished.  The .so is unloaded
 * only after all its instances are destroyed.
 *
 * Errors.  Functions return AF_OK or a negative AF_E* code (af_errno.h).  No
 * C++ exception, longjmp or abort() may cross this boundary.  A kind
 * operation returning an error makes the host degrade the request (skip the
 * stage) rather than fail it, and the error is counted in /metrics.
 *
 * Minimal plugin (see sdk/template/ for a complete one):
 *
 *     static const struct af_calibrator_ops ops = {
 *         .struct_size = sizeof ops, .calibrate = my_calibrate };
 *     static const struct af_plugin desc = {
 *         AF_PLUGIN_HEADER, .kind = AF_KIND_CALIBRATOR, .name = "mine",
 *         .version = "1.0.0", .create = my_create, .destroy = my_destroy,
 *         .ops = &ops };
 *     AF_PLUGIN_EXPORT const struct af_plugin *af_plugin_entry(void)
 *     { return &desc; }
 */
#ifndef ADFUNNEL_AF_PLUGIN_H
#define ADFUNNEL_AF_PLUGIN_H

#include "af_errno.h"
#include "af_host_api.h"
#include "af_types.h"
#include "af_version.h"

#define AF_PLUGIN_EXPORT __attribute__((visibility("default")))

/* X-macro of kinds: enum value, name used in pipelines and /metrics. */
#define AF_KIND_MAP(XX)                                                        \
    XX(RETRIEVER, 1, "retriever")                                              \
    XX(FILTER, 2, "filter")                                                    \
    XX(FEATURE, 3, "feature")                                                  \
    XX(MODEL, 4, "model")                                                      \
    XX(CALIBRATOR, 5, "calibrator")                                            \
    XX(AUCTION, 6, "auction")                                                  \
    XX(EXPLORATION, 7, "exploration")

enum af_kind {
#define AF__KIND_ENUM(name, v, s) AF_KIND_##name = (v),
    AF_KIND_MAP(AF__KIND_ENUM)
#undef AF__KIND_ENUM
};

static inline const char *
af_kind_name(int kind)
{
    switch (kind) {
#define AF__KIND_STR(name, v, s) case (v): return s;
    AF_KIND_MAP(AF__KIND_STR)
#undef AF__KIND_STR
    default: return NULL;
    }
}

/* What create() receives (borrowed for the call; the pointed-to objects are
 * owned by the generation and outlive the instance). */
struct af_create_args {
    uint32_t struct_size;
    const struct af_host_api *host;
    af_plugin_ctx *pc;               /* pass back to host->log etc.         */
    const af_config *config;         /* parameters from the pipeline file   */
    const struct af_catalog *catalog; /* the generation's ads               */
};

/* ------------------------------------------------------------------------ */
/* ## Kind operations.  Each struct starts with its own size.               */
/* ------------------------------------------------------------------------ */

/* Retriever: append up to `k` candidates (b->n grows by at most k; the host
 * guarantees b->cap >= b->n + k).  Fill at least ad, bid and retrieval_score
 * of the new rows; the host fills source and clears the others.  Duplicates
 * across retrievers are removed by the host. */
struct af_retriever_ops {
    uint32_t struct_size;
    int (*retrieve)(void *inst, const struct af_request *req,
                    struct af_batch *b, uint32_t k);
};

/* Filter: set b->drop[i] = 1 for each ineligible row; never reorder. */
struct af_filter_ops {
    uint32_t struct_size;
    int (*filter)(void *inst, const struct af_request *req,
                  struct af_batch *b);
};

/* Feature extractor: append fields.  Request-side fields go to
 * b->req_fid[b->n_req_fields++], candidate-side ones to column
 * af_batch_field(b, b->n_fields++), dense ones likewise.  The number and order
 * of fields appended must be the same on every call; `schema` describes them
 * ("name:kind,..."), and the host derives the feature-spec fingerprint from
 * the schemas of the pipeline's extractors, in order. */
struct af_feature_ops {
    uint32_t struct_size;
    int (*extract)(void *inst, const struct af_request *req,
                   struct af_batch *b);
    const char *(*schema)(void *inst);
};

/* Model: score rows 0..b->n-1 into the requested columns of `out`. */
struct af_model_ops {
    uint32_t struct_size;
    int (*score)(void *inst, const struct af_request *req,
                 const struct af_batch *b, const struct af_score_out *out);
    /* Version label of the loaded weights (shown in responses). */
    const char *(*model_version)(void *inst);
};

/* Calibrator: map raw scores to probabilities in place. */
struct af_calibrator_ops {
    uint32_t struct_size;
    int (*calibrate)(void *inst, const struct af_request *req, float *p,
                     uint32_t n);
};

/* Auction: choose up to slots->max rows, in slot order, and price them;
 * write b->score for every row it considered. */
struct af_auction_ops {
    uint32_t struct_size;
    int (*auction)(void *inst, const struct af_request *req,
                   struct af_batch *b, struct af_slots *slots);
};

/* Exploration: may replace or reorder the auction's slots; must set
 * propensity and explored of every slot it leaves. */
struct af_exploration_ops {
    uint32_t struct_size;
    int (*explore)(void *inst, const struct af_request *req,
                   struct af_batch *b, struct af_slots *slots);
};

/* ------------------------------------------------------------------------ */
/* ## The descriptor                                                         */
/* ------------------------------------------------------------------------ */

struct af_plugin {
    uint32_t abi_major;    /* AF_ABI_MAJOR at build time                    */
    uint32_t abi_minor;    /* AF_ABI_MINOR at build time                    */
    uint32_t struct_size;  /* sizeof(struct af_plugin) at build time        */
    const char *signature; /* AF_BUILD_SIGNATURE at build time              */
    int kind;              /* enum af_kind                                  */
    const char *name;      /* unique among loaded plugins; [a-z0-9_]+       */
    const char *version;   /* plugin's own version, e.g. "1.2.0"            */
    const char *description;

    /* Create an instance from args->config.  On failure return a negative
     * AF_E* and write a human-readable reason into err (the host adds the
     * file and pipeline location).  Must not keep `args` itself.            */
    int (*create)(const struct af_create_args *args, void **inst, char *err,
                  size_t errlen);
    /* Release everything create() acquired.  Never called on a failed create. */
    void (*destroy)(void *inst);

    /* Kind operations: a pointer to the struct af_<kind>_ops of `kind`. */
    const void *ops;
};

/* Fills the first four fields of a descriptor. */
#define AF_PLUGIN_HEADER                                                       \
    .abi_major = AF_ABI_MAJOR, .abi_minor = AF_ABI_MINOR,                      \
    .struct_size = sizeof(struct af_plugin), .signature = AF_BUILD_SIGNATURE

typedef const struct af_plugin *(*af_plugin_entry_fn)(void);

#endif
