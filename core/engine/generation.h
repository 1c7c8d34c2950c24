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
    struct af_plugin_cache *plugin_cache; /* private copies of the plugin
                                       files (admin/plugin_cache.h); NULL:
                                       dlopen the files where they are.
                                       Borrowed; outlives the generations */
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

/* --- ## Deriving a generation from another (hot swap) --- */

/*
 * A generation remembers what it was built from: the configuration, the
 * plugin files (source path and content hash), the pipeline files and the
 * model overrides.  A new generation is built from an old one with one
 * change; everything else is what the old one had:
 *
 *   - plugins not named by the change load the same bytes as before (the
 *     cached copy by content hash), whatever happened to their files since;
 *   - pipelines are compiled from their files again; a pipeline file the
 *     change does not cover that changed on disk since the old generation
 *     was built makes the build fail (a model deploy must not silently pick
 *     up someone's half-finished pipeline edit);
 *   - catalog and user store are shared (they are read-only).
 */
enum af_gen_change_kind {
    AF_GEN_RELOAD_PIPELINES, /* surface, or NULL: all (directories rescanned) */
    AF_GEN_LOAD_PLUGIN,      /* path: a file in a plugin directory           */
    AF_GEN_RELOAD_PLUGIN,    /* name: read its file again                    */
    AF_GEN_UNLOAD_PLUGIN,    /* name: refused while a pipeline uses it       */
    AF_GEN_DEPLOY_MODEL,     /* surface, stage, arm ("control"), path: the
                                model file (relative paths: the data dir);
                                path NULL: back to the pipeline's own       */
};

struct af_gen_change {
    enum af_gen_change_kind kind;
    const char *name;
    const char *path;
    const char *surface;
    const char *stage;
    const char *arm;
};

/*
 * Build a new generation from `base` and `ch`.  `base` is only read.  On
 * failure returns NULL, with the reason in err and a negative AF_E* in *code:
 * AF_ENOENT (no such plugin / surface / stage / file), AF_EBUSY (unload of a
 * plugin in use), AF_EEXIST (load of a name already loaded), AF_EINVAL (a
 * bad request), or another code when building failed (broken plugin, pipeline
 * error, corrupt model file...).
 */
af_generation *af_generation_derive(const af_generation *base,
                                    const struct af_gen_change *ch, int *code,
                                    char *err, size_t errlen);

/* Plugin instances of g (*total) and how many of them g shares with
 * `base` (*shared): what a swap did not have to create again. */
void af_generation_instances(const af_generation *g, const af_generation *base,
                             uint32_t *shared, uint32_t *total);

/* References held (for the server's reaper: 1 means only the caller). */
uint32_t af_generation_refs(const af_generation *g);

/* The plugins loaded, in load order.  `source` is the operator's file;
 * `sha256` the content that was loaded. */
struct af_gen_plugin_info {
    const char *name;
    const char *kind;
    const char *version;
    const char *description;
    const char *source;
    const char *sha256;
    unsigned abi_major, abi_minor;
};
uint32_t af_generation_plugin_count(const af_generation *g);
int af_generation_plugin_at(const af_generation *g, uint32_t i,
                            struct af_gen_plugin_info *out);
/* "file: reason" of the plugin files refused while building. */
uint32_t af_generation_refused_count(const af_generation *g);
const char *af_generation_refused_at(const af_generation *g, uint32_t i);

/* Where plugin `name` is used: "surface/arm/stage" entries separated by
 * ", " appended to out (which is NUL-terminated; truncated at n).  Returns
 * the number of uses. */
uint32_t af_generation_plugin_users(const af_generation *g, const char *name,
                                    char *out, size_t n);

/* The model overrides in force (admin deploys). */
struct af_gen_override_info {
    const char *surface, *arm, *stage, *model;
};
uint32_t af_generation_override_count(const af_generation *g);
int af_generation_override_at(const af_generation *g, uint32_t i,
                              struct af_gen_override_info *out);

/* The plugin directories the generation was built with (NULL-terminated). */
const char *const *af_generation_plugin_dirs(const af_generation *g);
/* The data directory. */
const char *af_generation_data_dir(const af_generation *g);

#endif
