/*
 * loader.c -- dlopen a plugin, check it is one we can run, and keep the
 * registry of loaded plugins.
 *
 * Every check happens before any plugin code other than the entry function
 * runs, and each refusal names the file and the reason.  The descriptor is
 * only read, never copied (a plugin built against a smaller struct must not
 * have bytes past its end read: struct_size is checked first).
 */
#include "loader/loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"
#include "util/sha256.h"

/* Size of the descriptor fields every ABI 1 plugin must have. */
#define DESC_MIN_SIZE (offsetof(struct af_plugin, ops) + sizeof(void *))

static int
refuse(char *err, size_t errlen, int code, const char *path, const char *fmt,
       ...) __attribute__((format(printf, 5, 6)));

static int
refuse(char *err, size_t errlen, int code, const char *path, const char *fmt,
       ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", path, reason);
    return code;
}

static int
valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 40)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* Size of the ops struct the host needs for each kind. */
static size_t
ops_min_size(int kind)
{
    switch (kind) {
    case AF_KIND_RETRIEVER: return sizeof(struct af_retriever_ops);
    case AF_KIND_FILTER: return sizeof(struct af_filter_ops);
    case AF_KIND_FEATURE: return sizeof(struct af_feature_ops);
    case AF_KIND_MODEL: return sizeof(struct af_model_ops);
    case AF_KIND_CALIBRATOR: return sizeof(struct af_calibrator_ops);
    case AF_KIND_AUCTION: return sizeof(struct af_auction_ops);
    case AF_KIND_EXPLORATION: return sizeof(struct af_exploration_ops);
    default: return 0;
    }
}

/* The kind's mandatory operation (every ops struct is {size, fn, ...}). */
static const void *
ops_main_fn(const void *ops)
{
    const struct af_filter_ops *generic = ops;
    return (const void *)generic->filter;
}

static int
check_desc(const struct af_plugin *d, const char *path, char *err,
           size_t errlen)
{
    if (!d)
        return refuse(err, errlen, AF_EPLUGIN, path,
                      "%s() returned NULL", AF_ENTRY_SYMBOL);
    if (d->abi_major != AF_ABI_MAJOR)
        return refuse(err, errlen, AF_EMISMATCH, path,
                      "ABI major version %u, host has %u", d->abi_major,
                      AF_ABI_MAJOR);
    if (d->abi_minor > AF_ABI_MINOR)
        return refuse(err, errlen, AF_EMISMATCH, path,
                      "built for ABI %u.%u, newer than the host's %u.%u",
                      d->abi_major, d->abi_minor, AF_ABI_MAJOR, AF_ABI_MINOR);
    if (d->struct_size < DESC_MIN_SIZE)
        return refuse(err, errlen, AF_EMISMATCH, path,
                      "descriptor is %u bytes, at least %zu expected",
                      d->struct_size, (size_t)DESC_MIN_SIZE);
    if (!d->signature || strcmp(d->signature, AF_BUILD_SIGNATURE) != 0)
        return refuse(err, errlen, AF_EMISMATCH, path,
                      "build signature \"%s\" is not binary compatible with "
                      "the host's \"%s\"",
                      d->signature ? d->signature : "(null)",
                      AF_BUILD_SIGNATURE);
    if (!af_kind_name(d->kind))
        return refuse(err, errlen, AF_EINVAL, path, "unknown plugin kind %d",
                      d->kind);
    if (!valid_name(d->name))
        return refuse(err, errlen, AF_EINVAL, path,
                      "invalid plugin name \"%s\" (want [a-z0-9_]{1,40})",
                      d->name ? d->name : "(null)");
    if (!d->version || !*d->version)
        return refuse(err, errlen, AF_EINVAL, path, "plugin \"%s\" has no version",
                      d->name);
    if (!d->create || !d->destroy)
        return refuse(err, errlen, AF_EINVAL, path,
                      "plugin \"%s\" lacks create() or destroy()", d->name);
    const uint32_t *ops_size = d->ops;
    if (!ops_size)
        return refuse(err, errlen, AF_EINVAL, path,
                      "plugin \"%s\" has no %s operations", d->name,
                      af_kind_name(d->kind));
    if (*ops_size < ops_min_size(d->kind) || !ops_main_fn(d->ops))
        return refuse(err, errlen, AF_EINVAL, path,
                      "plugin \"%s\": %s operations incomplete (size %u, "
                      "need %zu and the main function)",
                      d->name, af_kind_name(d->kind), *ops_size,
                      ops_min_size(d->kind));
    return AF_OK;
}

