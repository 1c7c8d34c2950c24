/*
 * test_ok.c -- a valid calibrator named "test_ok" for the loader tests.  It
 * multiplies probabilities by `scale` (default 1) so a test can see it ran.
 *
 * Built twice: test_ok.so, and dup_name.so with TEST_OK_VERSION set -- a
 * second copy of the same plugin under another file name, the usual way a
 * name gets taken twice.  Only one of them may be registered.
 */
#include <stdlib.h>
#include <adfunnel/adfunnel.h>

#ifndef TEST_OK_VERSION
#define TEST_OK_VERSION "1.0.0"
#endif

struct test_ok {
    float scale;
};

static int
test_ok_create(const struct af_create_args *args, void **inst, char *err,
               size_t errlen)
{
    struct test_ok *t = malloc(sizeof *t);
    if (t == NULL)
        return AF_ENOMEM;
    t->scale = (float)args->host->config_num(args->config, "scale", 1.0);
    *inst = t;
    return AF_OK;
}

static void
test_ok_destroy(void *inst)
{
    free(inst);
}

static int
test_ok_calibrate(void *inst, const struct af_request *req, float *p,
                  uint32_t n)
{
    const struct test_ok *t = inst;
    for (uint32_t i = 0; i < n; i++)
        p[i] *= t->scale;
    return AF_OK;
}

static const struct af_calibrator_ops test_ok_ops = {
    .struct_size = sizeof test_ok_ops,
    .calibrate = test_ok_calibrate,
};

static const struct af_plugin test_ok_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_CALIBRATOR,
    .name = "test_ok",
    .version = TEST_OK_VERSION,
    .description = "loader test: a valid plugin",
    .create = test_ok_create,
    .destroy = test_ok_destroy,
    .ops = &test_ok_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &test_ok_plugin;
}
