/*
 * greedy.c -- exploration "greedy": no exploration.  Serves the auction's
 * slots as they are and marks each one deterministic (propensity 1, not
 * explored), which is what an exploration policy owes the logs even when it
 * changes nothing.
 */
#include <stdio.h>
#include <adfunnel/adfunnel.h>

static int
greedy_create(const struct af_create_args *args, void **inst, char *err,
              size_t errlen)
{
    const struct af_host_api *h = args->host;
    if (h->config_count(args->config) > 0) {
        snprintf(err, errlen, "takes no parameters, got \"%s\"",
                 h->config_key(args->config, 0));
        return AF_EINVAL;
    }
    static const char stateless; /* any non-NULL instance will do */
    *inst = (void *)&stateless;
    return AF_OK;
}

static void
greedy_destroy(void *inst)
{
    (void)inst;
}

static int
greedy_explore(void *inst, const struct af_request *req, struct af_batch *b,
               struct af_slots *slots)
{
    for (uint32_t j = 0; j < slots->n; j++) {
        slots->slot[j].propensity = 1.0f;
        slots->slot[j].explored = 0;
    }
    return AF_OK;
}

static const struct af_exploration_ops greedy_ops = {
    .struct_size = sizeof greedy_ops,
    .explore = greedy_explore,
};

static const struct af_plugin greedy_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_EXPLORATION,
    .name = "greedy",
    .version = "1.0.0",
    .description = "no exploration: keeps the auction's order",
    .create = greedy_create,
    .destroy = greedy_destroy,
    .ops = &greedy_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &greedy_plugin;
}