int
af_loader_open(const char *path, af_loaded **out, char *err, size_t errlen)
{
    char real[PATH_MAX];
    struct stat st;
    *out = NULL;
    if (!realpath(path, real) || stat(real, &st) != 0)
        return refuse(err, errlen, AF_ENOENT, path, "no such file");
    if (!S_ISREG(st.st_mode))
        return refuse(err, errlen, AF_EINVAL, path, "not a regular file");
    if (st.st_mode & S_IWOTH)
        return refuse(err, errlen, AF_EINVAL, path,
                      "world-writable plugin files are not loaded");

    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return refuse(err, errlen, AF_EPLUGIN, path,
                      "not a loadable shared object: %s", dlerror());
    af_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, AF_ENTRY_SYMBOL);
    if (!entry) {
        dlclose(h);
        return refuse(err, errlen, AF_ENOENT, path,
                      "entry symbol %s() not found", AF_ENTRY_SYMBOL);
    }
    const struct af_plugin *d = entry();
    int rc = check_desc(d, path, err, errlen);
    if (rc != AF_OK) {
        dlclose(h);
        return rc;
    }
    af_loaded *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(real))) {
        free(p);
        dlclose(h);
        return refuse(err, errlen, AF_ENOMEM, path, "out of memory");
    }
    if (af_sha256_file(real, p->sha256) != AF_OK)
        strcpy(p->sha256, "unknown");
    p->handle = h;
    p->desc = d;
    *out = p;
    return AF_OK;
}

void
af_loader_close(af_loaded *p)
{
    if (!p)
        return;
    dlclose(p->handle);
    free(p->path);
    free(p);
}

/* --- ## Registry --- */

struct af_registry {
    af_loaded **p;
    uint32_t n, cap;
    char **refused;
    uint32_t n_refused, cap_refused;
};

af_registry *
af_registry_create(void)
{
    return calloc(1, sizeof(af_registry));
}

void
af_registry_free(af_registry *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n; i++)
        af_loader_close(r->p[i]);
    for (uint32_t i = 0; i < r->n_refused; i++)
        free(r->refused[i]);
    free(r->p);
    free(r->refused);
    free(r);
}

static void
remember_refusal(af_registry *r, const char *msg)
{
    if (r->n_refused == r->cap_refused) {
        uint32_t cap = r->cap_refused ? r->cap_refused * 2 : 8;
        char **nr = realloc(r->refused, cap * sizeof *nr);
        if (!nr)
            return;
        r->refused = nr;
        r->cap_refused = cap;
    }
    char *s = strdup(msg);
    if (s)
        r->refused[r->n_refused++] = s;
}

const af_loaded *
af_registry_find(const af_registry *r, const char *name)
{
    for (uint32_t i = 0; i < r->n; i++)
        if (strcmp(r->p[i]->desc->name, name) == 0)
            return r->p[i];
    return NULL;
}

int
af_registry_load(af_registry *r, const char *path, char *err, size_t errlen)
{
    af_loaded *p;
    int rc = af_loader_open(path, &p, err, errlen);
    if (rc == AF_OK) {
        const af_loaded *other = af_registry_find(r, p->desc->name);
        if (other) {
            rc = refuse(err, errlen, AF_EEXIST, path,
                        "plugin name \"%s\" is already taken by %s",
                        p->desc->name, other->path);
            af_loader_close(p);
        }
    }
    if (rc == AF_OK && r->n == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 16;
        af_loaded **np = realloc(r->p, cap * sizeof *np);
        if (!np) {
            af_loader_close(p);
            rc = refuse(err, errlen, AF_ENOMEM, path, "out of memory");
        } else {
            r->p = np;
            r->cap = cap;
        }
    }
    /* No log line here: the caller knows the name the operator gave the
     * file (a generation opens a cached copy), so it logs, once. */
    if (rc != AF_OK) {
        remember_refusal(r, err);
        return rc;
    }
    r->p[r->n++] = p;
    return AF_OK;
}

void
af_registry_log_loaded(const af_loaded *p, const char *shown_path)
{
    af_log(AF_LOG_LEVEL_INFO, "loader", "loaded %s plugin \"%s\" %s from %s",
           af_kind_name(p->desc->kind), p->desc->name, p->desc->version,
           shown_path ? shown_path : p->path);
}

static int
has_so_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
af_registry_scan(af_registry *r, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        af_log(AF_LOG_LEVEL_ERROR, "loader", "cannot read plugin directory %s",
               dir);
        return AF_ENOENT;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!has_so_suffix(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        names[n] = strdup(de->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    /* Sorted, so which of two same-named plugins wins does not depend on
     * directory order. */
    qsort(names, n, sizeof *names, cmp_str);
    int loaded = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], err[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (af_registry_load(r, path, err, sizeof err) == AF_OK) {
            af_registry_log_loaded(af_registry_at(r, r->n - 1), NULL);
            loaded++;
        } else {
            af_log(AF_LOG_LEVEL_WARN, "loader", "refused plugin %s", err);
        }
        free(names[i]);
    }
    free(names);
    return loaded;
}

uint32_t
af_registry_count(const af_registry *r)
{
    return r->n;
}

const af_loaded *
af_registry_at(const af_registry *r, uint32_t i)
{
    return i < r->n ? r->p[i] : NULL;
}

uint32_t
af_registry_refused_count(const af_registry *r)
{
    return r->n_refused;
}

const char *
af_registry_refused_at(const af_registry *r, uint32_t i)
{
    return i < r->n_refused ? r->refused[i] : NULL;
}
