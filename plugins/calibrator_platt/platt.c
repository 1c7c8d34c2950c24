/*
 * platt.c -- calibrator "platt": Platt scaling in logit space,
 *
 *     p' = 1 / (1 + exp(-(a * logit(p) + b))),  logit(p) = ln(p / (1 - p)),
 *
 * with p first clamped to [1e-7, 1 - 1e-7] so that 0, 1 and NaN inputs give
 * finite logits.  a = 1, b = 0 (the defaults) is the identity map.  a and b
 * are usually fitted on held-out clicks by logistic regression of the label
 * on logit(p): `adfunnel calibrate --method platt` does that and writes a
 * file of kind "platt" (platt_format.h) that the `file` parameter loads
 * instead of giving a and b.
 */
#include <math.h>
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#include <adfunnel/af_params.h>
#include <string.h>
#include "platt_format.h"

#define PLATT_P_MIN 1e-7
#define PLATT_P_MAX (1.0 - 1e-7)
#define PLATT_COEF_LIMIT 1e6 /* anything larger is a configuration slip */

struct platt {
    double a, b;
};

/* a and b from a "platt" calibrator file. */
static int
platt_load(const struct af_create_args *args, const char *file, double *a,
           double *b, char *err, size_t errlen)
{
    const struct af_host_api *h = args->host;
    struct af_model_blob blob;
    int rc = h->model_open(args->pc, file, AF_PLATT_KIND, 0, &blob, err, errlen);
    if (rc != AF_OK)
        return rc;
    struct af_platt_payload pl;
    if (blob.size != sizeof pl) {
        snprintf(err, errlen, "%s: platt payload is %zu bytes, expected %zu",
                 file, blob.size, sizeof pl);
        rc = AF_ECORRUPT;
    } else {
        memcpy(&pl, blob.data, sizeof pl);
        if (pl.magic != AF_PLATT_MAGIC || !(fabs(pl.a) <= PLATT_COEF_LIMIT) ||
            !(fabs(pl.b) <= PLATT_COEF_LIMIT)) {
            snprintf(err, errlen, "%s: malformed platt payload", file);
            rc = AF_ECORRUPT;
        }
        *a = pl.a;
        *b = pl.b;
    }
    h->model_close(&blob);
    return rc;
}

static int
platt_create(const struct af_create_args *args, void **inst, char *err,
             size_t errlen)
{
    const struct af_host_api *h = args->host;
    double a, b;
    int rc;
    const char *file = h->config_str(args->config, "file", NULL);
    if (file != NULL) {
        if (h->config_has(args->config, "a") || h->config_has(args->config, "b")) {
            snprintf(err, errlen, "give either file or a and b, not both");
            return AF_EINVAL;
        }
        if ((rc = platt_load(args, file, &a, &b, err, errlen)) != AF_OK)
            return rc;
    } else if ((rc = af_param_num(h, args->config, "a", 1.0, -PLATT_COEF_LIMIT,
                        PLATT_COEF_LIMIT, &a, err, errlen)) ||
        (rc = af_param_num(h, args->config, "b", 0.0, -PLATT_COEF_LIMIT,
                        PLATT_COEF_LIMIT, &b, err, errlen)))
        return rc;
    struct platt *p = malloc(sizeof *p);
    if (p == NULL)
        return AF_ENOMEM;
    p->a = a;
    p->b = b;
    *inst = p;
    return AF_OK;
}

static void
platt_destroy(void *inst)
{
    free(inst);
}

static int
platt_calibrate(void *inst, const struct af_request *req, float *p,
                uint32_t n)
{
    const struct platt *c = inst;
    for (uint32_t i = 0; i < n; i++) {
        double x = p[i];
        if (!(x >= PLATT_P_MIN)) /* also catches NaN */
            x = PLATT_P_MIN;
        if (x > PLATT_P_MAX)
            x = PLATT_P_MAX;
        double z = c->a * log(x / (1.0 - x)) + c->b;
        p[i] = (float)(1.0 / (1.0 + exp(-z)));
    }
    return AF_OK;
}

static const struct af_calibrator_ops platt_ops = {
    .struct_size = sizeof platt_ops,
    .calibrate = platt_calibrate,
};

static const struct af_plugin platt_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_CALIBRATOR,
    .name = "platt",
    .version = "1.1.0",
    .description = "Platt scaling: sigmoid(a * logit(p) + b), a and b given "
                   "or from a fitted file",
    .create = platt_create,
    .destroy = platt_destroy,
    .ops = &platt_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &platt_plugin;
}
