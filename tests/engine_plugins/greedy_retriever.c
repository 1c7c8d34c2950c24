/* greedy_retriever.c -- a retriever that breaks the contract by appending
 * more than k rows when `overflow` is true; otherwise returns catalog rows
 * 0..k-1 (duplicating the popular retriever's top ads on purpose, to test
 * deduplication). */
#include "adfunnel/adfunnel.h"

struct greedy {
    int overflow;
};

static struct greedy g_on = {1}, g_off = {0};

static int
gr_create(const struct af_create_args *a, void **inst, char *err, size_t n)
{
    *inst = a->host->config_bool(a->config, "overflow", 0) ? &g_on : &g_off;
    return AF_OK;
}

static void
gr_destroy(void *inst)
{
}

static int
gr_retrieve(void *inst, const struct af_request *req, struct af_batch *b,
            uint32_t k)
{
    const struct greedy *g = inst;
    uint32_t want = g->overflow ? k + 5 : k;
    for (uint32_t i = 0; i < want && i < req->catalog->n_ads && b->n < b->cap; i++) {
        b->ad[b->n] = i;
        b->bid[b->n] = req->catalog->bid[i];
        b->retrieval_score[b->n] = 0;
        b->n++;
    }
    return AF_OK;
}

static const struct af_retriever_ops ops = {.struct_size = sizeof ops,
                                            .retrieve = gr_retrieve};
static const struct af_plugin desc = {
    AF_PLUGIN_HEADER, .kind = AF_KIND_RETRIEVER, .name = "first_rows",
    .version = "1.0.0", .create = gr_create, .destroy = gr_destroy, .ops = &ops};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &desc;
}
