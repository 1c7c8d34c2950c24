/*
 * temperature.c -- a complete calibrator plugin, as a starting point.
 *
 * Temperature scaling: p' = sigmoid(logit(p) / T).  T > 1 softens
 * over-confident scores, T < 1 sharpens them.  Use it in a pipeline as
 *
 *     calibrate = { "temperature", t = 1.5 },
 *
 * What every plugin does, in order:
 *   1. include <adfunnel/adfunnel.h> and nothing else of adfunnel;
 *   2. keep its state in an instance made by create(), never in globals
 *      (two generations may run two instances side by side);
 *   3. validate parameters in create() and explain a refusal in err;
 *   4. treat the instance as read-only in the kind operation (it runs on
 *      every worker thread at once);
 *   5. export exactly one symbol, af_plugin_entry, returning a const
 *      descriptor filled with AF_PLUGIN_HEADER.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <adfunnel/adfunnel.h>
#include <adfunnel/af_params.h> /* parameter validation helpers */

struct temperature {
    double inv_t; /* 1 / T */
};

static int
temperature_create(const struct af_create_args *args, void **inst, char *err,
                   size_t errlen)
{
    const struct af_host_api *host = args->host;
    double t;
    int rc = af_param_num(host, args->config, "t", 1.0, 0.01, 100, &t, err,
                          errlen);
    if (rc != AF_OK)
        return rc; /* err says "t must be a number in [0.01, 100], got ..." */
    struct temperature *c = malloc(sizeof *c);
    if (!c)
        return AF_ENOMEM;
    c->inv_t = 1.0 / t;
    host->log(args->pc, AF_LOG_INFO, "temperature scaling with T = %g", t);
    *inst = c;
    return AF_OK;
}

static void
temperature_destroy(void *inst)
{
    free(inst);
}

static int
temperature_calibrate(void *inst, const struct af_request *req, float *p,
                      uint32_t n)
{
    const struct temperature *c = inst;
    for (uint32_t i = 0; i < n; i++) {
        double x = p[i] < 1e-7f ? 1e-7 : p[i] > 1 - 1e-7 ? 1 - 1e-7 : p[i];
        double z = log(x / (1 - x)) * c->inv_t;
        p[i] = (float)(1 / (1 + exp(-z)));
    }
    return AF_OK;
}

static const struct af_calibrator_ops temperature_ops = {
    .struct_size = sizeof temperature_ops,
    .calibrate = temperature_calibrate,
};

static const struct af_plugin temperature_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_CALIBRATOR,
    .name = "temperature",
    .version = "0.1.0",
    .description = "temperature scaling: sigmoid(logit(p) / T)",
    .create = temperature_create,
    .destroy = temperature_destroy,
    .ops = &temperature_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &temperature_plugin;
}
