/*
 * fm.c -- model "fm": factorization machine (bias, first-order weights and
 * pairwise interactions of field embeddings) over the feature spec's
 * fields.  Scoring is fm_score.c, shared with model "deepfm".
 */
#include <adfunnel/adfunnel.h>

#include "fm_format.h"
#include "fm_score.h"

static int
fm_create(const struct af_create_args *args, void **inst, char *err,
          size_t errlen)
{
    return af_fm_serve_create(AF_FM_KIND, args, inst, err, errlen);
}

static const struct af_model_ops fm_ops = {
    .struct_size = sizeof fm_ops,
    .score = af_fm_serve_score,
    .model_version = af_fm_serve_version,
};

static const struct af_plugin fm_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_MODEL,
    .name = "fm",
    .version = "1.0.0",
    .description = "factorization machine over spec fields (pCTR), "
                   "request part computed once per request",
    .create = fm_create,
    .destroy = af_fm_serve_destroy,
    .ops = &fm_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &fm_plugin;
}
