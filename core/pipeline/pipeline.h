/*
 * pipeline.h -- a surface's pipeline: the Lua file compiled into a C stage
 * graph of plugin instances.  Immutable once built; owned by a generation.
 */
#ifndef AF_CORE_PIPELINE_H
#define AF_CORE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include "adfunnel/af_types.h"
#include "loader/loader.h"

struct af_pipeline;

/* A parameter set from outside the pipeline file (admin model deploys):
 * in surface `surface`, experiment arm `arm` ("control" for the surface's
 * own stages), stage `stage` ("rank"), every plugin gets key = value,
 * replacing what the file says. */
struct af_param_override {
    const char *surface;
    const char *arm;
    const char *stage;
    const char *key;
    const char *value;
};

struct af_pipeline_env {
    const af_registry *registry;
    const struct af_catalog *catalog;
    const char *data_dir;
    struct af_state *state;   /* borrowed, may be NULL */
    int features_only; /* build only the stages up to features (training tools) */
    const struct af_param_override *overrides; /* may be NULL */
    uint32_t n_overrides;
    /* Hot swap: the same surface's pipeline in the generation being
     * replaced (may be NULL).  A plugin instance of it is shared
     * (af_instance_share) instead of created again when the plugin code,
     * the stage, the parameters, the instance options and the files the
     * parameters name (device, inode, size, mtime) are all the same --
     * except instances of plugin `fresh` (NULL: none), which are always
     * created again.  `reuse` must stay alive while this pipeline loads. */
    const struct af_pipeline *reuse;
    const char *fresh;
};

/* Load, sandbox-run and compile `file`.  On failure returns NULL and writes
 * "file:line: reason" into err. */
struct af_pipeline *af_pipeline_load(const char *file,
                                     const struct af_pipeline_env *env,
                                     char *err, size_t errlen);
void af_pipeline_free(struct af_pipeline *p);

const char *af_pipeline_surface(const struct af_pipeline *p);
const char *af_pipeline_file(const struct af_pipeline *p);
/* "<surface>@<first 12 hex of the file's sha256>" */
const char *af_pipeline_version(const struct af_pipeline *p);
/* Fingerprint of the features stage (0 when none). */
uint64_t af_pipeline_fingerprint(const struct af_pipeline *p);
/* Run only the features stage on b (b->n rows); resets the field counts. */
int af_pipeline_run_features(const struct af_pipeline *p,
                             const struct af_request *req,
                             struct af_batch *b);

#endif
