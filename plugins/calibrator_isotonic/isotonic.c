/*
 * isotonic.c -- calibrator "isotonic": a monotone piecewise-linear (or
 * step) map from raw scores to probabilities, fitted by
 * `adfunnel calibrate --method isotonic` (pool-adjacent-violators on the
 * validation split) and loaded from its file (iso_format.h).
 *
 * The instance owns a copy of the knots, read-only after create(), so
 * concurrent calls need no lock; calibrate() allocates nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <adfunnel/adfunnel.h>

#include "iso_format.h"

struct iso {
    uint32_t n, mode;
    float *x, *y;
};

/* Knots from an open blob, checked: x strictly increasing and finite, y
 * non-decreasing in [0, 1]. */
static int
iso_bind(struct iso *c, const struct af_model_blob *b, const char *path,
         char *err, size_t errlen)
{
    struct af_iso_header h;
    if (b->size < sizeof h) {
        snprintf(err, errlen, "%s: isotonic payload is %zu bytes, shorter than "
                 "its header", path, b->size);
        return AF_ECORRUPT;
    }
    memcpy(&h, b->data, sizeof h);
    if (h.magic != AF_ISO_MAGIC || h.n == 0 || h.n > (1u << 24) ||
        (h.mode != AF_ISO_LINEAR && h.mode != AF_ISO_STEP) ||
        b->size != sizeof h + 8 * (uint64_t)h.n) {
        snprintf(err, errlen, "%s: malformed isotonic payload (%u knots, mode "
                 "%u, %zu bytes)", path, h.n, h.mode, b->size);
        return AF_ECORRUPT;
    }
    c->n = h.n;
    c->mode = h.mode;
    c->x = malloc(4 * (size_t)h.n);
    c->y = malloc(4 * (size_t)h.n);
    if (c->x == NULL || c->y == NULL)
        return AF_ENOMEM;
    memcpy(c->x, (const char *)b->data + sizeof h, 4 * (size_t)h.n);
    memcpy(c->y, (const char *)b->data + sizeof h + 4 * (size_t)h.n,
           4 * (size_t)h.n);
    for (uint32_t i = 0; i < h.n; i++) {
        if (!isfinite(c->x[i]) || !(c->y[i] >= 0.0f && c->y[i] <= 1.0f) ||
            (i > 0 && (!(c->x[i] > c->x[i - 1]) || c->y[i] < c->y[i - 1]))) {
            snprintf(err, errlen, "%s: knot %u is out of order or out of "
                     "range", path, i);
            return AF_ECORRUPT;
        }
    }
    return AF_OK;
}

static void
iso_destroy(void *inst)
{
    struct iso *c = inst;
    free(c->x);
    free(c->y);
    free(c);
}

static int
iso_create(const struct af_create_args *args, void **inst, char *err,
           size_t errlen)
{
    const struct af_host_api *h = args->host;
    const char *file = h->config_str(args->config, "file", NULL);
    if (file == NULL || file[0] == '\0') {
        snprintf(err, errlen, "file is required: the calibrator fitted by "
                 "`adfunnel calibrate --method isotonic`, e.g. file = "
                 "\"models/x.isotonic.afm\"");
        return AF_EINVAL;
    }
    struct af_model_blob blob;
    int rc = h->model_open(args->pc, file, AF_ISO_KIND, 0, &blob, err, errlen);
    if (rc != AF_OK)
        return rc;
    struct iso *c = calloc(1, sizeof *c);
    rc = c ? iso_bind(c, &blob, file, err, errlen) : AF_ENOMEM;
    h->model_close(&blob);
    if (rc != AF_OK) {
        if (c)
            iso_destroy(c);
        return rc;
    }
    h->log(args->pc, AF_LOG_INFO, "loaded %s: %u knots (%s)", file, c->n,
           c->mode == AF_ISO_STEP ? "step" : "linear");
    *inst = c;
    return AF_OK;
}

static int
iso_calibrate(void *inst, const struct af_request *req, float *p, uint32_t n)
{
    const struct iso *c = inst;
    (void)req;
    for (uint32_t i = 0; i < n; i++)
        p[i] = (float)af_iso_apply(c->x, c->y, c->n, c->mode, p[i]);
    return AF_OK;
}

static const struct af_calibrator_ops iso_ops = {
    .struct_size = sizeof iso_ops,
    .calibrate = iso_calibrate,
};

static const struct af_plugin iso_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_CALIBRATOR,
    .name = "isotonic",
    .version = "1.0.0",
    .description = "isotonic calibration (PAV fit, piecewise-linear map)",
    .create = iso_create,
    .destroy = iso_destroy,
    .ops = &iso_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &iso_plugin;
}
