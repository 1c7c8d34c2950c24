/*
 * generation.c -- build and retire generations.
 *
 * Build order follows dependencies: plugins, then the catalog and user store
 * (plugins' create() may index the catalog), then pipelines (which create
 * instances).  Teardown is the reverse, and the registry -- hence dlclose --
 * goes last, after every instance of every plugin is destroyed.
 */
#include "engine/generation.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/host.h"
#include "loader/loader.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"
#include "store/catalog.h"
#include "util/log.h"
#include "util/strbuf.h"

#define MAX_SURFACES 64

struct af_generation {
    _Atomic uint32_t refs;
    uint64_t id;
    uint64_t seed;
    af_registry *registry;
    af_catalog_store *catalog;
    af_user_store *users;
    struct af_pipeline *pipeline[MAX_SURFACES];
    uint32_t n_pipelines;
};

/* Generation ids only grow; a process-wide counter is the simplest source. */
static _Atomic uint64_t next_generation_id = 1;

static int
is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
add_pipeline(af_generation *g, const char *file,
             const struct af_pipeline_env *env, char *err, size_t errlen)
{
    if (g->n_pipelines == MAX_SURFACES) {
        snprintf(err, errlen, "%s: more than %d surfaces", file, MAX_SURFACES);
        return -1;
    }
    struct af_pipeline *p = af_pipeline_load(file, env, err, errlen);
    if (!p)
        return -1;
    for (uint32_t i = 0; i < g->n_pipelines; i++) {
        if (strcmp(af_pipeline_surface(g->pipeline[i]), af_pipeline_surface(p)) == 0) {
            snprintf(err, errlen, "%s:1: surface \"%s\" is already declared by %s",
                     file, af_pipeline_surface(p), af_pipeline_file(g->pipeline[i]));
            af_pipeline_free(p);
            return -1;
        }
    }
    g->pipeline[g->n_pipelines++] = p;
    af_log(AF_LOG_LEVEL_INFO, "pipeline", "surface \"%s\" (%s) from %s",
           af_pipeline_surface(p), af_pipeline_version(p), file);
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.lua directly in dir (modules live in subdirectories). */
static int
add_pipeline_dir(af_generation *g, const char *dir,
                 const struct af_pipeline_env *env, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot read pipeline directory", dir);
        return -1;
    }
    char *names[MAX_SURFACES + 1];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n <= MAX_SURFACES) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".lua") == 0 &&
            de->d_name[0] != '.')
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0 && names[i])
            rc = add_pipeline(g, path, env, err, errlen);
        free(names[i]);
    }
    if (rc == 0 && n == 0) {
        snprintf(err, errlen, "%s: no pipeline files (*.lua)", dir);
        rc = -1;
    }
    return rc;
}

af_generation *
af_generation_build(const struct af_gen_config *cfg, char *err, size_t errlen)
{
    af_generation *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&g->refs, 1);
    g->id = atomic_fetch_add(&next_generation_id, 1);
    g->seed = cfg->seed;
    g->registry = af_registry_create();
    if (!g->registry)
        goto oom;
    for (const char *const *d = cfg->plugin_dirs; d && *d; d++)
        af_registry_scan(g->registry, *d);

    g->catalog = af_catalog_load(cfg->data_dir, err, errlen);
    if (!g->catalog)
        goto fail;
    g->users = af_users_load(cfg->data_dir, err, errlen);
    if (!g->users)
        goto fail;

    struct af_pipeline_env env = {
        .registry = g->registry,
        .catalog = af_catalog_view(g->catalog),
        .data_dir = cfg->data_dir,
        .state = cfg->state,
        .features_only = cfg->features_only,
    };
    for (const char *const *f = cfg->pipelines; f && *f; f++) {
        int rc = is_dir(*f) ? add_pipeline_dir(g, *f, &env, err, errlen)
                            : add_pipeline(g, *f, &env, err, errlen);
        if (rc != 0)
            goto fail;
    }
    if (g->n_pipelines == 0) {
        snprintf(err, errlen, "no pipeline given");
        goto fail;
    }
    return g;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    af_generation_unref(g);
    return NULL;
}

static void
destroy(af_generation *g)
{
    for (uint32_t i = g->n_pipelines; i-- > 0;)
        af_pipeline_free(g->pipeline[i]);
    af_users_free(g->users);
    af_catalog_free(g->catalog);
    af_registry_free(g->registry); /* dlclose: after every instance is gone */
    free(g);
}

