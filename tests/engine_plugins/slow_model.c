/* slow_model.c -- a model that takes `sleep_ms` per batch, then scores
 * every candidate `p` (default 0.5): drives the deadline fallback tests. */
#include <stdlib.h>
#include <time.h>

#include "adfunnel/adfunnel.h"

struct slow {
    double sleep_ms;
    float p;
};

static int
slow_create(const struct af_create_args *a, void **inst, char *err, size_t n)
{
    struct slow *s = malloc(sizeof *s);
    if (!s)
        return AF_ENOMEM;
    s->sleep_ms = a->host->config_num(a->config, "sleep_ms", 0);
    s->p = (float)a->host->config_num(a->config, "p", 0.5);
    *inst = s;
    return AF_OK;
}

static void
slow_destroy(void *inst)
{
    free(inst);
}

static int
slow_score(void *inst, const struct af_request *req, const struct af_batch *b,
           const struct af_score_out *out)
{
    const struct slow *s = inst;
    struct timespec ts = {(time_t)(s->sleep_ms / 1000),
                          (long)((s->sleep_ms - (time_t)(s->sleep_ms / 1000) * 1000) * 1e6)};
    nanosleep(&ts, NULL);
    for (uint32_t i = 0; i < b->n; i++)
        out->pctr[i] = s->p;
    return AF_OK;
}

static const struct af_model_ops ops = {.struct_size = sizeof ops,
                                        .score = slow_score};
static const struct af_plugin desc = {
    AF_PLUGIN_HEADER, .kind = AF_KIND_MODEL, .name = "slow", .version = "1.0.0",
    .create = slow_create, .destroy = slow_destroy, .ops = &ops};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &desc;
}
