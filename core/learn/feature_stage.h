/*
 * feature_stage.h -- the built-in feature extractor "spec": the encoder of
 * a feature spec (encode.h) run over a request and its candidates, filling
 * the batch with global indices (field_layout.h), so a model trained by
 * `adfunnel train` on the same spec sees the same inputs at serving.
 *
 *   features = { { "spec", spec = "features/world_v1.lua",
 *                  vocab = "models/world_v1-lr.vocab.afm" } },
 *
 * spec resolves against the pipeline file's directory, vocab against the
 * data directory (as model files do).  Its schema is the vocabulary's
 * schema text, so the pipeline's feature fingerprint equals the one
 * `adfunnel train` wrote into the model files (when "spec" is the stage's
 * only extractor).
 *
 * It is not a shared object: the pipeline compiler finds it with
 * af_builtin_plugin() when no loaded plugin has the name.
 */
#ifndef AF_CORE_FEATURE_STAGE_H
#define AF_CORE_FEATURE_STAGE_H

#include "loader/loader.h"

#define AF_SPEC_STAGE_NAME "spec"
/* Config key the compiler sets to the pipeline file's path. */
#define AF_SPEC_STAGE_PIPELINE_KEY "_pipeline_file"

/* The built-in plugin of that name and kind, or NULL.  Static storage. */
const af_loaded *af_builtin_plugin(const char *name, int kind);

#endif
