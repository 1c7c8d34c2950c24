/*
 * world_fixture.h -- a small generated world in a temporary directory, and
 * generations built over it, for tests that need the real engine.
 * Header-only: include it once per test binary.
 */
#ifndef AF_TEST_WORLD_FIXTURE_H
#define AF_TEST_WORLD_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/generation.h"
#include "world/world.h"

struct fixture {
    char dir[256];
};

static inline void
fx_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        abort();
    }
    fputs(text, f);
    fclose(f);
}

/* A world of n_ads ads and n_users users in a fresh temporary directory. */
static inline int
fx_world(struct fixture *fx, uint32_t n_ads, uint32_t n_users)
{
    snprintf(fx->dir, sizeof fx->dir, "/tmp/af-test-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    struct af_world_gen_params p = {.seed = 7, .n_ads = n_ads, .n_users = n_users};
    char err[512];
    if (af_world_generate(fx->dir, &p, err, sizeof err) != 0) {
        fprintf(stderr, "world: %s\n", err);
        return -1;
    }
    return 0;
}

static inline void
fx_cleanup(struct fixture *fx)
{
    char cmd[400];
    if (strncmp(fx->dir, "/tmp/af-test-", 13) == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", fx->dir);
    }
}

/* Write `text` as <dir>/<name> and return its path (static buffer per call
 * site is the caller's). */
static inline const char *
fx_file(struct fixture *fx, const char *name, const char *text, char *path,
        size_t n)
{
    snprintf(path, n, "%s/%s", fx->dir, name);
    fx_write(path, text);
    return path;
}

/* A generation over the fixture's world with the shipped plugins and the
 * engine test plugins. */
static inline af_generation *
fx_generation(struct fixture *fx, const char *pipeline, int features_only,
              char *err, size_t errlen)
{
    const char *dirs[3] = {getenv("AF_PLUGIN_DIR"), getenv("AF_ENGINE_PLUGIN_DIR"),
                           NULL};
    const char *files[2] = {pipeline, NULL};
    struct af_gen_config cfg = {.plugin_dirs = dirs, .pipelines = files,
                                .data_dir = fx->dir, .seed = 11,
                                .features_only = features_only};
    return af_generation_build(&cfg, err, errlen);
}

#endif
