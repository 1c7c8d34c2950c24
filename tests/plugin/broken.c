/*
 * broken.c -- one calibrator plugin, compiled once per fault.
 *
 * tests/plugin/CMakeLists.txt builds this file several times, each with one
 * BROKEN_* macro overriding a field of an otherwise valid descriptor, so each
 * .so differs from a loadable plugin by exactly the fault its name says.
 * test_loader.c checks that the loader refuses each one for that reason.
 *
 *   BROKEN_ABI_MAJOR=n    descriptor abi_major
 *   BROKEN_ABI_MINOR=n    descriptor abi_minor
 *   BROKEN_SIGNATURE="s"  build signature
 *   BROKEN_KIND=n         kind
 *   BROKEN_NULL_OPS       ops = NULL
 *   BROKEN_NULL_DESC      af_plugin_entry() returns NULL
 *   BROKEN_NO_ENTRY       no af_plugin_entry symbol at all
 *   BROKEN_FAIL_CREATE    create() fails with "deliberate failure"
 *   BROKEN_NAME="s"       plugin name (default "broken")
 *
 * (dup_name.so, a second copy of a valid plugin, is built from test_ok.c.)
 */
#include <stdio.h>
#include <adfunnel/adfunnel.h>

#ifndef BROKEN_ABI_MAJOR
#define BROKEN_ABI_MAJOR AF_ABI_MAJOR
#endif
#ifndef BROKEN_ABI_MINOR
#define BROKEN_ABI_MINOR AF_ABI_MINOR
#endif
#ifndef BROKEN_SIGNATURE
#define BROKEN_SIGNATURE AF_BUILD_SIGNATURE
#endif
#ifndef BROKEN_KIND
#define BROKEN_KIND AF_KIND_CALIBRATOR
#endif
#ifndef BROKEN_NAME
#define BROKEN_NAME "broken"
#endif

static int
broken_create(const struct af_create_args *args, void **inst, char *err,
              size_t errlen)
{
#ifdef BROKEN_FAIL_CREATE
    snprintf(err, errlen, "deliberate failure");
    return AF_EINVAL;
#else
    static const char stateless;
    *inst = (void *)&stateless;
    return AF_OK;
#endif
}

static void
broken_destroy(void *inst)
{
    (void)inst;
}

#ifndef BROKEN_NULL_OPS
static int
broken_calibrate(void *inst, const struct af_request *req, float *p,
                 uint32_t n)
{
    return AF_OK;
}

static const struct af_calibrator_ops broken_ops = {
    .struct_size = sizeof broken_ops,
    .calibrate = broken_calibrate,
};
#endif

static const struct af_plugin broken_plugin = {
    .abi_major = BROKEN_ABI_MAJOR,
    .abi_minor = BROKEN_ABI_MINOR,
    .struct_size = sizeof(struct af_plugin),
    .signature = BROKEN_SIGNATURE,
    .kind = BROKEN_KIND,
    .name = BROKEN_NAME,
    .version = "0.0.1",
    .description = "a deliberately broken plugin for the loader tests",
    .create = broken_create,
    .destroy = broken_destroy,
#ifdef BROKEN_NULL_OPS
    .ops = NULL,
#else
    .ops = &broken_ops,
#endif
};

#ifndef BROKEN_NO_ENTRY
AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
#ifdef BROKEN_NULL_DESC
    (void)broken_plugin; /* built, but never handed out */
    return NULL;
#else
    return &broken_plugin;
#endif
}
#else
/* Keep the descriptor referenced so the object is otherwise identical. */
AF_PLUGIN_EXPORT const struct af_plugin *
not_the_entry_symbol(void)
{
    return &broken_plugin;
}
#endif
