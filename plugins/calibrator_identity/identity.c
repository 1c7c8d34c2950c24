/*
 * identity.c -- calibrator "identity": leaves probabilities unchanged.
 *
 * Useful as the explicit "no calibration" choice in a pipeline, and as the
 * smallest complete plugin to start a new one from.
 */
#include <stdio.h>
#include <adfunnel/adfunnel.h>

static int
identity_create(const struct af_create_args *args, void **inst, char *err,
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
identity_destroy(void *inst)
{
    (void)inst;
}

static int
identity_calibrate(void *inst, const struct af_request *req, float *p,
                   uint32_t n)
{
    return AF_OK;
}

static const struct af_calibrator_ops identity_ops = {
    .struct_size = sizeof identity_ops,
    .calibrate = identity_calibrate,
};

static const struct af_plugin identity_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_CALIBRATOR,
    .name = "identity",
    .version = "1.0.0",
    .description = "leaves probabilities unchanged",
    .create = identity_create,
    .destroy = identity_destroy,
    .ops = &identity_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &identity_plugin;
}