void
af_generation_ref(af_generation *g)
{
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void
af_generation_unref(af_generation *g)
{
    if (g && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
        destroy(g);
}

uint64_t
af_generation_id(const af_generation *g)
{
    return g->id;
}

const struct af_pipeline *
af_generation_surface(const af_generation *g, const char *surface)
{
    for (uint32_t i = 0; i < g->n_pipelines; i++)
        if (strcmp(af_pipeline_surface(g->pipeline[i]), surface) == 0)
            return g->pipeline[i];
    return NULL;
}

uint32_t
af_generation_surface_count(const af_generation *g)
{
    return g->n_pipelines;
}

const char *
af_generation_surface_name(const af_generation *g, uint32_t i)
{
    return i < g->n_pipelines ? af_pipeline_surface(g->pipeline[i]) : NULL;
}

const struct af_catalog_store *
af_generation_catalog(const af_generation *g)
{
    return g->catalog;
}

const struct af_user_store *
af_generation_users(const af_generation *g)
{
    return g->users;
}

uint64_t
af_generation_seed(const af_generation *g)
{
    return g->seed;
}

/* --- ## Metrics --- */

static void
stage_metrics(const struct af_stage *st, af_buf *buf)
{
    for (uint32_t i = 0; i < st->n; i++)
        af_instance_metrics(&st->p[i].in, buf);
}

int
af_generation_metrics(const af_generation *g, af_buf *buf)
{
    af_buf_printf(buf,
                  "# HELP adfunnel_generation Id of the generation serving.\n"
                  "# TYPE adfunnel_generation gauge\n"
                  "adfunnel_generation %llu\n",
                  (unsigned long long)g->id);
    af_buf_puts(buf, "# HELP adfunnel_plugin_info Loaded plugins.\n"
                     "# TYPE adfunnel_plugin_info gauge\n");
    for (uint32_t i = 0; i < af_registry_count(g->registry); i++) {
        const af_loaded *p = af_registry_at(g->registry, i);
        af_buf_printf(buf,
                      "adfunnel_plugin_info{name=\"%s\",kind=\"%s\",version=\"%s\","
                      "sha256=\"%s\"} 1\n",
                      p->desc->name, af_kind_name(p->desc->kind),
                      p->desc->version, p->sha256);
    }
    af_buf_printf(buf,
                  "# HELP adfunnel_plugins_refused Plugin files refused at load.\n"
                  "# TYPE adfunnel_plugins_refused gauge\n"
                  "adfunnel_plugins_refused %u\n",
                  af_registry_refused_count(g->registry));
    af_buf_puts(buf, "# HELP adfunnel_pipeline_info Pipelines served.\n"
                     "# TYPE adfunnel_pipeline_info gauge\n");
    for (uint32_t i = 0; i < g->n_pipelines; i++) {
        const struct af_pipeline *p = g->pipeline[i];
        af_buf_printf(buf, "adfunnel_pipeline_info{surface=\"%s\",version=\"%s\"} 1\n",
                      p->surface, p->version);
    }
    af_buf_puts(buf, "# HELP adfunnel_model_info Models served per surface.\n"
                     "# TYPE adfunnel_model_info gauge\n");
    for (uint32_t i = 0; i < g->n_pipelines; i++) {
        const struct af_pipeline *p = g->pipeline[i];
        for (uint32_t a = 0; a < p->n_arms; a++)
            for (int s = AF_STAGE_PRERANK; s <= AF_STAGE_RANK; s++) {
                const struct af_stage *st = p->arm[a].stage[s];
                if (!st || (a > 0 && st == p->arm[0].stage[s]))
                    continue;
                const struct af_model_ops *ops = st->p[0].in.ops;
                const char *v = ops->model_version
                                    ? ops->model_version(st->p[0].in.inst)
                                    : NULL;
                af_buf_printf(buf,
                              "adfunnel_model_info{surface=\"%s\",arm=\"%s\","
                              "stage=\"%s\",plugin=\"%s\",version=\"%s\"} 1\n",
                              p->surface, p->arm[a].name, st->name,
                              st->p[0].in.plugin->desc->name,
                              v ? v : st->p[0].in.plugin->desc->version);
            }
    }
    for (uint32_t i = 0; i < g->n_pipelines; i++)
        for (uint32_t s = 0; s < g->pipeline[i]->n_owned; s++)
            stage_metrics(&g->pipeline[i]->owned[s], buf);
    return buf->oom ? -2 : 0;
}
