/*
 * generation.c -- build, derive and retire generations.
 *
 * Build order follows dependencies: plugins, then the catalog and user store
 * (plugins' create() may index the catalog), then pipelines (which create
 * instances).  Teardown is the reverse, and the registry -- hence dlclose --
 * goes last, after every instance of every plugin is destroyed; the cached
 * copies of the plugin files are released after that.
 *
 * A generation keeps what it was built from (configuration, plugin sources
 * and content hashes, model overrides) so that af_generation_derive can build
 * the next one with one change.  The catalog and user store are shared
 * between a generation and those derived from it: they are read-only, and
 * reloading them for every swap would make swaps cost seconds on a large
 * world.  So are plugin instances that nothing changed (same code, stage,
 * parameters and named files; af_pipeline_env.reuse): a swap then costs what
 * it changes -- a model deploy re-reads one model -- not a rebuild of every
 * index and model of every surface.
 */
#include "engine/generation.h"

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin/plugin_cache.h"
#include "admin/plugin_path.h"
#include "adfunnel/af_errno.h"
#include "engine/host.h"
#include "loader/loader.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"
#include "store/catalog.h"
#include "util/log.h"
#include "util/strbuf.h"

#define MAX_SURFACES 64
#define MAX_OVERRIDES 256

/* Where a loaded plugin came from. */
struct gen_plugin {
    char *name;
    char *source;  /* the operator's file, resolved                     */
    char sha[65];  /* content loaded; key of the cached copy ("" = none) */
};

/* A model deployed by the admin API: surface/arm/stage uses `model`. */
struct gen_override {
    char *surface, *arm, *stage, *model;
};

/* The catalog and the user store, shared by derived generations. */
struct gen_data {
    _Atomic uint32_t refs;
    af_catalog_store *catalog;
    af_user_store *users;
};

struct af_generation {
    _Atomic uint32_t refs;
    uint64_t id;
    uint64_t seed;

    /* What it was built from (owned copies). */
    char **plugin_dirs;   /* NULL-terminated */
    char **pipeline_args; /* files or directories, NULL-terminated */
    char *data_dir;
    struct af_state *state;
    int features_only;
    af_plugin_cache *cache;

    af_registry *registry;
    struct gen_plugin *plugins;
    uint32_t n_plugins, cap_plugins;
    char **refused;
    uint32_t n_refused, cap_refused;
    struct gen_override *ov;
    uint32_t n_ov;

    struct gen_data *data;
    struct af_pipeline *pipeline[MAX_SURFACES];
    uint32_t n_pipelines;

    /* While deriving only: the generation whose instances may be shared,
     * and the plugin whose instances must be created again. */
    const af_generation *reuse_base;
    const char *fresh;
};

/* Generation ids only grow; a process-wide counter is the simplest source. */
static _Atomic uint64_t next_generation_id = 1;

static void destroy(af_generation *g);

/* --- ## Small helpers --- */

static int
is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static char **
strv_dup(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        if (!(out[i] = strdup(v[i]))) {
            while (i--)
                free(out[i]);
            free(out);
            return NULL;
        }
    return out;
}

static void
strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Replace every "from" in err with "to": loader messages (and dlerror's
 * text inside them) name the file opened -- the cached copy -- and the
 * operator knows the original. */
