/*
 * deepfm.c -- model "deepfm": DeepFM (an FM and an MLP reading the same
 * field embeddings, deepfm_format.h).  Scoring is ../model_fm/fm_score.c:
 * the request part of the embeddings, the FM sums and the first MLP layer
 * is computed once per request, the candidates as one sgemm batch.
 */
#include <adfunnel/adfunnel.h>

#include "deepfm_format.h"
#include "../model_fm/fm_score.h"

static int
deepfm_create(const struct af_create_args *args, void **inst, char *err,
              size_t errlen)
{
    return af_fm_serve_create(AF_DEEPFM_KIND, args, inst, err, errlen);
}

static const struct af_model_ops deepfm_ops = {
    .struct_size = sizeof deepfm_ops,
    .score = af_fm_serve_score,
    .model_version = af_fm_serve_version,
};

static const struct af_plugin deepfm_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_MODEL,
    .name = "deepfm",
    .version = "1.0.0",
    .description = "DeepFM over spec fields (pCTR): FM + MLP on shared "
                   "embeddings, request part computed once per request",
    .create = deepfm_create,
    .destroy = af_fm_serve_destroy,
    .ops = &deepfm_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &deepfm_plugin;
}
