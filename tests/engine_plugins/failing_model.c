/* failing_model.c -- a model whose score() fails with AF_EIO after writing
 * garbage, to check the engine discards a failed stage's output. */
#include "adfunnel/adfunnel.h"

static int
fm_create(const struct af_create_args *a, void **inst, char *err, size_t n)
{
    *inst = NULL;
    return AF_OK;
}

static void
fm_destroy(void *inst)
{
}

static int
fm_score(void *inst, const struct af_request *req, const struct af_batch *b,
         const struct af_score_out *out)
{
    for (uint32_t i = 0; i < b->n; i++)
        out->pctr[i] = 99.0f;
    return AF_EIO;
}

static const struct af_model_ops ops = {.struct_size = sizeof ops,
                                        .score = fm_score};
static const struct af_plugin desc = {
    AF_PLUGIN_HEADER, .kind = AF_KIND_MODEL, .name = "failing",
    .version = "1.0.0", .create = fm_create, .destroy = fm_destroy, .ops = &ops};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &desc;
}
