/*
 * af_host_api.h -- the services the host offers a plugin.
 *
 * A plugin receives `const struct af_host_api *host` in af_create_args and
 * keeps it in its instance (never in a process global: two generations may
 * hold two instances of the same plugin at once).  It uses nothing of the host
 * except through this table.
 *
 * The table only grows at the end.  A plugin that needs a service added in a
 * later minor version checks AF_HOST_HAS(host, field) before calling it.
 *
 * Every function is thread-safe unless noted.
 */
#ifndef ADFUNNEL_AF_HOST_API_H
#define ADFUNNEL_AF_HOST_API_H

#include <stdarg.h>
#include "af_types.h"

enum af_log_level {
    AF_LOG_DEBUG = 0,
    AF_LOG_INFO = 1,
    AF_LOG_WARN = 2,
    AF_LOG_ERROR = 3,
};

struct af_host_api {
    uint32_t struct_size; /* sizeof(struct af_host_api) of the host         */
    uint32_t abi_minor;   /* host's AF_ABI_MINOR                             */

    /* ## Logging -- lines are prefixed with [kind:name] of the instance.   */
    void (*log)(af_plugin_ctx *pc, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* ## Request arena.  Memory is 16-byte aligned, valid until the reply is
     * sent, and never freed individually.  Returns NULL only when the arena's
     * per-request limit is reached; a plugin then returns AF_ENOMEM.          */
    void *(*arena_alloc)(af_arena *a, size_t size);
    void *(*arena_calloc)(af_arena *a, size_t n, size_t size);

    /* ## Configuration: the plugin's parameters from the pipeline file.
     * Strings are owned by the generation.  `def` is returned when the key is
     * absent.  Nested tables are flattened with dots: reserve.adv_7 = 0.2.  */
    int (*config_has)(const af_config *c, const char *key);
    const char *(*config_str)(const af_config *c, const char *key,
                              const char *def);
    double (*config_num)(const af_config *c, const char *key, double def);
    int64_t (*config_int)(const af_config *c, const char *key, int64_t def);
    int (*config_bool)(const af_config *c, const char *key, int def);
    /* Number of keys and the i-th key (for plugins that accept any key). */
    uint32_t (*config_count)(const af_config *c);
    const char *(*config_key)(const af_config *c, uint32_t i);

    /* ## Clock and randomness */
    uint64_t (*clock_ns)(void); /* CLOCK_MONOTONIC in nanoseconds            */
    uint64_t (*rng_u64)(af_rng *r);
    double (*rng_uniform)(af_rng *r); /* [0, 1)                             */

    /* ## Metrics, exported on /metrics as adfunnel_plugin_<name>{...}.
     * Register in create; update from any thread on the request path (the
     * updates are lock-free).                                               */
    af_counter *(*counter)(af_plugin_ctx *pc, const char *name,
                           const char *help);
    void (*counter_add)(af_counter *c, uint64_t v);
    af_histogram *(*histogram)(af_plugin_ctx *pc, const char *name,
                               const char *help);
    void (*histogram_observe)(af_histogram *h, double v);

    /* ## Model files.  Opens `path` (relative paths resolve against the
     * server's data directory), verifies magic, format version, checksum and
     * that the file's kind equals `kind`, and maps the payload.  When
     * `fingerprint` is non-zero the file's feature-spec fingerprint must equal
     * it.  On failure returns a negative AF_E* and writes a message naming the
     * file and the reason into err.  The blob stays valid until model_close. */
    int (*model_open)(af_plugin_ctx *pc, const char *path, const char *kind,
                      uint64_t fingerprint, struct af_model_blob *out,
                      char *err, size_t errlen);
    void (*model_close)(struct af_model_blob *blob);

    /* Resolve a data path like model_open does; returns buf. */
    const char *(*data_path)(af_plugin_ctx *pc, const char *path, char *buf,
                             size_t buflen);

    /* Feature-spec fingerprint of the pipeline's feature stage, 0 when the
     * pipeline has none.  Models pass it to model_open.                      */
    uint64_t (*feature_fingerprint)(af_plugin_ctx *pc);

    /* ## Online state.  Event counters the host keeps from the feedback it
     * receives (impressions, clicks, conversions, hides, spend), per entity
     * and time window (af_types.h).  The backend is embedded or shared by
     * replicas (Redis); plugins cannot tell.  Reads are batched because a
     * filter asks about every candidate: out[i] receives the count of
     * keys[i] for `event` over `window` ending at req->time_s (0 for unknown
     * keys).  Lock-free on the embedded backend; safe on the request path.
     * Returns 0 or a negative AF_E* (AF_EIO: backend unreachable -- the
     * plugin decides whether to fail open or closed).                       */
    int (*state_read)(af_plugin_ctx *pc, const struct af_request *req,
                      int entity, int event, int window,
                      const uint64_t *keys, uint32_t n, double *out);
};

/* True when the host's table has `field` (added in a later minor). */
#define AF_HOST_HAS(host, field)                                               \
    ((host)->struct_size >=                                                    \
         offsetof(struct af_host_api, field) + sizeof((host)->field) &&       \
     (host)->field != NULL)

#endif