static void
rename_path(char *err, size_t errlen, const char *from, const char *to)
{
    size_t n = strlen(from);
    if (n == 0 || strcmp(from, to) == 0)
        return;
    char out[2048];
    size_t o = 0;
    for (const char *s = err; *s && o + 1 < sizeof out;) {
        if (strncmp(s, from, n) == 0) {
            int w = snprintf(out + o, sizeof out - o, "%s", to);
            o = w < 0 ? o : o + (size_t)w < sizeof out ? o + (size_t)w
                                                      : sizeof out - 1;
            s += n;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
    snprintf(err, errlen, "%s", out);
}

static af_generation *
gen_new(void)
{
    af_generation *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    atomic_init(&g->refs, 1);
    g->id = atomic_fetch_add(&next_generation_id, 1);
    return g;
}

static int
copy_config(af_generation *g, const char *const *plugin_dirs,
            const char *const *pipelines, const char *data_dir, uint64_t seed,
            struct af_state *state, int features_only, af_plugin_cache *cache)
{
    g->plugin_dirs = strv_dup(plugin_dirs);
    g->pipeline_args = strv_dup(pipelines);
    g->data_dir = strdup(data_dir ? data_dir : "");
    g->seed = seed;
    g->state = state;
    g->features_only = features_only;
    g->cache = cache;
    return g->plugin_dirs && g->pipeline_args && g->data_dir ? 0 : -1;
}

/* --- ## Shared data --- */

static struct gen_data *
data_load(const char *dir, char *err, size_t errlen)
{
    struct gen_data *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&d->refs, 1);
    d->catalog = af_catalog_load(dir, err, errlen);
    if (d->catalog)
        d->users = af_users_load(dir, err, errlen);
    if (!d->catalog || !d->users) {
        af_catalog_free(d->catalog);
        free(d);
        return NULL;
    }
    return d;
}

static void
data_unref(struct gen_data *d)
{
    if (d && atomic_fetch_sub(&d->refs, 1) == 1) {
        af_users_free(d->users);
        af_catalog_free(d->catalog);
        free(d);
    }
}

/* --- ## Plugins --- */

static void
remember_refusal(af_generation *g, const char *msg)
{
    if (g->n_refused == g->cap_refused) {
        uint32_t cap = g->cap_refused ? g->cap_refused * 2 : 8;
        char **nr = realloc(g->refused, cap * sizeof *nr);
        if (!nr)
            return;
        g->refused = nr;
        g->cap_refused = cap;
    }
    char *s = strdup(msg);
    if (s)
        g->refused[g->n_refused++] = s;
}

static int
record_plugin(af_generation *g, const char *name, const char *source,
              const char *sha)
{
    if (g->n_plugins == g->cap_plugins) {
        uint32_t cap = g->cap_plugins ? g->cap_plugins * 2 : 16;
        struct gen_plugin *np = realloc(g->plugins, cap * sizeof *np);
        if (!np)
            return -1;
        g->plugins = np;
        g->cap_plugins = cap;
    }
    struct gen_plugin *p = &g->plugins[g->n_plugins];
    p->name = strdup(name);
    p->source = strdup(source);
    snprintf(p->sha, sizeof p->sha, "%s", sha);
    if (!p->name || !p->source) {
        free(p->name);
        free(p->source);
        return -1;
    }
    g->n_plugins++;
    return 0;
}

/*
 * Load one plugin into g's registry.  With a cache, the copy is taken by
 * content hash `keep_sha` (the bytes an older generation loaded) when given,
 * else freshly from `source`.  Without a cache the file is opened in place.
 */
static int
load_plugin(af_generation *g, const char *source, const char *keep_sha,
            char *err, size_t errlen)
{
    char path[PATH_MAX + 80], sha[65] = "";
    const char *open_path = source;
    int rc;
    if (g->cache) {
        if (keep_sha && keep_sha[0]) {
            snprintf(sha, sizeof sha, "%s", keep_sha);
            rc = af_plugin_cache_retain(g->cache, sha, path, sizeof path);
            if (rc != AF_OK)
                snprintf(err, errlen, "%s: the loaded copy (sha256 %.12s) is "
                         "no longer cached", source, sha);
        } else {
            rc = af_plugin_cache_acquire(g->cache, source, sha, path,
                                         sizeof path, err, errlen);
        }
        if (rc != AF_OK)
            return rc;
        open_path = path;
    }
    rc = af_registry_load(g->registry, open_path, err, errlen);
    if (rc == AF_OK) {
        /* The registry's entry names the operator's file, so that messages
         * about the plugin (a create() failure, say) point at something the
         * operator knows; the cached copy is an implementation detail and
         * holds the same bytes.  The entry is ours until the registry is
         * freed (af_loader_close frees path). */
        af_loaded *p = (af_loaded *)af_registry_at(
            g->registry, af_registry_count(g->registry) - 1);
        char *shown = open_path != source ? strdup(source) : NULL;
        if (shown) {
            free(p->path);
            p->path = shown;
        }
        /* A copy kept from the generation this one replaces was logged
         * when it was first loaded; every swap re-opens all of them. */
        if (!keep_sha || !keep_sha[0])
            af_registry_log_loaded(p, NULL);
        if (record_plugin(g, p->desc->name, source, sha) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = AF_ENOMEM;
        }
    }
    if (rc != AF_OK) {
        rename_path(err, errlen, open_path, source);
        if (g->cache && rc != AF_ENOMEM)
            af_plugin_cache_release(g->cache, sha);
        return rc;
    }
    return AF_OK;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every *.so directly in dir (sorted, so which of two same-named
 * plugins wins does not depend on directory order).  A refused file is
 * remembered, not fatal; a world-writable directory is fatal. */
static int
scan_dir(af_generation *g, const char *dir, char *err, size_t errlen)
{
    int rc = af_plugin_dir_check(dir, err, errlen);
    if (rc == AF_EINVAL)
        return -1;
    DIR *d = rc == AF_OK ? opendir(dir) : NULL;
    if (!d) {
        af_log(AF_LOG_LEVEL_ERROR, "loader", "cannot read plugin directory %s",
               dir);
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        if ((names[n] = strdup(de->d_name)) != NULL)
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    const char *dirs[2] = {dir, NULL};
    for (size_t i = 0; i < n; i++) {
        char why[1024], real[PATH_MAX];
        if (af_plugin_path_check(dirs, names[i], real, sizeof real, why,
                                 sizeof why) != AF_OK ||
            load_plugin(g, real, NULL, why, sizeof why) != AF_OK) {
            remember_refusal(g, why);
            af_log(AF_LOG_LEVEL_WARN, "loader", "refused plugin %s", why);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

/* --- ## Pipelines --- */

static int
add_pipeline(af_generation *g, const char *file,
             const struct af_pipeline_env *env, char *err, size_t errlen)
{
    if (g->n_pipelines == MAX_SURFACES) {
        snprintf(err, errlen, "%s: more than %d surfaces", file, MAX_SURFACES);
        return -1;
    }
    struct af_pipeline_env e = *env;
    for (uint32_t i = 0; g->reuse_base && i < g->reuse_base->n_pipelines; i++)
        if (!strcmp(af_pipeline_file(g->reuse_base->pipeline[i]), file))
            e.reuse = g->reuse_base->pipeline[i];
    e.fresh = g->fresh;
    struct af_pipeline *p = af_pipeline_load(file, &e, err, errlen);
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

/* The pipeline environment of g; `ov` receives the overrides (caller's
 * array of MAX_OVERRIDES). */
static struct af_pipeline_env
pipeline_env(const af_generation *g, struct af_param_override *ov)
{
    for (uint32_t i = 0; i < g->n_ov; i++)
        ov[i] = (struct af_param_override){
            .surface = g->ov[i].surface, .arm = g->ov[i].arm,
            .stage = g->ov[i].stage, .key = "model", .value = g->ov[i].model};
    return (struct af_pipeline_env){
        .registry = g->registry,
        .catalog = af_catalog_view(g->data->catalog),
        .data_dir = g->data_dir,
        .state = g->state,
        .features_only = g->features_only,
        .overrides = g->n_ov ? ov : NULL,
        .n_overrides = g->n_ov,
    };
}

/* Compile every pipeline the configuration names (directories rescanned). */
static int
compile_configured(af_generation *g, char *err, size_t errlen)
{
    struct af_param_override ov[MAX_OVERRIDES];
    struct af_pipeline_env env = pipeline_env(g, ov);
    for (char **f = g->pipeline_args; *f; f++) {
        int rc = is_dir(*f) ? add_pipeline_dir(g, *f, &env, err, errlen)
                            : add_pipeline(g, *f, &env, err, errlen);
        if (rc != 0)
            return -1;
    }
    if (g->n_pipelines == 0) {
        snprintf(err, errlen, "no pipeline given");
        return -1;
    }
    return 0;
}

af_generation *
af_generation_build(const struct af_gen_config *cfg, char *err, size_t errlen)
{
    af_generation *g = gen_new();
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (copy_config(g, cfg->plugin_dirs, cfg->pipelines, cfg->data_dir,
                    cfg->seed, cfg->state, cfg->features_only,
                    cfg->plugin_cache) != 0 ||
        !(g->registry = af_registry_create())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (char **d = g->plugin_dirs; *d; d++)
        if (scan_dir(g, *d, err, errlen) != 0)
            goto fail;
    if (!(g->data = data_load(g->data_dir, err, errlen)))
        goto fail;
    if (compile_configured(g, err, errlen) != 0)
        goto fail;
    return g;
fail:
    destroy(g);
    return NULL;
}

/* --- ## Deriving --- */

static const struct af_pipeline *
find_surface(const af_generation *g, const char *surface)
{
    for (uint32_t i = 0; surface && i < g->n_pipelines; i++)
        if (strcmp(af_pipeline_surface(g->pipeline[i]), surface) == 0)
            return g->pipeline[i];
    return NULL;
}

static int
fail_code(int *code, int c, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
fail_code(int *code, int c, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    *code = c;
    return -1;
}

static void
surface_list(const af_generation *g, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < g->n_pipelines && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "",
                                af_pipeline_surface(g->pipeline[i]));
}

/* The plugins of base, with ch applied. */
static int
derive_plugins(af_generation *g, const af_generation *base,
               const struct af_gen_change *ch, int *code, char *err,
               size_t errlen)
{
    int named = ch->kind == AF_GEN_RELOAD_PLUGIN ||
                ch->kind == AF_GEN_UNLOAD_PLUGIN;
    int found = 0;
    for (uint32_t i = 0; i < base->n_plugins; i++) {
        const struct gen_plugin *p = &base->plugins[i];
        int hit = named && strcmp(p->name, ch->name) == 0;
        found |= hit;
        if (hit && ch->kind == AF_GEN_UNLOAD_PLUGIN)
            continue;
        int rc = AF_OK;
        if (hit) {
            /* The file must still be one we may load. */
            char why[1024];
            rc = af_plugin_file_check(p->source, why, sizeof why);
            if (rc != AF_OK) {
                snprintf(err, errlen, "%s", why);
                rc = AF_EPLUGIN; /* the file is refused, not the request */
            } else {
                rc = load_plugin(g, p->source, NULL, err, errlen);
                if (rc == AF_OK &&
                    strcmp(g->plugins[g->n_plugins - 1].name, p->name) != 0)
                    return fail_code(code, AF_EINVAL, err, errlen,
                                     "%s: now declares plugin \"%s\", not "
                                     "\"%s\"; load it as a new plugin and "
                                     "unload \"%s\"", p->source,
                                     g->plugins[g->n_plugins - 1].name,
                                     p->name, p->name);
            }
        } else {
            rc = load_plugin(g, p->source, p->sha, err, errlen);
        }
        if (rc != AF_OK) {
            *code = rc == AF_ENOMEM ? rc : AF_EPLUGIN; /* the file is refused */
            return -1;
        }
    }
    if (named && !found)
        return fail_code(code, AF_ENOENT, err, errlen,
                         "no plugin named \"%s\" is loaded", ch->name);
    if (ch->kind != AF_GEN_LOAD_PLUGIN)
        return 0;
    char real[PATH_MAX];
    int rc = af_plugin_path_check((const char *const *)g->plugin_dirs,
                                  ch->path, real, sizeof real, err, errlen);
    if (rc != AF_OK) {
        *code = rc;
        return -1;
    }
    for (uint32_t i = 0; i < g->n_plugins; i++)
        if (strcmp(g->plugins[i].source, real) == 0)
            return fail_code(code, AF_EEXIST, err, errlen,
                             "%s is already loaded (plugin \"%s\"); reload it "
                             "instead", real, g->plugins[i].name);
    rc = load_plugin(g, real, NULL, err, errlen);
    if (rc != AF_OK) {
        *code = rc == AF_ENOMEM || rc == AF_EEXIST ? rc : AF_EPLUGIN;
        return -1;
    }
    /* No longer a refused file. */
    size_t n = strlen(real);
    for (uint32_t i = 0; i < g->n_refused;)
        if (strncmp(g->refused[i], real, n) == 0 && g->refused[i][n] == ':') {
            free(g->refused[i]);
            g->refused[i] = g->refused[--g->n_refused];
        } else {
            i++;
        }
    return 0;
}

static int
copy_overrides(af_generation *g, const af_generation *base)
{
    if (!base->n_ov)
        return 0;
    g->ov = calloc(base->n_ov, sizeof *g->ov);
    if (!g->ov)
        return -1;
    for (uint32_t i = 0; i < base->n_ov; i++) {
        const struct gen_override *o = &base->ov[i];
        struct gen_override *d = &g->ov[g->n_ov];
        d->surface = strdup(o->surface);
        d->arm = strdup(o->arm);
        d->stage = strdup(o->stage);
        d->model = strdup(o->model);
        g->n_ov++;
        if (!d->surface || !d->arm || !d->stage || !d->model)
            return -1;
    }
    return 0;
}

static void
free_override(struct gen_override *o)
{
    free(o->surface);
    free(o->arm);
    free(o->stage);
    free(o->model);
}

static int
stage_id(const char *name)
{
    for (int i = 0; i < AF_N_STAGES; i++)
        if (strcmp(af_stage_names[i], name) == 0)
            return i;
    return -1;
}

/* The stage `stage` of arm `arm` in surface `surface` of g, checked to be
 * one a model can be deployed to.  NULL with the reason otherwise. */
static const struct af_stage *
deploy_target(const af_generation *g, const char *surface, const char *arm,
              const char *stage, int *code, char *err, size_t errlen)
{
    const struct af_pipeline *p = find_surface(g, surface);
    if (!p) {
        char list[512];
        surface_list(g, list, sizeof list);
        fail_code(code, AF_ENOENT, err, errlen,
                  "no surface \"%s\" (served: %s)", surface ? surface : "",
                  list);
        return NULL;
    }
    int id = stage_id(stage);
    if (id != AF_STAGE_PRERANK && id != AF_STAGE_RANK &&
        id != AF_STAGE_CALIBRATE) {
        fail_code(code, AF_EINVAL, err, errlen,
                  "models are deployed to stage prerank, rank or calibrate, "
                  "not \"%s\"", stage);
        return NULL;
    }
    for (uint32_t a = 0; a < p->n_arms; a++) {
        if (strcmp(p->arm[a].name, arm) != 0)
            continue;
        const struct af_stage *st = p->arm[a].stage[id];
        if (!st) {
            fail_code(code, AF_ENOENT, err, errlen,
                      "surface \"%s\" arm \"%s\" has no %s stage", surface,
                      arm, stage);
            return NULL;
        }
        if (a > 0 && st == p->arm[0].stage[id]) {
            fail_code(code, AF_EINVAL, err, errlen,
                      "arm \"%s\" of surface \"%s\" runs control's %s stage; "
                      "deploy to arm \"control\"", arm, surface, stage);
            return NULL;
        }
        return st;
    }
    fail_code(code, AF_ENOENT, err, errlen,
              "surface \"%s\" has no experiment arm \"%s\"", surface, arm);
    return NULL;
}

/* Apply a deploy to g's override list (before compiling). */
static int
apply_deploy(af_generation *g, const af_generation *base,
             const struct af_gen_change *ch, int *code, char *err,
             size_t errlen)
{
    const char *arm = ch->arm && *ch->arm ? ch->arm : "control";
    const char *stage = ch->stage && *ch->stage ? ch->stage : "rank";
    if (!deploy_target(base, ch->surface, arm, stage, code, err, errlen))
        return -1;
    uint32_t at = g->n_ov;
    for (uint32_t i = 0; i < g->n_ov; i++)
        if (!strcmp(g->ov[i].surface, ch->surface) &&
            !strcmp(g->ov[i].arm, arm) && !strcmp(g->ov[i].stage, stage))
            at = i;
    if (!ch->path) {
        if (at == g->n_ov)
            return fail_code(code, AF_ENOENT, err, errlen,
                             "no model is deployed to %s/%s/%s", ch->surface,
                             arm, stage);
        free_override(&g->ov[at]);
        g->ov[at] = g->ov[--g->n_ov];
        return 0;
    }
    char full[PATH_MAX * 2];
    snprintf(full, sizeof full, "%s%s%s", ch->path[0] == '/' ? "" : g->data_dir,
             ch->path[0] == '/' ? "" : "/", ch->path);
    struct stat st;
    if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
        return fail_code(code, AF_ENOENT, err, errlen,
                         "model file %s: no such file", full);
    if (at == g->n_ov) {
        if (g->n_ov == MAX_OVERRIDES)
            return fail_code(code, AF_ELIMIT, err, errlen,
                             "more than %d models deployed", MAX_OVERRIDES);
        struct gen_override *no = realloc(g->ov, (g->n_ov + 1) * sizeof *no);
        if (!no)
            return fail_code(code, AF_ENOMEM, err, errlen, "out of memory");
        g->ov = no;
        memset(&g->ov[at], 0, sizeof g->ov[at]);
        g->n_ov++;
        g->ov[at].surface = strdup(ch->surface);
        g->ov[at].arm = strdup(arm);
        g->ov[at].stage = strdup(stage);
    }
    free(g->ov[at].model);
    g->ov[at].model = strdup(ch->path);
    if (!g->ov[at].surface || !g->ov[at].arm || !g->ov[at].stage ||
        !g->ov[at].model)
        return fail_code(code, AF_ENOMEM, err, errlen, "out of memory");
    return 0;
}

/* Overrides whose stage no longer exists (after a pipeline reload) are
 * dropped, with a log line. */
static void
prune_overrides(af_generation *g)
{
    for (uint32_t i = 0; i < g->n_ov;) {
        int code;
        char why[512];
        if (deploy_target(g, g->ov[i].surface, g->ov[i].arm, g->ov[i].stage,
                          &code, why, sizeof why)) {
            i++;
            continue;
        }
        af_log(AF_LOG_LEVEL_WARN, "generation",
               "model deploy %s/%s/%s (%s) dropped: %s", g->ov[i].surface,
               g->ov[i].arm, g->ov[i].stage, g->ov[i].model, why);
        free_override(&g->ov[i]);
        g->ov[i] = g->ov[--g->n_ov];
    }
}

/* Compile base's pipeline files again.  Surfaces other than `reload` must
 * come out the same as in base (file unchanged on disk). */
static int
recompile(af_generation *g, const af_generation *base, const char *reload,
          int *code, char *err, size_t errlen)
{
    struct af_param_override ov[MAX_OVERRIDES];
    struct af_pipeline_env env = pipeline_env(g, ov);
    for (uint32_t i = 0; i < base->n_pipelines; i++) {
        const struct af_pipeline *old = base->pipeline[i];
        const char *file = af_pipeline_file(old);
        if (add_pipeline(g, file, &env, err, errlen) != 0) {
            *code = AF_EPLUGIN;
            return -1;
        }
        const struct af_pipeline *now = g->pipeline[g->n_pipelines - 1];
        int is_target = reload && !strcmp(af_pipeline_surface(old), reload);
        if (is_target && strcmp(af_pipeline_surface(now), reload) != 0)
            return fail_code(code, AF_EINVAL, err, errlen,
                             "%s now declares surface \"%s\", not \"%s\"; "
                             "reload all pipelines to rename a surface",
                             file, af_pipeline_surface(now), reload);
        if (!is_target &&
            strcmp(af_pipeline_version(now), af_pipeline_version(old)) != 0)
            return fail_code(code, AF_EMISMATCH, err, errlen,
                             "%s changed on disk since generation %llu was "
                             "built (%s, now %s); reload %s to pick the "
                             "change up",
                             file, (unsigned long long)base->id,
                             af_pipeline_version(old),
                             af_pipeline_version(now),
                             reload ? "all pipelines" : "the pipelines");
    }
    return 0;
}

static int
derive_pipelines(af_generation *g, const af_generation *base,
                 const struct af_gen_change *ch, int *code, char *err,
                 size_t errlen)
{
    if (ch->kind == AF_GEN_RELOAD_PIPELINES && !ch->surface) {
        if (compile_configured(g, err, errlen) != 0) {
            *code = AF_EPLUGIN;
            return -1;
        }
        prune_overrides(g);
        return 0;
    }
    const char *reload = NULL;
    if (ch->kind == AF_GEN_RELOAD_PIPELINES) {
        reload = ch->surface;
        if (!find_surface(base, reload)) {
            char list[512];
            surface_list(base, list, sizeof list);
            return fail_code(code, AF_ENOENT, err, errlen,
                             "no surface \"%s\" (served: %s)", reload, list);
        }
    }
    if (recompile(g, base, reload, code, err, errlen) != 0)
        return -1;
    if (reload)
        prune_overrides(g);
    return 0;
}

/* A plugin may not be unloaded while a pipeline of base uses it. */
static int
check_unload(const af_generation *base, const char *name, int *code,
             char *err, size_t errlen)
{
    char users[512];
    if (af_generation_plugin_users(base, name, users, sizeof users) == 0)
        return 0;
    return fail_code(code, AF_EBUSY, err, errlen,
                     "plugin \"%s\" is in use by %s; change those pipelines "
                     "first", name, users);
}

static int
check_change(const struct af_gen_change *ch, int *code, char *err,
             size_t errlen)
{
    switch (ch->kind) {
    case AF_GEN_RELOAD_PIPELINES:
        return 0;
    case AF_GEN_LOAD_PLUGIN:
        if (ch->path && *ch->path)
            return 0;
        return fail_code(code, AF_EINVAL, err, errlen,
                         "load needs the plugin file (path)");
    case AF_GEN_RELOAD_PLUGIN:
    case AF_GEN_UNLOAD_PLUGIN:
        if (ch->name && *ch->name)
            return 0;
        return fail_code(code, AF_EINVAL, err, errlen,
                         "reload and unload need the plugin name");
    case AF_GEN_DEPLOY_MODEL:
        if (ch->surface && *ch->surface)
            return 0;
        return fail_code(code, AF_EINVAL, err, errlen,
                         "deploy needs the surface");
    }
    return fail_code(code, AF_EINVAL, err, errlen, "unknown change");
}

af_generation *
af_generation_derive(const af_generation *base, const struct af_gen_change *ch,
                     int *code, char *err, size_t errlen)
{
    int dummy;
    if (!code)
        code = &dummy;
    *code = AF_OK;
    if (check_change(ch, code, err, errlen) != 0)
        return NULL;
    if (ch->kind == AF_GEN_UNLOAD_PLUGIN &&
        check_unload(base, ch->name, code, err, errlen) != 0)
        return NULL;
    af_generation *g = gen_new();
    if (!g || copy_config(g, (const char *const *)base->plugin_dirs,
                          (const char *const *)base->pipeline_args,
                          base->data_dir, base->seed, base->state,
                          base->features_only, base->cache) != 0 ||
        !(g->registry = af_registry_create()) ||
        copy_overrides(g, base) != 0) {
        fail_code(code, AF_ENOMEM, err, errlen, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < base->n_refused; i++)
        remember_refusal(g, base->refused[i]);
    g->data = base->data;
    atomic_fetch_add(&g->data->refs, 1);
    if (derive_plugins(g, base, ch, code, err, errlen) != 0)
        goto fail;
    if (ch->kind == AF_GEN_DEPLOY_MODEL &&
        apply_deploy(g, base, ch, code, err, errlen) != 0)
        goto fail;
    g->reuse_base = base;
    g->fresh = ch->kind == AF_GEN_RELOAD_PLUGIN ? ch->name : NULL;
    int rc = derive_pipelines(g, base, ch, code, err, errlen);
    g->reuse_base = NULL;
    g->fresh = NULL;
    if (rc != 0)
        goto fail;
    return g;
fail:
    if (*code == AF_OK)
        *code = AF_ENOMEM;
    if (g)
        destroy(g);
    return NULL;
}

/* --- ## Lifetime --- */

static void
destroy(af_generation *g)
{
    for (uint32_t i = g->n_pipelines; i-- > 0;)
        af_pipeline_free(g->pipeline[i]);
    data_unref(g->data);
    af_registry_free(g->registry); /* dlclose: after every instance is gone */
    for (uint32_t i = 0; i < g->n_plugins; i++) {
        if (g->cache && g->plugins[i].sha[0])
            af_plugin_cache_release(g->cache, g->plugins[i].sha);
        free(g->plugins[i].name);
        free(g->plugins[i].source);
    }
    free(g->plugins);
    for (uint32_t i = 0; i < g->n_refused; i++)
        free(g->refused[i]);
    free(g->refused);
    for (uint32_t i = 0; i < g->n_ov; i++)
        free_override(&g->ov[i]);
    free(g->ov);
    strv_free(g->plugin_dirs);
    strv_free(g->pipeline_args);
    free(g->data_dir);
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

uint32_t
af_generation_refs(const af_generation *g)
{
    return atomic_load_explicit(&((af_generation *)g)->refs,
                                memory_order_acquire);
}

uint64_t
af_generation_id(const af_generation *g)
{
    return g->id;
}

const struct af_pipeline *
af_generation_surface(const af_generation *g, const char *surface)
{
    return find_surface(g, surface);
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
    return g->data->catalog;
}

const struct af_user_store *
af_generation_users(const af_generation *g)
{
    return g->data->users;
}

uint64_t
af_generation_seed(const af_generation *g)
{
    return g->seed;
}

const char *const *
af_generation_plugin_dirs(const af_generation *g)
{
    return (const char *const *)g->plugin_dirs;
}

const char *
af_generation_data_dir(const af_generation *g)
{
    return g->data_dir;
}

/* --- ## Introspection (admin API) --- */

uint32_t
af_generation_plugin_count(const af_generation *g)
{
    return g->n_plugins;
}

int
af_generation_plugin_at(const af_generation *g, uint32_t i,
                        struct af_gen_plugin_info *out)
{
    if (i >= g->n_plugins)
        return AF_ENOENT;
    const af_loaded *p = af_registry_find(g->registry, g->plugins[i].name);
    if (!p)
        return AF_ENOENT;
    *out = (struct af_gen_plugin_info){
        .name = p->desc->name,
        .kind = af_kind_name(p->desc->kind),
        .version = p->desc->version,
        .description = p->desc->description ? p->desc->description : "",
        .source = g->plugins[i].source,
        .sha256 = p->sha256,
        .abi_major = p->desc->abi_major,
        .abi_minor = p->desc->abi_minor,
    };
    return AF_OK;
}

uint32_t
af_generation_refused_count(const af_generation *g)
{
    return g->n_refused;
}

const char *
af_generation_refused_at(const af_generation *g, uint32_t i)
{
    return i < g->n_refused ? g->refused[i] : NULL;
}

uint32_t
af_generation_plugin_users(const af_generation *g, const char *name,
                           char *out, size_t n)
{
    uint32_t uses = 0;
    size_t len = 0;
    if (n)
        out[0] = '\0';
    for (uint32_t i = 0; i < g->n_pipelines; i++) {
        const struct af_pipeline *p = g->pipeline[i];
        for (uint32_t a = 0; a < p->n_arms; a++)
            for (int s = 0; s < AF_N_STAGES; s++) {
                const struct af_stage *st = p->arm[a].stage[s];
                if (!st || (a > 0 && st == p->arm[0].stage[s]))
                    continue;
                for (uint32_t k = 0; k < st->n; k++) {
                    if (strcmp(st->p[k].in.plugin->desc->name, name) != 0)
                        continue;
                    uses++;
                    if (len < n)
                        len += (size_t)snprintf(out + len, n - len,
                                                "%s%s/%s/%s", uses > 1 ? ", " : "",
                                                p->surface, p->arm[a].name,
                                                st->name);
                }
            }
    }
    return uses;
}

uint32_t
af_generation_override_count(const af_generation *g)
{
    return g->n_ov;
}

int
af_generation_override_at(const af_generation *g, uint32_t i,
                          struct af_gen_override_info *out)
{
    if (i >= g->n_ov)
        return AF_ENOENT;
    *out = (struct af_gen_override_info){g->ov[i].surface, g->ov[i].arm,
                                         g->ov[i].stage, g->ov[i].model};
    return AF_OK;
}

/* Whether g holds the instance whose host context is pc (the context, not
 * the plugin's pointer, identifies an instance: stateless plugins hand out
 * one static pointer for all of theirs). */
static int
holds_instance(const af_generation *g, const af_plugin_ctx *pc)
{
    for (uint32_t i = 0; g && pc && i < g->n_pipelines; i++)
        for (uint32_t s = 0; s < g->pipeline[i]->n_owned; s++) {
            const struct af_stage *st = &g->pipeline[i]->owned[s];
            for (uint32_t k = 0; k < st->n; k++)
                if (st->p[k].in.pc == pc)
                    return 1;
        }
    return 0;
}

void
af_generation_instances(const af_generation *g, const af_generation *base,
                        uint32_t *shared, uint32_t *total)
{
    *shared = *total = 0;
    for (uint32_t i = 0; i < g->n_pipelines; i++)
        for (uint32_t s = 0; s < g->pipeline[i]->n_owned; s++) {
            const struct af_stage *st = &g->pipeline[i]->owned[s];
            for (uint32_t k = 0; k < st->n; k++) {
                (*total)++;
                *shared += holds_instance(base, st->p[k].in.pc);
            }
        }
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
                  g->n_refused);
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
