/*
 * host.h -- the host-services table handed to plugins, and plugin instances.
 */
#ifndef AF_CORE_HOST_H
#define AF_CORE_HOST_H

#include <stddef.h>
#include <stdint.h>
#include "adfunnel/af_plugin.h"
#include "loader/loader.h"

/* The one host-services table (static, immutable). */
const struct af_host_api *af_host_api_table(void);

/* One created instance of a plugin. */
struct af_instance {
    const af_loaded *plugin;
    void *inst;           /* what create() returned                        */
    const void *ops;      /* plugin->desc->ops, typed by plugin->desc->kind */
    af_plugin_ctx *pc;    /* host-side context: label, data dir, metrics   */
};

struct af_instance_opts {
    const char *label;            /* "home_feed/rank/lr", for logs        */
    const char *data_dir;         /* where relative data paths resolve     */
    const struct af_catalog *catalog;
    uint64_t feature_fingerprint; /* 0 when not known                      */
    struct af_state *state;       /* online counters; NULL: reads give 0   */
};

/* Create an instance of plugin p with cfg.  On failure writes the plugin's
 * reason into err and returns a negative AF_E*. */
int af_instance_create(const af_loaded *p, const af_config *cfg,
                       const struct af_instance_opts *opts,
                       struct af_instance *out, char *err, size_t errlen);
void af_instance_destroy(struct af_instance *in);

/* Prometheus text of the instance's registered metrics. */
struct af_buf;
void af_instance_metrics(const struct af_instance *in, struct af_buf *buf);

/* Seed a request RNG (xoshiro128+ via splitmix64). */
void af_rng_seed(af_rng *r, uint64_t seed);

/* Monotonic clock in nanoseconds. */
uint64_t af_clock_ns(void);

#endif
