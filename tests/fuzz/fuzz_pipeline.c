/*
 * fuzz_pipeline.c -- libFuzzer target: the Lua pipeline loader
 * (af_pipeline_load, core/pipeline/pipeline.h): the sandbox runs the input
 * as a pipeline file, the compiler checks it and creates the plugin
 * instances it names.  The environment is real but small: the plugins of
 * AF_PLUGIN_DIR (default: the build's plugin directory) and a generated
 * world of 200 ads.  The input is written to a memfd and loaded by path
 * (/proc/self/fd/N), so the real file-reading code runs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "adfunnel/af_errno.h"
#include "loader/loader.h"
#include "pipeline/pipeline.h"
#include "store/catalog.h"
#include "util/log.h"
#include "world/world.h"

#ifndef AF_FUZZ_PLUGIN_DIR
#define AF_FUZZ_PLUGIN_DIR "plugins"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Built once, read by every input (libFuzzer runs one input at a time). */
static int fd = -1;
static char path[64];
static char world_dir[] = "/tmp/af-fuzz-world-XXXXXX";
static af_registry *registry;
static af_catalog_store *catalog;

static void
remove_world(void)
{
    static const char *const files[] = {"ads.tsv", "users.tsv", "truth.tsv",
                                        "world.json"};
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", world_dir, files[i]);
        unlink(p);
    }
    rmdir(world_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    af_log_set_level(AF_LOG_LEVEL_ERROR);
    char err[1024];
    struct af_world_gen_params wp = {.seed = 3, .n_ads = 200, .n_users = 20};
    if (!mkdtemp(world_dir) ||
        af_world_generate(world_dir, &wp, err, sizeof err) != AF_OK ||
        !(catalog = af_catalog_load(world_dir, err, sizeof err))) {
        fprintf(stderr, "fuzz_pipeline: cannot make the world: %s\n", err);
        exit(1);
    }
    atexit(remove_world);
    registry = af_registry_create();
    const char *dir = getenv("AF_PLUGIN_DIR");
    int n = af_registry_scan(registry, dir && *dir ? dir : AF_FUZZ_PLUGIN_DIR);
    fprintf(stderr, "fuzz_pipeline: %d plugins from %s\n", n,
            dir && *dir ? dir : AF_FUZZ_PLUGIN_DIR);
    fd = memfd_create("fuzz-pipeline", MFD_CLOEXEC);
    if (fd < 0) {
        perror("memfd_create");
        exit(1);
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    struct af_param_override ov = {"home_feed", "control", "rank", "model",
                                   "models/none.afm"};
    struct af_pipeline_env env = {
        .registry = registry,
        .catalog = af_catalog_view(catalog),
        .data_dir = world_dir,
        .overrides = &ov,
        .n_overrides = size & 1, /* half the inputs with a deploy override */
    };
    char err[1024];
    err[0] = '\0';
    struct af_pipeline *p = af_pipeline_load(path, &env, err, sizeof err);
    if (p)
        af_pipeline_free(p);
    else if (err[0] == '\0')
        __builtin_trap(); /* a refusal always says why */
    return 0;
}
