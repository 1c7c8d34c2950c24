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
/* Release `in`; the plugin's destroy() runs with the last holder (see
 * af_instance_share). */
void af_instance_destroy(struct af_instance *in);

/* Whether `in` runs the same loaded code as p (p->desc == the instance's)
 * and was created with the same options (label, data directory, catalog,
 * feature fingerprint, state): then a new generation may share it instead
 * of creating it again.  Parameters are the caller's to compare. */
int af_instance_matches(const struct af_instance *in, const af_loaded *p,
                        const struct af_instance_opts *opts);

/* Make `out` another holder of the instance `from` (of a live generation),
 * bound to p, a registry entry of the same loaded code.  Instances are
 * shared by all workers already, so sharing them across generations needs
 * no more than this count: the plugin's destroy() runs when the last
 * generation holding the instance is destroyed. */
void af_instance_share(const struct af_instance *from, const af_loaded *p,
                       struct af_instance *out);

/* Prometheus text of the instance's registered metrics. */
struct af_buf;
void af_instance_metrics(const struct af_instance *in, struct af_buf *buf);

/* Seed a request RNG (xoshiro128+ via splitmix64). */
void af_rng_seed(af_rng *r, uint64_t seed);

/* Monotonic clock in nanoseconds. */
uint64_t af_clock_ns(void);

#endif
