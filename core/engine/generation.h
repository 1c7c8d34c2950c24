/*
 * generation.h -- everything a request uses, as one immutable,
 * reference-counted unit: plugins (their .so handles), plugin instances,
 * pipelines, the catalog and the user store.
 *
 * A request pins the current generation when it starts and releases it when
 * its reply is sent.  A swap builds a new generation completely, publishes it,
 * and the old one is destroyed (instances, then dlclose) when its last
 * reference goes.
 */
#ifndef AF_CORE_GENERATION_H
#define AF_CORE_GENERATION_H

#include <stddef.h>
#include <stdint.h>

typedef struct af_generation af_generation;
struct af_pipeline;

struct af_gen_config {
    const char *const *plugin_dirs; /* NULL-terminated                       */
    const char *const *pipelines;   /* pipeline files, NULL-terminated       */
    const char *data_dir;           /* world: ads.tsv, users.tsv, models     */
    uint64_t seed;                  /* base seed of request RNGs             */
    struct af_state *state;         /* online counters (borrowed; outlives
                                       the generation); may be NULL         */
    int features_only;              /* compile stages up to features only
                                       (training tools: no models needed)   */
};

/* Build a generation.  On failure returns NULL with a reason in err (a plugin
 * refused at load is not a failure: it is reported in the log and listed in
 * af_generation_refused; a pipeline that uses it is). */
af_generation *af_generation_build(const struct af_gen_config *cfg, char *err,
                                   size_t errlen);

void af_generation_ref(af_generation *g);
void af_generation_unref(af_generation *g);
uint64_t af_generation_id(const af_generation *g);

/* The pipeline serving `surface`, or NULL. */
const struct af_pipeline *af_generation_surface(const af_generation *g,
                                                const char *surface);
/* Names of the surfaces served, for error messages and /healthz. */
uint32_t af_generation_surface_count(const af_generation *g);
const char *af_generation_surface_name(const af_generation *g, uint32_t i);

struct af_catalog_store;
struct af_user_store;
const struct af_catalog_store *af_generation_catalog(const af_generation *g);
const struct af_user_store *af_generation_users(const af_generation *g);
uint64_t af_generation_seed(const af_generation *g);

/* Prometheus text of the generation's plugin metrics and versions, appended
 * to buf.  Returns 0 or AF_ENOMEM. */
struct af_buf;
int af_generation_metrics(const af_generation *g, struct af_buf *buf);

#endif
